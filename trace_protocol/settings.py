"""Typed config sections from TOML tables: unknown keys rejected, types checked, errors readable.

Both the edge agent and the server describe their config as frozen dataclasses; this turns a
parsed TOML table into them. Every field carries a ``help`` in its metadata, which the docs test
reads so that no setting goes undocumented.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the key and the problem."""


def setting(default: Any, help: str) -> Any:
    """A dataclass field with its documentation attached."""
    if isinstance(default, list | dict):
        raise TypeError("use an immutable default")
    return dataclasses.field(default=default, metadata={"help": help})


def section(factory: Any, help: str) -> Any:
    """A nested section (another dataclass) with its documentation attached."""
    return dataclasses.field(default_factory=factory, metadata={"help": help})


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def build_section(cls: type[T], data: Any, where: str = "") -> T:
    """Build dataclass ``cls`` from ``data``, recursing into nested sections."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for name, value in data.items():
        key = f"{where}.{name}" if where else name
        values[name] = _convert(hints[name], value, key)
    try:
        return cls(**values)
    except ValueError as exc:
        raise ConfigError(f"{where or 'config'}: {exc}") from exc


def _convert(hint: Any, value: Any, key: str) -> Any:
    if dataclasses.is_dataclass(hint):
        return build_section(hint, value, key)  # type: ignore[arg-type]
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return _convert(args[0], value, key)
    if hint is Path:
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{key}: expected a path")
        return Path(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is tuple:
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list")
        item = typing.get_args(hint)[0]
        if dataclasses.is_dataclass(item):  # an array of tables: [[cameras]]
            return tuple(build_section(item, v, f"{key}[{i}]") for i, v in enumerate(value))  # type: ignore[arg-type]
        return tuple(value)
    if hint in (str, int, bool, float) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise ConfigError(f"{key}: expected {hint.__name__}, got {type(value).__name__}")
    return value


def describe(cls: type[Any], prefix: str = "") -> list[tuple[str, str]]:
    """Every setting of ``cls`` as ``(dotted.key, help)``, sections included."""
    out: list[tuple[str, str]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        out.append((key, str(f.metadata.get("help", ""))))
        hint: Any = hints[f.name]
        item: Any = typing.get_args(hint)[0] if typing.get_origin(hint) is tuple else None
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            out.extend(describe(hint, f"{key}."))
        elif isinstance(item, type) and dataclasses.is_dataclass(item):
            out.extend(describe(item, f"{key}[]."))
    return out


def read_secret(name: str, env_var: str, environ: dict[str, str]) -> str | None:
    """A secret from systemd credentials (``$CREDENTIALS_DIRECTORY/name``) or an env variable."""
    cred_dir = environ.get("CREDENTIALS_DIRECTORY")
    if cred_dir:
        path = Path(cred_dir) / name
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
    value = environ.get(env_var)
    return value or None
