"""Device-facing HTTP API under ``/api/v1``: enrolment (photo uploads are in blobs_api.py)."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from sync_server.devices.broker_auth import reload_broker, write_broker_auth
from sync_server.devices.enrolment import EnrolmentError, enrol
from sync_server.store import throttle
from sync_server.web.client import client_place
from sync_server.web.context import config as app_config
from sync_server.web.context import engine as app_engine

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__, url_prefix="/api/v1")


# An enrolment request is six short strings: anything much larger is not one.
MAX_ENROL_BYTES = 16 << 10


def _parse(raw: bytes) -> Any:
    """The request's JSON; deep nesting (RecursionError) is a bad request like any bad JSON."""
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise EnrolmentError("bad_request", "expected a JSON object", 400) from exc


@bp.post("/enroll")
def enroll() -> ResponseReturnValue:
    config, engine = app_config(), app_engine()
    # Failed enrolments are throttled per client network with backoff
    # (sync_server/store/throttle.py,
    # issue 12): a token cannot be guessed at speed, nor the server kept busy verifying junk.
    place = client_place()
    wait = throttle.wait_s(engine, throttle.ENROL, place)
    if wait > 0:
        resp = jsonify(error="too_many_attempts", message="too many failed enrolments; wait")
        resp.headers["Retry-After"] = str(math.ceil(wait))
        return resp, 429
    try:
        if (request.content_length or 0) > MAX_ENROL_BYTES:
            raise EnrolmentError("too_large", "an enrolment request is a few hundred bytes", 413)
        done = enrol(engine, _parse(request.get_data(cache=False)), config.public_base_url)
    except EnrolmentError as exc:
        throttle.record_failure(engine, throttle.ENROL, place)
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
