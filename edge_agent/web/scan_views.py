"""The "Quét mã" button of the receiving form: read the supplier's lot from the QR in front of
the camera (issue 15). The form is filled in, not saved; a code that is not a lot label gets its
message next to the supplier's lot field."""

from __future__ import annotations

from flask import request

from edge_agent.camera.errors import CameraError
from edge_agent.qr_scan import ScanError, scan_frame
from edge_agent.web.i18n import N_, translate
from edge_agent.web.supply_views import render_receive
from edge_agent.web.views import _agent, _lang, bp
from trace_protocol import supply_events as se

SCAN_IDS = (N_("err_scan_no_code"), N_("err_scan_not_lot_label"), N_("err_scan_no_frame"))


@bp.post("/receipts/scan")
def scan_code() -> tuple[str, int]:
    """Fill the supplier's lot from the QR in front of the camera; the form is not saved."""
    agent = _agent()
    form = {
        k: v
        for k, v in request.form.items()
        if k not in ("csrf_token", "form_token") and not k.startswith("source_")
    }
    try:
        frame = agent.cameras.frame()
        if frame is None:
            raise ScanError("no_frame")
        found = scan_frame(frame)
    except (ScanError, CameraError) as exc:
        code = exc.code if isinstance(exc, ScanError) else "no_frame"
        message = translate(f"err_scan_{code}", _lang())
        return render_receive(None, {"supplier_lot": message}, 400, form)
    form["supplier_lot"] = found["lot"][: se.MAX_SUPPLIER_LOT]
    form.update({f"source_{k}": v for k, v in found.items()})
    return render_receive(None, None, 200, form, scanned=True)
