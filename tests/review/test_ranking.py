"""Ranking signals on crafted detections: each raises a frame's score, says why, and the
scores order frames the way their expected errors do."""

from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from distil.detections import human_detections
from distil.ontologies import Ontology
from distil.review import FrameJudge, FrameToRank, box_probability, rank_frames
from distil.settings import Ranking
from distil.utils.rle import encode_masks

ONTO = Ontology.from_dict(
    {"box_threshold": 0.4, "classes": {"car": "car", "truck": "truck", "dog": "dog"}}
)
H, W = 100, 100


def boxes(*rows) -> sv.Detections:
    """rows: (x0, y0, x1, y1, score, class id)."""
    xyxy = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    found = human_detections(xyxy, np.array([r[5] for r in rows], dtype=np.int64))
    found.confidence = np.array([r[4] for r in rows], np.float32)
    found.data["prompt_id"] = found.class_id.copy()
    return found


def frame(name: str, detections: sv.Detections, **extra) -> FrameToRank:
    return FrameToRank(name, name, detections, **extra)


def judged(item: FrameToRank, ranking: Ranking = Ranking.AUTO):
    return FrameJudge(ONTO, 0.7, ranking).judge(item, explain=True)


@pytest.mark.parametrize(
    ("doubtful", "sure", "reason"),
    [
        # an exported box just above its threshold vs a confident one
        (boxes((0, 0, 20, 20, 0.42, 0)), boxes((0, 0, 20, 20, 0.95, 0)), "near their class"),
        # a box just below its threshold (a miss?) vs one far below
        (boxes((0, 0, 20, 20, 0.38, 2)), boxes((0, 0, 20, 20, 0.05, 2)), "just below"),
        # two classes on one object vs two classes apart
        (
            boxes((0, 0, 50, 50, 0.9, 0), (1, 1, 50, 50, 0.85, 1)),
            boxes((0, 0, 50, 50, 0.9, 0), (60, 60, 99, 99, 0.85, 1)),
            "classes compete",
        ),
    ],
)
def test_each_uncertainty_signal_raises_the_score_and_says_why(doubtful, sure, reason):
    high, low = judged(frame("a", doubtful)), judged(frame("b", sure))
    assert high.score > low.score + 0.2
    assert any(reason in r for r in high.reasons)
    assert not any(reason in r for r in low.reasons)


def test_a_box_below_threshold_on_an_exported_box_of_its_class_is_no_miss():
    covered = boxes((0, 0, 40, 40, 0.9, 0), (2, 2, 40, 40, 0.35, 0))
    alone = boxes((0, 0, 40, 40, 0.9, 0), (60, 60, 99, 99, 0.35, 0))
    # NMS at the stored level keeps the lower box when it overlaps less than 0.7 IoU
    assert judged(frame("a", alone)).score > judged(frame("b", covered)).score + 0.3


def test_disagreement_counts_the_boxes_one_side_lacks():
    teacher = boxes((0, 0, 30, 30, 0.9, 0), (50, 50, 90, 90, 0.9, 2))
    student = boxes((0, 0, 31, 30, 0.8, 0), (40, 0, 60, 20, 0.7, 1))
    ranked = judged(frame("a", teacher, other=student), Ranking.DISAGREEMENT)
    # the student's truck (0.7) and the teacher's dog (0.9) have no partner
    assert ranked.score == pytest.approx(0.7 + 0.9, abs=1e-5)
    assert any("finds boxes the teacher does not: truck 0.70" in r for r in ranked.reasons)
    assert any("does not find these teacher boxes: dog 0.90" in r for r in ranked.reasons)
    agreeing = judged(frame("b", teacher, other=teacher), Ranking.DISAGREEMENT)
    assert agreeing.score == 0 and agreeing.reasons == []


def test_a_mask_that_fills_little_of_its_box_is_implausible():
    detections = boxes((10, 10, 60, 60, 0.95, 2), (0, 70, 30, 99, 0.95, 0))
    masks = np.zeros((2, H, W), bool)
    masks[0, 30:33, 30:33] = True  # 9 pixels in a 2500-pixel box
    masks[1, 70:99, 0:30] = True  # fills its box
    ranked = judged(frame("a", detections, mask_rles=encode_masks(masks)))
    assert any("masks implausible for their box: dog" in r for r in ranked.reasons)
    assert ranked.score > judged(frame("b", detections)).score + 0.9


def test_probability_is_one_half_at_the_threshold_and_rises_with_the_score():
    scores = np.linspace(0, 1, 11)
    p = box_probability(scores, np.full(11, 0.4))
    assert p[4] == pytest.approx(0.5) and np.all(np.diff(p) > 0)


def test_rank_frames_keeps_the_top_and_orders_by_expected_errors():
    frames = [
        frame("sure", boxes((0, 0, 20, 20, 0.97, 0))),
        frame("three doubts", boxes(*[(30 * i, 0, 30 * i + 20, 20, 0.42, 0) for i in range(3)])),
        frame("one doubt", boxes((0, 0, 20, 20, 0.42, 0))),
        frame("empty", boxes()),
    ]
    judge = FrameJudge(ONTO, 0.7)
    assert [r.key for r in rank_frames(iter(frames), judge, 2)] == ["three doubts", "one doubt"]
    by_count = FrameJudge(ONTO, 0.7, Ranking.BOXES)
    assert rank_frames(iter(frames), by_count, 1)[0].key == "three doubts"


def doubts(n: int) -> sv.Detections:
    """`n` boxes near the threshold: a frame expected to hold about n/2 errors."""
    return boxes(*[(30 * i, 0, 30 * i + 20, 20, 0.42, 0) for i in range(n)])


# a video's frames at 0.5 s steps (name: seconds, doubtful boxes), then an image
CLIP = [(t / 2, n) for t, n in enumerate([1, 5, 6, 4, 1, 1, 3, 2, 1, 1])]


@pytest.mark.parametrize(
    ("gap", "top", "picked"),
    [
        (0.0, 3, ["v@1.0", "v@0.5", "v@1.5"]),  # neighbours: the three doubtful seconds
        (2.0, 3, ["v@1.0", "v@3.0", "image"]),  # at least 2 s apart
        (2.0, 2, ["v@1.0", "v@3.0"]),
        (1.0, 4, ["v@1.0", "v@3.0", "image", "v@0.0"]),  # v@0.5 lies 0.5 s from v@1.0
        (10.0, None, ["v@1.0", "image"]),  # all frames, spaced
    ],
)
def test_frames_of_one_video_are_picked_apart(gap, top, picked):
    frames = [frame(f"v@{t}", doubts(n), video="v", time=t) for t, n in CLIP]
    frames.append(frame("image", doubts(2)))
    ranked = rank_frames(iter(frames), FrameJudge(ONTO, 0.7), top, video_gap=gap)
    assert [r.key for r in ranked] == picked


@pytest.mark.parametrize(
    ("faint", "mean", "added", "said"),
    [
        (40, 10.0, 8.0, True),  # 4x the store's average: about 8 objects the teacher misses
        (10, 10.0, 2.0, False),  # an average frame
        (0, 10.0, 0.0, False),
        (40, None, 0.0, False),  # the store counts none (labeled before, or by SAM 3)
        (None, 10.0, 2.0, False),  # a frame without a count (tracked video) is average
    ],
)
def test_faint_candidates_count_as_unseen_objects_relative_to_the_store(faint, mean, added, said):
    detections = boxes((0, 0, 20, 20, 0.95, 0))
    alone = FrameJudge(ONTO, 0.7).judge(frame("a", detections)).score
    judge = FrameJudge(ONTO, 0.7, mean_faint=mean)
    ranked = judge.judge(frame("a", detections, faint=faint), explain=True)
    assert ranked.score - alone == pytest.approx(added)
    assert any("40 faint candidates, 4.0x the average" in r for r in ranked.reasons) == said
