"""Docs that tests keep honest: every setting, CLI command, MQTT topic, module and thread."""

from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from edge_agent.config import EdgeConfig
from ocop_cli.main import build_parser
from sync_server.config import ServerConfig
from trace_protocol import topics
from trace_protocol.settings import describe

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"


def _commands(parser: argparse.ArgumentParser, prefix: str = "ocop") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.append(f"{prefix} {name}")
                found.extend(_commands(sub, f"{prefix} {name}"))
    return found


@pytest.mark.parametrize("command", _commands(build_parser()))
def test_every_cli_command_is_documented(command: str) -> None:
    assert f"`{command}" in (DOCS / "cli.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("cls", [EdgeConfig, ServerConfig])
def test_every_setting_has_help(cls: type) -> None:
    for key, help_text in describe(cls):
        assert help_text, f"{cls.__name__}.{key} has no help text"


@pytest.mark.parametrize("kind", topics.KINDS)
def test_every_topic_is_documented(kind: str) -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert f"ocop/v1/dev/{{dev}}/{kind}" in text


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one() -> None:
    root = DOCS.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "./kit demo" in readme and "./kit test" in readme
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    assert "./kit test" in ci and "export CI=true" in ci  # fixtures fail, not skip, in CI


# --- docs/config.md: each setting within its own file's section ---------------------------------

_ROW = re.compile(r"^\| `([^`]+)` \|", re.MULTILINE)


def _sections(text: str, level: str) -> dict[str, str]:
    """Heading -> body for every heading of exactly ``level`` (``##``, ``###``) in ``text``."""
    parts = re.split(rf"^{level} (.+)$", text, flags=re.MULTILINE)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def _headed(section: str, subsections: dict[str, str]) -> list[str]:
    """The ``###`` headings of a section: `ui`, `[[cameras]]`."""
    return [h for h in subsections if f"`{section}`" in h or f"`[[{section}]]`" in h]


@pytest.mark.parametrize(
    ("cls", "file"), [(EdgeConfig, "edge.toml"), (ServerConfig, "server.toml")]
)
def test_every_setting_is_documented_in_its_own_files_section(cls: type, file: str) -> None:
    """One `mqtt.port` row must not cover both files: each key is a row of its file's part of
    config.md, under its own section's heading (a section's name: at the top level or heading its
    own table), and every row there is a setting of that file."""
    part = _sections((DOCS / "config.md").read_text(encoding="utf-8"), "##")[file]
    subsections = _sections(part, "###")
    keys = {key for key, _ in describe(cls)}
    for key in keys:
        section = re.split(r"[.\[]", key, maxsplit=1)[0]
        headings = _headed(section, subsections)
        if section == key:
            headings.append("Top level")
        assert headings, f"{file}: no heading for section `{section}`"
        rows = [row for h in headings for row in _ROW.findall(subsections[h])]
        assert key in rows, f"{file}: `{key}` has no row under {headings}"
    stale = set(_ROW.findall(part)) - keys
    assert not stale, f"docs/config.md documents settings {file} does not have: {sorted(stale)}"


# --- docs/architecture.md: the module table and the thread tables --------------------------------

PACKAGES = (
    "trace_protocol",
    "label_printer",
    "edge_agent",
    "sync_server",
    "firmware_config",
    "ocop_cli",
)
MIGRATIONS = Path("sync_server/store/migrations/versions")


def _has_code(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)) for n in body)


def _modules() -> set[str]:
    """Every module of the kit's packages, as a path; an ``__init__.py`` only if it holds code,
    and the Alembic revisions as their folder (they are listed in their own table)."""
    found = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            rel = path.relative_to(ROOT)
            if rel.parent == MIGRATIONS:
                continue
            if path.name != "__init__.py" or _has_code(path):
                found.add(rel.as_posix())
    return found


def _architecture(heading: str) -> str:
    return _sections((DOCS / "architecture.md").read_text(encoding="utf-8"), "##")[heading]


def test_the_module_table_lists_every_module_and_nothing_else() -> None:
    documented = set(re.findall(r"^\| `([\w/]+\.py)` \|", _architecture("Modules"), re.MULTILINE))
    modules = _modules()
    assert not modules - documented, f"missing from architecture.md: {sorted(modules - documented)}"
    assert not documented - modules, f"no such module: {sorted(documented - modules)}"


def _thread_names() -> set[str]:
    """The name of every thread the kit starts: ``threading.Thread(name=…)`` (an f-string keeps
    its placeholders, e.g. ``camera-{name}``) and each ``Background`` subclass's ``thread_name``."""
    names = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and ast.unparse(node.func) == "threading.Thread":
                    for kw in node.keywords:
                        if kw.arg == "name" and isinstance(kw.value, ast.Constant):
                            names.add(str(kw.value.value))
                        elif kw.arg == "name" and isinstance(kw.value, ast.JoinedStr):
                            names.add(ast.unparse(kw.value)[2:-1])
                if isinstance(node, ast.ClassDef) and node.name != "Background":
                    for stmt in node.body:
                        if (
                            isinstance(stmt, ast.Assign)
                            and ast.unparse(stmt.targets[0]) == "thread_name"
                            and isinstance(stmt.value, ast.Constant)
                        ):
                            names.add(str(stmt.value.value))
    return names


def test_the_thread_tables_name_every_thread_the_code_starts() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    tables = "".join(b for h, b in _sections(text, "##").items() if "threads" in h)
    first_cells = re.findall(r"^\|([^|]*)\|", tables, re.MULTILINE)
    documented = {name for cell in first_cells for name in re.findall(r"`([^`]+)`", cell)}
    names = _thread_names()
    assert {"sync", "ingest"} <= names  # the scan above still finds threads
    assert not names - documented, f"threads missing from architecture.md: {names - documented}"


# --- docs/office.md: every office route ----------------------------------------------------------

_ROUTE_PARAM = re.compile(r"<(?:[^<>:]+:)?[^<>]+>")


def _office_paths(data_dir: Path) -> set[str]:
    """Every path of the office blueprint (its static files aside), as Flask has them."""
    from sqlalchemy import create_engine

    from sync_server.web import create_app

    app = create_app(ServerConfig(data_dir=data_dir), create_engine("sqlite://"))
    return {
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("office.") and rule.endpoint != "office.static"
    }


def _documented(path: str, text: str) -> bool:
    """Whether ``path`` appears in ``text`` as a whole path, each ``<x>`` (or ``<int:x>``)
    written ``{name}`` with a name of the doc's choosing: ``/office/devices/{dev}`` is not
    documented by ``/office/devices/{dev}/unblock`` alone."""
    parts = _ROUTE_PARAM.split(path)
    pattern = r"\{[^{}/\s]+\}".join(re.escape(p) for p in parts)
    return re.search(rf"(?<![\w/.-]){pattern}(?![\w/{{}}.-])", text) is not None


def test_every_office_route_is_in_office_md(tmp_path: Path) -> None:
    paths = _office_paths(tmp_path)
    assert {"/office/", "/office/fleet/new", "/office/devices/<dev>/unblock"} <= paths
    text = (DOCS / "office.md").read_text(encoding="utf-8")
    missing = sorted(p for p in paths if not _documented(p, text))
    assert not missing, f"office routes missing from docs/office.md: {missing}"


def test_an_office_route_is_matched_as_a_whole_path() -> None:
    text = "see `/office/devices/{dev}/unblock` and `/office/recalls/{id}`, `/office/`"
    assert _documented("/office/devices/<dev>/unblock", text)
    assert _documented("/office/recalls/<int:recall_id>", text)
    assert _documented("/office/", text)
    assert not _documented("/office/devices/<dev>", text)
    assert not _documented("/office/recalls", text)
    assert not _documented("/office/recalls/<int:recall_id>/lift", text)
