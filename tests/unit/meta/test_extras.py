"""The Pi and the server install only their own dependencies (issue 14).

``pyproject.toml`` keeps in its core what both sides import; ``[edge]`` adds the Pi's (OpenCV),
``[server]`` the server's (SQLAlchemy, the PostgreSQL driver); ``[test]`` pulls both. The tests
read the requirements with ``packaging`` and follow them through the installed distributions'
metadata, and check every third-party import of each side's packages against its install.
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from firmware_config.device import with_edge_extra

ROOT = Path(__file__).resolve().parents[3]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
KIT = canonicalize_name(PROJECT["name"])
KIT_PACKAGES = {"trace_protocol", "edge_agent", "sync_server", "label_printer", "firmware_config"}
KIT_PACKAGES |= {"ocop_cli", "bench", "tests"}

POSTGRES_DRIVERS = {"psycopg", "psycopg-binary", "psycopg-c", "psycopg2", "psycopg2-binary"}
POSTGRES_DRIVERS |= {"pg8000", "asyncpg"}
CAMERA_STACK = {"opencv-python", "opencv-python-headless", "opencv-contrib-python", "numpy"}

# What each install must be able to import: the Pi runs the agent, the label printer and
# provisioning; the server runs the sync server and its own provisioning.
SIDES = {
    "edge": ("edge_agent", "label_printer", "trace_protocol", "firmware_config"),
    "server": ("sync_server", "trace_protocol", "firmware_config"),
}


def _kit_requirements(extras: set[str]) -> list[Requirement]:
    """The kit's own requirements with ``extras``, self-references expanded."""
    found: list[Requirement] = []
    todo, seen = set(extras), set[str]()
    found.extend(Requirement(r) for r in PROJECT["dependencies"])
    while todo:
        extra = todo.pop()
        seen.add(extra)
        for text in PROJECT["optional-dependencies"][extra]:
            req = Requirement(text)
            if canonicalize_name(req.name) == KIT:
                todo |= set(req.extras) - seen
            else:
                found.append(req)
    return found


def _names(reqs: list[Requirement]) -> set[str]:
    return {canonicalize_name(r.name) for r in reqs}


def _closure(reqs: list[Requirement]) -> set[str]:
    """Every distribution ``reqs`` install, read from the venv's installed metadata."""
    names: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(reqs)
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(key)
        names.add(key[0])
        for text in metadata.requires(req.name) or []:
            dep = Requirement(text)
            wanted = {"", *req.extras}
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in wanted):
                dep.marker = None
                todo.append(dep)
    return names


def _third_party_imports(package: str) -> set[str]:
    modules: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules - set(sys.stdlib_module_names) - KIT_PACKAGES - {"__future__"}


def test_the_pi_install_pulls_no_postgresql_driver() -> None:
    pi = _kit_requirements({"edge"})
    assert "opencv-python-headless" in _names(pi)
    assert _names(pi) & POSTGRES_DRIVERS == set()
    assert _closure(pi) & POSTGRES_DRIVERS == set()


def test_the_server_install_pulls_no_opencv_or_numpy() -> None:
    server = _kit_requirements({"server"})
    assert "psycopg" in _names(server)
    assert _closure(server) & CAMERA_STACK == set()


def test_the_core_is_what_both_sides_share() -> None:
    core = _names([Requirement(r) for r in PROJECT["dependencies"]])
    assert core & (POSTGRES_DRIVERS | CAMERA_STACK | {"sqlalchemy", "sqlite-utils"}) == set()
    edge = _names(_kit_requirements({"edge"})) - core
    server = _names(_kit_requirements({"server"})) - core
    assert edge & server == set(), "a dependency of both sides belongs in the core"


def test_the_test_extra_installs_both_sides() -> None:
    everything = _names(_kit_requirements({"test"}))
    assert _names(_kit_requirements({"edge", "server"})) <= everything


@pytest.mark.parametrize("side", sorted(SIDES))
def test_each_side_installs_what_its_code_imports(side: str) -> None:
    installed = _closure(_kit_requirements({side}))
    providers = metadata.packages_distributions()
    missing = {}
    for package in SIDES[side]:
        for module in _third_party_imports(package):
            dists = {canonicalize_name(d) for d in providers.get(module, [])}
            # Not installed here: the Pi's apt packages (picamera2), found at run time only.
            if dists and not dists & installed:
                missing[f"{package}: {module}"] = sorted(dists)
    assert missing == {}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ocop-edge-kit==0.1.0", "ocop-edge-kit[edge]==0.1.0"),
        ("ocop-edge-kit", "ocop-edge-kit[edge]"),
        ("ocop-edge-kit[edge]>=0.1", "ocop-edge-kit[edge]>=0.1"),
        ("ocop-edge-kit[server] ==0.2", "ocop-edge-kit[server,edge] ==0.2"),
        (
            "ocop-edge-kit @ https://example.org/k.whl",
            "ocop-edge-kit[edge] @ https://example.org/k.whl",
        ),
        ("https://example.org/k.whl", "https://example.org/k.whl"),
    ],
)
def test_the_pi_installs_the_kit_with_the_edge_extra(spec: str, expected: str) -> None:
    assert with_edge_extra(spec) == expected
    if "://" not in spec or "@" in spec:
        assert "edge" in Requirement(with_edge_extra(spec)).extras
