"""Masks <-> COCO run-length encoding (pycocotools, compressed string counts)."""

from __future__ import annotations

import numpy as np
from pycocotools import mask as mask_utils


def encode_masks(masks: np.ndarray) -> list[dict]:
    """(N, H, W) bool -> N COCO RLE dicts with str counts (JSON-ready)."""
    if len(masks) == 0:
        return []
    encoded = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    return [{"size": list(r["size"]), "counts": r["counts"].decode("ascii")} for r in encoded]


def decode_masks(rles: list[dict], height: int, width: int) -> np.ndarray:
    """N COCO RLE dicts -> (N, H, W) bool."""
    if not rles:
        return np.zeros((0, height, width), dtype=bool)
    objs = [{"size": r["size"], "counts": r["counts"].encode("ascii")} for r in rles]
    return mask_utils.decode(objs).transpose(2, 0, 1).astype(bool)
