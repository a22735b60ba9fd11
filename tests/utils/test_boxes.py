import numpy as np
import supervision as sv

from distil.utils.boxes import class_aware_nms


def test_nms_merges_same_class_and_keeps_other_classes():
    xyxy = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], float)
    scores = np.array([0.6, 0.9, 0.8, 0.5])
    class_ids = np.array([0, 0, 1, 0])
    assert sorted(class_aware_nms(xyxy, scores, class_ids, 0.5).tolist()) == [1, 2, 3]
    assert sorted(class_aware_nms(xyxy, scores, class_ids, 0.95).tolist()) == [0, 1, 2, 3]
    assert class_aware_nms(np.zeros((0, 4)), np.zeros(0), np.zeros(0), 0.5).tolist() == []


def test_cxcywh_to_xyxy():
    """The conversion the teachers use for their normalized center boxes."""
    assert sv.xcycwh_to_xyxy(np.array([[5, 5, 4, 2]], float)).tolist() == [[3, 4, 7, 6]]
