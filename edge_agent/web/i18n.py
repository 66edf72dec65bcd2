"""Touchscreen strings: Vietnamese first, English second; also the worker-facing error texts."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

STRINGS: dict[str, dict[str, str]] = {
    "title": {"vi": "Ghi nhật ký sản xuất", "en": "Production log"},
    "open_batches": {"vi": "Lô đang làm", "en": "Open batches"},
    "no_open_batches": {"vi": "Không có lô nào đang làm.", "en": "No open batch."},
    "new_batch": {"vi": "Mở lô mới", "en": "Start a new batch"},
    "recent_closed": {"vi": "Lô đã xong", "en": "Finished batches"},
    "no_catalog": {
        "vi": "Chưa có danh mục sản phẩm. Kết nối mạng một lần hoặc nhập tệp cấu hình.",
        "en": "No product catalog yet. Connect once or import a config file.",
    },
    "lot": {"vi": "Số lô", "en": "Lot"},
    "status_open": {"vi": "Đang làm", "en": "In progress"},
    "status_closed": {"vi": "Đã xong", "en": "Finished"},
    "steps_done": {"vi": "Các công đoạn đã ghi", "en": "Steps recorded"},
    "no_steps_yet": {"vi": "Chưa ghi công đoạn nào.", "en": "No step recorded yet."},
    "record_step": {"vi": "Ghi công đoạn", "en": "Record a step"},
    "note": {"vi": "Ghi chú", "en": "Note"},
    "save": {"vi": "Lưu", "en": "Save"},
    "no_people": {
        "vi": "Không có người trong khung hình: cho khách xem ảnh này",
        "en": "No people in view: consumers may see this photo",
    },
    "back": {"vi": "Quay lại", "en": "Back"},
    "error_title": {"vi": "Chưa làm được", "en": "That did not work"},
    "home": {"vi": "Trang chính", "en": "Home"},
    "close_batch": {"vi": "Kết thúc lô", "en": "Finish batch"},
    "output_quantity": {"vi": "Sản lượng", "en": "Output quantity"},
    "print_labels": {"vi": "In nhãn", "en": "Print labels"},
    "copies": {"vi": "Số nhãn", "en": "Copies"},
    "printed": {"vi": "Đã in nhãn", "en": "Labels printed"},
    "printing": {"vi": "Đang in", "en": "Printing"},
    "print_waiting": {"vi": "Chờ máy in", "en": "Waiting for the printer"},
    "print_failed": {"vi": "In lỗi", "en": "Print failed"},
    "reprint": {"vi": "In lại", "en": "Reprint"},
    "labels_unit": {"vi": "Tem từng sản phẩm", "en": "Unit labels"},
    "labels_batch": {"vi": "Nhãn lô", "en": "Batch labels"},
    "unit_labels": {
        "vi": "Tem riêng cho từng sản phẩm (mã chống giả)",
        "en": "One code per item (anti-counterfeit)",
    },
    "err_reprint_unknown": {"vi": "Không tìm thấy lần in này.", "en": "Unknown print run."},
    "err_format_unknown": {"vi": "Định dạng in không hỗ trợ.", "en": "Unsupported format."},
    "saved": {"vi": "Đã lưu", "en": "Saved"},
    "expiry": {"vi": "HSD", "en": "Best before"},
    "sync_ok": {"vi": "Đã đồng bộ", "en": "All synced"},
    "sync_pending": {"vi": "Chờ đồng bộ", "en": "Waiting to sync"},
    "sync_offline": {"vi": "Mất kết nối — vẫn ghi bình thường", "en": "Offline — keep working"},
    "sync_blocked": {
        "vi": "Đồng bộ bị chặn — liên hệ văn phòng OCOP",
        "en": "Sync blocked — contact the OCOP office",
    },
    "sync_refused": {
        "vi": "Máy chủ từ chối kết nối — liên hệ văn phòng OCOP",
        "en": "The server refused this device — contact the OCOP office",
    },
    "reason": {"vi": "Lý do", "en": "Reason"},
    "camera": {"vi": "Camera", "en": "Camera"},
    "cam_black": {"vi": "hình đen", "en": "image is black"},
    "cam_covered": {"vi": "bị che hoặc mờ", "en": "covered or out of focus"},
    "cam_frozen": {"vi": "đứng hình", "en": "image frozen"},
    "cam_no_frames": {"vi": "mất tín hiệu", "en": "no picture"},
    "disk_low": {
        "vi": "Sắp đầy bộ nhớ: tạm dừng chụp định kỳ, nhật ký vẫn ghi bình thường",
        "en": "Disk nearly full: periodic photos paused, the log keeps working",
    },
    "take_photo": {"vi": "Chụp ảnh", "en": "Take photo"},
    "photos": {"vi": "Ảnh", "en": "Photos"},
    "photo_saved": {"vi": "Đã chụp ảnh", "en": "Photo taken"},
    "err_no_frame": {"vi": "Camera không có hình. Thử lại.", "en": "No picture from the camera."},
    "event": {"vi": "bản ghi số", "en": "record no."},
    "language": {"vi": "English", "en": "Tiếng Việt"},
    # Worker sign-in (PIN pad) and refused requests (issue 12)
    "switch_worker": {"vi": "Đổi người", "en": "Switch worker"},
    "pin_who": {"vi": "Ai đang làm việc?", "en": "Who is working?"},
    "pin_enter": {"vi": "Nhập mã PIN", "en": "Enter your PIN"},
    "pin_ok": {"vi": "Vào", "en": "Sign in"},
    "pin_not_me": {"vi": "Không phải tôi", "en": "Not me"},
    "pin_delete": {"vi": "Xoá một số", "en": "Delete a digit"},
    "pin_clear": {"vi": "Xoá hết", "en": "Clear"},
    "pin_expired": {
        "vi": "Đã lâu không thao tác: nhập lại mã PIN.",
        "en": "Signed out after a pause: enter your PIN again.",
    },
    "err_pin_wrong": {"vi": "Sai mã PIN. Thử lại.", "en": "Wrong PIN. Try again."},
    "err_pin_locked": {
        "vi": "Sai quá nhiều lần. Thử lại sau {s} giây.",
        "en": "Too many wrong PINs. Try again in {s} s.",
    },
    "err_pin_pick_name": {"vi": "Hãy chọn tên của bạn.", "en": "Pick your name."},
    "refused_write": {
        "vi": "Trang đã cũ hoặc yêu cầu không đến từ màn hình này. Quay lại và làm lại.",
        "en": "The page was stale or not from this screen. Go back and try again.",
    },
    # DomainError codes (edge_agent.batches)
    "err_unknown_product": {"vi": "Sản phẩm không có trong danh mục.", "en": "Unknown product."},
    "err_unknown_step": {"vi": "Công đoạn không có trong quy trình.", "en": "Unknown step."},
    "err_batch_not_found": {"vi": "Không tìm thấy lô.", "en": "Batch not found."},
    "err_batch_closed": {"vi": "Lô đã kết thúc.", "en": "This batch is finished."},
    "err_batch_not_closed": {
        "vi": "Hãy kết thúc lô trước khi in nhãn.",
        "en": "Finish the batch before printing labels.",
    },
    "err_value_missing": {"vi": "Thiếu giá trị: {field}.", "en": "Missing value: {field}."},
    "err_value_not_number": {"vi": "{field} phải là số.", "en": "{field} must be a number."},
    "err_value_out_of_range": {
        "vi": "{field} phải trong khoảng {min}–{max}.",
        "en": "{field} must be between {min} and {max}.",
    },
    "err_note_too_long": {"vi": "Ghi chú quá dài (tối đa {max} ký tự).", "en": "Note too long."},
    "err_quantity_invalid": {
        "vi": "Sản lượng phải là số lớn hơn 0.",
        "en": "Quantity must be a number above 0.",
    },
    "err_no_steps": {
        "vi": "Hãy ghi ít nhất một công đoạn trước khi kết thúc lô.",
        "en": "Record at least one step before finishing.",
    },
    "err_lot_unavailable": {"vi": "Không tạo được số lô: {reason}", "en": "No lot code: {reason}"},
    "err_copies_invalid": {"vi": "Số nhãn phải từ 1 đến {max}.", "en": "Copies: 1 to {max}."},
    "err_printer": {"vi": "Máy in lỗi: {reason}", "en": "Printer error: {reason}"},
    # The worker at the touchscreen (issue 13): confirmations, done steps, keypad, printing
    "cancel": {"vi": "Huỷ", "en": "Cancel"},
    "confirm_open_title": {"vi": "Mở lô mới?", "en": "Start a new batch?"},
    "confirm_open": {"vi": "Có, mở lô", "en": "Yes, start it"},
    "production_date": {"vi": "Ngày sản xuất", "en": "Production date"},
    "lot_assigned": {"vi": "số lô được cấp khi mở", "en": "the lot number is given on opening"},
    "done_info": {"vi": "{n} lần · {at}", "en": "{n}× · {at}"},
    "not_done": {"vi": "Chưa ghi", "en": "Not yet"},
    "synced": {"vi": "Đã gửi về văn phòng", "en": "Sent to the office"},
    "not_synced": {"vi": "Chưa gửi về văn phòng", "en": "Not sent yet"},
    "close_note": {
        "vi": "Sau khi kết thúc, lô không ghi thêm công đoạn được.",
        "en": "Once finished, no more steps can be recorded.",
    },
    "keypad": {"vi": "Bàn phím số", "en": "Number keypad"},
    "kp_comma": {"vi": "dấu phẩy thập phân", "en": "decimal comma"},
    "kp_sign": {"vi": "đổi dấu âm/dương", "en": "change sign"},
    "will_save": {"vi": "Sẽ lưu", "en": "Will save"},
    "kp_empty": {"vi": "chưa nhập", "en": "nothing entered"},
    "kp_use_comma": {
        "vi": "dùng dấu phẩy cho phần thập phân (ví dụ 14,5)",
        "en": "use a comma for decimals (e.g. 14,5)",
    },
    "kp_not_number": {"vi": "không phải là số", "en": "not a number"},
    "kp_range": {"vi": "ngoài khoảng cho phép", "en": "out of range"},
    "err_value_use_comma": {
        "vi": "{field}: dùng dấu phẩy cho phần thập phân (ví dụ 14,5); dấu chấm chỉ để tách"
        " hàng nghìn (1.500 = một nghìn năm trăm).",
        "en": "{field}: use a comma for decimals (e.g. 14,5); a dot only separates thousands"
        " (1.500 = one thousand five hundred).",
    },
    "err_quantity_use_comma": {
        "vi": "Dùng dấu phẩy cho phần thập phân (ví dụ 12,5); dấu chấm chỉ để tách hàng nghìn.",
        "en": "Use a comma for decimals (e.g. 12,5); a dot only separates thousands.",
    },
    "print_queued": {"vi": "Đã gửi lệnh in, chờ máy in", "en": "Sent, waiting for the printer"},
    "print_done": {"vi": "Đã in xong", "en": "Printed"},
    "refresh": {"vi": "Cập nhật", "en": "Refresh"},
    "reprint_title": {"vi": "In lại nhãn?", "en": "Reprint these labels?"},
    "reprint_yes": {"vi": "Có, in lại", "en": "Yes, reprint"},
    "reprint_same_codes": {
        "vi": "Tem in lại mang đúng các mã đã in lần trước: chỉ in lại khi tem cũ bị hỏng.",
        "en": "Reprinted labels carry the same codes: reprint only to replace damaged ones.",
    },
    "reprint_note": {
        "vi": "In thêm một lần nữa đúng các nhãn này.",
        "en": "Print these labels once more.",
    },
}


def current_lang(default: str) -> str:
    lang = request.cookies.get("lang") or default
    return lang if lang in ("vi", "en") else "vi"


def translate(key: str, lang: str, **params: Any) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(lang) or entry["vi"]
    return text.format(**params) if params else text


def install_i18n(app: Flask, default_lang: str) -> None:
    @app.context_processor
    def _inject() -> dict[str, Any]:
        lang = current_lang(default_lang)
        return {"t": lambda key, **p: translate(key, lang, **p), "lang": lang}
