"""Compose files read as Docker Compose reads them, for tests that have no Docker engine.

:class:`ComposeFile` parses a compose file, finds its ``${NAME}`` references (Compose
Specification, "Interpolation"), interpolates them with their defaults, and resolves a
service through ``extends`` with the spec's merge rules (mappings merged key by key, volumes
merged by their target) — only as much of Compose as the repository's files use, and an
error for anything else, so a new construct is noticed rather than misread.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose"
STACKS = ["docker-compose.yml", "docker-compose.influxdb2.yml"]

#: ``$$`` (a literal dollar), ``${NAME…}`` or ``$NAME``; group 2 holds a braced reference's
#: operator and argument (``:-default``, ``-default``, ``:?error`` …).
_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)((?::?[-?+])[^}]*)?\}"
                        r"|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Reference:
    """One ``${NAME…}`` in a compose file: ``operator`` is ``:-`` for ``${NAME:-default}``
    (``None`` for a bare ``${NAME}`` or ``$NAME``) and ``argument`` the text after it."""

    name: str
    operator: str | None
    argument: str


def references(text: str) -> Iterator[Reference]:
    """Every variable reference in ``text``, skipping ``$$`` escapes."""
    for match in _REFERENCE.finditer(text):
        if match.group(0) == "$$":
            continue
        name = match.group(1) or match.group(3)
        spec = match.group(2) or ""
        operator = re.match(r":?[-?+]", spec)
        yield Reference(name, operator.group(0) if operator else None,
                        spec[operator.end():] if operator else "")


def interpolate(value: object, env: dict[str, str]) -> object:
    """``value`` with every reference replaced as Compose does with ``env`` as the
    environment (``:-`` falls back to its default when unset or empty); ``$$`` becomes ``$``.
    Operators other than ``:-`` are not used in the repository and are refused."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        (ref,) = references(match.group(0))
        if ref.operator not in (None, ":-"):
            raise ValueError(f"{match.group(0)}: only ${{NAME:-default}} is understood here")
        found = env.get(ref.name, "")
        return found if found or ref.operator is None else ref.argument

    return _REFERENCE.sub(substitute, value)


@dataclass(frozen=True)
class Mount:
    """A bind mount: ``source`` on the host (absolute), ``target`` in the container."""

    source: Path
    target: str
    read_only: bool


class ComposeFile:
    """One compose file of ``compose/``: raw YAML, references, effective services."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text(encoding="utf-8")

    @cached_property
    def raw(self) -> dict:
        return yaml.safe_load(self.text)

    @cached_property
    def interpolated(self) -> dict:
        """The document as Compose sees it with no ``.env``: every variable at its default."""
        return interpolate(self.raw, {})

    def references(self) -> list[Reference]:
        """Every reference in the file's values; a ``$`` that starts none (``$(date)``
        instead of ``$$(date)``) is an error, as Compose refuses it."""
        for text in _strings(self.raw):
            if "$" in _REFERENCE.sub("", text):
                raise ValueError(f"{self.path.name}: {text!r}: a lone $ (write $$)")
        return value_references(self.raw)

    def service(self, name: str) -> dict:
        """Service ``name`` after ``extends`` (interpolated): the base service with this
        file's keys on top, mappings merged, volumes merged by target."""
        own = dict(self.interpolated["services"][name])
        extends = own.pop("extends", None)
        if extends is None:
            return own
        base_file = self.path.parent / extends["file"]
        if base_file.parent != self.path.parent:  # its relative paths would need rebasing
            raise ValueError(f"{self.path.name}: {name} extends a file in another folder")
        base = ComposeFile(base_file).service(extends["service"])
        merged = dict(base)
        for key, value in own.items():
            if key == "volumes":
                by_target = {_target(v): v for v in base.get("volumes", [])}
                by_target.update({_target(v): v for v in value})
                merged[key] = list(by_target.values())
            elif isinstance(value, dict) and isinstance(base.get(key), dict):
                merged[key] = {**base[key], **value}
            elif isinstance(value, list) or isinstance(base.get(key), list):
                raise ValueError(f"{self.path.name}: {name}.{key}: list merge not modelled")
            else:
                merged[key] = value
        return merged

    def mounts(self, service: dict) -> list[Mount]:
        """The service's bind mounts (named volumes left out), sources resolved from the
        compose file's folder as Compose does."""
        found = []
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                if volume.get("type") != "bind":
                    continue
                source, target = volume["source"], volume["target"]
                read_only = bool(volume.get("read_only"))
            else:
                source, target, *mode = volume.split(":")
                if not source.startswith((".", "/")):
                    continue  # a named volume
                read_only = "ro" in mode
            found.append(Mount((self.path.parent / source).resolve(), target, read_only))
        return found


def value_references(document: object) -> list[Reference]:
    """The references in a parsed document's values: Compose, Grafana's provisioning and
    carbonline's plant.toml all expand them after parsing, so comments do not count."""
    return [ref for text in _strings(document) for ref in references(text)]


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def _target(volume: str | dict) -> str:
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]
