"""Render a folder of Jinja2 templates into an output folder, with file modes.

A template ``a/b.conf.j2`` becomes ``a/b.conf``; files without ``.j2`` are copied as they are.
Rendering is strict (an undefined variable is an error, never an empty string) and keeps
trailing newlines, because the outputs are config files, units and shell scripts.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from typing import Any

import jinja2

TEMPLATE_SUFFIX = ".j2"
DEFAULT_MODE = 0o644


class RenderError(Exception):
    """A template could not be rendered or written; the message names the file."""


def templates(subdir: str) -> Traversable:
    """The packaged template folder ``firmware_config/templates/<subdir>``."""
    root = files("firmware_config").joinpath("templates")
    for part in PurePosixPath(subdir).parts:
        root = root.joinpath(part)
    return root


def _toml_string(value: object) -> str:
    """A TOML basic string (JSON's escapes are a subset of TOML's); also a YAML scalar."""
    return json.dumps(str(value))


def make_environment() -> jinja2.Environment:
    """Strict Jinja2 with the filters config files need: ``sq`` (shell), ``toml``/``json``."""
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["sq"] = lambda value: shlex.quote(str(value))
    env.filters["toml"] = _toml_string
    env.filters["json"] = _toml_string
    return env


def _walk(root: Traversable, prefix: PurePosixPath) -> list[tuple[PurePosixPath, Traversable]]:
    found: list[tuple[PurePosixPath, Traversable]] = []
    for child in sorted(root.iterdir(), key=lambda t: t.name):
        if child.name.startswith(".") or child.name == "__pycache__":
            continue
        rel = prefix / child.name
        if child.is_dir():
            found.extend(_walk(child, rel))
        else:
            found.append((rel, child))
    return found


def output_names(source: Traversable) -> list[str]:
    """Relative output paths (POSIX) that :func:`render_dir` writes for ``source``."""
    return [_output_name(rel) for rel, _ in _walk(source, PurePosixPath())]


def _output_name(rel: PurePosixPath) -> str:
    name = str(rel)
    return name[: -len(TEMPLATE_SUFFIX)] if name.endswith(TEMPLATE_SUFFIX) else name


def render_dir(
    source: Traversable,
    out: Path,
    context: Mapping[str, Any],
    modes: Mapping[str, int] | None = None,
    skip: frozenset[str] = frozenset(),
) -> list[str]:
    """Render every file under ``source`` into ``out``; return the written relative paths.

    ``modes`` maps an output path to its file mode (default 0644); ``skip`` names outputs not to
    write (for optional files). Modes are applied even on an existing file.
    """
    env = make_environment()
    modes = modes or {}
    written: list[str] = []
    for rel, item in _walk(source, PurePosixPath()):
        name = _output_name(rel)
        if name in skip:
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if str(rel).endswith(TEMPLATE_SUFFIX):
                text = env.from_string(item.read_text(encoding="utf-8")).render(**context)
                target.write_text(text, encoding="utf-8", newline="\n")
            else:
                target.write_bytes(item.read_bytes())
        except jinja2.TemplateError as exc:
            raise RenderError(f"{rel}: {exc}") from exc
        target.chmod(modes.get(name, DEFAULT_MODE))
        written.append(name)
    unknown = set(modes) - set(written) - skip
    if unknown:
        raise RenderError(f"modes given for files that were not rendered: {sorted(unknown)}")
    return written
