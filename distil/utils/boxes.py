"""Box helpers on numpy arrays."""

from __future__ import annotations

import numpy as np
import torch
import torchvision


def class_aware_nms(
    xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray, iou_threshold: float
) -> np.ndarray:
    """Indices kept by greedy NMS run separately per class, highest score first.

    Boxes found by different prompts of one class (synonyms) compete with each other;
    boxes of different classes never suppress each other.
    """
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    # torchvision's compiled NMS, not supervision's numpy one: raw stores keep thousands of
    # low-score boxes per image, and the kept indices preserve the stored order for callers.
    keep = torchvision.ops.batched_nms(
        torch.as_tensor(xyxy, dtype=torch.float32),
        torch.as_tensor(scores, dtype=torch.float32),
        torch.as_tensor(class_ids, dtype=torch.int64),
        float(iou_threshold),
    )
    return keep.numpy()
