"""Video labeling by tracking: the grounded detector runs on every K-th sampled frame, SAM 2's
video memory carries each object's mask through the frames in between, and keyframe
detections are matched to live tracks by mask IoU (`TrackBook`).

Frames are stored one window (a keyframe and the frames up to the next) per transaction,
with the tracker's state, so a killed run resumes at the window it was in. On resume the
memory restarts from the masks of the last stored frame.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from distil.base_models.core import empty_detections
from distil.datasets.filters import DEFAULT_NMS_IOU, select_detections
from distil.labeling.store import LabelStore, SourceRecord, source_key
from distil.labeling.tracks import DEFAULT_MATCH_IOU, DEFAULT_MAX_LOST, TrackBook
from distil.ontologies import Ontology
from distil.sources import (
    FrameSampling,
    SkippedFile,
    VideoReadError,
    VideoReport,
    frame_hash,
    iter_video,
    video_id,
)
from distil.utils.boxes import class_aware_nms
from distil.utils.threads import prefetch

if TYPE_CHECKING:
    from distil.base_models.core import GroundedModel
    from distil.base_models.sam2_video import Sam2VideoPropagator

logger = logging.getLogger(__name__)

DEFAULT_DETECT_EVERY = 15
_PREFETCH_FRAMES = 8


@dataclass
class TrackedVideo:
    """What tracking one video did."""

    frames: int = 0  # sampled frames seen (labeled now or before)
    labeled: int = 0  # labeled in this run
    tracks: int = 0  # distinct track ids over the whole video
    instances: Counter[int] = field(default_factory=Counter)  # per class, this run
    skipped: SkippedFile | None = None
    problem: SkippedFile | None = None


@dataclass
class _Window:
    frames: list[tuple[SourceRecord, int, int]] = field(default_factory=list)
    detections: list[sv.Detections] = field(default_factory=list)


class VideoTracker:
    """Labels videos by detection on keyframes plus SAM 2 memory propagation.

    >>> tracker = VideoTracker(Sam2VideoPropagator(device="cuda"), detect_every=15)
    >>> label_images("clips/", ontology, teacher, out, tracker=tracker)
    """

    def __init__(
        self,
        propagator: Sam2VideoPropagator,
        detect_every: int = DEFAULT_DETECT_EVERY,
        match_iou: float = DEFAULT_MATCH_IOU,
        max_lost: int = DEFAULT_MAX_LOST,
        nms_iou: float = DEFAULT_NMS_IOU,
    ) -> None:
        if detect_every < 1:
            raise ValueError(f"--detect-every must be at least 1, got {detect_every}")
        if not 0 < match_iou <= 1:
            raise ValueError(f"--match-iou must be in (0, 1], got {match_iou}")
        if max_lost < 0:
            raise ValueError(f"--max-lost must be 0 or more, got {max_lost}")
        self.propagator = propagator
        self.detect_every = detect_every
        self.match_iou = match_iou
        self.max_lost = max_lost
        self.nms_iou = nms_iou

    def describe(self, ontology: Ontology) -> dict[str, Any]:
        """Everything that changes tracked labels (the thresholds decide births)."""
        return {
            "propagator": self.propagator.describe(),
            "detect_every": self.detect_every,
            "match_iou": self.match_iou,
            "max_lost": self.max_lost,
            "nms_iou": self.nms_iou,
            "thresholds": [
                [ontology.class_box_threshold(i), ontology.class_text_threshold(i)]
                for i in range(len(ontology.classes))
            ],
        }

    def label_video(
        self,
        path: Path,
        root: Path,
        ontology: Ontology,
        model: GroundedModel,
        store: LabelStore,
        sampling: FrameSampling,
        timings: dict[str, float],
        advance: Callable[[int], None] = lambda n: None,
    ) -> TrackedVideo:
        """Track one video into `store`, resuming from its stored state."""
        result = TrackedVideo()
        try:
            identity = video_id(path)
        except OSError as e:
            result.skipped = SkippedFile(path, f"cannot read file ({e.strerror or e})")
            return result
        state = store.video_state(identity)
        if state and state["done"]:
            result.frames, result.tracks = state["frames"], state["tracks"]
            advance(result.frames)
            return result
        report = VideoReport(path)
        try:
            book = (
                TrackBook.from_dict(state["book"])
                if state
                else TrackBook(self.match_iou, self.max_lost)
            )
            resume_at = state["next_position"] if state else 0
            carried = _stored_masks(store, path, state) if state else {}
            propagator = self.propagator
            window = _Window()
            last_index = state["last_index"] if state else -1
            position = -1
            for position, decoded, rgb, pixels in prefetch(
                _frames(path, sampling, report, propagator, resume_at, timings), _PREFETCH_FRAMES
            ):
                result.frames += 1
                if rgb is None:  # stored by an earlier run
                    advance(1)
                    continue
                if position == resume_at:
                    propagator.start(rgb.shape[0], rgb.shape[1])
                if position % self.detect_every == 0:
                    if window.frames:
                        self._flush(store, identity, window, book, position, last_index, timings)
                        window = _Window()
                    detections = self._keyframe(
                        rgb, pixels, ontology, model, book, carried, timings
                    )
                    carried = {}
                else:
                    t0 = time.perf_counter()
                    ids, masks, _ = propagator.propagate(pixels)
                    timings["track"] = timings.get("track", 0.0) + time.perf_counter() - t0
                    detections = _track_detections(ids, masks, book)
                digest = frame_hash(identity, decoded.index)
                timestamp = round(decoded.timestamp, 6)
                record = SourceRecord(path, root, digest, decoded.index, identity, timestamp)
                window.frames.append((record, rgb.shape[1], rgb.shape[0]))
                window.detections.append(detections)
                last_index = decoded.index
                result.labeled += 1
                result.instances.update(detections.class_id.tolist())
                advance(1)
            result.tracks = self._flush(
                store, identity, window, book, position + 1, last_index, timings, done=True
            )
        except VideoReadError as e:
            result.skipped = SkippedFile(path, str(e))
            return result
        if report.problem and report.kept == 0:
            result.skipped = SkippedFile(path, report.problem)
        elif report.problem:
            result.problem = SkippedFile(path, report.problem)
        return result

    def _keyframe(self, rgb, pixels, ontology, model, book, carried, timings):
        """Detect, match to the live tracks, start new ones, restart the memory."""
        propagator = self.propagator
        t0 = time.perf_counter()
        if carried:  # resumed: the memory is gone, the last stored masks stand in for it
            propagator.add_frame(pixels)
            predicted = carried
        else:
            ids, masks, _ = propagator.propagate(pixels)
            predicted = dict(zip(ids, masks, strict=True))
        t1 = time.perf_counter()
        found = model.detector.detect([rgb], ontology, _lowest_threshold(ontology))[0]
        found = select_detections(found, ontology, self.nms_iou)
        one_per_object = class_aware_nms(
            found.xyxy, found.confidence, np.zeros(len(found), np.int64), self.nms_iou
        )
        found = found[np.sort(one_per_object)]
        t2 = time.perf_counter()
        detection_masks = propagator.segment_boxes(found.xyxy)
        live = list(book.live)
        empty = np.zeros(rgb.shape[:2], dtype=bool)
        track_masks = np.array([predicted.get(t, empty) for t in live]).reshape(-1, *rgb.shape[:2])
        update = book.update(
            live,
            track_masks,
            detection_masks,
            found.class_id,
            np.asarray(found.data["prompt_id"]),
            found.confidence,
        )
        seeds = {track: detection_masks[det] for det, track in update.assigned.items()}
        seeds.update({t: track_masks[live.index(t)] for t in update.coasting})
        propagator.reseed(seeds)
        t3 = time.perf_counter()
        timings["track"] = timings.get("track", 0.0) + t1 - t0
        timings["detect"] += t2 - t1
        timings["segment"] += t3 - t2
        ids = list(seeds)
        masks = np.array([seeds[t] for t in ids], dtype=bool).reshape(-1, *rgb.shape[:2])
        return _track_detections(ids, masks, book)

    def _flush(
        self, store, identity, window, book, next_position, last_index, timings, done=False
    ) -> int:
        t0 = time.perf_counter()
        seen = book.next_id - 1
        state = {
            "done": done,
            "next_position": next_position,
            "last_index": last_index,
            "frames": next_position,
            "tracks": seen,
            "book": book.to_dict(),
        }
        store.write_batch(
            window.frames,
            window.detections,
            tracks=book.classes(),
            video_state=(identity, state),
        )
        timings["store"] += time.perf_counter() - t0
        return seen


def _lowest_threshold(ontology: Ontology) -> float:
    return min(ontology.class_box_threshold(i) for i in range(len(ontology.classes)))


def _track_detections(ids: list[int], masks: np.ndarray, book: TrackBook) -> sv.Detections:
    """One detection per visible tracked mask, classed by its track's current vote."""
    classes = book.classes()
    keep = [i for i, t in enumerate(ids) if t in classes and masks[i].any()]
    if not keep:
        detections = empty_detections()
        detections.mask = np.zeros((0, *masks.shape[1:]), dtype=bool)
        detections.tracker_id = np.zeros(0, dtype=np.int64)
        return detections
    chosen = masks[keep]
    tracks = [ids[i] for i in keep]
    return sv.Detections(
        xyxy=sv.mask_to_xyxy(chosen).astype(np.float32),
        mask=chosen,
        confidence=np.array([classes[t][2] for t in tracks], dtype=np.float32),
        class_id=np.array([classes[t][0] for t in tracks], dtype=np.int64),
        tracker_id=np.array(tracks, dtype=np.int64),
        data={
            "prompt_id": np.array([classes[t][1] for t in tracks], dtype=np.int64),
            "text_score": np.ones(len(tracks), dtype=np.float32),
        },
    )


def _stored_masks(store: LabelStore, path: Path, state: dict[str, Any]) -> dict[int, np.ndarray]:
    """track id -> mask on the last stored frame of a resumed video."""
    if state["last_index"] < 0:
        return {}
    key = source_key(path, state["last_index"])
    for image in store.images(with_masks=True, paths=[key]):
        d = image.detections
        if d.tracker_id is None or d.mask is None:
            return {}
        return dict(zip(d.tracker_id.tolist(), d.mask, strict=True))
    return {}


def _frames(
    path: Path,
    sampling: FrameSampling,
    report: VideoReport,
    propagator: Sam2VideoPropagator,
    resume_at: int,
    timings: dict[str, float],
) -> Iterator[tuple[int, Any, np.ndarray | None, Any]]:
    """(position, decoded frame, RGB, model input) per sampled frame; frames before
    `resume_at` are decoded (the codec needs them) but not converted."""
    t0 = time.perf_counter()
    for position, decoded in enumerate(iter_video(path, sampling, report)):
        if position < resume_at:
            yield position, decoded, None, None
            continue
        rgb = decoded.rgb()
        pixels = propagator.prepare(rgb)
        timings["read"] += time.perf_counter() - t0
        yield position, decoded, rgb, pixels
        t0 = time.perf_counter()
