"""The server's Flask app factory: public pages now, the office later (one blueprint each)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import Engine

from sync_server.blobs import FileBlobStorage
from sync_server.config import ServerConfig
from sync_server.web.api import bp as api_bp
from sync_server.web.blobs_api import bp as blobs_bp
from sync_server.web.i18n import install_i18n
from sync_server.web.public import bp as public_bp


def create_app(config: ServerConfig, engine: Engine) -> Flask:
    app = Flask(__name__)
    app.config["OCOP"] = config
    app.extensions["ocop_engine"] = engine
    app.extensions["ocop_blobs"] = FileBlobStorage(config.blob_dir)
    install_i18n(app)
    app.register_blueprint(public_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(blobs_bp)
    return app
