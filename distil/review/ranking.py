"""Rank stored frames by how likely their labels are wrong, and say why.

A frame's score is the number of label errors it is expected to hold, summed over its
signals, so a frame with three doubtful boxes outranks one with a single doubtful box:

- **uncertainty**: each stored box's chance of being a real object, `p`, is read from
  its score relative to its class threshold (`box_probability`: 0.5 at the threshold).
  An exported box is wrong with chance `1 - p` (a false positive); a box below the
  threshold that no exported box of its class covers is a missed object with chance `p`.
- **competing classes**: two exported boxes of different classes on one object; at
  least one of them is wrong.
- **disagreement** with other labels of the same frames (a student's predictions, or
  another teacher's store): each box one side has and the other does not, weighted by
  its score.
- **mask shape**: a mask that fills little of its box, or lies elsewhere than its box.
- **faint candidates**: the teacher's candidates scored too low to store, counted per
  image while labeling. A frame with many of them is cluttered with objects the teacher
  barely sees, and misses that no stored box points at are the commonest label error.
  Each frame is expected to hold `UNSEEN_PER_FRAME` such misses times its count over the
  store's average (a frame without a count, as the average).

Only the top `k` frames are kept while ranking (a heap), so memory does not grow with
the store, and masks are judged from their run-length codes without decoding them.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from distil.datasets.filters import select_detections
from distil.evaluation.matching import match_by_class
from distil.ontologies import Ontology
from distil.settings import Ranking

COMPETING_IOU = 0.7  # two classes' boxes this close mark one object
COVERED_IOU = 0.5  # a box below threshold this close to an exported one is not a miss
MATCH_IOU = 0.5  # disagreement: boxes of one class match from this IoU
MIN_MASK_FILL = 0.15  # a mask covering less of its box than this is implausible
MIN_MASK_BOX_IOU = 0.6  # a mask whose own box overlaps its box less is implausible
SHOWN = 3  # boxes named per reason
WINDOWS_PER_GAP = 4  # video frames: one candidate per quarter of the gap between picks
# Misses without any stored box per frame, on average: 2.4 for YOLO11n on COCO; ranking
# holds as well from 1 to 6 (benchmarks/review_gain.py).
UNSEEN_PER_FRAME = 2.0
SHOWN_FAINT = 2.0  # faint candidates are a reason from this many times the average


@dataclass(order=True)
class RankedFrame:
    score: float
    key: str = field(compare=False)
    hash: str = field(compare=False)
    reasons: list[str] = field(default_factory=list, compare=False)
    seconds: float | None = field(default=None, compare=False)  # into its video

    def to_dict(self) -> dict:
        found = {"path": self.key, "score": round(self.score, 4), "reasons": self.reasons}
        return found if self.seconds is None else {**found, "seconds": round(self.seconds, 3)}


@dataclass
class FrameToRank:
    """One frame's stored boxes (all, down to the store threshold) and what else is known."""

    key: str
    hash: str
    detections: sv.Detections
    mask_rles: list[dict] | None = None
    other: sv.Detections | None = None  # the student's / other teacher's exported boxes
    video: str | None = None  # the video's id, for a video frame
    time: float | None = None  # its seconds into the video
    faint: int | None = None  # the teacher's faint candidates (see base_models.core)


SCORE_SLOPE = 3.0  # steepness of `box_probability` in log-score


def box_probability(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """A box's chance of being a real object, from its score and its class threshold: a
    log-logistic curve through 0.5 at the threshold, `s^k / (s^k + t^k)`.

    With k = 3 it follows the measured hit rate of YOLO11n's boxes on COCO within about
    0.1 across scores (benchmarks/review_gain.py), and it ranks frames better than a
    straight line through the threshold.

    >>> box_probability(np.array([0.1, 0.2, 0.6]), np.array([0.2, 0.2, 0.2])).round(2).tolist()
    [0.11, 0.5, 0.96]
    """
    scores = np.maximum(np.asarray(scores, np.float64), 0.0) ** SCORE_SLOPE
    limits = np.clip(np.asarray(thresholds, np.float64), 1e-6, 1.0) ** SCORE_SLOPE
    return scores / (scores + limits)


class FrameJudge:
    """Scores frames against one ontology (thresholds, areas) and NMS setting."""

    def __init__(
        self,
        ontology: Ontology,
        nms_iou: float,
        ranking: Ranking = Ranking.AUTO,
        other_name: str = "student",
        mean_faint: float | None = None,
    ) -> None:
        """`mean_faint`: the store's average of faint candidates per frame; None leaves
        that signal out."""
        self.ontology = ontology
        self.nms_iou = nms_iou
        self.ranking = ranking
        self.other_name = other_name
        self.mean_faint = mean_faint
        self.names = ontology.class_names
        self.everything = ontology.with_class_thresholds(
            box=dict.fromkeys(range(len(ontology.classes)), 0.0)
        )
        self.thresholds = ontology.limits.box_threshold
        self._random = random.Random(0)

    def judge(self, frame: FrameToRank, explain: bool = False) -> RankedFrame:
        reasons: list[str] = []
        candidates = select_detections(frame.detections, self.everything, self.nms_iou)
        kept = (
            candidates.confidence >= self.thresholds[candidates.class_id]
            if len(candidates)
            else np.zeros(0, dtype=bool)
        )
        exported = candidates[kept] if len(candidates) else candidates
        if self.ranking is Ranking.RANDOM:
            score, reasons = self._random.random(), ["random"]
        elif self.ranking is Ranking.BOXES:
            score, reasons = float(len(exported)), [f"{len(exported)} boxes"]
        else:
            score = self._score(frame, candidates, kept, exported, reasons if explain else None)
        return RankedFrame(score, frame.key, frame.hash, reasons, frame.time)

    def _score(
        self,
        frame: FrameToRank,
        candidates: sv.Detections,
        kept: np.ndarray,
        exported: sv.Detections,
        reasons: list[str] | None,
    ) -> float:
        """The frame's expected label errors, summed over the signals of the ranking."""
        score = 0.0
        if self.ranking in (Ranking.AUTO, Ranking.UNCERTAINTY):
            score += self._uncertainty(candidates, kept, reasons)
            score += self._competing(exported, reasons)
            if frame.mask_rles is not None:
                score += self._masks(candidates, kept, frame, reasons)
            if self.mean_faint:
                score += self._faint(frame.faint, reasons)
        if frame.other is not None and self.ranking in (Ranking.AUTO, Ranking.DISAGREEMENT):
            score += self._disagreement(exported, frame.other, reasons)
        return score

    def _uncertainty(self, candidates: sv.Detections, kept: np.ndarray, reasons) -> float:
        if not len(candidates):
            return 0.0
        thresholds = self.thresholds[candidates.class_id]
        p = box_probability(candidates.confidence.astype(np.float64), thresholds)
        doubt_kept = 1 - p[kept]
        dropped = np.flatnonzero(~kept)
        covered = self._covered(candidates, kept, dropped)
        missed = dropped[~covered]
        doubt_missed = p[missed]
        if reasons is not None:
            if len(doubt_kept) and doubt_kept.max() >= 0.25:
                reasons.append(
                    "exported boxes near their class threshold: "
                    + self._list(candidates[kept], doubt_kept)
                )
            if len(missed) and doubt_missed.max() >= 0.25:
                reasons.append(
                    "boxes just below their class threshold (missed objects?): "
                    + self._list(candidates[missed], doubt_missed)
                )
        return float(doubt_kept.sum() + doubt_missed.sum())

    def _covered(self, candidates: sv.Detections, kept: np.ndarray, dropped: np.ndarray):
        """Which boxes below threshold lie on an exported box of their own class."""
        if not len(dropped) or not kept.any():
            return np.zeros(len(dropped), dtype=bool)
        iou = sv.box_iou_batch(candidates.xyxy[dropped], candidates.xyxy[kept])
        same = candidates.class_id[dropped][:, None] == candidates.class_id[kept][None, :]
        return ((iou >= COVERED_IOU) & same).any(axis=1)

    def _faint(self, faint: int | None, reasons) -> float:
        """A frame without a count (labeled before counting, tracked) counts as average."""
        times = 1.0 if faint is None else faint / self.mean_faint
        if reasons is not None and times >= SHOWN_FAINT:
            reasons.append(
                f"{faint} faint candidates, {times:.1f}x the average frame "
                "(objects the teacher barely sees?)"
            )
        return UNSEEN_PER_FRAME * times

    def _competing(self, exported: sv.Detections, reasons) -> float:
        if len(exported) < 2:
            return 0.0
        iou = sv.box_iou_batch(exported.xyxy, exported.xyxy)
        other_class = exported.class_id[:, None] != exported.class_id[None, :]
        rows, cols = np.nonzero(np.triu((iou >= COMPETING_IOU) & other_class, k=1))
        if not len(rows):
            return 0.0
        p = box_probability(
            exported.confidence.astype(np.float64), self.thresholds[exported.class_id]
        )
        if reasons is not None:
            pairs = [
                f"{self.names[exported.class_id[a]]}/{self.names[exported.class_id[b]]} "
                f"(IoU {iou[a, b]:.2f})"
                for a, b in zip(rows[:SHOWN], cols[:SHOWN], strict=True)
            ]
            reasons.append("classes compete for one object: " + ", ".join(pairs))
        return float(np.minimum(p[rows], p[cols]).sum())

    def _masks(self, candidates: sv.Detections, kept: np.ndarray, frame: FrameToRank, reasons):
        """Masks are judged on the stored boxes they belong to; NMS reorders boxes, so the
        exported ones are found again by their coordinates."""
        from pycocotools import mask as mask_utils

        if not frame.mask_rles or not kept.any():
            return 0.0
        rles = [{"size": r["size"], "counts": r["counts"].encode("ascii")} for r in frame.mask_rles]
        areas = mask_utils.area(rles).astype(np.float64)
        mask_boxes = mask_utils.toBbox(rles)  # x, y, w, h
        mask_boxes[:, 2:] += mask_boxes[:, :2]
        boxes = frame.detections.xyxy.astype(np.float64)
        exported = candidates.xyxy[kept].astype(np.float64)
        index = np.array([int(np.argmin(np.abs(boxes - box).sum(axis=1))) for box in exported])
        box_area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1.0)
        fill = areas[index] / box_area[index]
        overlap = np.where(areas[index] > 0, _paired_iou(boxes[index], mask_boxes[index]), 0.0)
        bad = (fill < MIN_MASK_FILL) | (overlap < MIN_MASK_BOX_IOU)
        if reasons is not None and bad.any():
            shown = [
                f"{self.names[candidates.class_id[kept][j]]} (fills {fill[j]:.0%} of its box)"
                for j in np.flatnonzero(bad)[:SHOWN]
            ]
            reasons.append("masks implausible for their box: " + ", ".join(shown))
        return float(bad.sum())

    def _disagreement(self, exported: sv.Detections, other: sv.Detections, reasons) -> float:
        teacher_hit, other_hit = match_by_class(exported, other, MATCH_IOU)
        only_other = np.flatnonzero(~other_hit)
        only_teacher = np.flatnonzero(~teacher_hit)
        if reasons is not None:
            if len(only_other):
                reasons.append(
                    f"the {self.other_name} finds boxes the teacher does not: "
                    + self._list(other[only_other], other.confidence[only_other])
                )
            if len(only_teacher):
                reasons.append(
                    f"the {self.other_name} does not find these teacher boxes: "
                    + self._list(exported[only_teacher], exported.confidence[only_teacher])
                )
        return float(other.confidence[only_other].sum() + exported.confidence[only_teacher].sum())

    def _list(self, detections: sv.Detections, weights: np.ndarray) -> str:
        order = np.argsort(-weights)[:SHOWN]
        shown = [
            f"{self.names[detections.class_id[i]]} {detections.confidence[i]:.2f}" for i in order
        ]
        more = f" and {len(weights) - SHOWN} more" if len(weights) > SHOWN else ""
        return ", ".join(shown) + more


def _paired_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of each box of `a` with the box of `b` at the same index."""
    low = np.maximum(a[:, :2], b[:, :2])
    high = np.minimum(a[:, 2:], b[:, 2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-9)


Scored = tuple[RankedFrame, FrameToRank]


def rank_frames(
    frames: Iterable[FrameToRank], judge: FrameJudge, top: int | None, video_gap: float = 0.0
) -> list[RankedFrame]:
    """The `top` frames most likely wrong (all, with `top` None), most likely first, each
    with its reasons. Frames picked from one video lie at least `video_gap` seconds apart
    (a reviewer gains little from a run of near-identical frames): of each quarter gap
    of a video only its most doubtful frame is a candidate, and candidates are picked
    greedily. Only `9 * top` frames are held at a time."""
    scored: Iterator[Scored] = ((judge.judge(frame), frame) for frame in frames)
    order: Callable = lambda item: item[0].score  # noqa: E731
    if video_gap > 0:
        scored = _best_per_window(scored, video_gap / WINDOWS_PER_GAP)
    if top:
        # A frame picked rules out at most the window bests of the 2 * WINDOWS_PER_GAP
        # windows around its own, so this many candidates always leave `top` spaced ones.
        held = top * (2 * WINDOWS_PER_GAP + 1) if video_gap > 0 else top
        best = heapq.nlargest(held, scored, key=order)
    else:
        best = sorted(scored, key=order, reverse=True)
    if video_gap > 0:
        best = _spaced(best, video_gap)[:top]
    if judge.ranking in (Ranking.RANDOM, Ranking.BOXES):
        return [ranked for ranked, _ in best]
    return [judge.judge(frame, explain=True) for _, frame in best]


def _best_per_window(scored: Iterable[Scored], width: float) -> Iterator[Scored]:
    """The best-scored frame of each `width`-second window of each video; other frames
    pass. Frames of a video arrive in frame order, so one window is held at a time."""
    held: Scored | None = None
    held_window: tuple[str, int] | None = None
    for item in scored:
        frame = item[1]
        if frame.video is None or frame.time is None:
            yield item
            continue
        window = (frame.video, int(frame.time // width))
        if window != held_window:
            if held is not None:
                yield held
            held, held_window = item, window
        elif item[0].score > held[0].score:  # type: ignore[index]
            held = item
    if held is not None:
        yield held


def _spaced(best: list[Scored], gap: float) -> list[Scored]:
    """`best` (most likely wrong first) without the frames that lie within `gap` seconds
    of a better one of the same video."""
    picked: list[Scored] = []
    times: dict[str, list[float]] = {}
    for item in best:
        frame = item[1]
        if frame.video is not None and frame.time is not None:
            near = times.setdefault(frame.video, [])
            if any(abs(frame.time - t) < gap for t in near):
                continue
            near.append(frame.time)
        picked.append(item)
    return picked
