"""Take a new broker password after the office rotated this device's (issue 16; docs/protocol.md,
"Unblocking"): re-enrol over HTTP(S) as the same id with the same key.

The office rotates a device's broker password when it believes the old one stolen (forged
traffic on the device's topics). Before the broker forgets the old password the server sends
``{"cmd": "rekey", "token": …}`` on the device's ``cmd`` topic. The token is a one-time
enrolment token for this very id that the server accepts only with this device's registered key
(sync_server/devices/enrolment.py), so a thief reading the topic with the old password cannot
use it; the new password comes back only in the HTTP(S) answer. Nothing in the journal changes:
same id, same key, same chain; the sync worker reconnects with the new password.

A device that missed the command (off, or cut off first) is re-enrolled by a technician with the
token the office's page shows: ``ocop edge enroll --token …`` does the same, and a running agent
whose login was refused picks the new password up from the file (edge_agent/sync.py).
"""

from __future__ import annotations

import logging
import os

from edge_agent.config import EdgeConfig
from edge_agent.enrolment import EnrolError, request_enrolment, write_password
from trace_protocol.catalog import Catalog
from trace_protocol.settings import read_secret

log = logging.getLogger(__name__)


class RekeyError(Exception):
    """The device could not re-enrol; it keeps the password it had."""


def rekey(
    config: EdgeConfig, dev: str, token: str, catalog: Catalog | None, server_url: str | None
) -> str:
    """Re-enrol ``dev`` with ``token`` and this device's key; store and return the new password."""
    if not server_url:
        raise RekeyError("no server URL to enrol with (no catalog yet)")
    if catalog is None:
        raise RekeyError("no catalog: the facility is unknown")
    try:
        answer = request_enrolment(config, dev, server_url, catalog.facility.code, token)
    except EnrolError as exc:
        raise RekeyError(str(exc)) from exc
    write_password(config.password_path, answer.password)
    if read_secret("mqtt-password", "OCOP_MQTT_PASSWORD", dict(os.environ)) is not None:
        # The running agent uses the new password now; a restart would read the old one again.
        log.warning(
            "the broker password also comes from a systemd credential or OCOP_MQTT_PASSWORD:"
            " replace it there with the one in %s",
            config.password_path,
        )
    log.warning("the office rotated this device's broker password: re-enrolled as %s", dev)
    return answer.password
