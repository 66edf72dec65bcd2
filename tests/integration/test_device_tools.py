"""Issue 7: the rendered units pass `systemd-analyze verify`, the scripts `bash -n` and
shellcheck. A missing tool fails under CI=true (tests.conftest.require_program)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_program
from tests.unit.firmware.conftest import Provision, make_provision

pytestmark = pytest.mark.integration
SCRIPTS = ("firstboot.sh", "bootstrap.sh", "kiosk.sh")


@pytest.fixture
def provision(tmp_path: Path) -> Provision:
    return make_provision(tmp_path)


@pytest.mark.parametrize("camera", ["picamera", "none"])
def test_units_pass_systemd_analyze_verify(
    provision: Provision, tmp_path: Path, camera: str
) -> None:
    analyze = require_program("systemd-analyze")
    # verify insists that ExecStart programs exist: point the prefix into tmp, with stubs.
    prefix = tmp_path / "opt" / "ocop"
    (prefix / "bin").mkdir(parents=True)
    for name in ("ocop", "ocop-kiosk"):
        stub = prefix / "bin" / name
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    bundle = provision("--prefix", str(prefix), "--camera", camera)
    units = sorted((bundle / "files/etc/systemd/system").glob("*.service"))
    assert [u.name for u in units] == [
        "ocop-edge.service",
        "ocop-firstboot.service",
        "ocop-kiosk.service",
    ]
    done = subprocess.run(
        [analyze, "verify", *map(str, units)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # Unknown keys and bad values are only warnings for systemd: none may appear.
    assert done.stderr.strip() == "", done.stderr


@pytest.mark.parametrize("display", ["touchscreen", "hdmi"])
def test_scripts_pass_bash_n_and_shellcheck(provision: Provision, display: str) -> None:
    bash = require_program("bash")
    shellcheck = require_program("shellcheck")
    bundle = provision("--display", display, "--kit-spec", "ocop-edge-kit[extra]>=0.1,<1")
    for name in SCRIPTS:
        script = bundle / name
        assert script.read_text().startswith("#!/bin/bash\n")
        syntax = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
        assert syntax.returncode == 0, f"{name}: {syntax.stderr}"
        lint = subprocess.run(
            [shellcheck, "--severity=style", str(script)], capture_output=True, text=True
        )
        assert lint.returncode == 0, f"{name}:\n{lint.stdout}{lint.stderr}"
        assert "set -euo pipefail" in script.read_text()


def test_bootstrap_installs_the_firstboot_unit_and_restores_cmdline(
    provision: Provision, tmp_path: Path
) -> None:
    bash = require_program("bash")
    bundle = provision()
    root = tmp_path / "root"
    boot = root / "boot" / "firmware"
    boot.mkdir(parents=True)
    original = "console=serial0,115200 console=tty1 root=PARTUUID=1234-02 rootwait quiet\n"
    # What the README tells the person to do: the fragment appended to the single line.
    fragment = (bundle / "cmdline.txt.append").read_text().strip("\n")
    (boot / "cmdline.txt").write_text(original.rstrip("\n") + fragment + "\n")
    done = subprocess.run(
        [bash, str(bundle / "bootstrap.sh")],
        env={"PATH": "/usr/bin:/bin", "OCOP_ROOT": str(root), "OCOP_FIRSTBOOT_SKIP": "systemd"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    unit = root / "etc/systemd/system/ocop-firstboot.service"
    assert (
        unit.read_text() == (bundle / "files/etc/systemd/system/ocop-firstboot.service").read_text()
    )
    assert (boot / "cmdline.txt").read_text() == original
