"""District scopes (issue 16): what part of the province an office account may see.

An admin, and an officer with no districts set, sees the whole province. An officer limited to
some districts sees only the facilities whose ``facilities.district`` is one of them, and
everything that hangs off those facilities (devices, batches, alerts, scans, exports, EPCIS
events). Every office query filters through :meth:`Scope.facilities`; the walk of the URL map as
a district officer (tests) keeps it honest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, select, true

from sync_server.accounts.users import User
from sync_server.store.db import facilities


@dataclass(frozen=True)
class Scope:
    """``districts`` None: the whole province."""

    districts: frozenset[str] | None = None

    @property
    def province(self) -> bool:
        return self.districts is None

    def facilities(self, code: ColumnElement[str]) -> ColumnElement[bool]:
        """A WHERE clause keeping rows whose facility code column ``code`` is in scope."""
        if self.districts is None:
            return true()
        return code.in_(
            select(facilities.c.code).where(facilities.c.district.in_(sorted(self.districts)))
        )

    def allows(self, conn: Connection, facility_code: str | None) -> bool:
        """Whether one facility is in scope (a row with no facility only for the province)."""
        if self.districts is None:
            return True
        if facility_code is None:
            return False
        district = conn.execute(
            select(facilities.c.district).where(facilities.c.code == facility_code)
        ).scalar()
        return district in self.districts

    def codes(self, conn: Connection) -> frozenset[str] | None:
        """The facility codes in scope, or None for the whole province."""
        if self.districts is None:
            return None
        rows = conn.execute(select(facilities.c.code).where(self.facilities(facilities.c.code)))
        return frozenset(str(c) for c in rows.scalars())


PROVINCE = Scope()


def scope_of(user: User | None) -> Scope:
    """The scope of an office account: admins and unlimited officers see the province."""
    if user is None or user.is_admin or user.districts is None:
        return PROVINCE
    return Scope(frozenset(user.districts))


def limit(districts: Iterable[str] | None) -> Scope:
    return PROVINCE if districts is None else Scope(frozenset(districts))
