import numpy as np
import pytest

from distil.evaluation.tracking import clear_mot
from tests.synthetic import BOUNCING_COLORS, BOUNCING_SHAPES, bouncing_frame, bouncing_truth


def rows(*entries):
    """(frame, id, left) rows of 10x10 boxes at top 0."""
    return np.array([[f, i, left, 0, 10, 10] for f, i, left in entries], dtype=float)


def test_a_perfect_tracker_scores_mota_one():
    truth = rows((1, 1, 0), (1, 2, 50), (2, 1, 2), (2, 2, 52))
    predicted = rows((1, 8, 0), (1, 9, 50), (2, 8, 2), (2, 9, 52))
    score = clear_mot(truth, predicted)
    assert (score.matches, score.misses, score.false_positives, score.id_switches) == (4, 0, 0, 0)
    assert score.mota == 1.0
    assert (score.truth_tracks, score.predicted_tracks, score.frames) == (2, 2, 2)


def test_a_new_predicted_id_on_the_same_object_is_one_switch():
    truth = rows((1, 1, 0), (2, 1, 0), (3, 1, 0), (4, 1, 0))
    predicted = rows((1, 5, 0), (2, 5, 0), (3, 6, 0), (4, 6, 0))
    score = clear_mot(truth, predicted)
    assert score.id_switches == 1
    assert score.mota == pytest.approx(1 - 1 / 4)


def test_two_tracks_swapping_objects_are_two_switches():
    truth = rows((1, 1, 0), (1, 2, 50), (2, 1, 0), (2, 2, 50))
    predicted = rows((1, 5, 0), (1, 6, 50), (2, 6, 0), (2, 5, 50))
    assert clear_mot(truth, predicted).id_switches == 2


def test_a_kept_pair_wins_over_a_better_overlapping_newcomer():
    # frame 2: track 5 still overlaps object 1 (IoU 0.67); track 6 overlaps it exactly
    truth = rows((1, 1, 0), (2, 1, 0))
    predicted = rows((1, 5, 0), (2, 5, 2), (2, 6, 0))
    score = clear_mot(truth, predicted)
    assert (score.id_switches, score.matches, score.false_positives) == (0, 2, 1)


def test_misses_and_false_positives_below_the_iou_threshold():
    truth = rows((1, 1, 0), (2, 1, 0))
    predicted = rows((1, 5, 6), (3, 5, 0))  # IoU 0.25 on frame 1, nothing on 2, extra frame 3
    score = clear_mot(truth, predicted)
    assert (score.matches, score.misses, score.false_positives) == (0, 2, 2)
    assert score.frames == 3
    assert score.mota == pytest.approx(1 - 4 / 2)


def test_an_object_rematched_after_a_gap_by_another_id_is_a_switch():
    truth = rows((1, 1, 0), (2, 1, 0), (3, 1, 0))
    predicted = rows((1, 5, 0), (3, 7, 0))
    score = clear_mot(truth, predicted)
    assert (score.misses, score.id_switches) == (1, 1)
    assert score.to_dict()["mota"] == pytest.approx(1 - 2 / 3, abs=1e-4)


def test_empty_inputs():
    assert clear_mot(np.zeros((0, 6)), np.zeros((0, 6))).mota == 0.0
    assert clear_mot(rows((1, 1, 0)), np.zeros((0, 6))).misses == 1


def test_the_drawn_clips_true_boxes_hold_every_shape_pixel():
    for index in (0, 37, 150, 299):
        image = bouncing_frame(index)
        truth = bouncing_truth(index + 1)
        truth = truth[truth[:, 0] == index + 1]
        assert len(truth) == len(BOUNCING_SHAPES)
        for cls, color in BOUNCING_COLORS.items():
            inside = np.zeros(image.shape[:2], dtype=bool)
            for _, track, left, top, width, height in truth.astype(int):
                if BOUNCING_SHAPES[track - 1][0] == cls:
                    assert left >= 0 and left + width <= 640 and top >= 0 and top + height <= 480
                    inside[top : top + height, left : left + width] = True
            drawn = (image == color).all(axis=2)
            assert drawn.any() and not (drawn & ~inside).any()
