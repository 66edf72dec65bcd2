"""Enrolment over the real Flask API: happy path, reused, expired, wrong facility, bad proof."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from sync_server.config import ServerConfig
from sync_server.devices.broker_auth import mosquitto_hash, write_broker_auth
from sync_server.devices.enrolment import create_device, revoke_device
from sync_server.devices.registry import RegistryError, import_catalog
from sync_server.ingest.commit import ingest_chunk
from sync_server.store.db import alerts, devices
from sync_server.web import create_app
from tests.unit.protocol.builders import ChainBuilder
from tests.unit.server.conftest import CATALOG
from trace_protocol.enrolment import ENROL_PATH, enrol_request, proof_message
from trace_protocol.messages import encode_chunk
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

DEV = "kc-pi-7"
LABEL_KEY = bytes(range(32))


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(data_dir=tmp_path, public_base_url="http://trace.test")


@pytest.fixture
def client(engine: Engine, config: ServerConfig) -> FlaskClient:
    import_catalog(engine, CATALOG, config.public_base_url)
    return create_app(config, engine).test_client()


def _request(key: DeviceKey, token: str, dev: str = DEV, facility: str = "KC") -> dict[str, Any]:
    public = key.public_key_b64
    label = encode_label_key(LABEL_KEY)
    return enrol_request(
        dev,
        facility,
        token,
        public,
        label,
        key.sign(proof_message(dev, facility, token, public, label)),
    )


def test_happy_path_gives_credentials_config_and_broker_access(
    client: FlaskClient, engine: Engine, config: ServerConfig
) -> None:
    key = DeviceKey.generate()
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    resp = client.post(ENROL_PATH, json=_request(key, token))
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body is not None
    assert body["device"] == DEV and body["mqtt"]["username"] == DEV
    password = body["mqtt"]["password"]
    assert len(password) >= 24
    assert body["config"]["facility"]["code"] == "KC"
    assert body["config"]["public_base_url"] == "http://trace.test"
    with engine.connect() as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == DEV)).mappings().one()
    assert row["public_key"] == key.public_key_b64
    assert password not in json.dumps(dict(row))  # only a hash is stored
    salt_b64 = row["mqtt_password_hash"].split("$")[3]
    assert mosquitto_hash(password, base64.b64decode(salt_b64)) == row["mqtt_password_hash"]
    passwd = (config.auth_dir / "passwd").read_text()
    assert f"{DEV}:{row['mqtt_password_hash']}" in passwd.splitlines()
    assert password not in passwd


def test_token_is_single_use(client: FlaskClient, engine: Engine) -> None:
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    assert client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token)).status_code == 200
    again = client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token))
    assert again.status_code == 403
    assert again.json == {
        "error": "used_token",
        "message": "this enrolment token has already been used",
    }


def test_expired_token_is_refused(client: FlaskClient, engine: Engine) -> None:
    token = create_device(engine, DEV, "KC", ttl_hours=0)
    resp = client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token))
    assert resp.status_code == 403
    assert resp.json is not None and resp.json["error"] == "expired_token"
    assert "ask the office for a new one" in resp.json["message"]


def test_a_new_token_replaces_the_old_one(client: FlaskClient, engine: Engine) -> None:
    old = create_device(engine, DEV, "KC", ttl_hours=1)
    new = create_device(engine, DEV, "KC", ttl_hours=1)
    resp = client.post(ENROL_PATH, json=_request(DeviceKey.generate(), old))
    assert resp.json is not None and resp.json["error"] == "expired_token"
    assert client.post(ENROL_PATH, json=_request(DeviceKey.generate(), new)).status_code == 200


@pytest.mark.parametrize(
    ("dev", "facility", "code"),
    [(DEV, "CN", "wrong_facility"), ("kc-pi-8", "KC", "wrong_device")],
)
def test_token_for_another_facility_or_device_is_refused(
    client: FlaskClient, engine: Engine, dev: str, facility: str, code: str
) -> None:
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    resp = client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token, dev, facility))
    assert resp.status_code == 403
    assert resp.json is not None and resp.json["error"] == code
    # The refusal did not use the token up.
    assert client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token)).status_code == 200


def test_proof_must_be_signed_by_the_key_sent(client: FlaskClient, engine: Engine) -> None:
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    request = _request(DeviceKey.generate(), token)
    request["public_key"] = DeviceKey.generate().public_key_b64
    resp = client.post(ENROL_PATH, json=request)
    assert resp.status_code == 400
    assert resp.json is not None and resp.json["error"] == "bad_proof"


@pytest.mark.parametrize("body", [None, [], {"device": DEV}, {"device": 1, "token": "x"}])
def test_malformed_requests_get_a_clear_400(client: FlaskClient, body: Any) -> None:
    resp = client.post(ENROL_PATH, json=body)
    assert resp.status_code == 400
    assert resp.json is not None and resp.json["error"] == "bad_request"


def test_unknown_token(client: FlaskClient, engine: Engine) -> None:
    create_device(engine, DEV, "KC", ttl_hours=1)
    resp = client.post(ENROL_PATH, json=_request(DeviceKey.generate(), "not-a-token"))
    assert resp.status_code == 403
    assert resp.json is not None and resp.json["error"] == "unknown_token"


def test_enrolled_device_cannot_get_a_second_token(client: FlaskClient, engine: Engine) -> None:
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    assert client.post(ENROL_PATH, json=_request(DeviceKey.generate(), token)).status_code == 200
    with pytest.raises(RegistryError, match="needs a new device id"):
        create_device(engine, DEV, "KC", ttl_hours=1)


def test_revoked_device_leaves_the_broker_files_and_its_events_are_untrusted(
    client: FlaskClient, engine: Engine, config: ServerConfig
) -> None:
    key = DeviceKey.generate()
    token = create_device(engine, DEV, "KC", ttl_hours=1)
    assert client.post(ENROL_PATH, json=_request(key, token)).status_code == 200
    chain = ChainBuilder(key, DEV)
    chain.run(2)
    assert ingest_chunk(engine, DEV, encode_chunk(DEV, chain.events)).committed == 2

    revoke_device(engine, DEV, "Pi stolen")
    write_broker_auth(engine, config.auth_dir)
    assert not any(
        line.startswith(f"{DEV}:") for line in (config.auth_dir / "passwd").read_text().splitlines()
    )
    later = chain.next()
    result = ingest_chunk(engine, DEV, encode_chunk(DEV, [later]))
    assert result.committed == 0 and result.quarantined == 1
    assert result.ack is not None and result.ack.error is not None
    assert (result.ack.upto, result.ack.error.code) == (2, "revoked")
    with engine.connect() as conn:
        kinds = [r.kind for r in conn.execute(select(alerts))]
    assert kinds == ["revoked"]  # raised once, not once per chunk


def test_a_token_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # `ocop edge enroll --token -2IRV…` reads the token as an option (the demo failed on one).
    from sync_server.devices import enrolment

    drawn = iter(["-2IRVmur_VfjIKA9n46Kbw", "--x", "2IRVmur_VfjIKA9n46Kbw"])
    monkeypatch.setattr(enrolment.secrets, "token_urlsafe", lambda n: next(drawn))
    assert enrolment.new_token() == "2IRVmur_VfjIKA9n46Kbw"
