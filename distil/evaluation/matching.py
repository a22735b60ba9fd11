"""Greedy IoU matching (COCO's rule) and what follows from it: P/R/F1 and threshold sweeps."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import supervision as sv

from distil.datasets.labeled import CROWD


@dataclass
class ClassMatches:
    """Every prediction of one class, its score and whether it hit a ground-truth box."""

    scores: list[np.ndarray] = field(default_factory=list)
    hits: list[np.ndarray] = field(default_factory=list)
    ground_truth: int = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """(scores, hits), highest score first."""
        if not self.scores:
            return np.zeros(0), np.zeros(0, dtype=bool)
        scores, hits = np.concatenate(self.scores), np.concatenate(self.hits)
        order = np.argsort(-scores, kind="stable")
        return scores[order], hits[order]


def match_boxes(
    pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5
) -> np.ndarray:
    """For each prediction, whether it matches a ground-truth box (see `match_pairs`).

    >>> match_boxes(np.array([[0, 0, 10, 10], [0, 0, 10, 10]]), np.array([0.9, 0.8]),
    ...             np.array([[0, 0, 10, 10]])).tolist()
    [True, False]
    """
    return match_pairs(pred, scores, truth, iou_threshold) >= 0


def match_pairs(
    pred: np.ndarray, scores: np.ndarray, truth: np.ndarray, iou_threshold: float = 0.5
) -> np.ndarray:
    """For each prediction, the ground-truth box it matches, or -1.

    Highest score first, each prediction takes the unmatched box it overlaps most
    (IoU >= threshold); each ground-truth box is matched at most once.
    """
    partner = np.full(len(pred), -1, dtype=np.int64)
    if len(pred) == 0 or len(truth) == 0:
        return partner
    iou = sv.box_iou_batch(pred.astype(np.float64), truth.astype(np.float64))
    taken = np.zeros(len(truth), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, iou[i])
        best = int(np.argmax(candidates))
        if candidates[best] >= iou_threshold:
            partner[i] = best
            taken[best] = True
    return partner


def match_by_class(
    first: sv.Detections, second: sv.Detections, iou_threshold: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Which boxes of `first` and of `second` have a partner of their class on the other
    side (one to one, `first`'s highest scores choosing first)."""
    first_hit = np.zeros(len(first), dtype=bool)
    second_hit = np.zeros(len(second), dtype=bool)
    if not len(first) or not len(second):
        return first_hit, second_hit
    scores = first.confidence if first.confidence is not None else np.ones(len(first))
    for class_id in np.intersect1d(first.class_id, second.class_id):
        mine = np.flatnonzero(first.class_id == class_id)
        theirs = np.flatnonzero(second.class_id == class_id)
        partner = match_pairs(first.xyxy[mine], scores[mine], second.xyxy[theirs], iou_threshold)
        first_hit[mine[partner >= 0]] = True
        second_hit[theirs[partner[partner >= 0]]] = True
    return first_hit, second_hit


def accumulate(
    matches: dict[int, ClassMatches],
    pred: sv.Detections,
    truth: sv.Detections,
    class_ids: list[int],
    iou_threshold: float = 0.5,
) -> None:
    """Add one image's per-class matches to `matches` (crowd boxes are left out)."""
    crowd = truth.data.get(CROWD, np.zeros(len(truth), dtype=bool))
    for class_id in class_ids:
        p = pred[pred.class_id == class_id] if len(pred) else pred
        t = truth.xyxy[(truth.class_id == class_id) & ~crowd] if len(truth) else np.zeros((0, 4))
        entry = matches.setdefault(class_id, ClassMatches())
        entry.ground_truth += len(t)
        if len(p):
            entry.scores.append(p.confidence.astype(np.float64))
            entry.hits.append(match_boxes(p.xyxy, p.confidence, t, iou_threshold))


@dataclass
class OperatingPoint:
    threshold: float
    precision: float
    recall: float
    f1: float
    true_positives: int
    false_positives: int
    false_negatives: int


def operating_point(
    scores: np.ndarray, hits: np.ndarray, ground_truth: int, threshold: float
) -> OperatingPoint:
    """Precision, recall and F1 of the predictions scoring at least `threshold`."""
    kept = scores >= threshold
    tp = int(hits[kept].sum())
    fp = int(kept.sum()) - tp
    fn = ground_truth - tp
    return _point(threshold, tp, fp, fn)


def _point(threshold: float, tp: int, fp: int, fn: int) -> OperatingPoint:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return OperatingPoint(float(threshold), precision, recall, f1, tp, fp, fn)


def best_f1_threshold(
    scores: np.ndarray, hits: np.ndarray, ground_truth: int
) -> OperatingPoint | None:
    """The threshold (one of the scores) whose kept predictions have the highest F1.

    Ties go to the higher threshold (fewer boxes for the same F1). None without data.

    >>> best_f1_threshold(np.array([0.9, 0.6, 0.3]), np.array([True, False, True]), 2).threshold
    0.3
    """
    if len(scores) == 0 or ground_truth == 0:
        return None
    order = np.argsort(-scores, kind="stable")
    scores, hits = scores[order], hits[order]
    tp = np.cumsum(hits)
    fp = np.arange(1, len(scores) + 1) - tp
    f1 = 2 * tp / (2 * tp + fp + (ground_truth - tp))
    # Only the last of a run of equal scores is a real cut: a threshold keeps all of them.
    cut = np.r_[scores[1:] != scores[:-1], True]
    f1 = np.where(cut, f1, -1.0)
    best = int(np.argmax(f1))  # first maximum = highest threshold
    if f1[best] <= 0:
        return None
    return _point(scores[best], int(tp[best]), int(fp[best]), int(ground_truth - tp[best]))
