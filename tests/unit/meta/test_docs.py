"""Docs that tests keep honest: every setting, CLI command and MQTT topic is documented."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from edge_agent.config import EdgeConfig
from ocop_cli.main import build_parser
from sync_server.config import ServerConfig
from trace_protocol import topics
from trace_protocol.settings import describe

DOCS = Path(__file__).resolve().parents[3] / "docs"


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


@pytest.mark.parametrize(("cls", "doc"), [(EdgeConfig, "config.md"), (ServerConfig, "config.md")])
def test_every_setting_is_documented_with_help(cls: type, doc: str) -> None:
    text = (DOCS / doc).read_text(encoding="utf-8")
    for key, help_text in describe(cls):
        assert help_text, f"{cls.__name__}.{key} has no help text"
        assert f"`{key}`" in text, f"{cls.__name__} setting {key} missing from docs/{doc}"


@pytest.mark.parametrize("kind", topics.KINDS)
def test_every_topic_is_documented(kind: str) -> None:
    text = (DOCS / "protocol.md").read_text(encoding="utf-8")
    assert f"ocop/v1/dev/{{dev}}/{kind}" in text


def test_readme_shows_the_two_commands_and_ci_runs_the_test_one() -> None:
    root = DOCS.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "./kit demo" in readme and "./kit test" in readme
    assert "./kit test" in (root / ".ci" / "run").read_text(encoding="utf-8")
