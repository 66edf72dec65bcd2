"""``ocop edge enroll``: trade a one-time token and this device's public key for broker
credentials and the first catalog. The private key never leaves the device."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import requests

from edge_agent.agent import open_agent
from edge_agent.config import EdgeConfig
from edge_agent.lot_letter import store_lot_index
from trace_protocol.catalog import Catalog, CatalogError, parse_catalog
from trace_protocol.enrolment import ENROL_PATH, enrol_request, parse_lot_index, proof_message
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key, load_or_create_label_key


class EnrolError(Exception):
    """Enrolment did not happen; the message says why, in words for the person at the Pi."""


@dataclass(frozen=True)
class EnrolResult:
    device: str
    facility: str
    mqtt_host: str
    mqtt_port: int
    catalog_version: int
    lot_index: int | None  # None from a server without lot letters: old lot form


@dataclass(frozen=True)
class Answer:
    """What the server's enrolment answer gives the device."""

    password: str
    catalog: Catalog
    lot_index: int | None
    mqtt_host: str
    mqtt_port: int


def request_enrolment(
    config: EdgeConfig, dev: str, server_url: str, facility: str, token: str
) -> Answer:
    """Sign and send the enrolment request for ``dev`` with this device's key; the answer."""
    key = DeviceKey.load_or_create(config.key_path)
    public = key.public_key_b64
    label_key = encode_label_key(load_or_create_label_key(config.label_key_path))
    proof = key.sign(proof_message(dev, facility, token, public, label_key))
    url = server_url.rstrip("/") + ENROL_PATH
    try:
        resp = requests.post(
            url,
            json=enrol_request(dev, facility, token, public, label_key, proof),
            timeout=20,
        )
    except requests.RequestException as exc:
        raise EnrolError(f"cannot reach {url}: {exc}") from exc
    try:
        body = resp.json()
    except ValueError as exc:
        raise EnrolError(f"{url} answered {resp.status_code} without JSON") from exc
    if resp.status_code != 200:
        raise EnrolError(f"refused ({body.get('error')}): {body.get('message')}")
    try:
        mqtt = body["mqtt"]
        return Answer(
            password=str(mqtt["password"]),
            catalog=parse_catalog(body["config"]),
            lot_index=parse_lot_index(body),
            mqtt_host=str(mqtt.get("host", "")),
            mqtt_port=int(mqtt.get("port", 0)),
        )
    except (KeyError, TypeError, ValueError, CatalogError) as exc:
        raise EnrolError(f"unexpected answer from the server: {exc}") from exc


def enroll(config: EdgeConfig, server_url: str, facility: str, token: str) -> EnrolResult:
    answer = request_enrolment(config, config.device_id, server_url, facility, token)
    write_password(config.password_path, answer.password)
    agent = open_agent(config, with_sync=False)
    try:
        agent.accept_catalog(answer.catalog)
        if answer.lot_index is not None:
            with agent.journal.store.write() as db:
                store_lot_index(db, answer.lot_index)
    finally:
        agent.close()
    return EnrolResult(
        device=config.device_id,
        facility=facility,
        mqtt_host=answer.mqtt_host,
        mqtt_port=answer.mqtt_port,
        catalog_version=answer.catalog.version,
        lot_index=answer.lot_index,
    )


def write_password(path: Path, password: str) -> None:
    """Store the broker password readable only by the agent's user (0600), atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(password + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
