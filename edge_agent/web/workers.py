"""Worker sign-in on the touchscreen: a PIN pad when the catalog lists workers, else nothing.

With ``workers`` in the facility catalog every page asks who is at the screen; the worker's
id and name go into the body (``by``) of each event they make. The sign-in ends after
``ui.worker_idle_min`` without a tap, on "Đổi người", or when the office removes the worker.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from flask import (
    Blueprint,
    Flask,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from edge_agent.agent import Agent
from edge_agent.web.guard import safe_next
from trace_protocol.catalog import Catalog
from trace_protocol.workers import Worker

bp = Blueprint("worker", __name__, template_folder="templates")

# Pages that work without a worker: the PIN pad itself, its assets, the language switch and the
# status JSON (sync state only, read by the kiosk's health check).
OPEN_ENDPOINTS = frozenset(
    (
        "worker.login",
        "worker.login_post",
        "worker.logout",
        "ui.static",
        "ui.switch_language",
        "ui.api_status",
        "static",
        "favicon",
    )
)

# Asked by the page itself, not by a tap (print.js polls the print jobs): they need a signed-in
# worker but do not keep the sign-in alive, or a printer left off would never sign anyone out.
PASSIVE_ENDPOINTS = frozenset(("ui.jobs",))

FREE_TRIES = 5
LOCK_FIRST_S = 30.0
LOCK_MAX_S = 900.0


@dataclass
class _Tries:
    failed: int = 0
    locked_until: float = 0.0


class PinThrottle:
    """Wrong PINs per worker: five free tries, then a lock that doubles up to 15 minutes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tries: dict[str, _Tries] = {}

    def wait_s(self, worker_id: str, now: float) -> float:
        with self._lock:
            t = self._tries.get(worker_id)
            return max(0.0, t.locked_until - now) if t else 0.0

    def failed(self, worker_id: str, now: float) -> None:
        with self._lock:
            t = self._tries.setdefault(worker_id, _Tries())
            t.failed += 1
            if t.failed >= FREE_TRIES:
                t.locked_until = now + min(LOCK_MAX_S, LOCK_FIRST_S * 2 ** (t.failed - FREE_TRIES))

    def succeeded(self, worker_id: str) -> None:
        with self._lock:
            self._tries.pop(worker_id, None)


def _agent() -> Agent:
    agent: Agent = current_app.extensions["ocop_agent"]
    return agent


def _idle_s() -> float:
    return _agent().config.ui.worker_idle_min * 60.0


def current_worker(catalog: Catalog | None) -> Worker | None:
    """The signed-in worker, if still in the catalog and active within the idle time."""
    if catalog is None or not catalog.workers:
        return None
    wid, seen = session.get("worker"), session.get("seen")
    if not isinstance(wid, str) or not isinstance(seen, int | float):
        return None
    if time.time() - seen > _idle_s():
        return None
    return catalog.worker(wid)


def current_by() -> dict[str, str] | None:
    """``by`` for the event body about to be written (None when the facility uses no PINs)."""
    worker = current_worker(_agent().catalog())
    return worker.by() if worker else None


def _gate() -> BaseResponse | None:
    if request.endpoint in OPEN_ENDPOINTS:
        return None
    catalog = _agent().catalog()
    if catalog is None or not catalog.workers:
        return None
    if current_worker(catalog) is not None:
        if request.endpoint not in PASSIVE_ENDPOINTS:
            session["seen"] = int(time.time())
        return None
    expired = "worker" in session
    session.pop("worker", None)
    # A POST loses its form: back to the page it came from once the PIN is in.
    back = request.full_path if request.method == "GET" else request.headers.get("Referer", "")
    back = safe_next(_path_only(back), url_for("ui.home"))
    return redirect(url_for("worker.login", next=back, expired=1 if expired else None), code=303)


def _path_only(target: str) -> str:
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        host, _, path = rest.partition("/")
        return "/" + path if host == request.host else ""
    return target.rstrip("?")


def install_workers(app: Flask) -> None:
    app.extensions["ocop_pin_throttle"] = PinThrottle()
    app.before_request(_gate)
    app.register_blueprint(bp)

    @app.context_processor
    def _inject_worker() -> dict[str, object]:
        catalog = _agent().catalog()
        return {"worker": current_worker(catalog), "pins_on": bool(catalog and catalog.workers)}


@bp.get("/login")
def login() -> BaseResponse | str:
    catalog = _agent().catalog()
    target = safe_next(request.args.get("next", ""), url_for("ui.home"))
    if catalog is None or not catalog.workers:
        return redirect(target, code=303)
    chosen = catalog.worker(request.args.get("w", ""))
    return render_template(
        "login.html",
        workers=catalog.workers,
        chosen=chosen,
        next=target,
        expired=bool(request.args.get("expired")),
        error=None,
        wait_s=0,
        here=url_for("worker.login", next=target),
    )


@bp.post("/login")
def login_post() -> BaseResponse | tuple[str, int]:
    catalog = _agent().catalog()
    target = safe_next(request.form.get("next", ""), url_for("ui.home"))
    if catalog is None or not catalog.workers:
        return redirect(target, code=303)
    chosen = catalog.worker(request.form.get("worker", ""))
    throttle: PinThrottle = current_app.extensions["ocop_pin_throttle"]
    now = time.time()
    error, wait = None, 0.0
    if chosen is None:
        error = "pin_pick_name"
    else:
        wait = throttle.wait_s(chosen.id, now)
        if wait > 0:
            error = "pin_locked"
        elif chosen.check_pin(request.form.get("pin", "")):
            throttle.succeeded(chosen.id)
            csrf = session.get("csrf")
            session.clear()  # a new sign-in starts a new session (no fixation)
            if csrf is not None:
                session["csrf"] = csrf
            session["worker"] = chosen.id
            session["seen"] = int(now)
            return redirect(target, code=303)
        else:
            throttle.failed(chosen.id, now)
            wait = throttle.wait_s(chosen.id, now)
            error = "pin_locked" if wait > 0 else "pin_wrong"
    page = render_template(
        "login.html",
        workers=catalog.workers,
        chosen=chosen,
        next=target,
        expired=False,
        error=error,
        wait_s=int(wait + 0.999),
        here=url_for("worker.login", next=target),
    )
    return page, 401


@bp.post("/logout")
def logout() -> BaseResponse:
    session.pop("worker", None)
    session.pop("seen", None)
    return redirect(url_for("worker.login"), code=303)
