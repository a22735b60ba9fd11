"""YOLO label files and the data.yaml that Ultralytics trains on as-is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import supervision as sv
import yaml

from distil.datasets.polygons import PolygonResult, mask_to_polygon
from distil.utils.files import atomic_write_text


@dataclass
class PolygonStats:
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


def yolo_box_lines(detections: sv.Detections, width: int, height: int) -> list[str]:
    """'class cx cy w h' lines, normalized to [0, 1]."""
    lines = []
    for (x0, y0, x1, y1), cls in zip(detections.xyxy, detections.class_id, strict=True):
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{int(cls)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def yolo_polygon_lines(
    detections: sv.Detections,
    width: int,
    height: int,
    min_fragment_area: float,
    tolerance: float,
    stats: PolygonStats,
) -> list[str]:
    """'class x1 y1 x2 y2 ...' lines, one polygon per instance, normalized to [0, 1]."""
    if detections.mask is None:
        raise ValueError(
            "these labels have no masks: label with a --segmenter, or export with --task detect"
        )
    lines = []
    for mask, cls in zip(detections.mask, detections.class_id, strict=True):
        result = mask_to_polygon(mask, min_fragment_area, tolerance)
        if len(result.polygon) == 0:
            stats.empty_masks += 1
            continue
        stats.record(result)
        points = (result.polygon / np.array([width, height])).clip(0, 1)
        lines.append(f"{int(cls)} " + " ".join(f"{v:.6f}" for v in points.reshape(-1)))
    return lines


def write_data_yaml(
    root: Path, class_names: list[str], splits: dict[str, int], final_root: Path | None = None
) -> Path:
    """data.yaml in `root` with the absolute `path` of `final_root` (where the dataset will
    live once moved into place), so Ultralytics finds the images from anywhere."""
    data = {"path": str(Path(final_root or root).resolve())}
    for split in ("train", "val", "test"):
        if splits.get(split):
            data[split] = f"images/{split}"
    if "val" not in data:
        # Ultralytics requires a val set; with none requested, validate on train and say so.
        data["val"] = data.get("train", "images/train")
    data["nc"] = len(class_names)
    data["names"] = dict(enumerate(class_names))
    path = Path(root) / "data.yaml"
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path
