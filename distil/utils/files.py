"""Safe file writes: nothing is ever written half, and never through a symbolic link."""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from distil.errors import LinkRefusedError, UsageError


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


MAX_CONFIG_BYTES = 16 * 2**20  # an ontology or run config is a few kB
MAX_ANNOTATION_BYTES = 1 << 30  # an annotation export from a labeling tool


def read_user_bytes(path: Path, limit: int) -> bytes:
    """The bytes of a file the user gave: a regular file of at most `limit` bytes. A FIFO,
    a device (`/dev/zero`) or a folder is refused without reading (it could block, or
    never end), a larger file before reading; FileNotFoundError when it is missing."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise UsageError(f"{path}: is a folder, not a file") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read file ({e.strerror or e})") from None
    info = os.fstat(fd)
    problem = None
    if stat.S_ISDIR(info.st_mode):
        problem = "is a folder, not a file"
    elif not stat.S_ISREG(info.st_mode):
        problem = "not a regular file (a pipe or device is never read)"
    elif info.st_size > limit:
        problem = f"{_size(info.st_size)}, over the {_size(limit)} limit"
    if problem:
        os.close(fd)
        raise UsageError(f"{path}: {problem}")
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise UsageError(f"{path}: grew past the {_size(limit)} limit while read")
    return data


def read_user_text(path: Path, limit: int = MAX_CONFIG_BYTES) -> str:
    """`read_user_bytes` as UTF-8 text (a `UsageError` naming the file when it is not)."""
    data = read_user_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UsageError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _size(size: int) -> str:
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size} bytes"


def link_refused(path: Path) -> LinkRefusedError:
    try:
        target = f" (to {os.readlink(path)})"
    except OSError:
        target = ""
    return LinkRefusedError(
        f"{path} is a symbolic link{target}; distil does not write through links in its "
        "output folders: remove the link and rerun"
    )


def refuse_link(path: Path) -> Path:
    """`path`, unless it is a symbolic link, dangling or not (`LinkRefusedError`): a file
    distil writes inside its folder must not lead to a file outside it."""
    if os.path.islink(path):
        raise link_refused(Path(path))
    return Path(path)


def open_no_follow(path: Path, flags: int, mode: int = 0o666) -> int:
    """`os.open` that refuses a symbolic link as the last part of `path`."""
    try:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except OSError as e:
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise link_refused(Path(path)) from None
        raise


def write_bytes(path: Path, data: bytes) -> None:
    """`Path.write_bytes` that never writes through a symbolic link."""
    fd = open_no_follow(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def copy_file(source: Path, target: Path) -> None:
    """`shutil.copy2` that never writes through a symbolic link at `target`."""
    fd = open_no_follow(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(src, out)
    shutil.copystat(source, target)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file next to `path`, then rename it over `path`; the
    file gets the mode an ordinary new file gets (`mkstemp` alone would make it 0600). A
    symbolic link at `path` is refused, not replaced."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    refuse_link(path)
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
    marker = refuse_link(folder / OUTPUT_MARKER)
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
