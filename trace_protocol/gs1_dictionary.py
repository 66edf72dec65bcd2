"""The GS1 AI table: load the bundled GS1 Barcode Syntax Dictionary and check AI values against it.

``data/gs1-syntax-dictionary.txt`` is GS1's Syntax Dictionary (Release 2026-01-27, Apache-2.0,
copied from gs1/gs1-syntax-engine): each AI's format, check routines ("linters"), Digital Link
primary keys and qualifiers (``dlpkey``), the ``?`` flag for DL query attributes, and the
``req=`` / ``ex=`` associations. The checks below follow the reference engine's behaviour with
its default options (standards/NOTES.md §1). The ISO code lists come from Debian's iso-codes
4.15 and match the engine's ISO 3166 list exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache
from importlib import resources

CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
CSET39 = "#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CSET64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CSET32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"
_FLAG_CHARS = set("*!?\"$%&'()+,-./:;<=>@[\\]^_`{|}~")
_COMPONENT = re.compile(r"(\[?)([NXYZ])(\.\.)?(\d+)(\]?)((?:,\w+)*)")

_ISO3166 = (
    "004008010012016020024028031032036040044048050051052056060064068070072074076084086090092096"
    "100104108112116120124132136140144148152156158162166170174175178180184188191192196203204208"
    "212214218222226231232233234238239242246248250254258260262266268270275276288292296300304308"
    "312316320324328332334336340344348352356360364368372376380384388392398400404408410414417418"
    "422426428430434438440442446450454458462466470474478480484492496498499500504508512516520524"
    "528531533534535540548554558562566570574578580581583584585586591598600604608612616620624626"
    "630634638642643646652654659660662663666670674678682686688690694702703704705706710716724728"
    "729732740744748752756760762764768772776780784788792795796798800804807818826831832833834840"
    "850854858860862876882887894"
)
_ISO3166_ALPHA2 = (
    "ADAEAFAGAIALAMAOAQARASATAUAWAXAZBABBBDBEBFBGBHBIBJBLBMBNBOBQBRBSBTBVBWBYBZCACCCDCFCGCHCICK"
    "CLCMCNCOCRCUCVCWCXCYCZDEDJDKDMDODZECEEEGEHERESETFIFJFKFMFOFRGAGBGDGEGFGGGHGIGLGMGNGPGQGRGS"
    "GTGUGWGYHKHMHNHRHTHUIDIEILIMINIOIQIRISITJEJMJOJPKEKGKHKIKMKNKPKRKWKYKZLALBLCLILKLRLSLTLULV"
    "LYMAMCMDMEMFMGMHMKMLMMMNMOMPMQMRMSMTMUMVMWMXMYMZNANCNENFNGNINLNONPNRNUNZOMPAPEPFPGPHPKPLPM"
    "PNPRPSPTPWPYQARERORSRURWSASBSCSDSESGSHSISJSKSLSMSNSOSRSSSTSVSXSYSZTCTDTFTGTHTJTKTLTMTNTOTR"
    "TTTVTWTZUAUGUMUSUYUZVAVCVEVGVIVNVUWFWSYEYTZAZMZW"
)
_ISO4217 = (
    "008012032036044048050051052060064068072084090096104108116124132136144152156170174188191192"
    "203208214222230232238242262270292320324328332340344348352356360364368376388392398400404408"
    "410414417418422426430434446454458462480484496498504512516524532533548554558566578586590598"
    "600604608634643646654682690694702704706710728748752756760764776780784788800807818826834840"
    "858860882886901925926927928929930931932933934936938940941943944946947948949950951952953955"
    "956957958959960961962963964965967968969970971972973975976977978979980981984985986990994997"
    "999"
)


def _chunks(text: str, size: int) -> frozenset[str]:
    return frozenset(text[i : i + size] for i in range(0, len(text), size))


COUNTRIES = _chunks(_ISO3166, 3)
COUNTRIES_ALPHA2 = _chunks(_ISO3166_ALPHA2, 2)
CURRENCIES = _chunks(_ISO4217, 3)
_PRIMES = [n for n in range(2, 520) if all(n % d for d in range(2, int(n**0.5) + 1))][:97]


def gs1_check_digit(body: str) -> int:
    """GS1 mod-10 check digit of ``body`` (the digits before it), weights 3, 1, … from the right."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def _date_error(year: int, month: int, day: int, day_zero_ok: bool) -> str | None:
    if not 1 <= month <= 12:
        return "illegal month"
    if day == 0 and day_zero_ok:
        return None
    try:
        date(year, month, day)
    except ValueError:
        return "illegal day"
    return None


def _yymmdd(value: str, day_zero_ok: bool) -> str | None:
    # GS1 General Specifications' sliding century window around the current year.
    yy, this_year = int(value[:2]), date.today().year % 100
    century = 1900 if yy - this_year >= 51 else 2000 if yy - this_year > -50 else 2100
    return _date_error(century + yy, int(value[2:4]), int(value[4:6]), day_zero_ok)


def _csumalpha(value: str) -> str | None:
    data, pair = value[:-2], value[-2:]
    if len(value) < 2 or len(data) > len(_PRIMES):
        return "wrong length for a check character pair"
    if any(c not in CSET82 for c in data) or any(c not in CSET32 for c in pair):
        return "invalid character"
    weights = reversed(_PRIMES[: len(data)])
    total = sum(CSET82.index(c) * w for c, w in zip(data, weights, strict=True)) % 1021
    return None if pair == CSET32[total >> 5] + CSET32[total & 31] else "incorrect check pair"


def _iban(value: str) -> str | None:
    alnum = _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    if len(value) <= 4 or any(c not in alnum for c in value):
        return "not an IBAN"
    if value[:2] not in COUNTRIES_ALPHA2:
        return "illegal IBAN country code"
    rearranged = value[4:] + value[:4]
    if int("".join(str(alnum.index(c)) for c in rearranged)) % 97 != 1:
        return "incorrect IBAN checksum"
    return None


def _pieceoftotal(value: str) -> str | None:
    half = len(value) // 2
    piece, total = value[:half], value[half:]
    if not value or len(value) % 2 or not value.isdigit():
        return "malformed piece of total"
    if int(piece) == 0 or int(total) == 0:
        return "zero piece number or total"
    return "piece number exceeds total" if piece > total else None


def _posinseqslash(value: str) -> str | None:
    match = re.fullmatch(r"([0-9]+)/([0-9]+)", value)
    if not match:
        return "malformed position in sequence"
    pos, end = match.groups()
    if pos[0] == "0" or end[0] == "0":
        return "illegal zero prefix"
    return "position exceeds end" if (len(pos), pos) > (len(end), end) else None


def _rule(ok: Callable[[str], bool], message: str) -> Callable[[str], str | None]:
    return lambda value: None if ok(value) else message


def _digits(value: str) -> bool:
    return all(c in _DIGITS for c in value)


def _time_ok(value: str, limits: Sequence[int]) -> bool:
    parts = [value[i : i + 2] for i in range(0, len(value), 2)]
    return len(parts) == len(limits) and all(
        len(p) == 2 and _digits(p) and int(p) <= lim for p, lim in zip(parts, limits, strict=True)
    )


_CSET_LINTERS: dict[str, Callable[[str], str | None]] = {
    "N": _rule(_digits, "non-digit character"),
    "X": _rule(lambda v: all(c in CSET82 for c in v), "character outside GS1 CSET 82"),
    "Y": _rule(lambda v: all(c in CSET39 for c in v), "character outside GS1 CSET 39"),
    "Z": _rule(
        lambda v: (
            all(c in CSET64 for c in v.rstrip("="))
            and (len(v) - len(v.rstrip("="))) <= 2
            and (v == v.rstrip("=") or len(v) % 3 == 0)
        ),
        "invalid base64url (CSET 64) data",
    ),
}
LINTERS: dict[str, Callable[[str], str | None]] = {
    "csum": lambda v: None if gs1_check_digit(v[:-1]) == int(v[-1]) else "incorrect check digit",
    "csumalpha": _csumalpha,
    "gcppos1": _rule(lambda v: len(v) >= 4 and _digits(v[:4]), "no GS1 Company Prefix"),
    "gcppos2": _rule(lambda v: len(v) >= 5 and _digits(v[1:5]), "no GS1 Company Prefix"),
    "yymmd0": lambda v: _yymmdd(v, day_zero_ok=True),
    "yymmdd": lambda v: _yymmdd(v, day_zero_ok=False),
    "yyyymmdd": lambda v: _date_error(int(v[:4]), int(v[4:6]), int(v[6:8]), day_zero_ok=False),
    "hh": _rule(lambda v: _time_ok(v, [23]), "illegal hour"),
    "mi": _rule(lambda v: _time_ok(v, [59]), "illegal minute"),
    "ss": _rule(lambda v: _time_ok(v, [59]), "illegal second"),
    "hhmi": _rule(lambda v: _time_ok(v, [23, 59]), "illegal time"),
    "iso3166": _rule(lambda v: v in COUNTRIES, "not an ISO 3166 country code"),
    "iso3166999": _rule(lambda v: v in COUNTRIES or v == "999", "not an ISO 3166 code or 999"),
    "iso3166alpha2": _rule(lambda v: v in COUNTRIES_ALPHA2, "not an ISO 3166 alpha-2 code"),
    "iso4217": _rule(lambda v: v in CURRENCIES, "not an ISO 4217 currency code"),
    "iso5218": _rule(lambda v: v in ("0", "1", "2", "9"), "not an ISO 5218 sex code"),
    "yesno": _rule(lambda v: v in ("0", "1"), "must be 0 or 1"),
    "zero": _rule(lambda v: v == "0", "must be 0"),
    "nonzero": _rule(lambda v: v.strip("0") != "", "must not be zero"),
    "winding": _rule(lambda v: v in ("0", "1", "9"), "winding direction must be 0, 1 or 9"),
    "hyphen": _rule(lambda v: set(v) <= {"-"}, "must be a hyphen"),
    "hasnondigit": _rule(lambda v: not _digits(v), "must contain a non-digit"),
    "nozeroprefix": _rule(lambda v: _digits(v) and not v.startswith("0"), "illegal zero prefix"),
    "pieceoftotal": _pieceoftotal,
    "posinseqslash": _posinseqslash,
    "latitude": _rule(
        lambda v: len(v) == 10 and _digits(v) and int(v) <= 1800000000, "bad latitude"
    ),
    "longitude": _rule(
        lambda v: len(v) == 10 and _digits(v) and int(v) <= 3600000000, "bad longitude"
    ),
    "importeridx": _rule(lambda v: len(v) == 1 and v in CSET64, "invalid importer index"),
    "mediatype": _rule(
        lambda v: len(v) == 2 and (1 <= int(v) <= 10 or int(v) >= 80), "bad media type"
    ),
    "pcenc": _rule(
        lambda v: re.fullmatch(r"([^%]|%[0-9A-Fa-f]{2})*", v) is not None, "bad %-escape"
    ),
    "iban": _iban,
}
# Coupon (8110, 8112) and package type (7041) linters are not ported: those values are accepted
# when their length and character set are right. 7041 can never appear in a DL URI anyway.
UNCHECKED_LINTERS = frozenset({"couponcode", "couponposoffer", "packagetype"})


@dataclass(frozen=True)
class Component:
    cset: str  # N, X (CSET 82), Y (CSET 39) or Z (CSET 64)
    min_len: int
    max_len: int
    optional: bool
    linters: tuple[str, ...]


@dataclass(frozen=True)
class AIEntry:
    ai: str
    fixed_length: bool  # "*": predefined length, no FNC1 separator needed after it
    dl_attribute: bool  # "?": allowed as a Digital Link query attribute
    components: tuple[Component, ...]
    requires: tuple[tuple[tuple[str, ...], ...], ...]  # per req=: alternatives, each an AND-group
    excludes: tuple[str, ...]
    dl_qualifiers: tuple[tuple[str, ...], ...] | None  # None: not a DL primary key
    title: str

    @property
    def min_length(self) -> int:
        return sum(c.min_len for c in self.components if not c.optional)

    @property
    def max_length(self) -> int:
        return sum(c.max_len for c in self.components)


def _parse_component(token: str, line: str) -> Component:
    match = _COMPONENT.fullmatch(token)
    if not match or bool(match[1]) != bool(match[5]):
        raise ValueError(f"bad component {token!r} in syntax dictionary line: {line}")
    size = int(match[4])
    linters = tuple(match[6].split(",")[1:])
    unknown = set(linters) - LINTERS.keys() - UNCHECKED_LINTERS
    if unknown:
        raise ValueError(f"unknown linter {sorted(unknown)} in syntax dictionary line: {line}")
    return Component(match[2], 1 if match[3] else size, size, bool(match[1]), linters)


def _parse_entries(line: str) -> list[AIEntry]:
    body, _, title = line.partition("#")
    tokens = body.split()
    ais, rest = tokens[0], tokens[1:]
    flags = rest.pop(0) if rest and set(rest[0]) <= _FLAG_CHARS else ""
    components: list[Component] = []
    requires: list[tuple[tuple[str, ...], ...]] = []
    excludes: list[str] = []
    qualifiers: list[tuple[str, ...]] | None = None
    for token in rest:
        if token[0] in "NXYZ[":
            components.append(_parse_component(token, line))
        elif token.startswith("req="):
            requires.append(tuple(tuple(g.split("+")) for g in token[4:].split(",")))
        elif token.startswith("ex="):
            excludes.extend(token[3:].split(","))
        elif token == "dlpkey" or token.startswith("dlpkey="):
            chains = token[7:].split("|") if "=" in token else [""]
            qualifiers = [tuple(q for q in chain.split(",") if q) for chain in chains]
        else:
            raise ValueError(f"unknown attribute {token!r} in syntax dictionary line: {line}")
    first, _, last = ais.partition("-")
    numbers = range(int(first), int(last or first) + 1)
    return [
        AIEntry(
            ai=str(n).zfill(len(first)),
            fixed_length="*" in flags,
            dl_attribute="?" in flags,
            components=tuple(components),
            requires=tuple(requires),
            excludes=tuple(excludes),
            dl_qualifiers=None if qualifiers is None else tuple(qualifiers),
            title=title.strip(),
        )
        for n in numbers
    ]


def _matches(ai: str, pattern: str) -> bool:
    """``ai`` matches an AI or a pattern such as ``31nn`` / ``310n`` from req= and ex=."""
    fixed = len(pattern) - len(pattern.lstrip(_DIGITS))
    return len(ai) == len(pattern) and ai[:fixed] == pattern[:fixed]


class SyntaxDictionary:
    """The AI table with the Digital Link key/qualifier sequences it defines."""

    def __init__(self, entries: Sequence[AIEntry]) -> None:
        self.entries = {e.ai: e for e in entries}
        sequences: set[tuple[str, ...]] = set()
        for entry in entries:
            for chain in entry.dl_qualifiers or ():
                # Qualifiers are optional but keep their order: every ordered subset is valid.
                for mask in range(1 << len(chain)):
                    picked = tuple(q for i, q in enumerate(chain) if mask >> i & 1)
                    sequences.add((entry.ai, *picked))
        self.dl_sequences = frozenset(sequences)

    def lookup(self, ai: str) -> AIEntry | None:
        return self.entries.get(ai) if 2 <= len(ai) <= 4 and _digits(ai) else None

    def is_primary_key(self, ai: str) -> bool:
        return (ai,) in self.dl_sequences

    def value_error(self, entry: AIEntry, value: str) -> str | None:
        """Why ``value`` is not a valid value of the AI, or None: length, charset, linters."""
        if len(value) < entry.min_length:
            return f"AI ({entry.ai}) value is too short"
        if len(value) > entry.max_length:
            return f"AI ({entry.ai}) value is too long"
        pos = 0
        for component in entry.components:
            part = value[pos : pos + component.max_len]
            if component.optional and not part:
                continue
            if len(part) < component.min_len:
                return f"AI ({entry.ai}) value has the wrong length"
            for name in (component.cset, *component.linters):
                linter = _CSET_LINTERS.get(name) or LINTERS.get(name)
                error = linter(part) if linter else None
                if error:
                    return f"AI ({entry.ai}) {entry.title}: {error} in {part!a}"
            pos += len(part)
        return None

    def association_error(self, ais: Sequence[tuple[str, str]]) -> str | None:
        """Why these AIs cannot appear together (ex=, req=, repeats, DIGSIG), or None."""
        present = {ai for ai, _ in ais}
        for ai in sorted(present):
            for pattern in self.entries[ai].excludes:
                clash = sorted(o for o in present if o != ai and _matches(o, pattern))
                if clash:
                    return f"AIs ({ai}) and ({clash[0]}) must not appear together"
        for ai in sorted(present):
            for alternatives in self.entries[ai].requires:
                if not any(
                    all(any(o != ai and _matches(o, p) for o in present) for p in group)
                    for group in alternatives
                ):
                    wanted = " or ".join("+".join(group) for group in alternatives)
                    return f"AI ({ai}) requires ({wanted})"
        values: dict[str, str] = {}
        for ai, value in ais:
            if values.setdefault(ai, value) != value:
                return f"AI ({ai}) appears with different values"
        if "8030" in present:
            for ai in ("253", "255", "8003"):
                if ai in values and len(values[ai]) == self.entries[ai].min_length:
                    return f"AI (8030) needs a serial component in AI ({ai})"
        return None


def parse_dictionary(text: str) -> SyntaxDictionary:
    entries: list[AIEntry] = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            entries.extend(_parse_entries(line))
    return SyntaxDictionary(entries)


@cache
def load_dictionary() -> SyntaxDictionary:
    """The bundled dictionary (``trace_protocol/data``), parsed once per process."""
    path = resources.files("trace_protocol").joinpath("data/gs1-syntax-dictionary.txt")
    return parse_dictionary(path.read_text(encoding="utf-8"))
