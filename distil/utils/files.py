"""Atomic file writes: nothing is ever written half."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


# Every folder distil writes holds this file, so `distil label .` never labels them again.
OUTPUT_MARKER = ".distil-output"


def mark_output(folder: Path) -> None:
    """Mark `folder` (created if needed) as distil's output."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if not marker.exists():
        marker.write_text("Written by distil: `distil label` does not read this folder.\n")


def increment_path(base: Path, accept: Callable[[Path], bool] = lambda p: not p.exists()) -> Path:
    """runs/label/exp, exp2, exp3 ... : the first that `accept`s (Ultralytics-style)."""
    if accept(base):
        return base
    n = 2
    while not accept(candidate := base.with_name(f"{base.name}{n}")):
        n += 1
    return candidate
