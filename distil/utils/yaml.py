"""Reading YAML that users write: safe types only, errors as one short line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class YamlError(ValueError):
    """A file or value that is not valid YAML; the message says where."""


def parse_yaml(text: str) -> Any:
    """Safe-load one YAML document (no Python tags)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise YamlError(f"invalid YAML{at}: {problem}") from None


def load_yaml(path: Path) -> Any:
    """Safe-load a YAML file; FileNotFoundError when it is missing."""
    return parse_yaml(Path(path).read_text(encoding="utf-8"))
