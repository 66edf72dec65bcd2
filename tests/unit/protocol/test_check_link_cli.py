"""`ocop label check-link`: URIs on stdin, one JSON verdict per line, exit 1 if any is invalid."""

from __future__ import annotations

import argparse
import io
import json
import sys
from typing import Any

import pytest

from ocop_cli import check_link

GTIN = "09520123456788"
GOOD = f"https://trace.example.vn/01/{GTIN}/10/L2406-01?17=260601"
QUERY_LOT = f"https://trace.example.vn/01/{GTIN}?10=ABC"
BAD_DIGIT = "https://trace.example.vn/01/09520123456789/10/L2406-01"


def _run(
    stdin: io.TextIOBase, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]]]:
    parser = argparse.ArgumentParser(prog="ocop label")
    check_link.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["check-link"])
    monkeypatch.setattr(sys, "stdin", stdin)
    code: int = args.func(args)
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]


def test_valid_uris_give_their_ais_and_exit_0(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(io.StringIO(f"{GOOD}\n\n   \n{GOOD}\r\n"), monkeypatch, capsys)
    assert code == 0
    expected = {
        "uri": GOOD,
        "valid": True,
        "ais": [["01", GTIN], ["10", "L2406-01"], ["17", "260601"]],
    }
    assert lines == [expected, expected]


def test_any_invalid_uri_gives_an_error_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(io.StringIO(f"{QUERY_LOT}\n{GOOD}\n{BAD_DIGIT}"), monkeypatch, capsys)
    assert code == 1
    assert [line["uri"] for line in lines] == [QUERY_LOT, GOOD, BAD_DIGIT]
    assert [line["valid"] for line in lines] == [False, True, False]
    assert "belongs in the path" in lines[0]["error"]
    assert "check digit" in lines[2]["error"]
    assert "ais" not in lines[0] and "error" not in lines[1]


def test_raw_bytes_that_are_not_utf8_make_a_uri_invalid_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = f"https://trace.example.vn/01/{GTIN}/10/L\xf4\n".encode("latin-1")
    raw += f"https://trace.example.vn/01/{GTIN}/10/Lô\n".encode()
    stdin = io.TextIOWrapper(io.BytesIO(raw), encoding="ascii")
    code, lines = _run(stdin, monkeypatch, capsys)
    assert code == 1
    assert [line["valid"] for line in lines] == [False, False]
    assert lines[1]["uri"].endswith("/10/Lô")
    assert all("not a URI character" in line["error"] for line in lines)


def test_trailing_space_is_part_of_the_uri(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = _run(io.StringIO(f"{GOOD} \n"), monkeypatch, capsys)
    assert code == 1
    assert lines[0]["uri"] == f"{GOOD} "


def test_no_input_is_success(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(io.StringIO(""), monkeypatch, capsys) == (0, [])
