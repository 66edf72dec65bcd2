"""Vietnamese-first strings of the public pages, with English as the second language."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from flask import Flask, Response, request

from sync_server.vn_time import VN_TZ, vn_date, vn_datetime, vn_today
from sync_server.web.office_strings import OFFICE_STRINGS
from trace_protocol.unit_codes import SIG_PARAM

# Query parameters that are part of a label's code (trace_protocol.unit_codes).
CODE_PARAMS = frozenset({SIG_PARAM})

__all__ = [
    "STRINGS",
    "VN_TZ",
    "current_lang",
    "duration",
    "fromts",
    "install_i18n",
    "switch_lang_url",
    "translate",
    "tsdate",
    "vn_today",
    "vndate",
    "vntime",
]

STRINGS: dict[str, dict[str, str]] = {
    "site_title": {"vi": "Truy xuất nguồn gốc OCOP", "en": "OCOP traceability"},
    "recent_batches": {"vi": "Lô sản xuất gần đây", "en": "Recent batches"},
    "no_batches": {"vi": "Chưa có lô nào được đồng bộ.", "en": "No batch has synced yet."},
    "lot": {"vi": "Số lô", "en": "Lot"},
    "producer": {"vi": "Cơ sở sản xuất", "en": "Producer"},
    "address": {"vi": "Địa chỉ", "en": "Address"},
    "production_date": {"vi": "Ngày sản xuất", "en": "Production date"},
    "expiry_date": {"vi": "Hạn sử dụng", "en": "Best before"},
    "quantity": {"vi": "Sản lượng lô", "en": "Batch output"},
    "steps": {"vi": "Quy trình sản xuất", "en": "How it was made"},
    "no_steps": {"vi": "Chưa có công đoạn nào.", "en": "No steps recorded."},
    "verified": {
        "vi": "Bản ghi đã được xác minh: chữ ký số và chuỗi băm hợp lệ",
        "en": "Verified record: digital signature and hash chain check out",
    },
    "blocked": {
        "vi": "Thiết bị của cơ sở đang bị tạm dừng đồng bộ để kiểm tra",
        "en": "The facility's device is paused for review",
    },
    "in_progress": {"vi": "Lô đang sản xuất", "en": "Batch in production"},
    "clock_unsynced": {"vi": "giờ thiết bị chưa đồng bộ", "en": "device clock not synced"},
    "not_found_title": {"vi": "Chưa có thông tin lô này", "en": "No record for this lot yet"},
    "not_found_text": {
        "vi": "Mã này chưa có dữ liệu trên hệ thống. Nếu sản phẩm vừa được sản xuất, "
        "dữ liệu có thể đang trên đường đồng bộ.",
        "en": "This code has no record yet. If the product was made recently, its record "
        "may still be on its way.",
    },
    "stars": {"vi": "sao OCOP", "en": "OCOP stars"},
    "unit_genuine": {"vi": "Mã sản phẩm chính hãng", "en": "Genuine product code"},
    "unit_forged": {
        "vi": "Cảnh báo: mã này không do cơ sở sản xuất in ra — có thể là hàng giả",
        "en": "Warning: this code was not printed by the producer — possibly counterfeit",
    },
    "unit_unverifiable": {
        "vi": "Chưa thể kiểm tra mã này",
        "en": "This code cannot be checked yet",
    },
    "unit_not_printed": {
        "vi": "Cảnh báo: số sê-ri này chưa từng được in cho lô này",
        "en": "Warning: this serial was never printed for this lot",
    },
    "serial": {"vi": "Số sê-ri", "en": "Serial"},
    "details_arriving": {
        "vi": "Sản phẩm được ghi nhận tại {facility} ngày {date}. Thông tin chi tiết đang được "
        "đồng bộ từ cơ sở sản xuất.",
        "en": "Recorded at {facility} on {date}. The details are on their way from the producer.",
    },
    "photo": {"vi": "Ảnh công đoạn", "en": "Photo of the step"},
    "switch": {"vi": "English", "en": "Tiếng Việt"},
    "pub_facility": {"vi": "Cơ sở", "en": "Facility"},
    "pub_product": {"vi": "Sản phẩm", "en": "Product"},
    "pub_certificate": {"vi": "Chứng nhận OCOP", "en": "OCOP certificate"},
    "decision": {
        "vi": "Quyết định số {decision} của {issued_by}, ngày {issued_on}",
        "en": "Decision no. {decision}, {issued_by}, dated {issued_on}",
    },
    "valid_until": {"vi": "Còn hiệu lực đến {date}", "en": "Valid until {date}"},
    "certificate_expired": {
        "vi": "Giấy chứng nhận OCOP đã hết hạn ngày {date}",
        "en": "The OCOP certificate expired on {date}",
    },
    "no_certificate": {
        "vi": "Cơ sở chưa công bố giấy chứng nhận OCOP trên hệ thống.",
        "en": "The producer has not published an OCOP certificate here.",
    },
    "pub_origins": {"vi": "Nguồn gốc nguyên liệu", "en": "Where the raw materials come from"},
    "about_product": {"vi": "Về sản phẩm", "en": "About the product"},
    "about_facility": {"vi": "Về cơ sở sản xuất", "en": "About the producer"},
    "pub_products": {"vi": "Sản phẩm", "en": "Products"},
    "process": {"vi": "Các công đoạn", "en": "Process steps"},
    "batches_of": {"vi": "Các lô gần đây", "en": "Recent batches"},
    "facility_not_found": {
        "vi": "Không tìm thấy cơ sở hoặc sản phẩm này.",
        "en": "No such producer or product.",
    },
    "scans_suspicious": {
        "vi": "Mã này đã được quét {count} lần ở {places} nơi, lần đầu ngày {date}. Mỗi tem "
        "thật chỉ dán trên một sản phẩm: nếu bạn vừa mua, tem có thể đã bị sao chép.",
        "en": "This code has been scanned {count} times in {places} place(s), first on {date}. "
        "A genuine label goes on one product only: if you just bought it, the label may have "
        "been copied.",
    },
    "scans_first": {
        "vi": "Mã này được quét lần đầu ngày {date}.",
        "en": "This code was first scanned on {date}.",
    },
    "report_what_to_do": {"vi": "Bạn nên làm gì?", "en": "What to do"},
    "report_advice": {
        "vi": "Đừng dùng sản phẩm nếu nghi ngờ. Giữ lại bao bì và hóa đơn, liên hệ cơ sở sản "
        "xuất hoặc cơ quan quản lý OCOP, hoặc gửi báo cáo bên dưới.",
        "en": "Do not use the product if in doubt. Keep the packaging and receipt, contact the "
        "producer or the OCOP office, or send the report below.",
    },
    "report_claims_product": {"vi": "Sản phẩm ghi trên tem", "en": "Product the label claims"},
    "report_claims_producer": {"vi": "Cơ sở ghi trên tem", "en": "Producer the label claims"},
    "report_producer_contact": {"vi": "Liên hệ cơ sở", "en": "Producer's contact"},
    "report_office_contact": {"vi": "Cơ quan quản lý OCOP", "en": "OCOP office"},
    "report_title": {"vi": "Báo cáo sản phẩm", "en": "Report this product"},
    "report_where": {
        "vi": "Nơi mua (cửa hàng, chợ, địa chỉ)",
        "en": "Where you bought it (shop, market, address)",
    },
    "report_photo": {
        "vi": "Ảnh sản phẩm (không bắt buộc; JPEG hoặc PNG, tối đa 1 MB)",
        "en": "Photo of the product (optional; JPEG or PNG, at most 1 MB)",
    },
    "report_phone": {
        "vi": "Số điện thoại để cơ quan liên hệ lại (không bắt buộc)",
        "en": "Phone number the office may call back (optional)",
    },
    "report_send": {"vi": "Gửi báo cáo", "en": "Send the report"},
    "report_thanks_title": {"vi": "Đã nhận báo cáo", "en": "Report received"},
    "report_thanks": {
        "vi": "Cảm ơn bạn. Cơ quan quản lý OCOP sẽ xem xét báo cáo này.",
        "en": "Thank you. The OCOP office will look into it.",
    },
    "report_failed": {"vi": "Chưa gửi được báo cáo", "en": "The report was not sent"},
    "report_back": {"vi": "Quay lại trang sản phẩm", "en": "Back to the product page"},
    "report_expired": {
        "vi": "Biểu mẫu đã hết hạn. Hãy mở lại trang sản phẩm và gửi lại.",
        "en": "The form has expired. Open the product page again and resend.",
    },
    "report_too_many": {
        "vi": "Mạng của bạn đã gửi nhiều báo cáo. Vui lòng thử lại sau.",
        "en": "Your network has sent many reports. Please try again later.",
    },
    "report_where_required": {
        "vi": "Hãy cho biết nơi mua sản phẩm.",
        "en": "Please say where you bought the product.",
    },
    "report_bad_phone": {
        "vi": "Số điện thoại không hợp lệ.",
        "en": "That phone number does not look right.",
    },
    "report_photo_too_big": {
        "vi": "Ảnh quá lớn (tối đa 1 MB).",
        "en": "The photo is too large (at most 1 MB).",
    },
    "report_photo_type": {
        "vi": "Ảnh phải là tệp JPEG hoặc PNG.",
        "en": "The photo must be a JPEG or PNG file.",
    },
    "alert_consumer_report": {"vi": "Người tiêu dùng báo cáo", "en": "Consumer report"},
    "alert_doubtful_scan": {"vi": "Quét mã giả / chưa in", "en": "Forged or unprinted code"},
    "consumer_reports": {"vi": "Báo cáo của người tiêu dùng", "en": "Consumer reports"},
    "no_reports": {"vi": "Chưa có báo cáo nào.", "en": "No reports yet."},
    "report_where_short": {"vi": "Nơi mua", "en": "Where bought"},
    "report_phone_short": {"vi": "Điện thoại", "en": "Phone"},
    "report_photo_short": {"vi": "Ảnh", "en": "Photo"},
    "report_code": {"vi": "Mã", "en": "Code"},
    "report_verdict": {"vi": "Kết quả kiểm tra", "en": "Verdict"},
    **OFFICE_STRINGS,
}


def current_lang() -> str:
    lang = request.args.get("lang") or request.cookies.get("lang") or "vi"
    return lang if lang in ("vi", "en") else "vi"


def translate(key: str, **params: Any) -> str:
    entry = STRINGS.get(key)
    if entry is None:
        return key
    text = entry.get(current_lang()) or entry["vi"]
    return text.format(**params) if params else text


def switch_lang_url() -> str:
    """This page in the other language. A public page keeps the parameters that identify its
    code (a unit code's signature ``s``: dropped, a genuine label reads as forged, issue 13) and
    nothing else, so a cached batch page never carries one visitor's query to the next; an
    office page keeps all (a search, a filter)."""
    other = "en" if current_lang() == "vi" else "vi"
    office = request.path.startswith("/office")
    args = [
        (k, v)
        for k, v in request.args.items(multi=True)
        if k != "lang" and (office or k in CODE_PARAMS)
    ]
    return f"{quote(request.path)}?{urlencode([*args, ('lang', other)])}"


def vndate(value: str | None) -> str:
    """``2026-11-22`` as Vietnamese readers write it: ``22/11/2026``."""
    return vn_date(value)


def vntime(value: str | None) -> str:
    """A device event's ISO time (any offset) in Vietnam time: ``22/11/2026 14:05``."""
    return vn_datetime(value)


def fromts(value: float | None) -> str:
    """A server timestamp (Unix seconds) in Vietnam time: ``22/11/2026 14:05``."""
    return vn_datetime(value)


def tsdate(value: float | None) -> str:
    """A server timestamp as a date in Vietnam time: ``22/11/2026``."""
    return vn_date(value)


def duration(seconds: float | None) -> str:
    """A short age: ``45 s``, ``12 min``, ``5 h``, ``3 d`` (same in both languages)."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= size:
            return f"{s // size} {unit}"
    return f"{s} s"


def install_i18n(app: Flask) -> None:
    app.add_template_filter(vndate, "vndate")
    app.add_template_filter(fromts, "fromts")
    app.add_template_filter(tsdate, "tsdate")
    app.add_template_filter(duration, "duration")
    app.add_template_filter(vntime, "vntime")

    @app.context_processor
    def _inject() -> dict[str, Any]:
        return {"t": translate, "lang": current_lang(), "switch_lang_url": switch_lang_url}

    @app.after_request
    def _remember(resp: Response) -> Response:
        chosen = request.args.get("lang")
        if chosen in ("vi", "en"):
            resp.set_cookie("lang", chosen, max_age=365 * 86400, samesite="Lax")
        return resp
