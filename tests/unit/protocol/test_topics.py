"""MQTT topic names: ocop/v1/dev/{dev}/{kind} and the ingest workers' shared subscription."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace_protocol.topics import (
    KINDS,
    TopicError,
    build_topic,
    parse_topic,
    shared_subscription,
    wildcard,
)

device_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{1,62}", fullmatch=True)


@given(device_ids, st.sampled_from(KINDS))
def test_build_parse_round_trip(dev: str, kind: str) -> None:
    topic = build_topic(dev, kind)
    assert topic == f"ocop/v1/dev/{dev}/{kind}"
    assert parse_topic(topic) == (dev, kind)


def test_kinds_are_the_five_of_the_design() -> None:
    assert set(KINDS) == {"events", "ack", "status", "config", "cmd"}


@pytest.mark.parametrize(
    "topic",
    [
        "",
        "ocop/v2/dev/kc-1/events",
        "ocop/v1/devs/kc-1/events",
        "OCOP/v1/dev/kc-1/events",
        "x/ocop/v1/dev/kc-1/events",
        "ocop/v1/dev/kc-1/event",
        "ocop/v1/dev/kc-1/blobs",
        "ocop/v1/dev/kc-1",
        "ocop/v1/dev/kc-1/events/extra",
        "ocop/v1/dev/kc-1/events/",
        "/ocop/v1/dev/kc-1/events",
        "ocop/v1/dev/KC-1/events",
        "ocop/v1/dev/k/events",
        "ocop/v1/dev/-kc/events",
        "ocop/v1/dev/kc_1/events",
        "ocop/v1/dev/+/events",
        "ocop/v1/dev/#",
        "ocop/v1/dev//events",
    ],
)
def test_parse_rejects(topic: str) -> None:
    with pytest.raises(TopicError):
        parse_topic(topic)


def test_device_id_with_trailing_newline_is_rejected() -> None:
    # "$" in DEVICE_ID_RE used to match before a trailing newline (fixed with "\Z").
    with pytest.raises(TopicError):
        parse_topic("ocop/v1/dev/kc-1\n/events")
    with pytest.raises(TopicError):
        build_topic("kc-1\n", "events")


@pytest.mark.parametrize(("dev", "kind"), [("kc-1", "bogus"), ("KC-1", "events"), ("k", "ack")])
def test_build_rejects(dev: str, kind: str) -> None:
    with pytest.raises(TopicError):
        build_topic(dev, kind)


def test_wildcard() -> None:
    assert wildcard("status") == "ocop/v1/dev/+/status"
    with pytest.raises(TopicError):
        wildcard("nope")


def test_shared_subscription_format() -> None:
    assert shared_subscription("ingest", "events") == "$share/ingest/ocop/v1/dev/+/events"
    assert shared_subscription("g2", "status") == "$share/g2/ocop/v1/dev/+/status"


@pytest.mark.parametrize("group", ["", "a/b", "a+", "#"])
def test_shared_subscription_rejects_bad_groups(group: str) -> None:
    with pytest.raises(TopicError):
        shared_subscription(group, "events")


def test_shared_subscription_rejects_bad_kind() -> None:
    with pytest.raises(TopicError):
        shared_subscription("ingest", "blobs")
