"""Tiled labeling for large images: the teacher sees the whole image and overlapping tiles
of it, batched together, and their detections are merged back into one set per image.

Small objects that a teacher misses once a 4000 px image is shrunk to its input size are
found in the tiles at full resolution; large objects are found in the whole image. A box
that touches a tile's inner edge (an edge inside the image) is a piece of an object cut by
the tile: it is dropped where a whole box of its class covers it, and pieces of one object
seen by neighbouring tiles are merged (non-maximum merging on intersection over the smaller
box). The other boxes go through class-aware NMS. Masks are computed afterwards on the
whole image from the merged boxes, so no mask has a seam.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from distil.base_models.core import BaseModel
from distil.detections import empty_detections
from distil.utils.boxes import class_aware_nms

if TYPE_CHECKING:
    from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

TILE_NMS_IOU = 0.5  # one object seen whole in two crops: the stronger box stays
PIECE_COVERED = 0.5  # a piece inside a whole box of its class (share of its own area)
PIECES_MERGE = 0.3  # two pieces of one object from neighbouring tiles (intersection / smaller)
EDGE_MARGIN = 2.0  # pixels: a box this close to a tile's inner edge was cut by it


def tile_windows(width: int, height: int, tile: int, overlap: float) -> np.ndarray:
    """xyxy windows of `tile`-pixel tiles covering a `width` x `height` image: the fewest
    per row and column whose neighbours overlap by at least `overlap` of a tile, spread
    evenly from edge to edge.

    >>> tile_windows(1000, 500, 500, 0.2)[:, 0].tolist()  # left edges
    [0, 250, 500]
    """
    stride = max(1, tile * (1 - overlap))

    def starts(size: int) -> list[int]:
        if size <= tile:
            return [0]
        count = int(np.ceil((size - tile) / stride)) + 1
        return [round(i * (size - tile) / (count - 1)) for i in range(count)]

    return np.array(
        [
            [x, y, min(x + tile, width), min(y + tile, height)]
            for y in starts(height)
            for x in starts(width)
        ],
        dtype=np.int64,
    ).reshape(-1, 4)


def cut_by_window(xyxy: np.ndarray, window: np.ndarray, width: int, height: int) -> np.ndarray:
    """Which boxes (image coordinates) touch an edge of `window` that lies inside the image.

    >>> boxes = np.array([[10, 10, 99, 50], [10, 10, 50, 50]])
    >>> cut_by_window(boxes, np.array([0, 0, 100, 100]), 200, 100).tolist()
    [True, False]
    """
    x0, y0, x1, y1 = window.tolist()
    cut = np.zeros(len(xyxy), dtype=bool)
    if x0 > 0:
        cut |= xyxy[:, 0] <= x0 + EDGE_MARGIN
    if y0 > 0:
        cut |= xyxy[:, 1] <= y0 + EDGE_MARGIN
    if x1 < width:
        cut |= xyxy[:, 2] >= x1 - EDGE_MARGIN
    if y1 < height:
        cut |= xyxy[:, 3] >= y1 - EDGE_MARGIN
    return cut


def merge_tiles(
    whole: sv.Detections, tiles: list[sv.Detections], cut: list[np.ndarray]
) -> sv.Detections:
    """One image's detections from its whole-image pass and its tiles (all in image
    coordinates; `cut[i]` marks tile i's boxes cut by an inner edge), one box per object."""
    parts = [whole, *(t[~c] for t, c in zip(tiles, cut, strict=True))]
    kept = _merge([p for p in parts if len(p)])
    kept = kept[np.sort(class_aware_nms(kept.xyxy, kept.confidence, kept.class_id, TILE_NMS_IOU))]
    pieces = _merge([t[c] for t, c in zip(tiles, cut, strict=True) if c.any()])
    if not len(pieces):
        return kept
    pieces = pieces[~_covered(pieces, kept)]
    masks = pieces.mask
    pieces.mask = None  # pieces merge on their boxes; a merged piece's mask is the union
    merged = pieces.with_nmm(PIECES_MERGE, overlap_metric=sv.OverlapMetric.IOS)
    if masks is not None:
        merged.mask = _union_masks(merged.xyxy, pieces.xyxy, masks)
    merged = merged[~_covered(merged, kept)]
    return _merge([kept, merged]) if len(merged) else kept


def _covered(pieces: sv.Detections, whole: sv.Detections) -> np.ndarray:
    """Which pieces lie mostly inside a box of their class in `whole`."""
    if not len(pieces) or not len(whole):
        return np.zeros(len(pieces), dtype=bool)
    inside = sv.box_iou_batch(pieces.xyxy, whole.xyxy, overlap_metric=sv.OverlapMetric.IOS)
    # IoS divides by the smaller box: only count a whole box at least as large as the piece.
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])  # noqa: E731
    larger = area(whole.xyxy)[None, :] >= area(pieces.xyxy)[:, None]
    same = pieces.class_id[:, None] == whole.class_id[None, :]
    return ((inside >= PIECE_COVERED) & larger & same).any(axis=1)


def _union_masks(merged: np.ndarray, pieces: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Each merged box's mask: the union of the masks of the pieces inside it."""
    out = np.zeros((len(merged), *masks.shape[1:]), dtype=bool)
    for i, box in enumerate(merged):
        inside = (pieces[:, :2] >= box[:2] - 1e-3).all(1) & (pieces[:, 2:] <= box[2:] + 1e-3).all(1)
        out[i] = masks[inside].any(axis=0)
    return out


def _merge(parts: list[sv.Detections]) -> sv.Detections:
    if not parts:
        return empty_detections()
    return parts[0] if len(parts) == 1 else sv.Detections.merge(parts)


def _to_image(found: sv.Detections, window: np.ndarray, width: int, height: int) -> sv.Detections:
    """A tile's detections in image coordinates (its own masks padded to the image)."""
    x0, y0, x1, y1 = window.tolist()
    found.xyxy = found.xyxy + np.array([x0, y0, x0, y0], dtype=found.xyxy.dtype)
    if found.mask is not None:
        mask = np.zeros((len(found), height, width), dtype=bool)
        mask[:, y0:y1, x0:x1] = found.mask
        found.mask = mask
    return found


class TiledModel(BaseModel):
    """A teacher that labels large images as the whole image plus overlapping tiles.

    `tile` is the tile size in pixels, or None for the teacher's input size, tiling only
    images at least twice as large (`--tile auto`). `batch` crops go through the detector
    per call.

    >>> teacher = TiledModel(load_base_model("yolo11n.pt", "none"), tile=640)  # doctest: +SKIP
    """

    def __init__(self, model: BaseModel, tile: int | None, overlap: float, batch: int) -> None:
        self.model = model
        self.segmenter = model.segmenter
        self.tile = tile
        self.overlap = overlap
        self.batch = max(1, batch)

    def describe(self) -> dict[str, Any]:
        described = dict(self.model.describe())
        described["tiling"] = {
            "tile": self.tile if self.tile is not None else "auto",
            "input_size": self.model.input_size(),
            "overlap": self.overlap,
            "merge": {"nms_iou": TILE_NMS_IOU, "covered": PIECE_COVERED, "pieces": PIECES_MERGE},
        }
        return described

    def compile(self) -> None:
        self.model.compile()

    def input_size(self) -> int:
        return self.model.input_size()

    def windows(self, width: int, height: int) -> np.ndarray:
        """The tiles of one image (none when it is not tiled)."""
        size = self.tile or self.model.input_size()
        if self.tile is None and max(width, height) < 2 * size:
            return np.zeros((0, 4), dtype=np.int64)
        if width <= size and height <= size:
            return np.zeros((0, 4), dtype=np.int64)
        return tile_windows(width, height, size, self.overlap)

    def boxes(
        self, images: list[np.ndarray], ontology: Ontology, min_confidence: float
    ) -> list[sv.Detections]:
        crops: list[np.ndarray] = []
        tiles_of = []  # per image: its tile windows, whose crops follow the whole image's
        for image in images:
            height, width = image.shape[:2]
            windows = self.windows(width, height)
            crops.append(image)
            crops += [np.ascontiguousarray(image[y0:y1, x0:x1]) for x0, y0, x1, y1 in windows]
            tiles_of.append(windows)
        found: list[sv.Detections] = []
        for start in range(0, len(crops), self.batch):
            found += self.model.boxes(crops[start : start + self.batch], ontology, min_confidence)
        merged, first = [], 0
        for image, windows in zip(images, tiles_of, strict=True):
            height, width = image.shape[:2]
            whole = found[first]
            tiles = [
                _to_image(found[first + 1 + i], window, width, height)
                for i, window in enumerate(windows)
            ]
            cut = [
                cut_by_window(t.xyxy, w, width, height) for t, w in zip(tiles, windows, strict=True)
            ]
            merged.append(merge_tiles(whole, tiles, cut) if tiles else whole)
            first += 1 + len(windows)
        return merged

    def predict(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        return self.segment(images, self.boxes(images, ontology, min_confidence))
