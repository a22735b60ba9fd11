"""Detections <-> the store's two columns: boxes as compact JSON, masks as COCO RLE JSON.

Boxes, scores, classes, prompts, text scores and track ids are rounded as stored (3
decimals for coordinates, 5 for scores), so a stored frame reads back exactly the same.
The image's count of faint candidates (`metadata["faint"]`, see `base_models.core`) is
stored with its boxes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from distil.detections import class_ids, empty_detections, masks_of, scores
from distil.utils.rle import decode_masks, encode_masks

if TYPE_CHECKING:
    import supervision as sv


def _compact(record: Any) -> str:
    return json.dumps(record, separators=(",", ":"))


def encode_boxes(detections: sv.Detections) -> str:
    record: dict[str, Any] = {
        "xyxy": np.round(detections.xyxy.astype(np.float64), 3).tolist(),
        "confidence": np.round(scores(detections).astype(np.float64), 5).tolist(),
        "class_id": class_ids(detections).astype(int).tolist(),
        "prompt_id": np.asarray(detections.data["prompt_id"]).astype(int).tolist(),
        "text_score": np.round(np.asarray(detections.data["text_score"], np.float64), 5).tolist(),
    }
    if detections.tracker_id is not None:
        record["tracker_id"] = detections.tracker_id.astype(int).tolist()
    if "faint" in detections.metadata:
        record["faint"] = int(detections.metadata["faint"])
    return _compact(record)


def encode_masks_column(detections: sv.Detections) -> str | None:
    """None when the detections have no masks (boxes-only labels)."""
    masks = masks_of(detections)
    return None if masks is None else _compact(encode_masks(masks))


def decode(boxes: str, masks: str | None, height: int, width: int) -> sv.Detections:
    """One stored frame's detections; `masks` None reads boxes only."""
    record = json.loads(boxes)
    mask_rles = json.loads(masks) if masks is not None else None
    if not record["xyxy"]:
        detections = empty_detections()
        if mask_rles is not None:
            detections.mask = np.zeros((0, height, width), dtype=bool)
    else:
        detections = _detections(record, mask_rles, height, width)
    if "faint" in record:
        detections.metadata["faint"] = record["faint"]
    return detections


def _detections(
    record: dict[str, Any], mask_rles: list[Any] | None, height: int, width: int
) -> sv.Detections:
    import supervision as sv

    return sv.Detections(
        xyxy=np.asarray(record["xyxy"], dtype=np.float32),
        confidence=np.asarray(record["confidence"], dtype=np.float32),
        class_id=np.asarray(record["class_id"], dtype=np.int64),
        mask=decode_masks(mask_rles, height, width) if mask_rles is not None else None,
        tracker_id=np.asarray(record["tracker_id"], dtype=np.int64)
        if "tracker_id" in record
        else None,
        data={
            "prompt_id": np.asarray(record["prompt_id"], dtype=np.int64),
            "text_score": np.asarray(record["text_score"], dtype=np.float32),
        },
    )
