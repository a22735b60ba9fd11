"""COCO box mAP through pycocotools, from in-memory Detections."""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import supervision as sv

from distil.datasets.labeled import CROWD

COCO_MAX_DETS = 100  # COCO's own per-image limit for the headline AP


@dataclass
class MapResult:
    map50_95: float
    map50: float
    map75: float
    per_class_map50_95: dict[int, float]
    per_class_map50: dict[int, float]


def _xywh(xyxy: np.ndarray) -> list[list[float]]:
    return [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in xyxy]


def coco_map(
    truth: list[sv.Detections],
    pred: list[sv.Detections],
    sizes: list[tuple[int, int]],
    class_ids: list[int],
) -> MapResult:
    """mAP over `class_ids` (classes without ground truth are left out, as COCO does).

    `truth[i]`, `pred[i]` and `sizes[i]` (width, height) describe image i.
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    wanted = set(class_ids)
    images, annotations, results = [], [], []
    for image_id, (t, p, (width, height)) in enumerate(zip(truth, pred, sizes, strict=True), 1):
        images.append({"id": image_id, "width": width, "height": height})
        crowd = t.data.get(CROWD, np.zeros(len(t), dtype=bool))
        for box, cls, is_crowd in zip(_xywh(t.xyxy), t.class_id, crowd, strict=True):
            if cls in wanted:
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": int(cls) + 1,
                        "bbox": box,
                        "area": box[2] * box[3],
                        "iscrowd": int(is_crowd),
                    }
                )
        for box, cls, score in zip(_xywh(p.xyxy), p.class_id, p.confidence, strict=True):
            if cls in wanted:
                results.append(
                    {
                        "image_id": image_id,
                        "category_id": int(cls) + 1,
                        "bbox": box,
                        "score": float(score),
                    }
                )
    categories = [{"id": c + 1, "name": str(c)} for c in class_ids]
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
        ground = COCO()
        ground.dataset = {"images": images, "annotations": annotations, "categories": categories}
        ground.createIndex()
        if not results:
            return MapResult(
                0.0, 0.0, 0.0, dict.fromkeys(class_ids, 0.0), dict.fromkeys(class_ids, 0.0)
            )
        detected = ground.loadRes(results)
        evaluator = COCOeval(ground, detected, "bbox")
        evaluator.params.catIds = [c + 1 for c in class_ids]
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision = evaluator.eval["precision"]  # [iou, recall, class, area, max_dets]
    per_class, per_class50 = {}, {}
    for k, cls in enumerate(class_ids):
        all_iou = precision[:, :, k, 0, -1]
        at50 = precision[0, :, k, 0, -1]
        if (all_iou > -1).any():
            per_class[cls] = float(all_iou[all_iou > -1].mean())
            per_class50[cls] = float(at50[at50 > -1].mean())
    stats = evaluator.stats
    return MapResult(
        max(float(stats[0]), 0.0),
        max(float(stats[1]), 0.0),
        max(float(stats[2]), 0.0),
        per_class,
        per_class50,
    )
