import numpy as np

from distil.evaluation.matching import best_f1_threshold, match_boxes, operating_point


def test_each_ground_truth_box_is_matched_once_highest_score_first():
    truth = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)
    pred = np.array([[0, 0, 10, 10], [1, 0, 11, 10], [20, 20, 30, 30], [50, 50, 60, 60]], float)
    scores = np.array([0.5, 0.9, 0.8, 0.7])
    # The 0.9 box (IoU 0.82) takes the first truth box; the exact 0.5 box comes too late.
    assert match_boxes(pred, scores, truth).tolist() == [False, True, True, False]


def test_iou_threshold_is_inclusive_and_respected():
    truth = np.array([[0, 0, 10, 10]], float)
    half = np.array([[0, 0, 10, 20]], float)  # IoU exactly 0.5
    assert match_boxes(half, np.array([1.0]), truth, 0.5).tolist() == [True]
    assert match_boxes(half, np.array([1.0]), truth, 0.51).tolist() == [False]


def test_operating_point_counts():
    scores = np.array([0.9, 0.8, 0.4, 0.2])
    hits = np.array([True, False, True, True])
    point = operating_point(scores, hits, ground_truth=4, threshold=0.5)
    assert (point.true_positives, point.false_positives, point.false_negatives) == (1, 1, 3)
    assert point.precision == 0.5 and point.recall == 0.25
    assert point.f1 == 2 * 1 / (2 * 1 + 1 + 3)


def test_sweep_picks_the_known_best_threshold_on_crafted_scores():
    # Sorted: 0.95 hit, 0.9 hit, 0.7 miss, 0.6 miss, 0.5 hit, 0.3 miss; 4 objects.
    scores = np.array([0.5, 0.95, 0.7, 0.9, 0.3, 0.6])
    hits = np.array([True, True, False, True, False, False])
    best = best_f1_threshold(scores, hits, ground_truth=4)
    # F1 by cut: 0.95 -> 2/5, 0.9 -> 4/6, 0.7 -> 4/7, 0.6 -> 4/8, 0.5 -> 6/9, 0.3 -> 6/10.
    # 0.9 and 0.5 tie at 2/3; the higher threshold wins (fewer boxes, same F1).
    assert best.threshold == 0.9 and best.f1 == 2 / 3
    assert (best.true_positives, best.false_positives) == (2, 0)


def test_sweep_never_cuts_between_equal_scores():
    scores = np.array([0.8, 0.8, 0.8])
    hits = np.array([True, False, False])
    best = best_f1_threshold(scores, hits, ground_truth=1)
    assert best.threshold == 0.8 and (best.true_positives, best.false_positives) == (1, 2)


def test_sweep_without_data_or_hits_is_none():
    assert best_f1_threshold(np.zeros(0), np.zeros(0, bool), 3) is None
    assert best_f1_threshold(np.array([0.5]), np.array([False]), 0) is None
    assert best_f1_threshold(np.array([0.5]), np.array([False]), 2) is None
