"""The identifiers and shared fields of our EPCIS events: URIs, the kit's vocabulary IRI, units.

:data:`OCOP_VOC` is the one place the kit's own vocabulary IRI is written (docs/epcis.md,
"Vocabulary"). :class:`Ids` makes the URIs of one deployment; :class:`Source` is one committed
device event with what its EPCIS event needs; :func:`common` gives the fields every event of a
device event carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from trace_protocol.digital_link import build_link, percent_encode

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
# The kit's own terms (extension fields, step bizSteps, measurement types, master data
# attributes): one IRI for every deployment, so the same term means the same on every server.
# ".example" is reserved (RFC 2606): nobody else can ever own it. Swap in a registered
# persistent IRI here, and only here, once the project has one.
OCOP_VOC = "https://ocop-kit.example/voc/"
GS1_STEM = "https://id.gs1.org"
# A unit labels run up to this many serials lists each serial in epcList; a bigger run is one
# class-level quantity (the serial range stays in ocop:serialFrom / ocop:serialTo).
EPC_LIST_LIMIT = 100
# Vietnam time (no daylight saving): the offset of events the office makes (recalls).
VN_TIME = timezone(timedelta(hours=7))

# Units as entered → UN/CEFACT Rec 20 codes (lower-cased, trimmed). Unknown units get no uom.
REC20: dict[str, str] = {
    "%": "P1",
    "kg": "KGM",
    "g": "GRM",
    "tấn": "TNE",
    "t": "TNE",
    "l": "LTR",
    "lít": "LTR",
    "ml": "MLT",
    "°c": "CEL",
    "cái": "H87",
    "quả": "H87",
    "chiếc": "H87",
    "con": "H87",
}


def uom(unit: object) -> str | None:
    """The Rec 20 code of a unit as entered (``kg`` → ``KGM``, ``lít`` → ``LTR``), or None."""
    return REC20.get(str(unit or "").strip().lower())


def quantity_element(epc_class: str, quantity: object, unit: object) -> dict[str, Any]:
    """``{epcClass, quantity, uom}``; ``uom`` only when the unit has a Rec 20 code."""
    element: dict[str, Any] = {"epcClass": epc_class, "quantity": quantity}
    code = uom(unit)
    if code:
        element["uom"] = code
    return element


class Ids:
    """The URIs of one deployment: GS1 Digital Link where a GTIN exists, else our own."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.voc = OCOP_VOC

    def lot_class(self, gtin: str | None, lot: str) -> str:
        """Class level: constrained DL ``/01/{gtin14}/10/{lot}``, or the short label URL."""
        if gtin:
            return build_link(GS1_STEM, gtin, lot)
        return f"{self.base}/l/{percent_encode(lot)}"

    def unit(self, gtin: str | None, lot: str, serial: str) -> str:
        """Instance level: constrained DL ``/01/{gtin14}/21/{serial}`` (no lot: NOTES §2.6)."""
        if gtin:
            return build_link(GS1_STEM, gtin, serial=serial)
        return f"{self.base}/l/{percent_encode(lot)}/{percent_encode(serial)}"

    def facility(self, code: str) -> str:
        return f"{self.base}/facility/{percent_encode(code)}"

    def supplier(self, facility: str, supplier: Mapping[str, Any]) -> str:
        """A supplier party; a supplier that is a facility of the kit is that facility."""
        if supplier.get("facility"):
            return self.facility(str(supplier["facility"]))
        return f"{self.facility(facility)}/supplier/{percent_encode(str(supplier['id']))}"

    def customer(self, facility: str, customer_id: str) -> str:
        return f"{self.facility(facility)}/customer/{percent_encode(customer_id)}"

    def step(self, code: str) -> str:
        return f"{self.voc}bizStep-{percent_encode(code)}"

    def measurement(self, key: str) -> str:
        return f"{self.voc}measurement-{percent_encode(key)}"


@dataclass(frozen=True)
class Source:
    """One committed ``events`` row with what its EPCIS needs.

    ``facility`` has ``code``, ``name``, ``commune``, ``district``, ``province`` (the batch's
    snapshot, or the facilities row); ``batch`` is the ``batches`` row of the event's batch;
    for a ``record.corrected``, ``target`` is the corrected event and ``earlier`` the ``events``
    rows of the corrections of the same target before this one, oldest first. For a
    ``batch.voided``, ``declared`` are the batch's own events before it, each with every
    correction of it in ``earlier``.
    """

    row: Mapping[str, Any]
    facility: Mapping[str, Any]
    batch: Mapping[str, Any] | None = None
    target: Source | None = None
    earlier: Sequence[Mapping[str, Any]] = field(default=())
    declared: Sequence[Source] = field(default=())


@dataclass(frozen=True)
class Recall:
    """A ``recalls`` row and the lots it covers: ``(lot, gtin or None, facility or None)``."""

    row: Mapping[str, Any]
    lots: Sequence[tuple[str, str | None, str | None]] = field(default=())
    # "recall" or "lift" for only that one of its two events (the query pages them apart).
    only: str | None = None


@dataclass(frozen=True)
class Picked:
    """The events of a :class:`Source` or :class:`Recall` that a query matched, by index."""

    item: Source | Recall
    keep: tuple[int, ...]


def offset(at: str) -> str:
    """``+07:00`` from an ISO 8601 time with an offset (``Z`` is ``+00:00``)."""
    parsed = datetime.fromisoformat(at)
    delta = parsed.utcoffset()
    if delta is None:
        raise ValueError(f"event time {at!r} has no UTC offset")
    minutes = int(delta.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def utc_time(timestamp: float) -> str:
    return datetime.fromtimestamp(float(timestamp), UTC).isoformat(timespec="milliseconds")


def common(ids: Ids, source: Source, record_time: bool) -> dict[str, Any]:
    """``type`` ObjectEvent, ``eventID``, times, the facility as read point and location, and
    the signed event's device, seq and hash (``ocop:…``)."""
    row = source.row
    at = str(row["at"])
    location = ids.facility(str(source.facility["code"]))
    fields: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventID": f"urn:uuid:{row['id']}",
        "eventTime": at,
    }
    if record_time:
        fields["recordTime"] = utc_time(float(row["received_at"]))
    return {
        **fields,
        "eventTimeZoneOffset": offset(at),
        "readPoint": {"id": location},
        "bizLocation": {"id": location},
        "ocop:device": str(row["dev_id"]),
        "ocop:seq": int(row["seq"]),
        "ocop:eventHash": str(row["hash"]),
        "ocop:deviceClock": str(row["clock"]),
    }
