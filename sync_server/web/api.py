"""Device-facing HTTP API under ``/api/v1``: enrolment now, blob upload later."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from sync_server.broker_auth import reload_broker, write_broker_auth
from sync_server.enrolment import EnrolmentError, enrol
from sync_server.web.context import config as app_config
from sync_server.web.context import engine as app_engine

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.post("/enroll")
def enroll() -> ResponseReturnValue:
    config, engine = app_config(), app_engine()
    body: Any = request.get_json(silent=True)
    try:
        done = enrol(engine, body, config.public_base_url)
    except EnrolmentError as exc:
        log.warning("enrolment refused (%s): %s", exc.code, exc.message)
        return jsonify(error=exc.code, message=exc.message), exc.status
    write_broker_auth(engine, config.auth_dir)
    reloaded = reload_broker(config.broker.reload_command)
    log.info(
        "device %s enrolled for %s (broker reloaded: %s)", done.device, done.facility, reloaded
    )
    return jsonify(
        device=done.device,
        facility=done.facility,
        mqtt={
            "username": done.device,
            "password": done.mqtt_password,
            "host": config.broker.device_host or config.mqtt.host,
            "port": config.broker.device_port if config.broker.device_host else config.mqtt.port,
        },
        config=done.catalog.to_dict(),
        lot_index=done.lot_index,
    )
