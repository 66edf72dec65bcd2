"""RFC 8785 (JCS) canonical JSON: hand-checkable examples and properties."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace_protocol.canonical import canonical_json, sha256_hex

MAX_SAFE = 2**53 - 1


def test_keys_sorted_by_utf16_code_units_and_non_ascii_kept_as_utf8() -> None:
    out = canonical_json({"b": 1, "a": 2, "é": 3, "\u20ac": 4})
    assert out == '{"a":2,"b":1,"é":3,"€":4}'.encode()
    assert b"\\u" not in out


def test_astral_key_sorts_by_surrogate_not_code_point() -> None:
    # U+1F600 is D83D DE00 in UTF-16, which sorts before U+FB01 although its code point is larger.
    out = canonical_json({"\ufb01": 2, "\U0001f600": 1})
    assert out == '{"\U0001f600":1,"\ufb01":2}'.encode()


def test_nested_objects_are_sorted_too_and_arrays_keep_order() -> None:
    out = canonical_json({"z": [3, 1, {"y": 1, "x": 2}], "a": {"d": None, "c": True}})
    assert out == b'{"a":{"c":true,"d":null},"z":[3,1,{"x":2,"y":1}]}'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, b"1"),
        (1e21, b"1e+21"),
        (1e20, b"100000000000000000000"),
        (-0.0, b"0"),
        (0.1, b"0.1"),
        (1e-7, b"1e-7"),
        (-1.5, b"-1.5"),
        (MAX_SAFE, b"9007199254740991"),
    ],
)
def test_number_forms(value: float, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_string_escapes() -> None:
    assert canonical_json('\u0000\n"/\\\u001f') == b'"\\u0000\\n\\"/\\\\\\u001f"'
    assert canonical_json("Gạo Ngọc Mầm") == '"Gạo Ngọc Mầm"'.encode()


def test_no_whitespace() -> None:
    assert canonical_json({"a": [1, 2], "b": "x y"}) == b'{"a":[1,2],"b":"x y"}'


@pytest.mark.parametrize(
    "value",
    [
        math.nan,
        math.inf,
        -math.inf,
        {"a": [math.nan]},
        {1: "non-string key"},
        MAX_SAFE + 1,
        -(MAX_SAFE + 1),
        {"x": object()},
    ],
)
def test_unrepresentable_values_raise_value_error(value: Any) -> None:
    with pytest.raises(ValueError):
        canonical_json(value)


def test_integral_float_beyond_safe_range_does_not_survive_a_python_json_round_trip() -> None:
    # Documented limitation: the canonical text of 1e20 is an integer literal too large for JCS.
    text = canonical_json(1e20)
    with pytest.raises(ValueError):
        canonical_json(json.loads(text))


def test_sha256_hex_is_lower_case_hex_digest() -> None:
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    assert sha256_hex(b"") == hashlib.sha256(b"").hexdigest()


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE, max_value=MAX_SAFE)
    # Integral floats of 2**53 and above print without a fraction or exponent (1e20 ->
    # 100000000000000000000), which json.loads reads back as an int outside JCS's safe range.
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-MAX_SAFE, max_value=MAX_SAFE)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
json_dicts = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(json_dicts)
def test_canonical_json_is_idempotent(value: dict[str, Any]) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once
    # The output is valid JSON and means the same thing (floats compare by value).
    assert json.loads(once) == json.loads(json.dumps(value))


@given(st.data(), json_dicts)
def test_key_order_of_input_does_not_matter(data: st.DataObject, value: dict[str, Any]) -> None:
    items = data.draw(st.permutations(list(value.items())))
    assert canonical_json(dict(items)) == canonical_json(value)


# -- the fast path (C json encoder) must give exactly the bytes of the rfc8785 package --------

_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) - 5, max_value=2**53 + 5)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@given(_json_values)
def test_fast_path_gives_the_bytes_of_the_reference_serialiser(value: Any) -> None:
    import rfc8785

    try:
        expected = bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError):
        with pytest.raises(ValueError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        9007199254740994.0,  # integral float beyond 2**53: JCS prints no ".0"
        1e16,
        1e-5,
        {"\U0001f600": 1, "\ufb01": 2},  # astral key: UTF-16 order differs from code points
        "\x00\x1f\x7f\u2028",
        [1.0, -0.0, 0.5, 123.456, 1e-4],
    ],
)
def test_fast_path_edges_match_the_reference(value: Any) -> None:
    import rfc8785

    assert canonical_json(value) == bytes(rfc8785.dumps(value))


def test_a_typical_event_body_takes_the_fast_path() -> None:
    from trace_protocol.canonical import _plain

    body = {"batch": "b", "values": {"do_am": 14.5, "khoi_luong": 1200.0}, "note": "ổn", "n": 3}
    assert _plain(body) == {**body, "values": {"do_am": 14.5, "khoi_luong": 1200}}
