"""Video labeling by tracking: the grounded detector runs on every K-th sampled frame, SAM 2's
video memory carries each object's mask through the frames in between, and keyframe
detections are matched to live tracks by mask IoU (`TrackBook`). Or SAM 3's video model
does all of it (`Sam3VideoTracker`), or a box tracker (ByteTrack, BoT-SORT) links the
detector's boxes on every frame (`BoxVideoTracker`).

Frames are stored one window (a keyframe and the frames up to the next) per transaction,
with the tracker's state, so a killed run resumes at the window it was in. On resume the
memory restarts from the masks (or boxes) of the last stored frame.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from distil.datasets.filters import select_detections
from distil.detections import empty_detections, source_key
from distil.labeling.tracks import TrackBook, match_boxes, match_masks
from distil.settings import (
    DatasetSettings,
    FrameSampling,
    LabelSettings,
    Tracker,
    TrackingSettings,
    default,
)
from distil.sources import Frame, SkippedFile, iter_frames
from distil.store import LabelStore, StoreBatch, StoredFrame, VideoProgress
from distil.utils.boxes import class_aware_nms
from distil.utils.profiling import Timings
from distil.utils.threads import prefetch

if TYPE_CHECKING:
    from distil.base_models.core import BaseModel
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.base_models.sam3_video import Sam3Video, VideoObjects
    from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

_PREFETCH_FRAMES = 8


@dataclass
class TrackedVideo:
    """What tracking one video did."""

    frames: int = 0  # sampled frames seen (labeled now or before)
    labeled: int = 0  # labeled in this run
    tracks: int = 0  # distinct track ids over the whole video
    instances: Counter[int] = field(default_factory=Counter)  # per class, this run
    problem: SkippedFile | None = None  # unreadable, or read only in part (`partial`)


class VideoTracker:
    """Labels videos by detection on keyframes plus SAM 2 memory propagation.

    >>> tracker = VideoTracker(  # doctest: +SKIP
    ...     Sam2VideoPropagator(device="cuda"), detect_every=15)
    >>> label_images("clips/", ontology, teacher, out, tracker=tracker)  # doctest: +SKIP
    """

    group = 1  # frames labeled together (the memory trackers take them one by one)

    def __init__(
        self,
        propagator: Sam2VideoPropagator,
        detect_every: int = default(TrackingSettings, "detect_every"),
        match_iou: float = default(TrackingSettings, "match_iou"),
        max_lost: int = default(TrackingSettings, "max_lost"),
        nms_iou: float = default(DatasetSettings, "nms_iou"),
    ) -> None:
        checked = TrackingSettings.build(
            detect_every=detect_every, match_iou=match_iou, max_lost=max_lost
        )
        self.propagator = propagator
        self.detect_every = checked.detect_every
        self.match_iou = checked.match_iou
        self.max_lost = checked.max_lost
        self.nms_iou = nms_iou

    def describe(self, ontology: Ontology) -> dict[str, Any]:
        """Everything that changes tracked labels (the thresholds decide births)."""
        return {
            "propagator": self.propagator.describe(),
            "detect_every": self.detect_every,
            "match_iou": self.match_iou,
            "max_lost": self.max_lost,
            "nms_iou": self.nms_iou,
            "thresholds": _thresholds(ontology),
        }

    def label_video(
        self,
        path: Path,
        root: Path,
        ontology: Ontology,
        model: BaseModel,
        store: LabelStore,
        sampling: FrameSampling,
        timings: Timings,
        advance: Callable[[int], None] = lambda n: None,
    ) -> TrackedVideo:
        """Track one video into `store`, resuming from its stored state."""
        result = TrackedVideo()
        book = TrackBook(self.match_iou, self.max_lost)
        carried: dict[int, np.ndarray] = {}
        window: list[StoredFrame] = []
        pending: list[tuple[Frame, Any]] = []  # new frames waiting for a group to fill
        last_index, started, video = -1, False, ""

        def label_pending() -> None:
            nonlocal carried, last_index
            if not pending:
                return
            found = self._label_frames(pending, ontology, model, book, carried, timings)
            carried = {}
            for (frame, _), detections in zip(pending, found, strict=True):
                height, width = frame.image.shape[:2]
                window.append(StoredFrame(frame.identity, width, height, detections))
                result.instances.update(detections.class_id.tolist())
            last_index = pending[-1][0].identity.frame_index
            result.labeled += len(pending)
            advance(len(pending))
            pending.clear()

        for item in prefetch(self._frames(path, root, sampling, store, timings), _PREFETCH_FRAMES):
            if isinstance(item, SkippedFile):
                result.problem = item
                continue
            frame, pixels = item
            identity = frame.identity
            if video != identity.video_id:  # the first frame: resume from the stored state
                video = identity.video_id
                state = store.video_state(video)
                if state and state["done"]:
                    result.frames, result.tracks = state["frames"], state["tracks"]
                    advance(result.frames)
                    return result
                if state:
                    book = TrackBook.from_dict(state["book"])
                    last_index = state["last_index"]
                    carried = self._carried(_stored_frame(store, path, last_index))
            result.frames += 1
            if frame.known:  # stored by an earlier run
                advance(1)
                continue
            if not started:
                self._start(frame.image.shape[0], frame.image.shape[1], ontology)
                started = True
            if frame.position % self.detect_every == 0 and (window or pending):
                label_pending()
                self._flush(store, video, window, book, frame.position, last_index, timings)
                window = []
            pending.append((frame, pixels))
            if len(pending) >= self.group:
                label_pending()
        if video:
            label_pending()
            result.tracks = self._flush(
                store, video, window, book, result.frames, last_index, timings, done=True
            )
        return result

    def _frames(
        self,
        path: Path,
        root: Path,
        sampling: FrameSampling,
        store: LabelStore,
        timings: Timings,
    ) -> Iterator[tuple[Frame, Any] | SkippedFile]:
        """The video's frames with the propagator's input; frames stored by an earlier run
        come without pixels (decoded, as the codec needs, but not converted)."""
        known = store.reader()  # SQLite connections are per thread: opened in the reader
        try:
            stream = iter_frames([(path, root)], sampling, known.has)
            while True:
                with timings.measure("read"):
                    item = next(stream, None)
                    if isinstance(item, Frame) and not item.known:
                        item = (item, self._prepare(item.image))
                    elif isinstance(item, Frame):
                        item = (item, None)
                if item is None:
                    return
                yield item
        finally:
            known.close()

    def _prepare(self, image: np.ndarray) -> Any:
        """The tracker's input for one frame, made in the background reader."""
        return self.propagator.prepare(image)

    def _start(self, height: int, width: int, ontology: Ontology) -> None:
        self.propagator.start(height, width)

    def _carried(self, last: sv.Detections | None) -> dict[int, np.ndarray]:
        """What a resumed video continues from: track id -> mask on its last stored frame."""
        if last is None or last.tracker_id is None or last.mask is None:
            return {}
        return dict(zip(last.tracker_id.tolist(), last.mask, strict=True))

    def _label_frames(
        self,
        frames: list[tuple[Frame, Any]],
        ontology: Ontology,
        model: BaseModel,
        book: TrackBook,
        carried: dict[int, np.ndarray],
        timings: Timings,
    ) -> list[sv.Detections]:
        """Detections with track ids on a group of new frames, in order; only the first
        gets `carried`."""
        return [
            self._label_frame(
                frame, pixels, ontology, model, book, carried if i == 0 else {}, timings
            )
            for i, (frame, pixels) in enumerate(frames)
        ]

    def _label_frame(
        self,
        frame: Frame,
        pixels: Any,
        ontology: Ontology,
        model: BaseModel,
        book: TrackBook,
        carried: dict[int, np.ndarray],
        timings: Timings,
    ) -> sv.Detections:
        """Detections with track ids on one new frame. A resumed video's first new frame
        is a keyframe (windows end at keyframes), and only it gets `carried`."""
        if frame.position % self.detect_every == 0:
            return self._keyframe(frame.image, pixels, ontology, model, book, carried, timings)
        with timings.measure("track"):
            ids, masks, _ = self.propagator.propagate(pixels)
        return _track_detections(ids, masks, book)

    def _keyframe(
        self,
        rgb: np.ndarray,
        pixels: Any,
        ontology: Ontology,
        model: BaseModel,
        book: TrackBook,
        carried: dict[int, np.ndarray],
        timings: Timings,
    ) -> sv.Detections:
        """Detect, match to the live tracks, start new ones, restart the memory."""
        propagator = self.propagator
        with timings.measure("track"):
            if carried:  # resumed: the memory is gone, the last stored masks stand in for it
                propagator.add_frame(pixels)
                predicted = carried
            else:
                ids, masks, _ = propagator.propagate(pixels)
                predicted = dict(zip(ids, masks, strict=True))
        with timings.measure("detect"):
            found = self._detect([rgb], ontology, model)[0]
        with timings.measure("segment"):
            detection_masks = propagator.segment_boxes(found.xyxy)
            live = list(book.live)
            empty = np.zeros(rgb.shape[:2], dtype=bool)
            track_masks = np.array([predicted.get(t, empty) for t in live])
            track_masks = track_masks.reshape(-1, *rgb.shape[:2])
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
        ids = list(seeds)
        masks = np.array([seeds[t] for t in ids], dtype=bool).reshape(-1, *rgb.shape[:2])
        return _track_detections(ids, masks, book)

    def _detect(
        self, images: list[np.ndarray], ontology: Ontology, model: BaseModel
    ) -> list[sv.Detections]:
        """The teacher's boxes past the ontology's thresholds, one per object whatever
        its class (the track votes the class)."""
        found = []
        for detections in model.boxes(images, ontology, _lowest_threshold(ontology)):
            detections = select_detections(detections, ontology, self.nms_iou)
            one_per_object = class_aware_nms(
                detections.xyxy,
                detections.confidence,
                np.zeros(len(detections), np.int64),
                self.nms_iou,
            )
            found.append(detections[np.sort(one_per_object)])
        return found

    def _flush(
        self,
        store: LabelStore,
        video: str,
        window: list[StoredFrame],
        book: TrackBook,
        next_position: int,
        last_index: int,
        timings: Timings,
        done: bool = False,
    ) -> int:
        seen = book.next_id - 1
        state = {
            "done": done,
            "next_position": next_position,
            "last_index": last_index,
            "frames": next_position,
            "tracks": seen,
            "book": book.to_dict(),
        }
        with timings.measure("store"):
            store.write_batch(
                StoreBatch(frames=window, video=VideoProgress(video, state, book.classes()))
            )
        return seen


def _thresholds(ontology: Ontology) -> list[list[float]]:
    """Each class's box and text thresholds (they decide which detections start tracks)."""
    return [
        [ontology.class_box_threshold(i), ontology.class_text_threshold(i)]
        for i in range(len(ontology.classes))
    ]


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


def _stored_frame(store: LabelStore, path: Path, last_index: int) -> sv.Detections | None:
    """The detections on the last stored frame of a resumed video."""
    if last_index < 0:
        return None
    for frame in store.frames(with_masks=True, keys=[source_key(path, last_index)]):
        return frame.detections
    return None


class Sam3VideoTracker(VideoTracker):
    """Labels videos with SAM 3's video model alone: it finds every prompt on every frame
    and keeps its objects' ids, which become track ids. The teacher's detector is not run
    on video frames. Every `store_every` frames are stored in one transaction.

    On resume SAM 3 starts a new session; its objects on the first new frame take the ids
    of the tracks whose last stored masks they overlap (mask IoU at least `match_iou`).

    >>> tracker = Sam3VideoTracker(Sam3Video("facebook/sam3", device="cuda"))  # doctest: +SKIP
    """

    def __init__(
        self,
        video: Sam3Video,
        store_every: int = default(TrackingSettings, "detect_every"),
        match_iou: float = default(TrackingSettings, "match_iou"),
    ) -> None:
        super().__init__(video, detect_every=store_every, match_iou=match_iou)  # type: ignore[arg-type]
        self.objects: dict[int, int] = {}  # SAM 3 session object id -> track id

    def describe(self, ontology: Ontology) -> dict[str, Any]:
        # SAM 3's own thresholds decide what it tracks; the ontology's apply at export.
        return {"video_model": self.propagator.describe(), "match_iou": self.match_iou}

    def _start(self, height: int, width: int, ontology: Ontology) -> None:
        self.propagator.start(height, width, list(ontology.prompts))
        self.objects = {}

    def _label_frame(
        self,
        frame: Frame,
        pixels: Any,
        ontology: Ontology,
        model: BaseModel,
        book: TrackBook,
        carried: dict[int, np.ndarray],
        timings: Timings,
    ) -> sv.Detections:
        with timings.measure("track"):
            found = self.propagator.step(pixels)
        tracks = follow_objects(
            found, self.objects, book, ontology.prompt_class_ids, carried, self.match_iou
        )
        return _track_detections(tracks, found.masks, book)


def follow_objects(
    found: VideoObjects,
    objects: dict[int, int],
    book: TrackBook,
    prompt_class_ids: tuple[int, ...],
    carried: dict[int, np.ndarray],
    match_iou: float,
) -> list[int]:
    """The track id of each object SAM 3 shows on a frame; `objects` (session object id ->
    track id) and `book` are updated in place.

    A new object continues a `carried` track (resumed from the store) when its mask
    overlaps that track's last mask by `match_iou`, and starts a track otherwise. Each
    shown object votes for its prompt's class with its score; tracks whose object the
    session no longer holds end."""
    new = [i for i, obj in enumerate(found.ids) if obj not in objects]
    resumed = list(carried)
    same = match_masks(found.masks[new], np.array([carried[t] for t in resumed]), match_iou)
    for position, index in enumerate(new):
        objects[found.ids[index]] = (
            resumed[same[position]] if position in same else book.new_track()
        )
    for obj, prompt, score in zip(found.ids, found.prompt_ids.tolist(), found.scores, strict=True):
        book.observe(objects[obj], prompt_class_ids[prompt], prompt, float(score))
    tracks = [objects[obj] for obj in found.ids]
    for obj in [o for o in objects if o not in found.alive]:
        del objects[obj]
    for track in set(book.live) - set(objects.values()):
        book.end(track)
    return tracks


class BoxVideoTracker(VideoTracker):
    """Labels videos with a box tracker (Ultralytics' ByteTrack or BoT-SORT): the teacher's
    detector runs on every new frame, `batch` frames per call, the tracker links its boxes
    into tracks, and the teacher's segmenter (if any) masks the tracked boxes, one call per
    batch. Each track's class is voted by the confidences of its detections, as with SAM 2.
    Every `store_every` frames are stored in one transaction.

    On resume the tracker starts again; its tracks on the first new frame take the ids of
    the tracks whose last stored boxes they overlap (box IoU at least `match_iou`).

    >>> tracker = BoxVideoTracker("bytetrack", batch=8)  # doctest: +SKIP
    >>> label_images("clips/", ontology, teacher, out, tracker=tracker)  # doctest: +SKIP
    """

    def __init__(
        self,
        tracker: str = Tracker.BYTETRACK.value,
        store_every: int = default(TrackingSettings, "detect_every"),
        match_iou: float = default(TrackingSettings, "match_iou"),
        nms_iou: float = default(DatasetSettings, "nms_iou"),
        batch: int = default(LabelSettings, "batch"),
    ) -> None:
        from distil.utils.trackers import BoxTracker

        super().__init__(None, detect_every=store_every, match_iou=match_iou, nms_iou=nms_iou)  # type: ignore[arg-type]
        self.box_tracker = BoxTracker(tracker)
        self.group = max(1, batch)
        self.ids: dict[int, int] = {}  # the box tracker's id -> track id in the store

    def describe(self, ontology: Ontology) -> dict[str, Any]:
        return {
            "box_tracker": self.box_tracker.describe(),
            "store_every": self.detect_every,
            "match_iou": self.match_iou,
            "nms_iou": self.nms_iou,
            "thresholds": _thresholds(ontology),
        }

    def _prepare(self, image: np.ndarray) -> Any:
        return None

    def _start(self, height: int, width: int, ontology: Ontology) -> None:
        self.box_tracker.reset()
        self.ids = {}

    def _carried(self, last: sv.Detections | None) -> dict[int, np.ndarray]:
        """track id -> box on the resumed video's last stored frame."""
        if last is None or last.tracker_id is None:
            return {}
        return dict(zip(last.tracker_id.tolist(), last.xyxy, strict=True))

    def _label_frames(
        self,
        frames: list[tuple[Frame, Any]],
        ontology: Ontology,
        model: BaseModel,
        book: TrackBook,
        carried: dict[int, np.ndarray],
        timings: Timings,
    ) -> list[sv.Detections]:
        images = [frame.image for frame, _ in frames]
        with timings.measure("detect"):
            found = self._detect(images, ontology, model)
        tracked = []
        with timings.measure("track"):
            for image, detections in zip(images, found, strict=True):
                tracked.append(self._follow(detections, image[..., ::-1], book, carried))
                carried = {}
        with timings.measure("segment"):
            return model.segment(images, tracked)

    def _follow(
        self,
        found: sv.Detections,
        bgr: np.ndarray,
        book: TrackBook,
        carried: dict[int, np.ndarray],
    ) -> sv.Detections:
        """The detections the tracker follows on one frame, with their track ids and the
        tracks' voted classes; `book` and `self.ids` are updated in place."""
        ids, index = self.box_tracker.update(found.xyxy, found.confidence, found.class_id, bgr)
        new = [i for i, t in enumerate(ids.tolist()) if t not in self.ids]
        resumed = list(carried)
        same = match_boxes(
            found.xyxy[index[new]], np.array([carried[t] for t in resumed]), self.match_iou
        )
        for position, i in enumerate(new):
            self.ids[int(ids[i])] = (
                resumed[same[position]] if position in same else book.new_track()
            )
        prompts = np.asarray(found.data["prompt_id"])
        tracks = [self.ids[int(t)] for t in ids]
        for track, det in zip(tracks, index.tolist(), strict=True):
            book.observe(
                track, int(found.class_id[det]), int(prompts[det]), float(found.confidence[det])
            )
        alive = self.box_tracker.alive()
        for held in [t for t in self.ids if t not in alive]:
            del self.ids[held]
        for track in set(book.live) - set(self.ids.values()):
            book.end(track)
        followed = found[index]
        classes = book.classes()
        followed.tracker_id = np.array(tracks, dtype=np.int64)
        followed.class_id = np.array([classes[t][0] for t in tracks], dtype=np.int64)
        followed.confidence = np.array([classes[t][2] for t in tracks], dtype=np.float32)
        followed.data["prompt_id"] = np.array([classes[t][1] for t in tracks], dtype=np.int64)
        return followed
