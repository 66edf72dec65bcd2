"""Signed batch label codes (issue 15): the unit scheme on the batch URL, round trip and
tampering, and URLs that GS1 parsers and the old unsigned form still read."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from trace_protocol.digital_link import parse_link
from trace_protocol.links import build_batch_url, build_lot
from trace_protocol.unit_codes import (
    LABEL_KEY_BYTES,
    MAC_CHARS,
    SIG_PARAM,
    batch_mac,
    build_signed_batch_url,
    unit_mac,
    verify_batch_mac,
)

KEYS = st.binary(min_size=LABEL_KEY_BYTES, max_size=LABEL_KEY_BYTES)
LOTS = st.builds(
    build_lot,
    st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=1, max_size=5),
    st.text(alphabet="ABCDEFGHJKMPQRSTUVWXYZ", min_size=1, max_size=4).filter(lambda p: p != "NL"),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2060, 12, 31)),
    st.integers(min_value=1, max_value=99),
)
GTINS = st.sampled_from([None, "08936123450014", "08936123450021"])


def _sig(url: str) -> str:
    return parse_qs(urlsplit(url).query)[SIG_PARAM][0]


@given(KEYS, LOTS, GTINS)
def test_a_signed_batch_url_round_trips(key: bytes, lot: str, gtin: str | None) -> None:
    mac = batch_mac(key, lot, gtin)
    url = build_signed_batch_url("https://t.example.vn", lot, mac, gtin)
    assert len(mac) == MAC_CHARS and _sig(url) == mac
    assert verify_batch_mac(key, lot, gtin, _sig(url))
    # The path is the batch URL as before: old readers and the unsigned form agree.
    assert url.split("?")[0] == build_batch_url("https://t.example.vn", lot, gtin)
    if gtin:
        parsed = parse_link(url)  # s is no AI: GS1 parsers accept and ignore it
        assert (parsed.get("01"), parsed.get("10")) == (gtin, lot)
    else:
        assert unquote(urlsplit(url).path) == f"/l/{lot}"


@given(KEYS, KEYS, LOTS, LOTS, GTINS)
def test_a_batch_code_binds_key_lot_and_gtin(
    key: bytes, other: bytes, lot: str, other_lot: str, gtin: str | None
) -> None:
    mac = batch_mac(key, lot, gtin)
    assert verify_batch_mac(key, other_lot, gtin, mac) == (other_lot == lot)
    assert verify_batch_mac(other, lot, gtin, mac) == (other == key)
    swapped = "08936123450021" if gtin == "08936123450014" else "08936123450014"
    assert not verify_batch_mac(key, lot, swapped, mac)
    # Never interchangeable with a unit code of the same lot.
    assert mac != unit_mac(key, lot, "", gtin)


def test_a_changed_character_is_refused() -> None:
    key, lot = bytes(range(32)), "KC-NM-261122-01"
    mac = batch_mac(key, lot, None)
    flipped = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    assert verify_batch_mac(key, lot, None, mac)
    assert not verify_batch_mac(key, lot, None, flipped)
    assert not verify_batch_mac(key, lot, None, "")
