"""Issue 12, finding 9: ``POST /api/v1/enroll`` answers junk with 400, is throttled per client
network, and a wrong-device answer names no other device (against a real ``ocop server run``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from ocop_cli.broker import free_port
from sync_server.devices.enrolment import create_device
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.security.net import ATTACKER, USER, session_from
from trace_protocol.enrolment import enrol_request, proof_message
from trace_protocol.signing import DeviceKey
from trace_protocol.unit_codes import encode_label_key

pytestmark = pytest.mark.integration
SECRET_DEVICE = "kc-kho-bi-mat-7"


def _server(tmp_path: Path, procs: Processes) -> ServerEnv:
    server = make_server(tmp_path, free_port())
    server.run(procs)
    return server


def _request(dev: str, token: str, key: DeviceKey) -> dict[str, Any]:
    public, label = key.public_key_b64, encode_label_key(b"k" * 32)
    proof = key.sign(proof_message(dev, "KC", token, public, label))
    return enrol_request(dev, "KC", token, public, label, proof)


def test_deeply_nested_json_is_a_bad_request(tmp_path: Path, procs: Processes) -> None:
    server = _server(tmp_path, procs)
    body = b"[" * 5000 + b"]" * 5000
    for payload in (body, b'{"device": ' + body + b"}"):
        resp = requests.post(
            f"{server.base_url}/api/v1/enroll",
            data=payload,
            headers={"Content-Type": "application/json"},
            timeout=10,
        )
        assert resp.status_code == 400, resp.text[:200]
        assert resp.json()["error"] == "bad_request"


def test_wrong_device_names_no_other_device(tmp_path: Path, procs: Processes) -> None:
    server = _server(tmp_path, procs)
    token = create_device(server.engine, SECRET_DEVICE, "KC", ttl_hours=1)
    create_device(server.engine, "kc-line-1", "KC", ttl_hours=1)
    resp = requests.post(
        f"{server.base_url}/api/v1/enroll",
        json=_request("kc-line-1", token, DeviceKey.generate()),
        timeout=10,
    )
    assert resp.status_code == 403 and resp.json()["error"] == "wrong_device"
    assert SECRET_DEVICE not in resp.text and "bi-mat" not in resp.text


def test_failed_enrolments_are_throttled_per_network(tmp_path: Path, procs: Processes) -> None:
    server = _server(tmp_path, procs)
    attacker = session_from(ATTACKER)
    url = f"{server.base_url}/api/v1/enroll"
    key = DeviceKey.generate()
    codes = [
        attacker.post(url, json=_request("kc-line-9", f"guess-{i}", key), timeout=10).status_code
        for i in range(12)
    ]
    assert codes[:10] == [403] * 10 and codes[10:] == [429, 429], codes
    refused = attacker.post(url, data=b"[" * 3000, timeout=10)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json()["error"] == "too_many_attempts"

    # A technician on another network enrols a real device meanwhile.
    token = create_device(server.engine, "kc-line-1", "KC", ttl_hours=1)
    ok = session_from(USER).post(url, json=_request("kc-line-1", token, key), timeout=10)
    assert ok.status_code == 200, ok.text
    assert ok.json()["device"] == "kc-line-1"
