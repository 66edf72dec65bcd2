"""What every view of the web app reads from the app: the engine, the config, the blob store."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Engine

from sync_server.config import ServerConfig
from sync_server.store.blobs import BlobStorage


def engine() -> Engine:
    e: Engine = current_app.extensions["ocop_engine"]
    return e


def config() -> ServerConfig:
    c: ServerConfig = current_app.config["OCOP"]
    return c


def storage() -> BlobStorage:
    s: BlobStorage = current_app.extensions["ocop_blobs"]
    return s
