"""Ultralytics weights: found on disk, or downloaded once into distil's cache.

A student named like `yolo11n`, and a teacher named like `yolo11n.pt` that is no file
here, mean `yolo11n.pt`, looked for in `train.weights_dir`,
`$DISTIL_WEIGHTS_DIR` and the cache (`$DISTIL_CACHE/weights`, by default
`~/.cache/distil/weights`). When none holds it, Ultralytics' own downloader fetches it
from its GitHub release (or from `$DISTIL_WEIGHTS_URL/<name>.pt`, a mirror) into the
cache. `DISTIL_OFFLINE=1` never downloads.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from distil.errors import MissingInputError

logger = logging.getLogger(__name__)

WEIGHTS_DIR_ENV = "DISTIL_WEIGHTS_DIR"
CACHE_ENV = "DISTIL_CACHE"
MIRROR_ENV = "DISTIL_WEIGHTS_URL"
OFFLINE_ENV = "DISTIL_OFFLINE"


def cache_dir() -> Path:
    """distil's cache: `$DISTIL_CACHE`, else `$XDG_CACHE_HOME/distil`, else `~/.cache/distil`."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "distil"


def weights_cache() -> Path:
    return cache_dir() / "weights"


def weights_dirs(weights_dir: Path | None = None) -> list[Path]:
    """Where `<name>.pt` is looked for, in order."""
    dirs = [weights_dir] if weights_dir else []
    if os.environ.get(WEIGHTS_DIR_ENV):
        dirs.append(Path(os.environ[WEIGHTS_DIR_ENV]))
    return [*dirs, weights_cache()]


def find_weights(name: str, weights_dir: Path | None = None) -> Path | None:
    """The first `<name>.pt` on disk, or None."""
    for folder in weights_dirs(weights_dir):
        candidate = folder / f"{name}.pt"
        if candidate.is_file():
            return candidate
    return None


def checkpoint_file(spec: str) -> Path:
    """The `.pt` file `spec` names: the file itself, or for a bare name such as
    `yolo11n.pt` that is not a file here, the one in the weights folders, else downloaded
    into the cache. A `FileNotFoundError` says where it was looked for and why no download.

    >>> checkpoint_file("runs/train/exp/weights/best.pt")  # doctest: +SKIP
    """
    path = Path(spec).expanduser()
    if path.is_file() or path.parent != Path("."):
        if not path.is_file():
            raise MissingInputError(f"checkpoint file not found: {spec}")
        return path
    found = find_weights(path.stem)
    if found is not None:
        return found
    try:
        return download_weights(path.stem)
    except (ConnectionError, OSError) as e:
        reason = str(e).strip(" ❌\n").split("\n")[0] or type(e).__name__
        looked = ", ".join(map(str, [Path.cwd(), *weights_dirs()]))
        raise MissingInputError(
            f"checkpoint file not found: {spec} (looked in {looked}; download: {reason})"
        ) from None


def offline() -> bool:
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def download_weights(name: str) -> Path:
    """`<name>.pt` downloaded through Ultralytics into the cache; raises `ConnectionError`
    (with Ultralytics' reason) when it cannot be had.

    >>> download_weights("yolo11n")  # doctest: +SKIP
    PosixPath('/home/me/.cache/distil/weights/yolo11n.pt')
    """
    if offline():
        raise ConnectionError(f"{OFFLINE_ENV} is set")
    from distil.utils.ultralytics import import_ultralytics

    import_ultralytics()
    from ultralytics.utils.downloads import (
        GITHUB_ASSETS_NAMES,
        attempt_download_asset,
        safe_download,
    )

    target = weights_cache() / f"{name}.pt"
    target.parent.mkdir(parents=True, exist_ok=True)
    mirror = os.environ.get(MIRROR_ENV, "").rstrip("/")
    logger.info("downloading %s.pt into %s", name, target.parent)
    if mirror:
        safe_download(f"{mirror}/{target.name}", file=target, retry=1, unzip=False)
    elif target.name in GITHUB_ASSETS_NAMES:
        attempt_download_asset(target, retry=1)
    else:
        raise ConnectionError(f"Ultralytics publishes no {target.name}")
    if not target.is_file():
        raise ConnectionError(f"the download of {target.name} gave no file")
    return target
