"""A PNG grid of annotated images, to eyeball labels before training."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import supervision as sv

from distil.datasets.filters import select_detections
from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.settings import PreviewSettings
from distil.sources import ImageReadError, VideoFrames, VideoReadError, decode_image, read_file
from distil.store import LabelStore
from distil.utils.files import atomic_write_bytes

_BACKGROUND = (32, 32, 32)


def render_preview(
    label_dir: Path,
    out_path: Path | None = None,
    settings: PreviewSettings | None = None,
    cell: int = 400,
    **options: Any,
) -> tuple[Path, int]:
    """Annotate `num` seeded-random labeled images with boxes, masks and class names, at the
    thresholds export would use, and tile them into one PNG. Returns (path, images shown).

    >>> render_preview(Path("runs/label/exp"), num=8, columns=4)  # doctest: +SKIP
    """
    settings = PreviewSettings.merge(settings, **options)
    out_path = Path(out_path or Path(label_dir) / "preview.png")
    with LabelStore.open(label_dir) as store:
        ontology = Ontology.from_dict(store.ontology_dict).with_defaults(settings.box_threshold)
        keys = [p for p, _ in store.sources()]
        chosen = sorted(random.Random(settings.seed).sample(keys, min(settings.num, len(keys))))
        tiles = []
        frames = VideoFrames()
        for frame in store.frames(with_masks=True, keys=chosen):
            image = frame.identity
            try:
                if image.frame_index is None:
                    rgb = decode_image(read_file(image.path)[0])
                else:
                    rgb = frames.get(image.path, image.frame_index)
            except (ImageReadError, VideoReadError):
                continue  # moved or changed since labeling; the grid shows the rest
            detections = select_detections(frame.detections, ontology, settings.nms_iou)
            annotated = annotate(rgb, detections, ontology.class_names)
            tiles.append(sv.letterbox_image(annotated, (cell, cell), color=_BACKGROUND))
        frames.close()
    if not tiles:
        raise UsageError(f"{label_dir} has no labeled images to preview")
    grid = _tile(tiles, settings.columns, cell)
    ok, png = cv2.imencode(".png", cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"could not encode {out_path}")
    atomic_write_bytes(out_path, png.tobytes())
    return out_path, len(tiles)


def annotate(rgb: np.ndarray, detections: sv.Detections, class_names: list[str]) -> np.ndarray:
    """Masks, boxes and 'class 0.87' labels drawn on a copy of `rgb`."""
    scene = rgb.copy()
    if len(detections) == 0:
        return scene
    scale = max(rgb.shape[:2]) / 640
    if detections.mask is not None:
        scene = sv.MaskAnnotator(opacity=0.45).annotate(scene, detections)
    scene = sv.BoxAnnotator(thickness=max(1, round(2 * scale))).annotate(scene, detections)
    labels = [
        f"{class_names[c]} {s:.2f}"
        for c, s in zip(detections.class_id, detections.confidence, strict=True)
    ]
    return sv.LabelAnnotator(
        text_scale=0.5 * scale, text_thickness=max(1, round(scale)), smart_position=True
    ).annotate(scene, detections, labels)


def _tile(tiles: list[np.ndarray], columns: int, cell: int, gap: int = 4) -> np.ndarray:
    columns = max(1, min(columns, len(tiles)))
    rows = -(-len(tiles) // columns)
    grid = np.full((rows * (cell + gap) - gap, columns * (cell + gap) - gap, 3), 255, np.uint8)
    for i, tile in enumerate(tiles):
        r, c = divmod(i, columns)
        grid[
            r * (cell + gap) : r * (cell + gap) + cell, c * (cell + gap) : c * (cell + gap) + cell
        ] = tile
    return grid
