"""Mask -> one YOLO/COCO polygon per instance.

YOLO segment labels hold one polygon per instance, so a mask in several parts is joined
into ONE polygon by zero-width bridges between parts (it rasterizes back to the same
parts). Polygons cannot carry holes: holes are filled (COCO export can keep exact masks
as RLE instead). Parts smaller than `min_fragment_area` pixels are dropped, unless every
part is that small, in which case the largest part is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from distil.settings import DatasetSettings, default

DEFAULT_MIN_FRAGMENT_AREA = default(DatasetSettings, "min_fragment_area")
DEFAULT_POLYGON_TOLERANCE = default(DatasetSettings, "polygon_tolerance")


@dataclass(frozen=True)
class PolygonResult:
    polygon: np.ndarray  # (K, 2) float pixel coordinates; empty when the mask is empty
    parts: tuple[np.ndarray, ...]  # the kept parts before joining, for COCO multi-polygons
    dropped_fragments: int
    filled_holes: int


@dataclass
class PolygonStats:
    """What turning masks into polygons did, over a whole export (for the card)."""

    instances: int = 0
    multi_part: int = 0
    dropped_fragments: int = 0
    filled_holes: int = 0
    empty_masks: int = 0

    def record(self, result: PolygonResult) -> None:
        self.instances += 1
        self.multi_part += len(result.parts) > 1
        self.dropped_fragments += result.dropped_fragments
        self.filled_holes += result.filled_holes


def mask_to_polygon(
    mask: np.ndarray,
    min_fragment_area: float = DEFAULT_MIN_FRAGMENT_AREA,
    tolerance: float = DEFAULT_POLYGON_TOLERANCE,
) -> PolygonResult:
    """Trace `mask` (H, W bool) into one polygon; see the module docstring for the rules."""
    contours, hierarchy = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if not contours:
        return PolygonResult(np.zeros((0, 2), np.float32), (), 0, 0)
    outer = [c for c, h in zip(contours, hierarchy[0], strict=True) if h[3] < 0]
    holes = len(contours) - len(outer)
    areas = [_part_area(c) for c in outer]
    kept = [c for c, a in zip(outer, areas, strict=True) if a >= min_fragment_area]
    if not kept:
        kept = [outer[int(np.argmax(areas))]]
    parts = []
    for contour in kept:
        simplified = cv2.approxPolyDP(contour, tolerance, True) if tolerance > 0 else contour
        points = simplified.reshape(-1, 2).astype(np.float32)
        if len(points) < 3:
            points = _box_of(contour.reshape(-1, 2))
        parts.append(points)
    # Largest part first makes the joined polygon start on the main object.
    parts.sort(key=lambda p: -_polygon_area(p))
    return PolygonResult(join_parts(parts), tuple(parts), len(outer) - len(kept), holes)


def join_parts(parts: list[np.ndarray]) -> np.ndarray:
    """Join polygons into one through zero-width bridges at the closest pairs of points."""
    merged = parts[0]
    for part in parts[1:]:
        distances = np.linalg.norm(merged[:, None, :] - part[None, :, :], axis=2)
        a, b = np.unravel_index(int(np.argmin(distances)), distances.shape)
        loop = np.concatenate([np.roll(part, -b, axis=0), part[b : b + 1]])
        merged = np.concatenate([merged[: a + 1], loop, merged[a:]])
    return merged


def _part_area(contour: np.ndarray) -> float:
    # Pixel area covered by the traced outline, counting its boundary pixels.
    x, y, w, h = cv2.boundingRect(contour)
    canvas = np.zeros((h, w), np.uint8)
    cv2.drawContours(canvas, [contour - [x, y]], -1, 1, thickness=cv2.FILLED)
    return float(canvas.sum())


def _polygon_area(points: np.ndarray) -> float:
    return float(abs(cv2.contourArea(points.astype(np.float32))))


def _box_of(points: np.ndarray) -> np.ndarray:
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0) + 1
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)


def polygons_to_mask(polygons: list[np.ndarray], height: int, width: int) -> np.ndarray:
    """Fill pixel-coordinate polygons (each (K, 2)) into one (H, W) bool mask; the outline
    pixels count as inside, as `mask_to_polygon` traces them."""
    canvas = np.zeros((height, width), np.uint8)
    shapes = [np.round(np.asarray(p, np.float64)).astype(np.int32) for p in polygons if len(p) >= 3]
    if shapes:
        cv2.fillPoly(canvas, shapes, 1)
        cv2.polylines(canvas, shapes, True, 1)
    return canvas.astype(bool)
