"""Frames and the scan of a folder into image files."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from distil.detections import FrameIdentity

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"})


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


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def is_video_file(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def scan_images(inputs: Path | Iterable[Path]) -> Iterator[Path]:
    """Yield image files under `inputs` (files or folders), recursively, in sorted order.

    Hidden files and folders (starting with '.') are ignored, so a label run's own output
    inside the input folder is never picked up twice.
    """
    return scan_files(inputs, IMAGE_EXTENSIONS)


def scan_sources(inputs: Path | Iterable[Path]) -> Iterator[Path]:
    """Yield image and video files under `inputs`, like `scan_images`."""
    return scan_files(inputs, IMAGE_EXTENSIONS | VIDEO_EXTENSIONS)


def scan_files(inputs: Path | Iterable[Path], extensions: frozenset[str]) -> Iterator[Path]:
    paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs]
    for root in paths:
        if root.is_file():
            if root.suffix.lower() in extensions:
                yield root
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if not name.startswith(".") and path.suffix.lower() in extensions:
                    yield path
