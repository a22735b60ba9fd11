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


def test_the_numpy_shortcut_keeps_exactly_what_torchvision_keeps():
    import torch
    import torchvision

    rng = np.random.default_rng(0)
    for trial in range(300):
        count = int(rng.integers(1, 12))
        corners = rng.uniform(0, 100, (count, 2))
        sizes = rng.uniform(1, 40, (count, 2))
        xyxy = np.hstack([corners, corners + sizes])
        scores = rng.uniform(0, 1, count)
        class_ids = rng.integers(0, 3, count)
        threshold = float(rng.choice([0.3, 0.5, 0.7, 0.95]))
        expected = torchvision.ops.batched_nms(
            torch.as_tensor(xyxy, dtype=torch.float32),
            torch.as_tensor(scores, dtype=torch.float32),
            torch.as_tensor(class_ids),
            threshold,
        )
        kept = class_aware_nms(xyxy, scores, class_ids, threshold)
        assert sorted(kept.tolist()) == sorted(expected.tolist()), trial
