"""The one SQLAlchemy ``MetaData`` every server table is defined on (db.py, supply_tables.py)."""

from __future__ import annotations

from sqlalchemy import MetaData

metadata = MetaData()
