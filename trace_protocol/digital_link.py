"""GS1 Digital Link URIs: parse and validate them as GS1's reference engine does, and build them.

The rules are standards/NOTES.md §1, i.e. ``gs1_parseDLuri()`` and ``gs1_validateAIs()`` of the
GS1 Barcode Syntax Engine with its default options: no zero-suppressed GTINs, no convenience
alphas (``/gtin/``), no unknown AIs, and AI associations (``req=`` / ``ex=``) checked. The AI
table is the bundled GS1 Barcode Syntax Dictionary (:mod:`trace_protocol.gs1_dictionary`).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from trace_protocol.gs1_dictionary import AIEntry, SyntaxDictionary, load_dictionary

URI_CHARACTERS = frozenset(string.ascii_letters + string.digits + "-._~:/?#[]@!$&'()*+,;=%")
UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_BAD_DOMAIN_CHARACTERS = frozenset("_~?#@!$&'()*+,;=%")
_SCHEMES = ("https://", "HTTPS://", "http://", "HTTP://")
_MAX_ELEMENTS = 64  # the engine's MAX_AIS: path AIs plus every query parameter


class LinkError(ValueError):
    """A URI that is not a valid GS1 Digital Link URI; the message names the broken rule."""


@dataclass(frozen=True)
class ParsedLink:
    """The AIs of a valid URI as ``(AI, value)`` pairs: path AIs first, then query AIs."""

    ais: list[tuple[str, str]]

    def get(self, ai: str) -> str | None:
        return next((value for key, value in self.ais if key == ai), None)


def percent_encode(value: str, *, query: bool = False) -> str:
    """Escape every byte that is not unreserved as upper-case ``%HH`` (engine ``URIescape``)."""
    out = []
    for char in value:
        if char in UNRESERVED:
            out.append(char)
        elif char == " " and query:
            out.append("+")
        else:
            out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def percent_decode(text: str, *, query: bool = False) -> str:
    """Undo ``%hh`` (either case; malformed ones stay literal); ``+`` is a space in a query.

    Decoded bytes become the characters U+0000-U+00FF, so multi-byte UTF-8 stays non-ASCII and
    fails the AI character sets, as in the engine. ``%00`` raises :class:`LinkError`.
    """
    out = []
    i = 0
    while i < len(text):
        char = text[i]
        pair = text[i + 1 : i + 3]
        if char == "%" and len(pair) == 2 and all(c in string.hexdigits for c in pair):
            if pair == "00":
                raise LinkError("a decoded value contains an illegal NUL (%00)")
            out.append(chr(int(pair, 16)))
            i += 3
            continue
        out.append(" " if char == "+" and query else char)
        i += 1
    return "".join(out)


def _split(uri: str) -> tuple[list[str], str]:
    """Check the URI's characters, scheme and domain; return its path segments and query."""
    bad = next((c for c in uri if c not in URI_CHARACTERS), None)
    if bad is not None:
        raise LinkError(f"the URI contains {bad!r}, which is not a URI character")
    scheme = next((s for s in _SCHEMES if uri.startswith(s)), None)
    if scheme is None:
        raise LinkError("the scheme must be http:// or https:// (all lower or all upper case)")
    rest = uri[len(scheme) :]
    slash = rest.find("/")
    if slash < 1:
        raise LinkError("the URI has no domain or no path")
    if any(c in _BAD_DOMAIN_CHARACTERS for c in rest[:slash]):
        raise LinkError(f"the domain {rest[:slash]!r} contains an illegal character")
    path = rest[slash:].partition("#")[0]  # the fragment is ignored
    path, _, query = path.partition("?")
    return path.split("/")[1:], query


def _find_primary_key(table: SyntaxDictionary, segments: list[str]) -> int:
    """Index of the primary key AI: scan ``/AI/value`` pairs backwards from the end (§1.2.3)."""
    if segments[-1:] == [""]:
        raise LinkError("the path must not end with '/'")
    index = len(segments) - 2
    while index >= 0:
        entry = table.lookup(segments[index])
        if entry is None:
            break
        if table.is_primary_key(entry.ai):
            return index
        index -= 2
    raise LinkError("no GS1 Digital Link primary key (such as /01/<GTIN-14>) ends the path")


def _element(entry: AIEntry, raw: str, *, query: bool) -> str:
    where = "query" if query else "path"
    if raw == "":
        raise LinkError(f"AI ({entry.ai}) has an empty value in the {where}")
    value = percent_decode(raw, query=query)
    low, high = entry.min_length, entry.max_length
    if not low <= len(value) <= high:
        wanted = f"{low}" if low == high else f"{low} to {high}"
        raise LinkError(
            f"AI ({entry.ai}) value {value!a} has {len(value)} characters, not {wanted}"
        )
    return value


def _query_elements(table: SyntaxDictionary, query: str) -> tuple[list[tuple[str, str]], int]:
    """The AI attributes of a query string and the number of parameters the engine counts."""
    ais: list[tuple[str, str]] = []
    count = pos = 0
    while pos < len(query):
        while pos < len(query) and query[pos] == "&":
            pos += 1
        end = query.find("&", pos)
        end = len(query) if end < 0 else end
        param, pos = query[pos:end], end
        count += 1
        key, has_value, raw = param.partition("=")
        if not has_value or not all(c in string.digits for c in key):
            continue  # singletons and non-numeric keys (linkType, s, …) are ignored
        entry = table.lookup(key)
        if entry is None:
            raise LinkError(f"the query key {key!r} is numeric but not a known AI")
        ais.append((entry.ai, _element(entry, raw, query=True)))
    return ais, count


def _check_placement(table: SyntaxDictionary, path: list[str], query: list[str]) -> None:
    if tuple(path) not in table.dl_sequences:
        shown = ", ".join(f"({ai})" for ai in path)
        raise LinkError(f"the path AIs {shown} are not a valid key-qualifier sequence in order")
    seen = list(path)
    for ai in query:
        if ai in seen:
            raise LinkError(f"AI ({ai}) appears more than once")
        seen.append(ai)
        if not table.entries[ai].dl_attribute:
            raise LinkError(f"AI ({ai}) is not allowed as a query attribute")
        for at in range(1, len(path) + 1):
            if (*path[:at], ai, *path[at:]) in table.dl_sequences:
                raise LinkError(f"AI ({ai}) is a key qualifier here and belongs in the path")


def parse_link(uri: str) -> ParsedLink:
    """Validate ``uri`` as a GS1 Digital Link URI and return its AIs; raises :class:`LinkError`."""
    table = load_dictionary()
    segments, query = _split(uri)
    start = _find_primary_key(table, segments)
    path_ais: list[tuple[str, str]] = []
    for index in range(start, len(segments), 2):
        entry = table.entries[segments[index]]
        path_ais.append((entry.ai, _element(entry, segments[index + 1], query=False)))
    query_ais, params = _query_elements(table, query)
    if len(path_ais) + params > _MAX_ELEMENTS:
        raise LinkError(f"more than {_MAX_ELEMENTS} AIs and query parameters")
    _check_placement(table, [ai for ai, _ in path_ais], [ai for ai, _ in query_ais])
    ais = path_ais + query_ais
    for ai, value in ais:
        error = table.value_error(table.entries[ai], value)
        if error:
            raise LinkError(error)
    error = table.association_error(ais)
    if error:
        raise LinkError(error)
    return ParsedLink(ais)


def build_link(
    base: str,
    gtin: str,
    lot: str | None = None,
    serial: str | None = None,
    query: dict[str, str] | None = None,
    extra: dict[str, str] | None = None,
) -> str:
    """An uncompressed DL URI: ``{base}/01/{GTIN-14}[/10/{lot}][/21/{serial}][?{AI}=…&{extra}]``.

    ``query`` holds AI attributes (e.g. ``{"17": "261231"}``), written fixed-length AIs first as
    the engine does; ``extra`` holds non-AI parameters (e.g. a signature ``s``), appended last.
    A GTIN-8/12/13 is padded to GTIN-14. The result is checked with :func:`parse_link`.
    """
    if not (gtin.isascii() and gtin.isdigit() and len(gtin) in (8, 12, 13, 14)):
        raise LinkError("a GTIN has 8, 12, 13 or 14 digits")
    table = load_dictionary()
    expected = [("01", gtin.zfill(14))]
    expected += [(ai, v) for ai, v in (("10", lot), ("21", serial)) if v is not None]
    if any(value == "" for _, value in expected):
        raise LinkError("a lot or serial must not be empty")
    attributes = list((query or {}).items())
    for key, _ in attributes:
        if table.lookup(key) is None:
            raise LinkError(f"query key {key!r} is not an AI; pass non-AI parameters as extra")
    attributes.sort(key=lambda item: not table.entries[item[0]].fixed_length)  # stable
    params = [f"{key}={percent_encode(value, query=True)}" for key, value in attributes]
    for key, value in (extra or {}).items():
        if not key or key.isdigit() or not set(key) <= UNRESERVED:
            raise LinkError(f"extra parameter name {key!r} must be unreserved and not all digits")
        params.append(f"{key}={percent_encode(value, query=True)}")
    stem = base[:-1] if base.endswith("/") else base
    uri = stem + "".join(f"/{ai}/{percent_encode(value)}" for ai, value in expected)
    if params:
        uri += "?" + "&".join(params)
    if parse_link(uri).ais != expected + attributes:
        raise LinkError(f"{base!r} is not a plain URI stem")
    return uri
