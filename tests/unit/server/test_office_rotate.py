"""The office rotates a device's broker password (issue 16; docs/protocol.md "Unblocking"):
decided from the device page with a reason; the hash goes at once (the broker's password file
loses the device), a one-time token only the device's keys can use is shown, and the decision
and the audit row are kept. Here the broker is down and no reload command is set, so the page
says the device was not told; tests/integration/test_rotate.py runs it with a real agent.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select, update

from ocop_cli.broker import free_port
from sync_server.accounts.users import create_user
from sync_server.config import ServerMqttConfig
from sync_server.devices.broker_auth import PASSWD_FILE, mosquitto_hash
from sync_server.devices.enrolment import EnrolmentError, enrol
from sync_server.devices.registry import import_catalog
from sync_server.store.alerts import raise_alert
from sync_server.store.db import alerts, audit_log, devices
from sync_server.store.office_tables import device_decisions
from tests.unit.server.conftest import DEV
from tests.unit.server.office_client import PASSWORD, csrf_of, log_in, make_app, officer_client
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

LABEL = encode_label_key(b"k" * 32)
CATALOGS = Path(__file__).resolve().parents[3] / "ocop_cli" / "data"


@pytest.fixture
def app(engine: Engine, device: str, tmp_path: Path) -> Flask:
    with engine.begin() as conn:  # enrolled: a key, a label key and a broker password
        conn.execute(
            update(devices)
            .where(devices.c.dev_id == DEV)
            .values(mqtt_password_hash=mosquitto_hash("old"), label_key=LABEL, enrolled_at=1.0)
        )
        raise_alert(conn, DEV, "KC", "forged_traffic", "forged traffic on this device's topic")
    # Nothing listens on this port: the broker is down.
    return make_app(
        engine,
        tmp_path,
        public_base_url="http://ocop.test",
        mqtt=ServerMqttConfig(port=free_port()),
    )


@pytest.fixture
def client(app: Flask, engine: Engine) -> FlaskClient:
    return officer_client(app, engine)


def _rotate(client: FlaskClient, reason: str) -> tuple[int, str]:
    page = client.get(f"/office/devices/{DEV}").get_data(as_text=True)
    assert 'id="rotate-panel"' in page  # the button is on the device page
    resp = client.post(
        f"/office/devices/{DEV}/rotate", data={"csrf": csrf_of(page), "reason": reason}
    )
    return resp.status_code, resp.get_data(as_text=True)


def _enrol(engine: Engine, key: DeviceKey, token: str, label: str = LABEL) -> str:
    proof = key.sign(proof_message(DEV, "KC", token, key.public_key_b64, label))
    request = enrol_request(DEV, "KC", token, key.public_key_b64, label, proof)
    return enrol(engine, request, "http://x").mqtt_password


def test_a_reason_is_required_and_nothing_changes_without_one(
    client: FlaskClient, engine: Engine
) -> None:
    status, html = _rotate(client, "   ")
    assert status == 400 and 'id="rotate-error"' in html
    with engine.connect() as conn:
        assert conn.execute(select(devices.c.mqtt_password_hash)).scalar() is not None
        assert conn.execute(select(device_decisions)).first() is None
        assert (
            conn.execute(
                select(audit_log).where(audit_log.c.action == "device.unblock.rotate")
            ).first()
            is None
        )


def test_rotation_removes_the_password_and_issues_a_token_only_the_device_can_use(
    client: FlaskClient, engine: Engine, key: DeviceKey, tmp_path: Path
) -> None:
    status, html = _rotate(client, "Tin nhắn giả trên kênh của máy: mật khẩu bị lộ")
    assert status == 200, html
    assert 'id="rotated"' in html
    assert "Không gửi được lệnh cho thiết bị" in html  # the broker is down
    assert 'id="rotate-not-reloaded"' in html  # no reload command configured
    token = re.search(r'<code id="token">([^<]+)</code>', html)
    assert token is not None
    assert (
        f"ocop edge enroll --server http://ocop.test --facility KC --token={token.group(1)}" in html
    )
    # Cut off at once: no hash, and the rewritten password file has no line for the device.
    passwd = (tmp_path / "broker" / PASSWD_FILE).read_text()
    assert f"{DEV}:" not in passwd
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(devices.c.mqtt_password_hash).where(devices.c.dev_id == DEV)
            ).scalar()
            is None
        )
        decisions = conn.execute(
            select(
                device_decisions.c.username, device_decisions.c.cause, device_decisions.c.decision
            )
        ).all()
        assert decisions == [("officer1", "forged_traffic", "rotate")]
        audit = conn.execute(
            select(audit_log.c.username, audit_log.c.target, audit_log.c.after).where(
                audit_log.c.action == "device.unblock.rotate"
            )
        ).all()
        everything = " ".join(str(r) for r in conn.execute(select(audit_log)).all())
        open_alerts = conn.execute(
            select(alerts.c.id).where(
                alerts.c.kind == "forged_traffic", alerts.c.resolved_at.is_(None)
            )
        ).all()
    assert [(u, t) for u, t, _ in audit] == [("officer1", DEV)]
    assert audit[0][2]["broker_login"] is False
    assert token.group(1) not in everything
    assert open_alerts == []

    # Another key, or the right key with another label key, cannot use the token.
    with pytest.raises(EnrolmentError) as other:
        _enrol(engine, DeviceKey.generate(), token.group(1))
    assert other.value.code == "wrong_key"
    with pytest.raises(EnrolmentError) as label:
        _enrol(engine, key, token.group(1), encode_label_key(b"x" * 32))
    assert label.value.code == "wrong_key"
    # The device's own keys can: a new password, the same identity.
    password = _enrol(engine, key, token.group(1))
    with engine.connect() as conn:
        row = conn.execute(select(devices).where(devices.c.dev_id == DEV)).mappings().one()
    assert row["mqtt_password_hash"] is not None and row["public_key"] == key.public_key_b64
    assert row["enrolled_at"] == 1.0  # the first enrolment's time stays
    assert password != "old"

    # The history is on the rotate page and on the unblock page.
    page = client.get(f"/office/devices/{DEV}/rotate").get_data(as_text=True)
    assert 'data-decision="rotate"' in page and token.group(1) not in page
    unblock = client.get(f"/office/devices/{DEV}/unblock").get_data(as_text=True)
    assert "Đổi mật khẩu broker và tiếp tục" in unblock
    assert "#None" not in unblock  # a rotation has no blocked seq


def test_another_districts_device_is_404_and_a_post_changes_nothing(
    app: Flask, engine: Engine
) -> None:
    import_catalog(engine, CATALOGS / "cuong-nga-honey.json", "http://x")
    create_user(engine, "cb-huong-son", PASSWORD, "officer", districts=["huyện Hương Sơn"])
    client = app.test_client()
    assert log_in(client, "cb-huong-son") == 302
    assert client.get(f"/office/devices/{DEV}/rotate").status_code == 404
    csrf = csrf_of(client.get("/office/").get_data(as_text=True))
    resp = client.post(f"/office/devices/{DEV}/rotate", data={"csrf": csrf, "reason": "thử"})
    assert resp.status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(devices.c.mqtt_password_hash)).scalar() is not None
        assert conn.execute(select(device_decisions)).first() is None
