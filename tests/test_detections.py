"""Helpers on detections shared across packages."""

from __future__ import annotations

import numpy as np
import pytest

from distil.detections import human_detections, remap_classes


@pytest.mark.parametrize(
    ("classes", "mapping", "kept"),
    [
        ([0, 2, 1], {2: 0, 1: 5}, [0, 5]),  # class 0 unmapped: dropped
        ([0, 2, 1], {0: 1, 1: 0, 2: 2}, [1, 2, 0]),
        ([3, 3], {3: 0}, [0, 0]),
        ([0, 1], {}, []),
        ([], {0: 1}, []),
    ],
)
def test_remap_classes(classes, mapping, kept):
    found = human_detections(np.arange(4 * len(classes)).reshape(-1, 4), np.array(classes))
    mapped = remap_classes(found, mapping)
    assert mapped.class_id.tolist() == kept
    # the boxes stay with their detections
    rows = [i for i, c in enumerate(classes) if c in mapping]
    assert mapped.xyxy.tolist() == found.xyxy[rows].tolist()
