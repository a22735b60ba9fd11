"""Core types: one frame identity, and helpers for `supervision.Detections`.

Detections are `sv.Detections` with `xyxy`, `confidence`, `class_id` and, from teachers,
`data["prompt_id"]` (which ontology prompt matched) and `data["text_score"]` (how well the
whole prompt matched); tracked ones carry `tracker_id`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, cast

import numpy as np

if TYPE_CHECKING:
    import supervision as sv


def source_key(path: Path | str, frame_index: int | None = None) -> str:
    """Unique per source: the image path, or `<video path>#<frame index>`."""
    return str(path) if frame_index is None else f"{path}#{frame_index}"


class FileStamp(NamedTuple):
    """A file's size and modification time: cheap to compare, to notice a replaced file."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, stat: os.stat_result) -> FileStamp:
        return cls(stat.st_size, stat.st_mtime_ns)


@dataclass(frozen=True)
class FrameIdentity:
    """Which frame this is: an image file, or frame `frame_index` of the video `path`.

    `root` is the input folder it was found under, `hash` its content hash (for a video
    frame, derived from the video's id and the frame index), `timestamp` seconds from the
    start of the video, `stamp` the file's size and mtime when it was read.

    >>> FrameIdentity(Path("clips/a.mp4"), Path("clips"), "ab12", frame_index=3).key
    'clips/a.mp4#3'
    """

    path: Path
    root: Path
    hash: str
    frame_index: int | None = None
    video_id: str | None = None
    timestamp: float | None = None
    stamp: FileStamp | None = field(default=None, compare=False)

    @property
    def key(self) -> str:
        return source_key(self.path, self.frame_index)

    @property
    def group(self) -> str:
        """Frames that must share a split: a video's frames, or identical images."""
        return self.video_id or self.hash


class TrackClass(NamedTuple):
    """The one class of a track, decided over its keyframes."""

    class_id: int
    prompt_id: int
    confidence: float


def empty_detections() -> sv.Detections:
    """No boxes, with the fields every teacher's detections carry."""
    import supervision as sv

    detections = sv.Detections.empty()
    detections.class_id = np.zeros(0, dtype=np.int64)
    detections.confidence = np.zeros(0, dtype=np.float32)
    detections.data = {
        "prompt_id": np.zeros(0, dtype=np.int64),
        "text_score": np.zeros(0, dtype=np.float32),
    }
    return detections


def class_ids(detections: sv.Detections) -> np.ndarray:
    """The class id of every box: distil's detections always carry them.

    >>> class_ids(human_detections(np.zeros((2, 4)), np.array([3, 1]))).tolist()
    [3, 1]
    """
    if detections.class_id is None:
        raise ValueError("detections without class ids")  # distil never builds those
    return detections.class_id


def scores(detections: sv.Detections) -> np.ndarray:
    """The confidence of every box (1 for a reviewer's): distil's detections carry them."""
    if detections.confidence is None:
        raise ValueError("detections without confidences")  # distil never builds those
    return detections.confidence


def masks_of(detections: sv.Detections) -> np.ndarray | None:
    """The boxes' masks as one boolean array (boxes, H, W), or None without masks."""
    if detections.mask is None:
        return None
    return np.asarray(detections.mask, dtype=bool)


CLASS_NAME = "class_name"  # supervision's own data key for class names


def name_classes(detections: sv.Detections, names: Sequence[str]) -> sv.Detections:
    """`detections` with `data["class_name"]` set from `names`, as supervision's own
    readers set it, so that its dataset tools work on them unchanged (in place).

    >>> named = name_classes(human_detections(np.zeros((2, 4)), np.array([1, 0])), ["a", "b"])
    >>> named.data["class_name"].tolist()
    ['b', 'a']
    """
    ids = class_ids(detections)
    known = np.asarray([*names, ""], dtype=str)  # an id without a name gets ""
    inside = (ids >= 0) & (ids < len(names))
    detections.data[CLASS_NAME] = known[np.where(inside, ids, len(names))]
    return detections


def apply_track_classes(detections: sv.Detections, tracks: dict[int, TrackClass]) -> None:
    """Give every tracked box its track's final class, prompt and confidence (in place)."""
    if detections.tracker_id is None:
        return
    classes, confidence = class_ids(detections), scores(detections)
    for i, track in enumerate(detections.tracker_id.tolist()):
        if track in tracks:
            chosen = tracks[track]
            classes[i] = chosen.class_id
            detections.data["prompt_id"][i] = chosen.prompt_id
            confidence[i] = chosen.confidence


HUMAN_PROMPT = -1  # the prompt id of a reviewer's label: no prompt made it


def human_detections(
    xyxy: np.ndarray | Sequence[Sequence[float]],
    class_id: np.ndarray | Sequence[int],
    mask: np.ndarray | None = None,
) -> sv.Detections:
    """A reviewer's labels as Detections with every teacher field: score 1, no prompt."""
    import supervision as sv

    if len(xyxy) == 0:
        detections = empty_detections()
        detections.mask = mask
        return detections
    count = len(xyxy)
    return sv.Detections(
        xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
        class_id=np.asarray(class_id, dtype=np.int64),
        confidence=np.ones(count, dtype=np.float32),
        mask=mask,
        data={
            "prompt_id": np.full(count, HUMAN_PROMPT, dtype=np.int64),
            "text_score": np.ones(count, dtype=np.float32),
        },
    )


def remap_classes(detections: sv.Detections, mapping: dict[int, int]) -> sv.Detections:
    """The detections whose class id `mapping` names, with the ids it gives them.

    >>> found = human_detections(np.zeros((3, 4)), np.array([0, 2, 1]))
    >>> remap_classes(found, {2: 0, 1: 5}).class_id
    array([0, 5])
    """
    if not len(detections) or not mapping:
        return _subset(detections, np.zeros(len(detections), dtype=bool))
    kept = _subset(detections, np.isin(class_ids(detections), list(mapping)))
    lookup = np.zeros(max(mapping) + 1, dtype=np.int64)
    lookup[list(mapping)] = list(mapping.values())
    kept.class_id = lookup[class_ids(kept)]
    return kept


def _subset(detections: sv.Detections, keep: np.ndarray) -> sv.Detections:
    """The boxes where `keep` is true (indexing with an array gives Detections)."""
    return cast("sv.Detections", detections[keep])
