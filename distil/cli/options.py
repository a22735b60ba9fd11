"""Parsing of `KEY=VALUE` options shared by several commands."""

from __future__ import annotations

from typing import Any

from distil.errors import UsageError
from distil.settings import check_bars
from distil.utils.yaml import YamlError, parse_yaml


def parse_assignments(items: list[str] | None, flag: str) -> dict[str, Any]:
    """['lr0=0.01', 'mosaic=0'] -> {'lr0': 0.01, 'mosaic': 0}; values are YAML scalars.

    >>> parse_assignments(["lr0=0.01", "name=a b"], "--set")
    {'lr0': 0.01, 'name': 'a b'}
    """
    result: dict[str, Any] = {}
    for item in items or []:
        for part in item.split(",") if flag == "--fail-under" else [item]:
            key, sep, value = part.partition("=")
            if not sep or not key.strip():
                raise UsageError(f"{flag} {part!r}: expected KEY=VALUE")
            try:
                result[key.strip()] = parse_yaml(value) if value.strip() else None
            except YamlError as e:
                raise UsageError(f"{flag} {key.strip()[:40]}=...: {e}") from None
    return result


def parse_fail_under(items: list[str] | None) -> dict[str, float]:
    """--fail-under map50=0.5[,recall=0.6]: metric -> minimum."""
    try:
        return check_bars(parse_assignments(items, "--fail-under"))
    except ValueError as e:
        raise UsageError(f"--fail-under: {e}") from None
