"""Atomic file writes: nothing is ever written half."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def umask() -> int:
    """The process umask, read from /proc where it can be (`os.umask` can only be read by
    setting it, which races with threads creating files)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def ordinary_mode(folder: bool = False) -> int:
    """The mode `open()` / `mkdir()` would give a new file or folder under the umask."""
    return (0o777 if folder else 0o666) & ~umask()


def make_temp_dir(parent: Path, prefix: str) -> Path:
    """`mkdtemp` in `parent`, with the mode an ordinary folder gets (not 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    folder.chmod(ordinary_mode(folder=True))
    return folder


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`; the
    file gets the mode an ordinary new file gets (`mkstemp` alone would make it 0600)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A short temporary name: the target's own name may be near the file-system limit.
    fd, tmp = tempfile.mkstemp(prefix=".distil-", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, ordinary_mode())
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


_MARKER_TEXT = "Written by distil: `distil label` does not read this folder.\n"
_FILES_HEADER = "# the files distil wrote here (a new export replaces them, and keeps any other):\n"


def mark_output(folder: Path, files: Iterable[str] | None = None) -> None:
    """Mark `folder` (created if needed) as distil's output; `files` (relative POSIX
    paths) lists what distil wrote there, so a rewrite knows which files are the user's."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    marker = folder / OUTPUT_MARKER
    if files is not None:
        atomic_write_text(marker, _MARKER_TEXT + _FILES_HEADER + "".join(f"{f}\n" for f in files))
    elif not marker.exists():
        atomic_write_text(marker, _MARKER_TEXT)


def written_files(folder: Path) -> set[str] | None:
    """The files `mark_output` recorded in `folder`, or None when it recorded none."""
    try:
        text = (Path(folder) / OUTPUT_MARKER).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if _FILES_HEADER not in text:
        return None
    return set(text.split(_FILES_HEADER, 1)[1].splitlines())


def increment_path(base: Path, accept: Callable[[Path], bool] = lambda p: not p.exists()) -> Path:
    """runs/label/exp, exp2, exp3 ... : the first that `accept`s (Ultralytics-style)."""
    if accept(base):
        return base
    n = 2
    while not accept(candidate := base.with_name(f"{base.name}{n}")):
        n += 1
    return candidate
