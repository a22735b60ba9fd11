"""Track bookkeeping for video labeling: match keyframe detections to live tracks by mask
IoU, start tracks for new objects, end tracks lost for too long, and vote each track's
one class. Pure logic on masks and scores; no model here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import supervision as sv
from scipy.optimize import linear_sum_assignment

from distil.detections import TrackClass
from distil.settings import TrackingSettings, default


@dataclass
class Track:
    """One object through a clip. `votes[class_id]` sums the confidences of the keyframe
    detections matched to it; the class with the largest sum is the track's class."""

    track_id: int
    votes: dict[int, float] = field(default_factory=dict)
    prompts: dict[int, int] = field(default_factory=dict)  # class id -> best prompt id
    best: dict[int, float] = field(default_factory=dict)  # class id -> best confidence seen
    matches: int = 0
    lost: int = 0  # keyframes in a row without a matching detection

    @property
    def class_id(self) -> int:
        return max(self.votes, key=lambda c: (self.votes[c], -c))

    @property
    def prompt_id(self) -> int:
        return self.prompts[self.class_id]

    @property
    def confidence(self) -> float:
        """Mean confidence of the track's class over the keyframes it was matched on."""
        return self.votes[self.class_id] / max(1, self.matches)

    def vote(self, class_id: int, prompt_id: int, confidence: float) -> None:
        self.votes[class_id] = self.votes.get(class_id, 0.0) + confidence
        if confidence > self.best.get(class_id, -1.0):
            self.best[class_id] = confidence
            self.prompts[class_id] = prompt_id
        self.matches += 1
        self.lost = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Track:
        def keys_to_int(d):
            return {int(k): v for k, v in d.items()}

        return cls(
            track_id=int(data["track_id"]),
            votes=keys_to_int(data["votes"]),
            prompts=keys_to_int(data["prompts"]),
            best=keys_to_int(data["best"]),
            matches=int(data["matches"]),
            lost=int(data["lost"]),
        )


def match_masks(masks: np.ndarray, others: np.ndarray, min_iou: float) -> dict[int, int]:
    """index in `masks` -> index in `others`: a one-to-one assignment on mask IoU
    (Hungarian), pairs below `min_iou` left out."""
    iou = sv.mask_iou_batch(masks, others) if len(masks) and len(others) else np.zeros((0, 0))
    return match_iou_matrix(iou, min_iou)


def match_boxes(boxes: np.ndarray, others: np.ndarray, min_iou: float) -> dict[int, int]:
    """As `match_masks`, on xyxy box IoU.

    >>> match_boxes(np.array([[0, 0, 10, 10], [50, 50, 60, 60]]),
    ...             np.array([[51, 50, 61, 60], [1, 0, 11, 10]]), 0.5)
    {0: 1, 1: 0}
    """
    iou = sv.box_iou_batch(boxes, others) if len(boxes) and len(others) else np.zeros((0, 0))
    return match_iou_matrix(iou, min_iou)


def match_iou_matrix(iou: np.ndarray, min_iou: float) -> dict[int, int]:
    """row -> column: the one-to-one assignment that maximizes total IoU, pairs below
    `min_iou` left out."""
    if not iou.size:
        return {}
    rows, cols = linear_sum_assignment(-iou)
    return {r: c for r, c in zip(rows.tolist(), cols.tolist(), strict=True) if iou[r, c] >= min_iou}


@dataclass
class KeyframeUpdate:
    """What one keyframe did: detection index -> track id for every kept detection
    (continued or new), the tracks kept alive without a detection, and those ended."""

    assigned: dict[int, int]
    coasting: list[int]
    ended: list[int]


class TrackBook:
    """The live tracks of one clip and the rules that update them at keyframes.

    A detection matches the live track whose propagated mask overlaps it best (Hungarian
    assignment on mask IoU, at least `match_iou`), whatever its class: the class is voted.
    An unmatched detection with a non-empty mask starts a track; a track
    with no match for more than `max_lost` keyframes in a row, or whose mask vanished, ends.
    """

    def __init__(
        self,
        match_iou: float = default(TrackingSettings, "match_iou"),
        max_lost: int = default(TrackingSettings, "max_lost"),
    ) -> None:
        self.match_iou = match_iou
        self.max_lost = max_lost
        self.live: dict[int, Track] = {}
        self.next_id = 1
        self.ended: set[int] = set()

    def update(
        self,
        track_ids: list[int],
        track_masks: np.ndarray,
        detection_masks: np.ndarray,
        class_ids: np.ndarray,
        prompt_ids: np.ndarray,
        confidences: np.ndarray,
    ) -> KeyframeUpdate:
        """Apply one keyframe. `track_masks[i]` is track `track_ids[i]`'s propagated mask on
        this frame; detections (already thresholded) are given by their masks, classes,
        prompts and confidences."""
        if set(track_ids) != set(self.live):
            raise ValueError("track_ids must list every live track once")
        pairs = match_masks(detection_masks, track_masks, self.match_iou)
        assigned = {det: track_ids[row] for det, row in pairs.items()}
        for det in range(len(detection_masks)):
            if det not in assigned and detection_masks[det].any():
                assigned[det] = self.new_track()
        for det, track_id in assigned.items():
            self.observe(
                track_id, int(class_ids[det]), int(prompt_ids[det]), float(confidences[det])
            )
        matched = set(assigned.values())
        coasting, ended = [], []
        for i, track_id in enumerate(track_ids):
            if track_id in matched:
                continue
            track = self.live[track_id]
            track.lost += 1
            if track.lost > self.max_lost or not track_masks[i].any():
                ended.append(track_id)
            else:
                coasting.append(track_id)
        for track_id in ended:
            self.end(track_id)
        return KeyframeUpdate(assigned, coasting, ended)

    def new_track(self) -> int:
        """A new track id (the track starts at its first `observe`)."""
        self.next_id += 1
        return self.next_id - 1

    def observe(self, track_id: int, class_id: int, prompt_id: int, confidence: float) -> None:
        """One detection of `track_id` (live, or started by this call) votes for its class."""
        self.live.setdefault(track_id, Track(track_id)).vote(class_id, prompt_id, confidence)

    def end(self, track_id: int) -> None:
        self.ended.add(track_id)
        del self.live[track_id]

    def classes(self) -> dict[int, TrackClass]:
        """track id -> class, prompt and confidence of every live track."""
        return {
            t.track_id: TrackClass(t.class_id, t.prompt_id, t.confidence)
            for t in self.live.values()
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "match_iou": self.match_iou,
            "max_lost": self.max_lost,
            "next_id": self.next_id,
            "live": [t.to_dict() for t in self.live.values()],
            "ended": sorted(self.ended),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrackBook:
        book = cls(data["match_iou"], data["max_lost"])
        book.next_id = int(data["next_id"])
        book.live = {int(t["track_id"]): Track.from_dict(t) for t in data["live"]}
        book.ended = set(data["ended"])
        return book
