"""A labeled image set in memory: ground truth, or labels to be judged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import supervision as sv

from distil.sources.images import _pil_open

logger = logging.getLogger(__name__)

EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}
CROWD = "iscrowd"  # COCO crowd regions: neither hits nor misses when evaluating


@dataclass
class LabeledImage:
    """One image's boxes; `key` (the file stem) is how predictions are matched to it."""

    key: str
    path: Path | None
    width: int
    height: int
    detections: sv.Detections


@dataclass
class LabeledSet:
    names: list[str]
    images: dict[str, LabeledImage] = field(default_factory=dict)

    def add(self, image: LabeledImage) -> None:
        if image.key in self.images:
            logger.warning(
                "two images are named %s; only the first is used (images are matched by file name)",
                image.key,
            )
            return
        self.images[image.key] = image


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after EXIF rotation, read from the header only."""
    with _pil_open()(path) as image:
        width, height = image.size
        if image.getexif().get(EXIF_ORIENTATION) in ROTATED_ORIENTATIONS:
            width, height = height, width
    return width, height
