"""A labeled image set in memory: ground truth, or labels to be judged."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.detections import human_detections, name_classes
from distil.errors import UsageError
from distil.sources.images import _pil_open

logger = logging.getLogger(__name__)

EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}
CROWD = "iscrowd"  # COCO crowd regions: neither hits nor misses when evaluating


@dataclass
class LabeledImage:
    """One image's boxes; `key` (the file stem) is how predictions are matched to it.
    `notes`: what a reader left out of it, and why (an empty polygon, ...); `usable`
    False: the file's labels of it cannot be trusted (only its notes count)."""

    key: str
    path: Path | None
    width: int
    height: int
    detections: sv.Detections
    notes: list[str] = field(default_factory=list)
    usable: bool = True


# -- checks of a labeling tool's file, before anything is drawn or stored ------------------

SizeOf = Callable[[str], "tuple[int, int] | None"]  # an image's stored (width, height)
MAX_SIDE = 1 << 16  # pixels a side of an image may have when no stored frame says
MAX_PIXELS = 1 << 28


def finite(value: Any, field: str) -> float:
    """`value` as a finite number, or a ValueError naming `field`."""
    try:
        result = float(value)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{field} is {_shown(value)}, not a number") from None
    if not math.isfinite(result):
        raise UsageError(f"{field} is {_shown(value)}, not a finite number")
    return result


def whole(value: Any, field: str, low: int = 0) -> int:
    """`value` as an integer of at least `low` (1.9 is not 1; -1 is not the last class)."""
    result = finite(value, field)
    if result != int(result):
        raise UsageError(f"{field} is {_shown(value)}, not a whole number")
    if result < low:
        raise UsageError(f"{field} is {_shown(value)}; it must be at least {low}")
    return int(result)


def canvas(key: str, width: Any, height: Any, size_of: SizeOf | None) -> tuple[int, int, bool]:
    """(width, height, same) of the image `key` a file describes at (`width`, `height`):
    masks are drawn at the stored frame's size, never at a size a file claims. `same` is
    False when the stored frame is unknown or of another size: draw nothing then. Sizes
    must be positive whole numbers; with no stored frames, of a plausible image."""
    claimed = (whole(width, "width", 1), whole(height, "height", 1))
    if size_of is None:
        if max(claimed) > MAX_SIDE or claimed[0] * claimed[1] > MAX_PIXELS:
            raise UsageError(f"an image of {claimed[0]}x{claimed[1]} pixels is not plausible")
        return (*claimed, True)
    stored = size_of(key)
    return (*claimed, stored is not None and tuple(stored) == claimed)


def check_box(box: Sequence[Any], width: float, height: float, field: str = "box") -> list[float]:
    """A box (x1, y1, x2, y2) in pixels: finite, not inverted, not empty, and overlapping
    the image (tools let corners stray past the edge; those are clipped on import)."""
    names = ("x1", "y1", "x2", "y2")
    x1, y1, x2, y2 = (finite(v, f"{field} {n}") for v, n in zip(box, names, strict=True))
    if x2 <= x1 or y2 <= y1:
        raise UsageError(
            f"{field} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is inverted or empty: its right and "
            "bottom edges must lie beyond its left and top"
        )
    if x2 <= 0 or y2 <= 0 or x1 >= width or y1 >= height:
        raise UsageError(
            f"{field} ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the {width}x{height} image"
        )
    return [x1, y1, x2, y2]


def polygon_points(values: Any, width: int, height: int, field: str = "polygon") -> np.ndarray:
    """A polygon's (N, 2) pixel points: finite, and none far outside the image (a point a
    whole image away is no slip of the mouse, and would cost cv2 seconds to draw)."""
    try:
        points = np.asarray(values, np.float64).reshape(-1, 2)
    except (TypeError, ValueError, OverflowError):
        raise UsageError(f"{field}: its points are not pairs of numbers") from None
    if not np.isfinite(points).all():
        raise UsageError(f"{field}: a point is not a finite number")
    far = (points < [-width, -height]) | (points > [2 * width, 2 * height])
    if far.any():
        x, y = points[far.any(axis=1)][0]
        raise UsageError(
            f"{field}: point ({x:g}, {y:g}) lies far outside the {width}x{height} image"
        )
    return points


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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
        name_classes(image.detections, self.names)
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
    shapes: Sequence[np.ndarray | None],
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
            raise UsageError(
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


def unknown_class(name: str, names: Sequence[str]) -> str:
    """The message for a class name a labeling tool's file has and the ontology does not."""
    from distil.utils.suggest import did_you_mean

    hint = did_you_mean(name, list(names))
    return f"unknown class {name!r}; the classes are: {', '.join(names)}" + (
        f".{hint}" if hint else ""
    )
