"""Images behind fsspec URLs: `s3://`, `gs://`, `az://`, `memory://`, ...

A URL input is listed and read through fsspec's filesystem for its scheme, whose package
(s3fs, gcsfs, adlfs, ...) must be installed wherever files are read: on every Ray worker
too. Credentials come from the usual places of that package (environment, config files).

Inside distil a URL travels as a `Path`, which keeps one slash after the scheme
(`Path("s3://bucket/a.jpg")` is `s3:/bucket/a.jpg`); `as_url` gives the URL back.

>>> as_url(Path("s3://bucket/a.jpg"))
's3://bucket/a.jpg'
>>> as_url(Path("images/a.jpg")) is None
True
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # distil.detections needs numpy: not for `as_url` in a config check
    from distil.detections import FileStamp

# A scheme of two letters or more (so a Windows drive is not one), then ":/".
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/+(.*)$", re.DOTALL)


class RemoteReadError(Exception):
    """A URL could not be listed or read; the message is the reason shown to the user."""


def as_url(path: Path | str) -> str | None:
    """The URL `path` names (as typed, or as a `Path` made from it), or None for a local
    path. `file://` URLs are local paths and give None."""
    match = _SCHEME.match(str(path))
    if not match or match.group(1).lower() == "file":
        return None
    return f"{match.group(1)}://{match.group(2)}"


def local_path(text: str) -> str:
    """A `file://` URL's path; any other text as it is."""
    match = _SCHEME.match(text)
    if match and match.group(1).lower() == "file":
        return "/" + match.group(2)
    return text


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, path inside it) for `url`; a scheme whose package is missing is
    a ValueError that names the package."""
    try:
        from fsspec.core import url_to_fs
    except ImportError:  # pragma: no cover - fsspec comes with torch
        raise ValueError(f"{url}: reading URLs needs fsspec (pip install fsspec)") from None
    try:
        return url_to_fs(url)
    except ImportError as e:
        raise ValueError(f"{url}: {e}") from None
    except ValueError as e:  # an unknown scheme
        raise ValueError(f"{url}: {e}") from None


def check_url(url: str) -> None:
    """A missing package is a ValueError, a missing file or folder a FileNotFoundError."""
    fs, path = filesystem(url)
    try:
        found = fs.exists(path)
    except Exception as e:  # each filesystem raises its own errors (auth, network)
        raise ValueError(f"{url}: cannot be read ({e})") from None
    if not found:
        raise FileNotFoundError(f"input not found: {url}")


def list_urls(url: str, extensions: frozenset[str]) -> list[str]:
    """The files under `url` (or `url` itself) with one of `extensions`, sorted; hidden
    files and folders (a part of the path starting with '.') are left out."""
    fs, root = filesystem(url)
    try:
        paths = [root] if fs.isfile(root) else fs.find(root)
    except Exception as e:
        raise RemoteReadError(f"cannot list folder ({e})") from None
    prefix = root.rstrip("/")
    kept = []
    for path in paths:
        inside = path[len(prefix) :] if path.startswith(prefix) else path
        parts = [p for p in inside.split("/") if p]
        if any(p.startswith(".") for p in parts):
            continue
        if Path(path).suffix.lower() in extensions:
            kept.append(fs.unstrip_protocol(path))
    return sorted(kept)


def read_url(url: str, limit: int) -> tuple[bytes, FileStamp]:
    """A file's bytes and stamp; a file over `limit` bytes is refused before it is read."""
    fs, path = filesystem(url)
    try:
        info = fs.info(path)
    except FileNotFoundError:
        raise RemoteReadError("file not found") from None
    except Exception as e:
        raise RemoteReadError(f"cannot read file ({e})") from None
    if info.get("type") == "directory":
        raise RemoteReadError("not a regular file: a folder")
    size = int(info.get("size") or 0)
    if size > limit:
        raise RemoteReadError(
            f"file is {size / 2**20:.0f} MiB, over the {limit // 2**20} MiB limit for an image"
        )
    try:
        data = fs.cat_file(path)
    except Exception as e:
        raise RemoteReadError(f"cannot read file ({e})") from None
    if len(data) > limit:
        raise RemoteReadError(f"file grew past the {limit // 2**20} MiB image limit")
    return data, stamp_of(info)


def url_stamp(url: str) -> FileStamp | None:
    """The file's stamp now, or None when it is gone."""
    fs, path = filesystem(url)
    try:
        return stamp_of(fs.info(path))
    except FileNotFoundError:
        return None


def stamp_of(info: dict[str, Any]) -> FileStamp:
    """Size and modification time from a filesystem's `info`. Each names the time its own
    way; on one that gives none the time is 0, and only a change of size is noticed."""
    from distil.detections import FileStamp

    when = next(
        (info[k] for k in ("mtime", "LastModified", "updated", "last_modified", "created")
         if info.get(k) is not None),
        None,
    )  # fmt: skip
    return FileStamp(int(info.get("size") or 0), _nanoseconds(when))


def _nanoseconds(when: Any) -> int:
    if isinstance(when, datetime):
        return int(when.timestamp() * 1e9)
    if isinstance(when, (int, float)):
        return int(when * 1e9)
    if isinstance(when, str):
        try:
            return int(datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp() * 1e9)
        except ValueError:
            return 0
    return 0
