"""Scan logging: hashed places, one row per label page, and the consumer-facing warnings and
office alerts for never-printed serials, forged signatures and suspiciously many scans."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from sync_server.config import ScansConfig
from sync_server.consumer.reports import DOUBTFUL_ALERTS_PER_HOUR
from sync_server.consumer.scans import SUSPICIOUS_SCANS, network_of, place_key, place_of
from sync_server.store.alerts import open_alerts
from sync_server.store.db import scans
from tests.unit.server.consumer import (
    DEV,
    GTIN,
    LOT,
    enrol_device,
    make_app,
    sync_batch,
    unit_path,
)

GENUINE_TEXT = "Mã sản phẩm chính hãng"
KEY = place_key(b"test secret")


def rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(scans).order_by(scans.c.id)).mappings()]


def test_place_is_a_keyed_hash_of_the_network_never_the_address() -> None:
    assert network_of("203.0.113.7") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2::5") == "2001:db8:1::/48"
    assert network_of("::ffff:203.0.113.9") == "203.0.113.0/24"
    assert network_of(None) == network_of("not an address") == "unknown"
    place = place_of("203.0.113.7", KEY)
    assert len(place) == 16 and int(place, 16) >= 0
    assert place_of("203.0.113.200", KEY) == place  # same /24: same place
    assert place_of("203.0.114.7", KEY) != place
    assert place_of("2001:db8:1:ffff::1", KEY) == place_of("2001:db8:1:2::5", KEY)
    assert place_of("203.0.113.7", place_key(b"other secret")) != place


def test_never_printed_serial_is_warned_and_logged(tmp_path: Path, engine: Engine) -> None:
    sync_batch(engine, enrol_device(engine), printed=(1, 10))
    client = make_app(tmp_path, engine).test_client()
    html = client.get(unit_path("11"), environ_base={"REMOTE_ADDR": "198.51.100.4"}).text
    assert "Cảnh báo: số sê-ri này chưa từng được in cho lô này" in html
    assert GENUINE_TEXT not in html
    assert "Mã này được quét lần đầu ngày" in html
    [row] = rows(engine)
    assert (row["lot"], row["serial"], row["gtin"], row["verdict"]) == (
        LOT,
        "11",
        GTIN,
        "never_printed",
    )
    assert row["facility_code"] == "KC"
    assert row["place"] == place_of("198.51.100.4", _app_key(tmp_path))
    assert "198.51.100" not in str(row)


def _app_key(tmp_path: Path) -> bytes:
    return place_key((tmp_path / "web-secret-key").read_text(encoding="utf-8").strip().encode())


def test_printed_serial_is_genuine(tmp_path: Path, engine: Engine) -> None:
    sync_batch(engine, enrol_device(engine), printed=(1, 10))
    html = make_app(tmp_path, engine).test_client().get(unit_path("5")).text
    assert GENUINE_TEXT in html and "chưa từng được in" not in html
    assert 'class="verdict ok" id="unit-verdict"' in html
    assert [r["verdict"] for r in rows(engine)] == ["genuine"]


def test_a_kept_verdict_section_follows_the_language_and_the_serial(
    tmp_path: Path, engine: Engine
) -> None:
    """An unremarkable code's verdict section is rendered once per language, serial and day of
    first scan (sync_server/web/unit_page.py): never another code's or language's."""
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine).test_client()
    first_vi = client.get(unit_path("5")).text
    assert "Mã này được quét lần đầu ngày" in first_vi and "Số sê-ri 5" in first_vi
    en = client.get(unit_path("5") + "&lang=en").text
    assert "This code was first scanned on" in en and "Mã này được quét" not in en
    other = client.get(unit_path("6") + "&lang=vi").text  # the link sets a cookie: back to vi
    assert "Số sê-ri 6" in other and "Số sê-ri 5" not in other
    again = client.get(unit_path("5")).text
    assert "Số sê-ri 5" in again and "Mã này được quét lần đầu ngày" in again


def test_bad_signature_is_warned_logged_and_lends_no_credibility(
    tmp_path: Path, engine: Engine
) -> None:
    enrol_device(engine)  # not synced yet: only the label key can tell
    client = make_app(tmp_path, engine).test_client()
    html = client.get(unit_path("5", mac="AAAAAAAAAAAA")).text
    assert "mã này không do cơ sở sản xuất in ra — có thể là hàng giả" in html
    assert 'class="verdict bad"' in html
    assert GENUINE_TEXT not in html
    assert "3598/QĐ-UBND" not in html  # a forged code does not get the producer's certificate
    assert [r["verdict"] for r in rows(engine)] == ["forged"]


def test_many_scans_warn_the_consumer_and_alert_the_office(tmp_path: Path, engine: Engine) -> None:
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine, ScansConfig(max_scans=3, max_places=10)).test_client()
    for _ in range(3):
        html = client.get(unit_path("5")).text
        assert 'id="scan-warning"' not in html
        assert "Mã này được quét lần đầu ngày" in html
    with engine.connect() as conn:
        assert open_alerts(conn) == []
    html = client.get(unit_path("5")).text
    today = time.strftime("%d/%m/%Y", time.gmtime(time.time() + 7 * 3600))
    assert f"Mã này đã được quét 4 lần ở 1 nơi, lần đầu ngày {today}" in html
    assert 'class="verdict bad" id="unit-verdict"' in html
    client.get(unit_path("5"))  # still suspicious: the open alert is not repeated
    with engine.connect() as conn:
        [alert] = open_alerts(conn)
    assert (alert["kind"], alert["dev_id"], alert["facility_code"]) == (SUSPICIOUS_SCANS, DEV, "KC")
    assert f"{LOT}/5" in alert["detail"]
    # Another serial of the same lot is judged on its own scans, and alerts on its own.
    assert "scan-warning" not in client.get(unit_path("6")).text
    for _ in range(3):
        client.get(unit_path("6"))
    with engine.connect() as conn:
        details = sorted(a["detail"].split(":")[0] for a in open_alerts(conn))
    assert details == [f"unit code {LOT}/5", f"unit code {LOT}/6"]
    en = client.get(unit_path("5") + "&lang=en").text
    assert "This code has been scanned 6 times in 1 place, first on" in en  # singular: one place


def test_many_places_warn_even_with_few_scans(tmp_path: Path, engine: Engine) -> None:
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine, ScansConfig(max_scans=50, max_places=2)).test_client()
    for addr in ("203.0.113.5", "203.0.113.77", "198.51.100.1"):  # two networks
        html = client.get(unit_path("7"), environ_base={"REMOTE_ADDR": addr}).text
        assert "scan-warning" not in html
    html = client.get(unit_path("7"), environ_base={"REMOTE_ADDR": "2001:db8:9::1"}).text
    assert "Mã này đã được quét 4 lần ở 3 nơi" in html
    assert len({r["place"] for r in rows(engine)}) == 3
    with engine.connect() as conn:
        assert [a["kind"] for a in open_alerts(conn, dev=DEV)] == [SUSPICIOUS_SCANS]
    en = client.get(unit_path("7") + "&lang=en", environ_base={"REMOTE_ADDR": "2001:db8:9::1"})
    assert "scanned 5 times in 3 places, first on" in en.text  # English plural: places


def test_forged_code_scanned_everywhere_alerts_without_a_device(
    tmp_path: Path, engine: Engine
) -> None:
    enrol_device(engine)
    client = make_app(tmp_path, engine, ScansConfig(max_scans=50, max_places=1)).test_client()
    for addr in ("203.0.113.5", "198.51.100.1"):
        html = client.get(unit_path("9", mac="B" * 12), environ_base={"REMOTE_ADDR": addr}).text
    assert "có thể là hàng giả" in html and "đã được quét 2 lần ở 2 nơi" in html
    with engine.connect() as conn:
        found = {a["kind"]: a for a in open_alerts(conn, facility="KC")}
    # Issue 13: the first forged scan already raised its own alert; the spread raises another.
    assert set(found) == {"doubtful_scan", SUSPICIOUS_SCANS}
    alert = found[SUSPICIOUS_SCANS]
    assert alert["dev_id"] is None and f"{LOT}/9" in alert["detail"]


def test_a_forged_code_scanned_once_alerts_once_and_many_codes_are_capped(
    tmp_path: Path, engine: Engine
) -> None:
    enrol_device(engine)
    client = make_app(tmp_path, engine, ScansConfig()).test_client()
    client.get(unit_path("9", mac="B" * 12), environ_base={"REMOTE_ADDR": "203.0.113.5"})
    client.get(unit_path("9", mac="B" * 12), environ_base={"REMOTE_ADDR": "198.51.100.1"})
    with engine.connect() as conn:
        assert [a["kind"] for a in open_alerts(conn, facility="KC")] == ["doubtful_scan"]
    for serial in range(100, 130):  # an invented run of codes
        client.get(unit_path(str(serial), mac="B" * 12))
    with engine.connect() as conn:
        kinds = [a["kind"] for a in open_alerts(conn, facility="KC")]
    assert kinds.count("doubtful_scan") == DOUBTFUL_ALERTS_PER_HOUR


def test_window_counts_recent_scans_but_first_scan_is_the_first_ever(
    tmp_path: Path, engine: Engine
) -> None:
    sync_batch(engine, enrol_device(engine))
    long_ago = time.time() - 40 * 86400
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(
                insert(scans).values(
                    at=long_ago, lot=LOT, serial="5", verdict="genuine", place=f"{i:016x}"
                )
            )
    client = make_app(tmp_path, engine, ScansConfig(window_days=30, max_scans=3)).test_client()
    html = client.get(unit_path("5")).text
    assert "scan-warning" not in html  # old scans are outside the window
    first = time.strftime("%d/%m/%Y", time.gmtime(long_ago + 7 * 3600))
    assert f"Mã này được quét lần đầu ngày {first}" in html


def test_batch_pages_are_logged_home_and_catalog_pages_are_not(
    tmp_path: Path, engine: Engine
) -> None:
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine).test_client()
    assert client.get(f"/01/{GTIN}/10/{LOT}").status_code == 200
    assert client.get(f"/l/{LOT}").status_code == 200
    assert client.get("/l/KC-NM-200101-09").status_code == 404
    for path in ("/", "/f/KC", "/p/KC/NM"):
        assert client.get(path).status_code == 200
    # Batch-code scans are written in the background (group commit): wait for them.
    assert client.application.extensions["ocop_scan_writer"].flush()
    assert [(r["lot"], r["serial"], r["gtin"], r["verdict"]) for r in rows(engine)] == [
        (LOT, None, GTIN, "batch"),
        (LOT, None, None, "batch"),
        ("KC-NM-200101-09", None, None, "not_found"),
    ]
    assert rows(engine)[0]["facility_code"] == "KC"


def test_a_failing_scan_log_never_breaks_the_page(
    tmp_path: Path, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    sync_batch(engine, enrol_device(engine))
    scans.drop(engine)
    client = make_app(tmp_path, engine).test_client()
    resp = client.get(unit_path("5"))
    assert resp.status_code == 200
    assert GENUINE_TEXT in resp.text and "Gạo Ngọc Mầm" in resp.text
    assert "lần đầu ngày" not in resp.text  # no summary, and no pretending
    assert client.get(f"/l/{LOT}").status_code == 200
    assert client.application.extensions["ocop_scan_writer"].flush()
    assert "could not log a scan" in caplog.text
    assert "could not log a scan batch of 1 rows" in caplog.text


@pytest.mark.parametrize(("hops", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.50")])
def test_proxy_hops_decides_whose_address_counts(
    tmp_path: Path, engine: Engine, hops: int, expected: str
) -> None:
    sync_batch(engine, enrol_device(engine))
    client = make_app(tmp_path, engine, proxy_hops=hops).test_client()
    client.get(
        unit_path("5"),
        headers={"X-Forwarded-For": "203.0.113.50"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert rows(engine)[0]["place"] == place_of(expected, _app_key(tmp_path))
