"""The supply side of the load (issue 15): receipts, uses, corrections and shipments through the
touchscreen's real forms, between the steps of tests/faults/load.py.

Each action is one POST, like a step: 303 is a confirmed save. A confirmed receipt is known by
its receiving lot (the page it leads to names it), so the checker can require it on the server;
the other actions need the receipt or batch they name and are skipped until it exists. The
catalog's first supplier, material and customer are used (ocop_cli/data/kc-rice.json).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

import requests

from tests.integration.touchscreen import Touchscreen

SUPPLIER = "THT-DH"
MATERIAL = "LUA"
CUSTOMER = "OCOP-HT"
# In every batch of tests/faults/load.py: which supply action comes after which step.
ACTIONS = {10: "receive", 20: "use", 30: "correct", 40: "use"}
_RECEIPT_UUID = re.compile(r'name="receipt" value="([0-9a-f-]{36})"')


@dataclass
class SupplyState:
    """What one load thread has confirmed of the supply actions."""

    receipt_lots: set[str] = field(default_factory=set)
    actions: dict[str, int] = field(default_factory=dict)
    last_lot: str | None = None

    def done(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def receive(touch: Touchscreen, state: SupplyState, n: int) -> requests.Response:
    r = touch.post(
        "/receipts",
        {
            "supplier": SUPPLIER,
            "material": MATERIAL,
            "supplier_lot": f"F{n}",
            "quantity": "100",
            "day": "",  # today by the agent's clock, which the faults may have moved
        },
    )
    if r.status_code == 303:
        saved = parse_qs(urlparse(r.headers["Location"]).query).get("saved", [""])[0]
        if saved:
            state.receipt_lots.add(saved)
            state.last_lot = saved
    return r


def use(touch: Touchscreen, batch: str) -> requests.Response | None:
    """Use 10 kg of a receipt in stock (override confirmed: stock is not what is tested)."""
    page = touch.get(f"/batches/{batch}/inputs")
    found = _RECEIPT_UUID.search(page.text)
    if found is None:
        return None
    data = {"receipt": found.group(1), "quantity": "10", "override": "1"}
    return touch.post(f"/batches/{batch}/inputs", data)


def correct_receipt(touch: Touchscreen, lot: str | None) -> requests.Response | None:
    if lot is None:
        return None
    page = touch.get("/receipts")
    found = re.search(rf'id="receipt-{re.escape(lot)}".*?/records/(\d+)/correct', page.text, re.S)
    if found is None:
        return None
    data = {"quantity": "120", "reason": "cân lại"}
    return touch.post(f"/records/{found.group(1)}/correct", data)


def close_and_ship(touch: Touchscreen, batch: str) -> requests.Response | None:
    """Close the batch and ship part of it; None when it could not be closed."""
    closed = touch.post(f"/batches/{batch}/close", {"quantity": "60"})
    if closed.status_code != 303:
        return None
    data = {"customer": CUSTOMER, "quantity": "20", "day": "", "override": "1"}
    return touch.post(f"/batches/{batch}/shipments", data)


def act(
    touch: Touchscreen, state: SupplyState, batch: str, step: int, n: int
) -> requests.Response | None:
    """The supply action due after ``step`` steps of ``batch``, if any; its response, or None
    when none is due or what it needs is not there."""
    action = ACTIONS.get(step)
    if action == "receive":
        r: requests.Response | None = receive(touch, state, n)
    elif action == "use":
        r = use(touch, batch)
    elif action == "correct":
        r = correct_receipt(touch, state.last_lot)
    else:
        return None
    if r is not None and r.status_code == 303:
        state.done(action)
    return r
