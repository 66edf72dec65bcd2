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


# Inside sync_server: each subsystem's folder may import only the folders below it
# (docs/architecture.md, "Parts and import rules"). `config` and `vn_time` are leaf modules;
# `cli`, `service` and `http_server` sit on top and may import anything, as may a folder's own
# `cli.py` (a command line wires parts together).
SERVER_PARTS: dict[str, set[str]] = {
    "store": set(),
    "epcis": {"store"},
    "accounts": {"store"},
    "ingest": {"store", "config"},
    "consumer": {"store", "config", "accounts"},
    "devices": {"store", "config", "ingest", "accounts"},
    "trace": {"store", "config", "accounts"},
    "notify": {"store", "config", "vn_time", "accounts"},
    "web": {
        "store",
        "config",
        "vn_time",
        "accounts",
        "consumer",
        "devices",
        "epcis",
        "ingest",
        "notify",
        "trace",
    },
}
SERVER_LEAVES = {"config", "vn_time"}


def _server_parts_imported(path: Path) -> set[str]:
    """The sync_server parts (first name under sync_server) one module imports."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "sync_server":
                names = [f"sync_server.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        parts.update(n.split(".")[1] for n in names if n.startswith("sync_server."))
    return parts


def test_every_server_module_belongs_to_a_known_part() -> None:
    server = ROOT / "sync_server"
    top = {p.stem for p in server.glob("*.py")} - {"__init__"}
    folders = {p.name for p in server.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(SERVER_PARTS), "a new sync_server folder needs its row in SERVER_PARTS"
    assert top == SERVER_LEAVES | {"cli", "service", "http_server"}, f"flat modules: {sorted(top)}"


@pytest.mark.parametrize("part", sorted(SERVER_PARTS))
def test_server_parts_import_only_the_parts_below_them(part: str) -> None:
    for path in (ROOT / "sync_server" / part).rglob("*.py"):
        if path.name == "cli.py":
            continue
        used = _server_parts_imported(path) - {part}
        extra = used - SERVER_PARTS[part]
        assert not extra, f"{path.relative_to(ROOT)} imports sync_server parts {sorted(extra)}"


@pytest.mark.parametrize("leaf", sorted(SERVER_LEAVES))
def test_server_leaf_modules_import_no_other_part(leaf: str) -> None:
    assert not _server_parts_imported(ROOT / "sync_server" / f"{leaf}.py")
