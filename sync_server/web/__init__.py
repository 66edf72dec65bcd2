"""The server's Flask app factory: public pages, device APIs and the office (one blueprint each)."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from sync_server.config import ServerConfig
from sync_server.consumer.scan_budget import ScanBudget
from sync_server.consumer.scan_writer import ScanWriter
from sync_server.devices.fleet import BundleMaker
from sync_server.store.blobs import FileBlobStorage
from sync_server.web.api import bp as api_bp
from sync_server.web.auth import install_auth
from sync_server.web.blobs_api import bp as blobs_bp
from sync_server.web.describe import install_describe
from sync_server.web.epcis_api import bp as epcis_bp
from sync_server.web.headers import install_security_headers
from sync_server.web.http_extras import install_http_extras
from sync_server.web.i18n import N_, install_i18n
from sync_server.web.office import bp as office_bp
from sync_server.web.page_cache import PageCache
from sync_server.web.public import bp as public_bp
from sync_server.web.recall_state import RecallGeneration
from sync_server.web.report_views import bp as report_bp
from trace_protocol.blobs import MAX_CHUNK_BYTES

# The largest request body the app takes: a photo upload chunk plus headroom for forms and the
# enrolment JSON. Also waitress's max_request_body_size (sync_server/service.py), which refuses
# a larger Content-Length with 413 before reading the body; nginx's client_max_body_size is the
# same figure (firmware_config/server.py).
MAX_BODY_BYTES = MAX_CHUNK_BYTES + (64 << 10)


def create_app(
    config: ServerConfig, engine: Engine, *, sd_bundle: BundleMaker | None = None
) -> Flask:
    """The app; ``sd_bundle`` renders a Pi's SD-card bundle for the office's device page (the
    ``ocop`` command line passes firmware_config's, which this package may not import)."""
    app = Flask(__name__)
    if config.http.proxy_hops:  # client addresses (scan places) from trusted proxies' headers
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.http.proxy_hops)  # type: ignore[method-assign]
    app.config["OCOP"] = config
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["ocop_engine"] = engine
    app.extensions["ocop_sd_bundle"] = sd_bundle
    app.extensions["ocop_blobs"] = FileBlobStorage(config.blob_dir)
    app.extensions["ocop_scan_writer"] = ScanWriter(engine, config.scans)
    app.extensions["ocop_scan_budget"] = ScanBudget(config.scans.per_network_hour)
    app.extensions["ocop_page_cache"] = PageCache(config.http.page_cache_s)
    app.extensions["ocop_recall_generation"] = RecallGeneration(engine)
    install_i18n(app)
    install_describe(app)
    install_auth(app, config)
    install_security_headers(app)
    app.register_blueprint(public_bp)
    app.register_blueprint(report_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(blobs_bp)
    app.register_blueprint(office_bp)
    app.register_blueprint(epcis_bp)
    install_http_extras(app)  # last: gzip wraps everything above

    @app.errorhandler(400)
    @app.errorhandler(403)
    def _refused(exc: HTTPException) -> ResponseReturnValue:
        key = N_("csrf_failed") if exc.description == "csrf" else N_("forbidden")
        if exc.code == 400 and key != "csrf_failed":
            return exc
        return render_template("office/error.html", message=key), exc.code or 400

    return app
