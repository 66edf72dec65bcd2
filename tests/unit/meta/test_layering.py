"""STYLE.md's import rules between the kit's packages, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
KIT = {
    "trace_protocol",
    "edge_agent",
    "sync_server",
    "label_printer",
    "firmware_config",
    "ocop_cli",
}
ALLOWED = {
    "trace_protocol": set(),
    "label_printer": set(),
    "edge_agent": {"trace_protocol", "label_printer"},
    "sync_server": {"trace_protocol"},
    "firmware_config": {"trace_protocol"},
    "ocop_cli": KIT - {"ocop_cli"},
}
# Heavy or hardware-bound third-party packages a part must not pull in.
FORBIDDEN_THIRD_PARTY = {
    "trace_protocol": {"flask", "sqlalchemy", "sqlite_utils", "paho", "cv2", "PIL", "qrcode"},
    "sync_server": {"cv2", "picamera2", "sqlite_utils"},
    "label_printer": {"flask", "sqlalchemy", "paho", "cv2"},
}


def _imports(package: str) -> set[str]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_package_imports_only_what_it_may(package: str) -> None:
    imported = _imports(package)
    kit_deps = (imported & KIT) - {package}
    assert kit_deps <= ALLOWED[package], f"{package} imports {kit_deps - ALLOWED[package]}"
    bad = imported & FORBIDDEN_THIRD_PARTY.get(package, set())
    assert not bad, f"{package} imports {bad}"
