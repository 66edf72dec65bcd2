"""MQTT topic names of DESIGN.md §4: build and parse ``ocop/v1/dev/{dev}/{kind}``."""

from __future__ import annotations

from trace_protocol.envelope import DEVICE_ID_RE

PREFIX = "ocop/v1/dev"
EVENTS = "events"
ACK = "ack"
STATUS = "status"
CONFIG = "config"
CMD = "cmd"
UP = (EVENTS, STATUS)
DOWN = (ACK, CONFIG, CMD)
KINDS = UP + DOWN


class TopicError(ValueError):
    """A topic that is not one of the kit's."""


def build_topic(dev: str, kind: str) -> str:
    if kind not in KINDS:
        raise TopicError(f"unknown topic kind {kind!r}")
    if not DEVICE_ID_RE.match(dev):
        raise TopicError(f"invalid device id {dev!r}")
    return f"{PREFIX}/{dev}/{kind}"


def parse_topic(topic: str) -> tuple[str, str]:
    """Return ``(dev, kind)`` of a kit topic; raises :class:`TopicError` otherwise."""
    parts = topic.split("/")
    if len(parts) != 5 or "/".join(parts[:3]) != PREFIX:
        raise TopicError(f"not an {PREFIX}/<dev>/<kind> topic: {topic!r}")
    dev, kind = parts[3], parts[4]
    if not DEVICE_ID_RE.match(dev):
        raise TopicError(f"invalid device id in topic: {topic!r}")
    if kind not in KINDS:
        raise TopicError(f"unknown topic kind in topic: {topic!r}")
    return dev, kind


def wildcard(kind: str) -> str:
    """The subscription that matches ``kind`` for every device."""
    if kind not in KINDS:
        raise TopicError(f"unknown topic kind {kind!r}")
    return f"{PREFIX}/+/{kind}"


def shared_subscription(group: str, kind: str) -> str:
    """A shared subscription (``$share/{group}/…``) so several ingest workers split the load."""
    if not group or any(c in group for c in "/+#"):
        raise TopicError(f"invalid share group {group!r}")
    return f"$share/{group}/{wildcard(kind)}"
