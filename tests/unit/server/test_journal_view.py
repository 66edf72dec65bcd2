"""The office journal's labelled values (issue 13: no raw body keys)."""

from __future__ import annotations

from sync_server.web.office.journal_view import event_fields

STEP = {
    "batch": "b1",
    "step": "NHAP",
    "name": "Nhập lúa nguyên liệu",
    "name_en": "Paddy intake",
    "values": {"do_am": 14.0, "khoi_luong": 1200.5},
    "units": {"do_am": "%", "khoi_luong": "kg"},
    "labels": {"do_am": "Độ ẩm", "khoi_luong": "Khối lượng"},
    "labels_en": {"do_am": "Moisture", "khoi_luong": "Weight"},
    "note": "Lúa vụ Đông Xuân",
    "photos": ["a" * 64],
    "by": {"id": "w1", "name": "Lan"},
}


def test_a_step_shows_its_measured_values_with_labels_and_units() -> None:
    rows = event_fields(STEP)
    assert rows[:2] == [("Độ ẩm", "14 %"), ("Khối lượng", "1.200,5 kg")]  # vi decimal comma
    assert ("Công đoạn", "Nhập lúa nguyên liệu (NHAP)") in rows
    assert ("Ghi chú", "Lúa vụ Đông Xuân") in rows and ("Ảnh bằng chứng", "1") in rows
    keys = {label for label, _ in rows}
    assert not keys & {"values", "units", "labels", "by", "name"}


def test_english_labels_and_a_print_run() -> None:
    assert event_fields(STEP, "en")[:2] == [("Moisture", "14 %"), ("Weight", "1,200.5 kg")]
    rows = event_fields(
        {"batch": "b1", "kind": "unit", "copies": 3, "serial_from": 1, "serial_to": 3}
    )
    assert ("Loại nhãn", "nhãn từng sản phẩm (có sê-ri)") in rows
    assert ("Số sê-ri", "1–3") in rows and ("Số nhãn", "3") in rows


def test_an_unknown_key_keeps_its_name() -> None:
    assert ("future_field", '{"x": 1}') in event_fields({"future_field": {"x": 1}})
