"""Track quality against ground-truth tracks: CLEAR MOT counts (misses, false positives,
identity switches) and MOTA, from MOT-style rows.

An identity switch is a ground-truth object matched to a different predicted track than the
one it was last matched to. Per frame, last frame's pairs are kept while their boxes still
overlap by the IoU threshold; the rest are paired by Hungarian assignment on IoU.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment


@dataclass
class TrackScore:
    """CLEAR MOT counts over a clip."""

    frames: int = 0
    truth_boxes: int = 0
    matches: int = 0
    misses: int = 0
    false_positives: int = 0
    id_switches: int = 0
    truth_tracks: int = 0
    predicted_tracks: int = 0

    @property
    def mota(self) -> float:
        """1 - (misses + false positives + id switches) / ground-truth boxes."""
        errors = self.misses + self.false_positives + self.id_switches
        return 1.0 - errors / self.truth_boxes if self.truth_boxes else 0.0

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "mota": round(self.mota, 4)}


def clear_mot(truth: np.ndarray, predicted: np.ndarray, iou_threshold: float = 0.5) -> TrackScore:
    """Score `predicted` tracks against `truth`; both are MOT rows (frame, id, left, top,
    width, height, ...), as `read_mot` returns them.

    >>> truth = np.array([[1, 7, 0, 0, 10, 10], [2, 7, 1, 0, 10, 10]])
    >>> clear_mot(truth, np.array([[1, 1, 0, 0, 10, 10], [2, 2, 1, 0, 10, 10]])).id_switches
    1
    """
    score = TrackScore(
        truth_tracks=len(np.unique(truth[:, 1])) if len(truth) else 0,
        predicted_tracks=len(np.unique(predicted[:, 1])) if len(predicted) else 0,
    )
    last_match: dict[int, int] = {}  # truth id -> predicted id it was last matched to
    frames = np.union1d(truth[:, 0], predicted[:, 0]) if len(truth) + len(predicted) else []
    for frame in frames:
        gt = truth[truth[:, 0] == frame]
        pr = predicted[predicted[:, 0] == frame]
        pairs = _match_frame(gt, pr, last_match, iou_threshold)
        for g, p in pairs:
            gt_id, pr_id = int(gt[g, 1]), int(pr[p, 1])
            if gt_id in last_match and last_match[gt_id] != pr_id:
                score.id_switches += 1
            last_match[gt_id] = pr_id
        score.frames += 1
        score.truth_boxes += len(gt)
        score.matches += len(pairs)
        score.misses += len(gt) - len(pairs)
        score.false_positives += len(pr) - len(pairs)
    return score


def _match_frame(
    gt: np.ndarray, pr: np.ndarray, last_match: dict[int, int], iou_threshold: float
) -> list[tuple[int, int]]:
    """(truth row, predicted row) pairs of one frame."""
    if len(gt) == 0 or len(pr) == 0:
        return []
    iou = sv.box_iou_batch(sv.xywh_to_xyxy(gt[:, 2:6]), sv.xywh_to_xyxy(pr[:, 2:6]))
    pairs = []
    free_gt, free_pr = np.ones(len(gt), bool), np.ones(len(pr), bool)
    for g, gt_id in enumerate(gt[:, 1].astype(int)):
        if gt_id not in last_match:
            continue
        for p in np.flatnonzero(free_pr & (pr[:, 1].astype(int) == last_match[gt_id])):
            if iou[g, p] >= iou_threshold:
                pairs.append((g, int(p)))
                free_gt[g] = free_pr[p] = False
                break
    rows, cols = np.flatnonzero(free_gt), np.flatnonzero(free_pr)
    if len(rows) and len(cols):
        sub = iou[np.ix_(rows, cols)]
        for r, c in zip(*linear_sum_assignment(sub, maximize=True), strict=True):
            if sub[r, c] >= iou_threshold:
                pairs.append((int(rows[r]), int(cols[c])))
    return pairs
