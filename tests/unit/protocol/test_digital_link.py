"""GS1 Digital Link parse/build: GS1's own engine vectors, the issue's cases, round trips."""

from __future__ import annotations

import json
import re
import string
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trace_protocol.digital_link import (
    LinkError,
    ParsedLink,
    build_link,
    parse_link,
    percent_decode,
    percent_encode,
)
from trace_protocol.gs1_dictionary import CSET82, gs1_check_digit, load_dictionary

# Copies of ../shared/standards/digital-link (GS1 syntax engine and digital-link.js test
# vectors, Apache-2.0; provenance in vectors/SOURCES.md), kept in the repo so the suite never
# depends on files outside the checkout.
VECTORS = Path(__file__).resolve().parent / "vectors"
DEFAULT_OPTIONS = {
    "permitConvenienceAlphas": False,
    "permitZeroSuppressedGTIN": False,
    "permitUnknownAIs": False,
    "validateUnknownAINotDLAttr": True,
}
BASE = "https://trace.example.vn"
GTIN = "09520123456788"


def _vectors(name: str) -> dict[str, Any]:
    """A test-vector file shipped with the tests."""
    path = VECTORS / name
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _verdict(uri: str) -> list[list[str]] | None:
    try:
        return [[ai, value] for ai, value in parse_link(uri).ais]
    except LinkError:
        return None


def test_all_default_option_engine_parse_vectors_agree() -> None:
    cases = _vectors("gs1-syntax-engine-dl-test-vectors.json")["parse_cases"]
    defaults = [c for c in cases if c["options"] == DEFAULT_OPTIONS]
    disagreements = [
        (c["line"], c["uri"], c["valid"])
        for c in defaults
        if _verdict(c["uri"]) != (c["expected_ais"] if c["valid"] else None)
    ]
    assert len(defaults) == 100
    assert disagreements == [], f"{100 - len(disagreements)}/100 agree"


def test_engine_escape_and_unescape_tables() -> None:
    vectors = _vectors("gs1-syntax-engine-dl-test-vectors.json")
    for case in vectors["uri_escape_cases"]:
        assert percent_encode(case["value"]) == case["path_escaped"]
        assert percent_encode(case["value"], query=True) == case["query_escaped"]
    for case in vectors["uri_unescape_cases"]:
        assert percent_decode(case["input"]) == case["path_unescaped"]
        assert percent_decode(case["input"], query=True) == case["query_unescaped"]


def test_engine_generate_vectors_that_build_link_can_express() -> None:
    """Cases with key (01), path AIs among (10)/(21) and no repeated AI; the rest need 22/235."""
    tried = 0
    for case in _vectors("gs1-syntax-engine-dl-test-vectors.json")["generate_cases"]:
        if case["options"] != {"permitUnknownAIs": False, "validateUnknownAINotDLAttr": True}:
            continue
        pairs = re.findall(r"\((\d+)\)([^(]*)", case["ai_element_string"])
        ais = [ai for ai, _ in pairs]
        if len(set(ais)) != len(ais) or ais.count("01") != 1 or {"22", "235"} & set(ais):
            continue
        if any(ai != "01" and load_dictionary().is_primary_key(ai) for ai in ais):
            continue
        values = dict(pairs)
        query = {ai: v for ai, v in pairs if ai not in ("01", "10", "21")}
        base = case["stem"] or "https://id.gs1.org"
        args = (base, values["01"], values.get("10"), values.get("21"), query)
        tried += 1
        if case["valid"]:
            assert build_link(*args) == case["expected_uri"], case["line"]
        else:
            with pytest.raises(LinkError):
                build_link(*args)
    assert tried == 6


VALID = [
    (f"{BASE}/01/{GTIN}/10/L2406-01", [("01", GTIN), ("10", "L2406-01")]),
    (f"{BASE}/p/01/{GTIN}/10/L24%2f06/21/000123?17=260600", None),  # lower-case hex accepted
    (f"{BASE}/01/{GTIN}/10/A?11=250601&17=260601&422=704&3103=000250&7007=250520", None),
    (f"{BASE}/01/{GTIN}?s=abc", [("01", GTIN)]),  # non-AI query keys are ignored
    (f"{BASE}/01/{GTIN}/10/A?linkType=gs1:traceability&s", [("01", GTIN), ("10", "A")]),
    (f"{BASE}/01/{GTIN}/21/7#fragment?99=x", [("01", GTIN), ("21", "7")]),  # fragment ignored
    (f"HTTPS://TRACE.EXAMPLE.VN/01/{GTIN}", [("01", GTIN)]),
    (f"{BASE}/01/{GTIN}/235/XYZ?10=ABC", [("01", GTIN), ("235", "XYZ"), ("10", "ABC")]),
    (f"{BASE}/01/{GTIN}?17=240229", [("01", GTIN), ("17", "240229")]),  # leap day
    (f"{BASE}/8013/1987654Ad4X4bL5ttr2310c2K", [("8013", "1987654Ad4X4bL5ttr2310c2K")]),
    # GS1's engine treats everything before the rightmost key as path stem: the lot here is
    # not an AI at all, so the URI is valid but carries only the GTIN (NOTES.md §1.2.3).
    (f"{BASE}/10/x/01/{GTIN}", [("01", GTIN)]),
]
INVALID = [
    (f"{BASE}/01/09520123456789/10/L1", "incorrect check digit"),
    (f"{BASE}/01/{GTIN}/21/000123/10/L1", "not a valid key-qualifier sequence"),
    (f"{BASE}/01/{GTIN}?10=ABC", "belongs in the path"),
    (f"{BASE}/01/{GTIN}/10/L 1", "' '"),
    (f"{BASE}/01/{GTIN}/10/L<1", "'<'"),
    (f"{BASE}/01/{GTIN}/10/Lô-1", "'ô'"),
    (f"{BASE}/01/{GTIN}/10/L%C3%B4-1", "CSET 82"),
    (f"{BASE}/01/9520123456788/10/L1", "13 characters, not 14"),
    (f"{BASE}/01/{GTIN}/10/L1/", "must not end with '/'"),
    (f"HtTpS://trace.example.vn/01/{GTIN}", "scheme"),
    (f"{BASE}/01/{GTIN}?99=A&99=B", "more than once"),
    (f"{BASE}/01/{GTIN}/10/L1?10=L1", "more than once"),
    (f"{BASE}/01/{GTIN}?999=x", "not a known AI"),
    (f"{BASE}/01/{GTIN}?17=261301", "illegal month"),
    (f"{BASE}/01/{GTIN}?17=230229", "illegal day"),
    (f"{BASE}/01/{GTIN}?21=7", "not allowed as a query attribute"),
    (f"{BASE}/01/{GTIN}/99/x", "not a valid key-qualifier sequence"),
    (f"{BASE}/gtin/{GTIN}", "no GS1 Digital Link primary key"),
    (f"{BASE}/01/{GTIN}/10/ABCDEFGHIJKLMNOPQRSTU", "21 characters, not 1 to 20"),
    (f"{BASE}/01/{GTIN}?422=999", "ISO 3166"),
    (f"{BASE}/01/{GTIN}?3922=0299", "requires"),  # req=30,31nn,...: a price needs a quantity
    (f"{BASE}/01/{GTIN}?99=%00", "NUL"),
    (f"{BASE}/01/{GTIN}?99=a+b", "CSET 82"),  # '+' is a space in a query
]


@pytest.mark.parametrize(("uri", "ais"), VALID)
def test_valid_uris(uri: str, ais: list[tuple[str, str]] | None) -> None:
    parsed = parse_link(uri)
    if ais is not None:
        assert parsed.ais == ais


@pytest.mark.parametrize(("uri", "message"), INVALID)
def test_invalid_uris_say_which_rule_is_broken(uri: str, message: str) -> None:
    with pytest.raises(LinkError, match=re.escape(message)):
        parse_link(uri)


def test_encoded_quote_is_valid_but_a_raw_quote_is_not() -> None:
    assert parse_link(f"{BASE}/01/{GTIN}/21/A%22B").get("21") == 'A"B'
    with pytest.raises(LinkError, match="not a URI character"):
        parse_link(f'{BASE}/01/{GTIN}/21/A"B')


def test_parsed_link_get() -> None:
    parsed = ParsedLink([("01", GTIN), ("10", "L1")])
    assert parsed.get("10") == "L1"
    assert parsed.get("21") is None


def test_build_link_encoding_order_and_extra_params() -> None:
    uri = build_link(
        BASE + "/",
        "9520123456788",  # GTIN-13 is padded to GTIN-14
        lot="L24/06+a_b.",
        serial="0001",
        query={"99": "x/y", "17": "261231", "11": "260101"},
        extra={"s": "AbC-_9"},
    )
    assert uri == (
        f"{BASE}/01/{GTIN}/10/L24%2F06%2Ba_b./21/0001?17=261231&11=260101&99=x%2Fy&s=AbC-_9"
    )
    assert parse_link(uri).ais == [
        ("01", GTIN),
        ("10", "L24/06+a_b."),
        ("21", "0001"),
        ("17", "261231"),
        ("11", "260101"),
        ("99", "x/y"),
    ]


def test_build_link_escapes_every_cset82_symbol_in_upper_case_hex() -> None:
    uri = build_link(BASE, GTIN, lot="!\"%&'()*+,", serial="/:;<=>?")
    assert uri.endswith("/10/%21%22%25%26%27%28%29%2A%2B%2C/21/%2F%3A%3B%3C%3D%3E%3F")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"gtin": "09520123456789"}, "check digit"),
        ({"gtin": "952012345678"}, "check digit"),
        ({"gtin": "0952012345678X"}, "8, 12, 13 or 14 digits"),
        ({"lot": "Lô 1"}, "CSET 82"),
        ({"lot": ""}, "must not be empty"),
        ({"lot": "A" * 21}, "not 1 to 20"),
        ({"query": {"17": "261301"}}, "illegal month"),
        ({"query": {"10": "L1"}}, "belongs in the path"),
        ({"query": {"s": "abc"}}, "not an AI"),
        ({"extra": {"99": "abc"}}, "not all digits"),
        ({"extra": {"a b": "abc"}}, "unreserved"),
    ],
)
def test_build_link_rejects_what_it_cannot_write(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"base": BASE, "gtin": GTIN, **kwargs}
    with pytest.raises(LinkError, match=re.escape(message)):
        build_link(**args)


def _with_check_digit(body: str) -> str:
    return body + str(gs1_check_digit(body))


GTINS = st.text(alphabet=string.digits, min_size=13, max_size=13).map(_with_check_digit)
CODES = st.text(alphabet=CSET82, min_size=1, max_size=20)


@given(
    gtin=GTINS,
    lot=st.none() | CODES,
    serial=st.none() | CODES,
    expiry=st.none() | st.dates(date(2000, 1, 1), date(2049, 12, 31)),
    signature=st.none() | st.text(alphabet=string.ascii_letters + "-_", max_size=12),
)
def test_build_then_parse_round_trip(
    gtin: str, lot: str | None, serial: str | None, expiry: date | None, signature: str | None
) -> None:
    query = {} if expiry is None else {"17": f"{expiry:%y%m%d}"}
    extra = {} if signature is None else {"s": signature}
    uri = build_link(BASE, gtin, lot=lot, serial=serial, query=query, extra=extra)
    expected = [("01", gtin)]
    expected += [(ai, v) for ai, v in (("10", lot), ("21", serial)) if v is not None]
    assert parse_link(uri).ais == expected + list(query.items())
    assert re.fullmatch(r"[A-Za-z0-9\-._~:/?=&%]*", uri)
    assert all(re.fullmatch("%[0-9A-F]{2}", m) for m in re.findall("%..", uri))


ALPHA_KEYS = {
    "gtin": "01",
    "gln": "414",
    "sscc": "00",
    "gsrn": "8018",
    "gdti": "253",
    "gsin": "402",
    "gcn": "255",
    "grai": "8003",
}


def test_digital_link_js_check_digit_cases_with_numeric_keys() -> None:
    """digital-link.js's check-digit cases, rewritten with numeric AIs and GTIN-14."""
    tried = 0
    for case in _vectors("digital-link-js-test-vectors.json")["validation_cases"]:
        match = re.fullmatch(r"https://example\.com/(\w+)/(\d+)", case["uri"])
        if not match or match[1] not in (*ALPHA_KEYS, "01", "8003"):
            continue
        ai = ALPHA_KEYS.get(match[1], match[1])
        value = match[2].zfill(14) if ai == "01" else match[2]
        assert (_verdict(f"https://example.com/{ai}/{value}") is not None) == case[
            "expected_valid"
        ], case["line"]
        tried += 1
    assert tried == 17


def test_epcis_constrained_conformant_uris_are_valid_digital_links() -> None:
    """The constrained form is a subset of DL; the only exception is the raw '"' sample."""
    data = _vectors("epcis-constrained-dl-test-vectors.json")
    cases = [c for key, cases in data.items() if key != "meta" for c in cases]
    conformant = [c["uri"] for c in cases if c["expected_conformant"] and c["check_digit_ok"]]
    assert [uri for uri in conformant if _verdict(uri) is None] == [
        'http://example.info/01/04150567890128/21/987654".-_'
    ]
    for uri in ("https://id.gs1.org/00/340123451111111111/", "https://id.gs1.org/sscc/3401"):
        assert _verdict(uri) is None


def test_dictionary_is_the_bundled_copy() -> None:
    table = load_dictionary()
    assert (table.lookup("10") or pytest.fail("no AI 10")).dl_attribute
    assert ("01", "22", "10", "21") in table.dl_sequences
    assert ("01", "10", "235") not in table.dl_sequences
    assert table.lookup("3103") is not None and table.lookup("310") is None
    bundled = Path(__file__).resolve().parents[3] / "trace_protocol" / "data"
    assert "Apache License" in (bundled / "gs1-syntax-dictionary.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("ai", "value", "ok"),
    [
        ("17", "260600", True),  # DD=00: day not given
        ("7007", "260600", False),  # yymmdd: no DD=00
        ("8008", "26060123", True),
        ("8008", "26060124", False),
        ("8013", "12345678901234567890123NT", True),
        ("8013", "12345678901234567890123NU", False),
        ("8007", "GB82WEST12345698765432", True),
        ("8006", "095201234567880102", True),
        ("8006", "095201234567880201", False),
        ("8030", "abc=", False),
        ("8030", "abcde=", True),
        ("4309", "18000000003600000000", True),
        ("4309", "18000000013600000000", False),
        ("7258", "1/2", True),
        ("7258", "2/1", False),
        ("3911", "704123", True),
        ("3911", "000123", False),
    ],
)
def test_ai_value_linters(ai: str, value: str, ok: bool) -> None:
    table = load_dictionary()
    entry = table.lookup(ai) or pytest.fail(f"no AI {ai}")
    assert (table.value_error(entry, value) is None) == ok
