"""Each box installs the kit with its own extra (issue 14): a Pi ``[edge]``, a server
``[server]``; ``install.sh`` runs here against a fake pip that logs its arguments."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from firmware_config.server import ServerSpec, render_bundle
from tests.conftest import require_program
from tests.unit.firmware.conftest import Provision


def test_first_boot_installs_the_wheel_or_the_spec_with_the_edge_extra(
    provision: Provision, tmp_path: Path
) -> None:
    wheel = tmp_path / "ocop_edge_kit-0.1.0-py3-none-any.whl"
    wheel.write_bytes(b"PK")
    firstboot = (provision("--kit-wheel", str(wheel)) / "firstboot.sh").read_text()
    assert 'source="${bundle}/${kit_wheel}[edge]"' in firstboot
    firstboot = (provision("--kit-spec", "ocop-edge-kit==0.2.0") / "firstboot.sh").read_text()
    assert "kit_spec='ocop-edge-kit[edge]==0.2.0'" in firstboot


def test_install_sh_installs_the_kit_with_the_server_extra(tmp_path: Path) -> None:
    bash = require_program("bash")
    spec = ServerSpec(domain="trace.hatinh.gov.vn")
    bundle = tmp_path / "bundle"
    render_bundle(spec, bundle)
    root = tmp_path / "root"
    bin_dir = root / spec.prefix.lstrip("/") / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "pip-calls"
    (bin_dir / "ocop").write_text("#!/bin/sh\n")
    (bin_dir / "pip").write_text(f'#!/bin/sh\necho "$*" >> "{calls}"\n')
    for name in ("ocop", "pip"):
        (bin_dir / name).chmod(0o755)
    env = {**os.environ, "DESTDIR": str(root), "OCOP_SKIP_APT": "1", "OCOP_SKIP_SYSTEM": "1"}
    done = subprocess.run(
        [bash, str(bundle / "install.sh"), "/src/ocop-edge-kit/"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert calls.read_text().splitlines() == ["install --upgrade /src/ocop-edge-kit[server]"]
