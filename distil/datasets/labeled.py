"""A labeled image set in memory: ground truth, or labels to be judged."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from distil.detections import human_detections
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


def shapes_to_detections(
    boxes: list[list[float]],
    classes: list[int],
    shapes: list[np.ndarray | None],
    width: int,
    height: int,
) -> sv.Detections:
    """A labeling tool's objects as human-labeled Detections. Each object's shape is None
    (a box), a polygon (N x 2 pixel points) or a mask (height x width, bool). Where any
    object has a shape, every object needs one: a mask cannot be made up."""
    from distil.datasets.polygons import polygons_to_mask

    mask = None
    if any(s is not None for s in shapes):
        if not all(s is not None for s in shapes):
            raise ValueError(
                "some objects are polygons or masks and some boxes: give every object a shape"
            )
        mask = np.stack(
            [s if s.dtype == bool else polygons_to_mask([s], height, width) for s in shapes]
        )
    return human_detections(np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(classes), mask)


def polygon_box(points: np.ndarray) -> list[float]:
    """The box of a pixel-coordinate polygon, as its filled mask covers it."""
    return [*points.min(axis=0).tolist(), *(points.max(axis=0) + 1).tolist()]


def mask_box(mask: np.ndarray) -> list[float] | None:
    """The box a mask's pixels cover (None for an empty mask).

    >>> mask_box(np.pad(np.ones((2, 3), bool), ((1, 0), (4, 0))))
    [4.0, 1.0, 7.0, 3.0]
    """
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return [float(cols[0]), float(rows[0]), float(cols[-1] + 1), float(rows[-1] + 1)]


def runs(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start, length) of each run of equal values in a flat array, as labeling tools'
    run-length codes count them.

    >>> [a.tolist() for a in runs(np.array([0, 0, 1, 0]))]
    [[0, 2, 3], [2, 1, 1]]
    """
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return starts, np.diff(np.r_[starts, len(values)])


def unknown_class(name: str, names: list[str] | tuple[str, ...]) -> str:
    """The message for a class name a labeling tool's file has and the ontology does not."""
    from distil.utils.suggest import did_you_mean

    hint = did_you_mean(name, list(names))
    return f"unknown class {name!r}; the classes are: {', '.join(names)}" + (
        f".{hint}" if hint else ""
    )
