"""One Pi's SD-card bundle as zip bytes: what ``ocop device provision`` writes, for a download.

The office offers the bundle on a device's page (issue 16). ``sync_server`` may not import
``firmware_config`` (the import rules in docs/architecture.md keep the server free of the Pi's
templates), so the ``ocop`` command line hands :func:`zip_bundle` to the server when it starts
it (ocop_cli/main.py) and the office calls it through
:class:`sync_server.devices.fleet.BundleMaker`.
"""

from __future__ import annotations

import tempfile
import zipfile
from io import BytesIO
from pathlib import Path

from firmware_config.device import DeviceSpec, render_bundle


def zip_bundle(
    *,
    facility: str,
    device: str,
    server: str,
    token: str,
    mqtt_host: str = "",
    mqtt_port: int = 0,
    mqtt_tls: bool = False,
) -> bytes:
    """The bundle for one Pi as a zip whose top folder is ``ocop/`` (copied as-is to the SD
    card's boot partition). Raises :class:`firmware_config.device.SpecError` on bad values."""
    spec = DeviceSpec(
        facility=facility,
        device=device,
        server=server,
        token=token,
        mqtt_host=mqtt_host,
        mqtt_port=mqtt_port,
        mqtt_tls=mqtt_tls,
    )
    buf = BytesIO()
    with tempfile.TemporaryDirectory(prefix="ocop-bundle-") as tmp:
        out = Path(tmp) / "ocop"
        written = render_bundle(spec, out)
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(written):
                path = out / name
                info = zipfile.ZipInfo(f"ocop/{name}", date_time=(2024, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                # A regular file with the mode render_bundle gave it (scripts 0755, token 0600).
                info.external_attr = (0o100000 | (path.stat().st_mode & 0o777)) << 16
                zf.writestr(info, path.read_bytes())
    return buf.getvalue()
