"""Issue 7: a rendered device bundle's firstboot.sh, run in a throwaway root, installs the kit,
enrols with a real server and leaves an agent that serves its touchscreen UI.

What a container cannot do is switched off through the script's own test switches
(OCOP_FIRSTBOOT_SKIP="apt users systemd clock"): no apt-get, no useradd/runuser, no systemctl,
no waiting for NTP. Everything else is the script as a Pi runs it: it makes the venv with
--system-site-packages, pip-installs the kit wheel shipped in the bundle, installs the files
under OCOP_ROOT, runs `ocop edge enroll` with the token file and shreds it.

The shortcut: installing the kit's dependencies from PyPI would be slow (and needs the
network), so the test builds the kit wheel once with `pip wheel --no-deps`, passes
OCOP_PIP_ARGS="--no-deps --no-index", and, between the script's first pass (enrolment skipped)
and its second, drops a .pth file into the new venv naming this test venv's site-packages.
The kit itself is imported from the new venv (checked below), its dependencies from ours.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from edge_agent.config import load_config
from ocop_cli.broker import free_port, wait_for_port
from sync_server.devices.enrolment import create_device
from tests.conftest import REPO, require_program
from tests.integration.harness import Processes, make_server

pytestmark = pytest.mark.integration

DEVICE = "kc-line-7"


@pytest.fixture(scope="module")
def kit_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            str(REPO),
            "-w",
            str(out),
        ],
        check=True,
        timeout=120,
    )
    [wheel] = out.glob("ocop_edge_kit-*.whl")
    return wheel


@pytest.fixture
def agent_procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    running: list[subprocess.Popen[bytes]] = []
    yield running
    for proc in running:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _firstboot(bundle: Path, root: Path, skip: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "OCOP_ROOT": str(root),
        "OCOP_FIRSTBOOT_SKIP": skip,
        "OCOP_PIP_ARGS": "--no-deps --no-index",
        # The interpreter behind this venv: the new venv must match the .pth's site-packages.
        "OCOP_PYTHON": sys._base_executable,
    }
    env.pop("VIRTUAL_ENV", None)
    return subprocess.run(
        ["bash", str(bundle / "firstboot.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=root.parent,
    )


def test_firstboot_installs_enrols_and_the_agent_serves_its_ui(
    tmp_path: Path,
    kit_wheel: Path,
    procs: Processes,
    agent_procs: list[subprocess.Popen[bytes]],
) -> None:
    require_program("bash")
    server = make_server(tmp_path, free_port())
    server.run(procs)
    token = create_device(server.engine, DEVICE, "KC", ttl_hours=1)

    prefix = tmp_path / "opt" / "ocop"
    data_dir = tmp_path / "var" / "lib" / "ocop-edge"
    root = tmp_path / "root"
    (root / "boot" / "firmware").mkdir(parents=True)
    (root / "boot" / "firmware" / "config.txt").write_text("dtoverlay=vc4-kms-v3d\n")
    (root / "etc").mkdir()
    (root / "etc" / "hosts").write_text("127.0.0.1\tlocalhost\n127.0.1.1\traspberrypi\n")
    ui_port = free_port()
    bundle = tmp_path / "bundle"
    rendered = subprocess.run(
        [sys.executable, "-m", "ocop_cli.main", "device", "provision", "--out", str(bundle),
         "--facility", "KC", "--device", DEVICE, "--server", server.base_url, "--token", token,
         "--mqtt-host", "127.0.0.1", "--mqtt-port", str(server.config.mqtt.port),
         "--ui-port", str(ui_port), "--camera", "none", "--kit-wheel", str(kit_wheel),
         "--prefix", str(prefix), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stderr

    # Pass 1: everything but enrolment; the venv is made with the system's site-packages.
    first = _firstboot(bundle, root, "apt users systemd clock enrol")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "include-system-site-packages = true" in (prefix / "pyvenv.cfg").read_text()
    assert not (data_dir / ".provisioned").exists()
    [site] = prefix.glob("lib/python3*/site-packages")
    (site / "zz-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    # Pass 2: the same script again (as the unit's retry would), now with enrolment.
    second = _firstboot(bundle, root, "apt users systemd clock")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "provisioned kc-line-7" in second.stdout
    assert not (bundle / "enrol-token").exists(), "the used token must be deleted"
    password = (data_dir / "mqtt-password").read_text().strip()
    assert stat.S_IMODE((data_dir / "mqtt-password").stat().st_mode) == 0o600
    assert (data_dir / ".provisioned").exists()
    assert server.scalar(f"SELECT public_key FROM devices WHERE dev_id = '{DEVICE}'")

    # Pass 3: nothing to do any more.
    third = _firstboot(bundle, root, "apt users systemd clock")
    assert third.returncode == 0 and "already provisioned" in third.stdout

    # What landed in the throwaway root.
    config_path = root / "etc" / "ocop" / "edge.toml"
    config = load_config(config_path)
    assert (config.device_id, config.data_dir, config.ui.port) == (DEVICE, data_dir, ui_port)
    for unit in ("ocop-edge.service", "ocop-kiosk.service", "ocop-firstboot.service"):
        assert (root / "etc" / "systemd" / "system" / unit).is_file()
    assert (root / "etc" / "systemd" / "system.conf.d" / "ocop-watchdog.conf").is_file()
    config_txt = (root / "boot" / "firmware" / "config.txt").read_text()
    assert config_txt.startswith("dtoverlay=vc4-kms-v3d\n")
    assert config_txt.count("dtparam=watchdog=on") == 1  # appended once over three passes
    assert (root / "etc" / "hostname").read_text() == f"{DEVICE}\n"
    assert f"127.0.1.1\t{DEVICE}" in (root / "etc" / "hosts").read_text()
    assert os.readlink(root / "etc" / "localtime") == "/usr/share/zoneinfo/Asia/Ho_Chi_Minh"
    assert os.access(prefix / "bin" / "ocop-kiosk", os.X_OK)
    imported = subprocess.run(
        [str(prefix / "bin" / "python"), "-c", "import edge_agent; print(edge_agent.__file__)"],
        capture_output=True, text=True, check=True, cwd=tmp_path,  # not the checkout
    )  # fmt: skip
    assert imported.stdout.startswith(str(prefix)), "the kit must come from the new venv"

    # The installed agent, with the installed config, serves the touchscreen in Vietnamese.
    log = (tmp_path / "agent.log").open("ab")
    agent_procs.append(
        subprocess.Popen(
            [str(prefix / "bin" / "ocop"), "edge", "--config", str(config_path), "run"],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    )
    assert wait_for_port(ui_port, 30), (tmp_path / "agent.log").read_text()
    page = requests.get(f"http://127.0.0.1:{ui_port}/", timeout=10)
    assert page.status_code == 200
    assert "Mở lô mới" in page.text
    assert re.search(r'<html[^>]*lang="vi"', page.text)

    # Nothing secret in the bundle: not the broker passwords, not the device key.
    secrets = [password, (data_dir / "device-key.pem").read_text().splitlines()[1]]
    server_password = server.dir / "broker" / "server-password"
    if server_password.exists():
        secrets.append(server_password.read_text().strip())
    for path in bundle.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s.encode() in data for s in secrets), path
