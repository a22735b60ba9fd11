"""Images behind fsspec URLs: `s3://`, `gs://`, `az://`, `memory://`, ...

A URL input is listed and read through fsspec's filesystem for its scheme, whose package
(s3fs, gcsfs, adlfs, ...) must be installed wherever files are read: on every Ray worker
too. Credentials come from the usual places of that package (environment, config files).

Every call to a server has a deadline (`set_url_timeout`, the `url_timeout` setting): a
server that accepts and never answers costs that long, then its URL is named in the error.

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

from distil.errors import MissingInputError, UsageError

if TYPE_CHECKING:  # distil.detections needs numpy: not for `as_url` in a config check
    from distil.detections import FileStamp

# A scheme of two letters or more (so a Windows drive is not one), then ":/".
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+):/+(.*)$", re.DOTALL)


class RemoteReadError(Exception):
    """A URL could not be listed or read; the message is the reason shown to the user."""


_timeout_s = 30.0  # settings.RemoteSettings.url_timeout's default
_READ_DEADLINES = 10  # a whole file may take this many timeouts, if bytes keep coming


def set_url_timeout(seconds: float) -> None:
    """The seconds a server may take to connect or send the next bytes, from now on."""
    global _timeout_s
    _timeout_s = float(seconds)


def _storage_options(protocol: str) -> dict[str, Any]:
    """Connect and read timeouts in the terms of the filesystem for `protocol`. Listings
    are not cached: a file's stamp is asked of the server, so a change is noticed."""
    if protocol in ("http", "https"):
        import aiohttp

        timeout = aiohttp.ClientTimeout(
            total=None, connect=_timeout_s, sock_connect=_timeout_s, sock_read=_timeout_s
        )
        # trust_env: credentials from ~/.netrc and proxies from the environment
        client = {"timeout": timeout, "trust_env": True}
        return {"client_kwargs": client, "use_listings_cache": False}
    if protocol in ("s3", "s3a"):
        retries = {"max_attempts": 2, "mode": "standard"}
        config = {"connect_timeout": _timeout_s, "read_timeout": _timeout_s, "retries": retries}
        return {"config_kwargs": config, "use_listings_cache": False}
    return {}


def _call(fs: Any, method: str, *args: Any, deadlines: int = 1) -> Any:
    """`fs.method(*args)` within `deadlines` timeouts. An asynchronous filesystem (http,
    s3, gcs, azure) takes the deadline itself; a timeout is a `RemoteReadError`."""
    from fsspec.asyn import AsyncFileSystem
    from fsspec.exceptions import FSTimeoutError

    kwargs = {"timeout": _timeout_s * deadlines} if isinstance(fs, AsyncFileSystem) else {}
    try:
        return getattr(fs, method)(*args, **kwargs)
    except (FSTimeoutError, TimeoutError) as e:
        raise RemoteReadError(
            f"no answer from the server within {_timeout_s:g} s (url_timeout)"
        ) from e


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
        raise UsageError(f"{url}: reading URLs needs fsspec (pip install fsspec)") from None
    match = _SCHEME.match(url)
    protocol = match.group(1).lower() if match else ""
    try:
        return url_to_fs(url, **_storage_options(protocol))
    except ImportError as e:
        raise UsageError(f"{url}: {e}") from None
    except ValueError as e:  # an unknown scheme
        raise UsageError(f"{url}: {e}") from None


def check_url(url: str, extensions: frozenset[str]) -> None:
    """A missing package is a ValueError, a missing file or folder a FileNotFoundError, a
    server that does not answer in time a `UsageError` naming the URL."""
    from distil.errors import UsageError

    fs, path = filesystem(url)
    try:
        found = _call(fs, "exists", path)
    except RemoteReadError as e:
        raise UsageError(f"{without_credentials(url)}: {e}") from None
    except Exception as e:  # each filesystem raises its own errors (auth, network)
        raise UsageError(f"{without_credentials(url)}: cannot be read ({e})") from None
    if not found:
        raise MissingInputError(f"input not found: {without_credentials(url)}")
    if _is_web(url):  # a page must link to images (`extensions`) before any model loads
        try:
            list_urls(url, extensions)
        except RemoteReadError as e:
            raise UsageError(f"{without_credentials(url)}: {e}") from None


def list_urls(url: str, extensions: frozenset[str]) -> list[str]:
    """The files under `url` (or `url` itself) with one of `extensions`, sorted; hidden
    files and folders (a part of the path starting with '.') are left out. An http(s) page
    that links to no such file is a `UsageError` saying what it holds: HTTP has no folders,
    only pages of links."""
    fs, root = filesystem(url)
    web = _is_web(url)
    try:
        # Every http(s) URL is a "file"; one not named as an image is a page of links.
        is_file = Path(root).suffix.lower() in extensions if web else _call(fs, "isfile", root)
        paths = [root] if is_file else _call(fs, "find", root, deadlines=_READ_DEADLINES)
    except RemoteReadError:
        raise
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
    if not kept and web:
        _refuse_page(url, paths)
    return sorted(kept)


def _is_web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _refuse_page(url: str, links: list[str]) -> None:
    from distil.errors import UsageError

    shown = ", ".join(without_credentials(link) for link in links[:3])
    found = (
        f"{len(links)} links ({shown}{', ...' if len(links) > 3 else ''})" if links else "no links"
    )
    raise UsageError(
        f"{without_credentials(url)} is a web page, not an image or a folder: it holds "
        f"{found}, none to an image; give image URLs, or a bucket (s3://...)"
    )


def without_credentials(url: str) -> str:
    """`url` without the credentials it may carry, as it is stored and shown: a password
    in a URL is used for the run, never written or printed.

    >>> without_credentials("https://ann:secret@example.com/a.jpg")
    'https://example.com/a.jpg'
    """
    return _CREDENTIALS.sub(r"\1", url)


_CREDENTIALS = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+:/+)[^/@]*@")  # also a URL as a Path


def read_url(url: str, limit: int) -> tuple[bytes, FileStamp]:
    """A file's bytes and stamp; a file over `limit` bytes is refused before it is read."""
    fs, path = filesystem(url)
    try:
        info = _call(fs, "info", path)
    except FileNotFoundError:
        raise RemoteReadError("file not found") from None
    except RemoteReadError:
        raise
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
        data = _call(fs, "cat_file", path, deadlines=_READ_DEADLINES)
    except RemoteReadError:
        raise
    except Exception as e:
        raise RemoteReadError(f"cannot read file ({e})") from None
    if len(data) > limit:
        raise RemoteReadError(f"file grew past the {limit // 2**20} MiB image limit")
    return data, stamp_of(info)


def url_stamp(url: str) -> FileStamp | None:
    """The file's stamp now, or None when it is gone."""
    fs, path = filesystem(url)
    try:
        return stamp_of(_call(fs, "info", path))
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
