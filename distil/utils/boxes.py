"""Box helpers on numpy arrays."""

from __future__ import annotations

import numpy as np

# Boxes of one class compared pairwise in numpy before torchvision is needed (an image's
# boxes above the export thresholds are a handful; a raw store's can be thousands).
_PAIRWISE_LIMIT = 256


def class_aware_nms(
    xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices kept by greedy NMS run separately per class (in no particular order).

    Boxes found by different prompts of one class (synonyms) compete with each other;
    boxes of different classes never suppress each other. When no two boxes of a class
    overlap above `iou_threshold`, NMS keeps them all, and torch is not even imported (a
    model-free export of sparse labels starts in a fraction of a second).
    """
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    if not _may_suppress(xyxy, class_ids, iou_threshold):
        return np.arange(len(xyxy), dtype=np.int64)
    import torch
    import torchvision

    # torchvision's compiled NMS, not supervision's numpy one: raw stores keep thousands of
    # low-score boxes per image.
    keep = torchvision.ops.batched_nms(
        torch.as_tensor(xyxy, dtype=torch.float32),
        torch.as_tensor(scores, dtype=torch.float32),
        torch.as_tensor(class_ids, dtype=torch.int64),
        float(iou_threshold),
    )
    return keep.numpy()


def _may_suppress(xyxy: np.ndarray, class_ids: np.ndarray, iou_threshold: float) -> bool:
    """Whether two boxes of one class overlap above `iou_threshold` (True when there are
    too many to compare pairwise cheaply)."""
    for class_id in np.unique(class_ids):
        boxes = xyxy[class_ids == class_id].astype(np.float64)
        if len(boxes) < 2:
            continue
        if len(boxes) > _PAIRWISE_LIMIT:
            return True
        top_left = np.maximum(boxes[:, None, :2], boxes[None, :, :2])
        bottom_right = np.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
        inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)
        area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
        iou = inter / np.maximum(area[:, None] + area[None, :] - inter, 1e-12)
        np.fill_diagonal(iou, 0.0)
        if (iou > iou_threshold - 1e-6).any():  # near the threshold: torchvision decides
            return True
    return False
