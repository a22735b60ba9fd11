"""Frames and the scan of a folder into image files."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distil.detections import FrameIdentity
from distil.errors import MissingInputError
from distil.sources.remote import as_url, without_credentials
from distil.utils.files import OUTPUT_MARKER

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})
REMOTE_VIDEO = "videos are read from local files only: copy or mount it to label it"


@dataclass
class Frame:
    """A frame and its identity; `image` (H, W, 3 RGB uint8) is None when the frame's content
    is labeled already, so it was not decoded. `position` counts the sampled frames of its
    video (0 for an image)."""

    identity: FrameIdentity
    image: np.ndarray | None
    position: int = 0

    @property
    def known(self) -> bool:
        return self.image is None


@dataclass(frozen=True)
class SkippedFile:
    """A file that could not be used, with a human-readable reason; `partial`: a video that
    was read only in part (its readable frames are used)."""

    path: Path
    reason: str
    partial: bool = False


def display_path(path: Path | str) -> str:
    """`path` as printable UTF-8 text: bytes of a name that are not UTF-8 become `\\xNN`;
    a URL is shown as one (`s3://...`).

    >>> display_path(Path(os.fsdecode(b"caf\\xe9.jpg")))
    'caf\\\\xe9.jpg'
    """
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    url = as_url(text)
    return text if url is None else without_credentials(url)


def check_inputs(inputs: Path | str | Iterable[Path | str]) -> list[Path]:
    """The input paths, each checked to exist and made absolute (the store names sources
    so that it works from any folder). A URL (`s3://bucket/images`) is read through
    fsspec (see `distil.sources.remote`); a `file://` URL is its local path."""
    from distil.sources.remote import check_url, local_path

    items = [inputs] if isinstance(inputs, (str, Path)) else list(inputs)
    roots = []
    for item in items:
        url = as_url(item)
        if url is not None:
            check_url(url, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS)
            roots.append(Path(url))
            continue
        root = Path(local_path(str(item)))
        if not root.exists():
            raise MissingInputError(f"input not found: {root}")
        roots.append(Path(os.path.abspath(root)))
    return roots


def file_problem(info: os.stat_result) -> str | None:
    """Why a file of this kind is never read (None for a regular file)."""
    mode = info.st_mode
    kinds = {
        stat.S_ISDIR: "a folder",
        stat.S_ISFIFO: "a FIFO (named pipe)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    for test, kind in kinds.items():
        if test(mode):
            return f"not a regular file: {kind}"
    return None if stat.S_ISREG(mode) else "not a regular file"


def is_utf8(path: Path) -> bool:
    """Whether the name is text the store and the dataset formats can hold."""
    try:
        str(path).encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def scan_images(
    inputs: Path | Iterable[Path], problems: list[SkippedFile] | None = None
) -> Iterator[Path]:
    """Yield image files under `inputs` (files or folders), recursively, in sorted order.

    Hidden files and folders (starting with '.') and distil's own output folders (label
    stores, datasets, runs) are not entered, so labeling `.` never labels its own output.
    A folder that cannot be read is added to `problems`; each folder is entered once,
    however many symlinks lead to it (a symlink loop ends).
    """
    return scan_files(inputs, IMAGE_EXTENSIONS, problems)


def scan_sources(
    inputs: Path | Iterable[Path], problems: list[SkippedFile] | None = None
) -> Iterator[Path]:
    """Yield image and video files under `inputs`, like `scan_images`."""
    return scan_files(inputs, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS, problems)


# Files that mark a folder as distil's output; the store and card names are those of
# folders written before the marker existed.
_OUTPUT_FILES = frozenset({OUTPUT_MARKER, "labels.sqlite", "dataset_card.json"})


def _scan_url(
    root: Path, extensions: frozenset[str], problems: list[SkippedFile] | None
) -> Iterator[Path]:
    """The files under a URL; videos are not read from URLs and are reported instead."""
    from distil.sources.remote import RemoteReadError, list_urls

    try:
        urls = list_urls(as_url(root) or str(root), extensions)
    except RemoteReadError as e:
        if problems is not None:
            problems.append(SkippedFile(root, str(e)))
        return
    for url in urls:
        if Path(url).suffix.lower() in VIDEO_EXTENSIONS:
            if problems is not None:
                problems.append(SkippedFile(Path(url), REMOTE_VIDEO))
            continue
        yield Path(url)


def _not_a_source(path: Path) -> str:
    try:
        problem = file_problem(os.stat(path))
    except OSError as e:
        return f"cannot read file ({e.strerror or e})"
    kinds = "an image (" + ", ".join(sorted(IMAGE_EXTENSIONS)) + ") or a video"
    return problem or f"not {kinds} by its name"


def scan_files(
    inputs: Path | Iterable[Path],
    extensions: frozenset[str],
    problems: list[SkippedFile] | None = None,
) -> Iterator[Path]:
    paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    seen: set[tuple[int, int]] = set()

    def unreadable(error: OSError) -> None:
        if problems is not None:
            where = Path(error.filename) if error.filename else Path("?")
            problems.append(SkippedFile(where, f"cannot read folder ({error.strerror or error})"))

    for root in paths:
        if as_url(root) is not None:
            yield from _scan_url(root, extensions, problems)
            continue
        if not root.is_dir():
            if root.suffix.lower() in extensions:
                yield root
            elif problems is not None:  # named on purpose: say why it gives nothing
                problems.append(SkippedFile(root, _not_a_source(root)))
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=unreadable):
            try:
                info = os.stat(dirpath)
            except OSError as e:
                unreadable(e)
                dirnames[:] = []
                continue
            if (info.st_dev, info.st_ino) in seen or (
                Path(dirpath) != root and _OUTPUT_FILES.intersection(filenames)
            ):
                dirnames[:] = []  # a folder seen through another link, or distil's output
                continue
            seen.add((info.st_dev, info.st_ino))
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not name.startswith(".") and path.suffix.lower() in extensions:
                    yield path
