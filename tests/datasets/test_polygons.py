from __future__ import annotations

import cv2
import numpy as np

from distil.datasets import join_parts, mask_to_polygon


def rasterize(polygon: np.ndarray, shape) -> np.ndarray:
    canvas = np.zeros(shape, np.uint8)
    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1)
    return canvas.astype(bool)


def iou(a, b) -> float:
    return (a & b).sum() / (a | b).sum()


def test_single_rectangle_is_exact():
    mask = np.zeros((40, 40), bool)
    mask[5:15, 10:30] = True
    result = mask_to_polygon(mask, tolerance=0)
    assert len(result.parts) == 1 and result.dropped_fragments == 0 and result.filled_holes == 0
    assert sorted(map(tuple, result.polygon.astype(int).tolist())) == [
        (10, 5),
        (10, 14),
        (29, 5),
        (29, 14),
    ]


def test_multi_part_mask_stays_one_instance_and_rasterizes_back():
    mask = np.zeros((60, 60), bool)
    mask[5:20, 5:20] = True
    mask[35:55, 30:50] = True
    result = mask_to_polygon(mask)
    assert len(result.parts) == 2
    back = rasterize(result.polygon, mask.shape)
    assert iou(back, mask) > 0.85
    assert back[10, 10] and back[45, 40] and not back[30, 5]


def test_holes_are_filled_and_counted():
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    mask[15:25, 15:25] = False
    result = mask_to_polygon(mask)
    assert result.filled_holes == 1 and len(result.parts) == 1
    assert rasterize(result.polygon, mask.shape)[20, 20]


def test_tiny_fragments_are_dropped_unless_nothing_else_is_left():
    mask = np.zeros((40, 40), bool)
    mask[5:25, 5:25] = True
    mask[35:37, 35:37] = True  # 4 px speck
    result = mask_to_polygon(mask, min_fragment_area=16)
    assert result.dropped_fragments == 1 and len(result.parts) == 1
    speck_only = np.zeros((40, 40), bool)
    speck_only[1:3, 1:3] = True
    kept = mask_to_polygon(speck_only, min_fragment_area=16)
    assert kept.dropped_fragments == 0 and len(kept.parts) == 1


def test_empty_mask_gives_empty_polygon():
    assert len(mask_to_polygon(np.zeros((5, 5), bool)).polygon) == 0


def test_join_parts_bridges_at_closest_points():
    a = np.array([[0, 0], [2, 0], [2, 2], [0, 2]], np.float32)
    b = np.array([[5, 0], [7, 0], [7, 2], [5, 2]], np.float32)
    joined = join_parts([a, b])
    assert joined.tolist() == [
        [0, 0],
        [2, 0],
        [5, 0],
        [7, 0],
        [7, 2],
        [5, 2],
        [5, 0],
        [2, 0],
        [2, 2],
        [0, 2],
    ]
