"""The enrolment request both sides agree on: what the device signs to prove it holds its key."""

from __future__ import annotations

from typing import Any

from trace_protocol.canonical import canonical_json
from trace_protocol.links import MAX_LOT_INDEX

PURPOSE = "ocop-enrol-v1"
ENROL_PATH = "/api/v1/enroll"


def proof_message(device: str, facility: str, token: str, public_key: str, label_key: str) -> bytes:
    """The bytes a device signs with its new key when it enrols (RFC 8785 canonical JSON).

    ``label_key`` (base64url) is the secret behind unit-label codes (trace_protocol.unit_codes);
    signing it binds it to the key that signs the device's journal.
    """
    return canonical_json(
        {
            "purpose": PURPOSE,
            "device": device,
            "facility": facility,
            "token": token,
            "public_key": public_key,
            "label_key": label_key,
        }
    )


def enrol_request(
    device: str, facility: str, token: str, public_key: str, label_key: str, proof: str
) -> dict[str, Any]:
    return {
        "device": device,
        "facility": facility,
        "token": token,
        "public_key": public_key,
        "label_key": label_key,
        "proof": proof,
    }


def parse_lot_index(answer: Any) -> int | None:
    """The device's lot letter index from the server's enrolment answer (``lot_index``);
    None from a server that predates lot letters (the device then mints the old lot form)."""
    value = answer.get("lot_index") if isinstance(answer, dict) else None
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LOT_INDEX:
        raise ValueError(f"lot_index must be 1-{MAX_LOT_INDEX}, not {value!r}")
    return value
