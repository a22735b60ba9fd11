"""COCO instances JSON, one file per split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.polygons import mask_to_polygon
from distil.datasets.yolo import PolygonStats
from distil.utils.files import atomic_write_json
from distil.utils.rle import encode_masks


class CocoBuilder:
    """Collects images and annotations of one split; category ids are class id + 1."""

    def __init__(self, class_names: list[str]) -> None:
        self.categories = [
            {"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(class_names)
        ]
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add(
        self,
        file_name: str,
        width: int,
        height: int,
        detections: sv.Detections,
        masks: str | None,
        min_fragment_area: float,
        tolerance: float,
        stats: PolygonStats,
    ) -> None:
        """`masks`: None (boxes only), 'polygon' (holes filled) or 'rle' (exact)."""
        image_id = len(self.images) + 1
        self.images.append(
            {"id": image_id, "file_name": file_name, "width": width, "height": height}
        )
        rles = encode_masks(detections.mask) if masks == "rle" else None
        for i, ((x0, y0, x1, y1), cls, score) in enumerate(
            zip(detections.xyxy, detections.class_id, detections.confidence, strict=True)
        ):
            annotation: dict[str, Any] = {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": int(cls) + 1,
                "bbox": [round(float(v), 2) for v in (x0, y0, x1 - x0, y1 - y0)],
                "area": round(float((x1 - x0) * (y1 - y0)), 2),
                "iscrowd": 0,
                "score": round(float(score), 5),
            }
            if masks == "rle":
                annotation["segmentation"] = rles[i]
                annotation["area"] = float(detections.mask[i].sum())
            elif masks == "polygon":
                result = mask_to_polygon(detections.mask[i], min_fragment_area, tolerance)
                if not result.parts:
                    stats.empty_masks += 1
                    continue
                stats.record(result)
                annotation["segmentation"] = [
                    np.round(p, 2).reshape(-1).tolist() for p in result.parts
                ]
                annotation["area"] = float(detections.mask[i].sum())
            self.annotations.append(annotation)

    def write(self, path: Path) -> None:
        atomic_write_json(
            path,
            {"images": self.images, "annotations": self.annotations, "categories": self.categories},
        )
