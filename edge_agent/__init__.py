"""edge_agent package: the agent on a facility's Pi.

Importing the package loads ``sqlite_utils`` without NumPy or pandas. sqlite_utils imports them
when installed only to map their scalar types to column types; the agent never stores such
values, and NumPy alone costs a Pi 15 MB of RSS (issue 17). The camera code, which needs NumPy,
imports it later as usual.
"""

from __future__ import annotations

import importlib
import sys

_OPTIONAL = ("numpy", "pandas")


def _import_sqlite_utils_without_numpy() -> None:
    if "sqlite_utils.db" in sys.modules:
        return  # imported before us (a test, a tool): nothing to save any more
    hidden = [name for name in _OPTIONAL if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # `import name` raises ImportError
    try:
        importlib.import_module("sqlite_utils")
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


_import_sqlite_utils_without_numpy()
