"""Issue 12, finding 9: logging out ends the session on the server, and password guesses slow
down the guesser's network, not the real user (against a real ``ocop server run``)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests

from ocop_cli.broker import free_port
from sync_server.accounts.users import create_user
from tests.integration.harness import Processes, ServerEnv, make_server
from tests.security.net import ATTACKER, USER, session_from

pytestmark = pytest.mark.integration
PASSWORD = "mat-khau-that-dai"


def _server(tmp_path: Path, procs: Processes) -> ServerEnv:
    server = make_server(tmp_path, free_port())
    create_user(server.engine, "can-bo", PASSWORD, "officer")
    server.run(procs)
    return server


def _csrf(s: requests.Session, url: str) -> str:
    page = s.get(url, timeout=10).text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:300]
    return found.group(1)


def _login(s: requests.Session, base: str, password: str) -> requests.Response:
    token = _csrf(s, f"{base}/office/login")
    return s.post(
        f"{base}/office/login",
        data={"csrf": token, "username": "can-bo", "password": password},
        allow_redirects=False,
        timeout=10,
    )


def test_logout_ends_a_copied_session(tmp_path: Path, procs: Processes) -> None:
    server = _server(tmp_path, procs)
    base = server.base_url
    officer = requests.Session()
    assert _login(officer, base, PASSWORD).status_code == 302
    assert officer.get(f"{base}/office/", allow_redirects=False, timeout=10).status_code == 200
    stolen = dict(officer.cookies)  # e.g. copied from a shared office PC's browser profile

    token = _csrf(officer, f"{base}/office/")
    out = officer.post(f"{base}/office/logout", data={"csrf": token}, allow_redirects=False)
    assert out.status_code == 302

    thief = requests.Session()
    thief.cookies.update(stolen)
    again = thief.get(f"{base}/office/", allow_redirects=False, timeout=10)
    assert again.status_code == 302 and "/office/login" in again.headers["Location"]


def test_guesses_slow_the_guessers_network_not_the_user(tmp_path: Path, procs: Processes) -> None:
    server = _server(tmp_path, procs)
    base = server.base_url
    attacker = session_from(ATTACKER)
    answers = [_login(attacker, base, f"guess-{i:04d}-xx").status_code for i in range(7)]
    # Five free failures, then the attacker's network has to wait.
    assert answers[:5] == [401] * 5 and answers[5:] == [429, 429], answers
    refused = _login(attacker, base, "guess-9999-xx")
    wait = int(refused.headers["Retry-After"])
    assert refused.status_code == 429 and 1 <= wait <= 2

    # The real officer, on another network, logs in at once.
    user = session_from(USER)
    ok = _login(user, base, PASSWORD)
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/office/")
    assert user.get(f"{base}/office/", allow_redirects=False, timeout=10).status_code == 200

    # Backoff, not a lockout: after the wait the attacker may try again, then waits longer.
    time.sleep(wait + 0.2)
    assert _login(attacker, base, "guess-a-xxxxxx").status_code == 401
    longer = _login(attacker, base, "guess-b-xxxxxx")
    assert longer.status_code == 429 and int(longer.headers["Retry-After"]) >= 2
