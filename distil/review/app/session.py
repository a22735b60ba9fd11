"""What the review app serves and saves, apart from HTTP: the queue of frames, which tab
holds which frame, each frame's labels and image, the segmenter's answers to clicks, and
saving a frame as human labels.

>>> session = ReviewSession(Path("runs/label/exp"), ReviewServeSettings())  # doctest: +SKIP
>>> frame_id = session.claim("tab-1")  # doctest: +SKIP
>>> session.save(  # doctest: +SKIP
...     "tab-1", frame_id, [{"xyxy": [10, 20, 50, 80], "class_id": 0}], seconds=9.5)
"""

from __future__ import annotations

import base64
import getpass
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.filters import select_indices
from distil.datasets.labeled import mask_box
from distil.detections import FrameIdentity, human_detections
from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.review.core import NMS_IOU, rank_store, review_ontology
from distil.settings import QueueOrder, ReviewServeSettings
from distil.store import HumanLabels, LabelStore, ReviewRound

logger = logging.getLogger(__name__)

APP_FORMAT = "app"  # the kind of a round whose labels the review app saved
HOLD_SECONDS = 90.0  # a tab that has not been heard from for this long gives its frame back
CACHED_FRAMES = 4  # decoded images and embeddings kept: the current, the next, a previous
MAX_PROMPTS = 64  # masks kept per frame for a save to refer to
MAX_LABELS = 2000  # labels one save may hold
MAX_SECONDS = 24 * 3600.0  # a frame's editing time is capped at a day (a tab left open)
PROPAGATE_FRAMES = 10  # stored frames one "propagate" carries the labels through


class Conflict(Exception):
    """The request cannot be done now, for a reason the page shows (HTTP 409)."""


@dataclass
class AppFrame:
    """A stored frame as the app knows it: its id (its place in the store's order) and
    identity; its labels are read from the store when asked for."""

    id: int
    identity: FrameIdentity
    width: int
    height: int
    reviewed: bool

    @property
    def name(self) -> str:
        identity = self.identity
        name = identity.path.name
        return name if identity.frame_index is None else f"{name} frame {identity.frame_index}"


@dataclass
class Hold:
    client: str
    until: float


@dataclass
class Cached:
    """A decoded frame: RGB pixels, the bytes a browser shows, and its embedding."""

    rgb: np.ndarray
    image: tuple[bytes, str]
    embedded: Any = None
    prompts: OrderedDict[str, np.ndarray] = field(default_factory=OrderedDict)
    encoding: threading.Lock = field(default_factory=threading.Lock)  # one encoder call


class ReviewSession:
    """The state of one `distil review serve`: thread-safe (requests run in threads)."""

    def __init__(
        self, label_dir: Path, settings: ReviewServeSettings, segmenter: Any = None
    ) -> None:
        self.label_dir = Path(label_dir)
        self.settings = settings
        self.segmenter = segmenter  # a SAM-family segmenter with embed/prompt, or None
        self.reviewer = settings.reviewer or _login_name()
        with LabelStore.open(self.label_dir) as store:
            self.ontology: Ontology = review_ontology(store, settings.ontology)
            self.has_masks = store.has_masks()
            self.frames = [
                AppFrame(i, f.identity, f.width, f.height, f.human is not None)
                for i, f in enumerate(store.frames(with_masks=False))
            ]
        self.by_key = {f.identity.key: f for f in self.frames}
        self.reasons: dict[int, list[str]] = {}
        self.scores: dict[int, float] = {}
        if settings.frames is QueueOrder.ALL:
            self.queue = [f.id for f in self.frames]
        else:
            ranking = rank_store(self.label_dir, settings)
            self.queue = [self.by_key[r.key].id for r in ranking.frames]
            for ranked in ranking.frames:
                self.reasons[self.by_key[ranked.key].id] = ranked.reasons
                self.scores[self.by_key[ranked.key].id] = ranked.score
        self.queued = set(self.queue)
        self.saved: set[int] = set()
        self.holds: dict[int, Hold] = {}
        self.round: int | None = None  # the app round, numbered at the first save
        self.round_frames: list[str] = []
        self._lock = threading.Lock()
        self._model_lock = threading.Lock()  # one mask decoder call at a time
        self._cache: OrderedDict[int, Cached] = OrderedDict()
        self._prefetching: threading.Thread | None = None
        self.video_model: str | None = None  # SAM 2.1 / EdgeTAM: propagates through videos
        self._propagator: Any = None
        self._proposed: dict[int, dict[str, dict]] = {}  # frame -> mask id -> RLE
        self.text_model: Any = None  # SAM 3: a typed phrase finds every instance

    # -- the queue -------------------------------------------------------------------

    def claim(self, client: str, after: int | None = None) -> int | None:
        """The next frame of the queue for `client` (after frame `after`, when given) that
        nobody holds and this session has not saved; `client` holds it from now on (and
        gives back any other). None: the queue is done."""
        with self._lock:
            now = time.monotonic()
            self._release(client)
            start = self.queue.index(after) + 1 if after in self.queue else 0
            browse_all = self.settings.frames is QueueOrder.ALL
            for frame_id in self.queue[start:]:
                if not browse_all and frame_id in self.saved:
                    continue
                if self._held_by_other(frame_id, client, now):
                    continue
                self.holds[frame_id] = Hold(client, now + HOLD_SECONDS)
                break
            else:
                return None
        if self.settings.prefetch:
            self._prefetch_after(frame_id)
        return frame_id

    def hold(self, client: str, frame_id: int) -> None:
        """`client` holds `frame_id` (going back to it, or still on it); Conflict when
        another tab holds it."""
        self._frame(frame_id)
        with self._lock:
            now = time.monotonic()
            if self._held_by_other(frame_id, client, now):
                raise Conflict("another tab or reviewer has this frame open")
            for other in [f for f, h in self.holds.items() if h.client == client]:
                if other != frame_id:
                    del self.holds[other]
            self.holds[frame_id] = Hold(client, now + HOLD_SECONDS)

    def release(self, client: str) -> None:
        with self._lock:
            self._release(client)

    def _release(self, client: str) -> None:
        for frame_id in [f for f, h in self.holds.items() if h.client == client]:
            del self.holds[frame_id]

    def _held_by_other(self, frame_id: int, client: str, now: float) -> bool:
        hold = self.holds.get(frame_id)
        return hold is not None and hold.client != client and hold.until > now

    def progress(self) -> dict[str, int]:
        with self._lock:
            done = len(self.saved & self.queued)
            return {"queue": len(self.queue), "saved": done, "left": len(self.queue) - done}

    # -- one frame -------------------------------------------------------------------

    def _frame(self, frame_id: int) -> AppFrame:
        if not 0 <= frame_id < len(self.frames):
            raise KeyError(frame_id)
        return self.frames[frame_id]

    def frame(self, frame_id: int) -> dict[str, Any]:
        """A frame's labels as export writes them (at the export thresholds), the stored
        candidates below them (for the threshold slider), its reasons and its size."""
        frame = self._frame(frame_id)
        stored = self._stored(frame, with_masks=True)
        chosen = set(select_indices(stored.detections, self.ontology, NMS_IOU).tolist())
        human = stored.human
        labels = []
        for index in range(len(stored.detections)):
            labels.append(_label(stored.detections, index, origin=index, exported=index in chosen))
        return {
            "id": frame.id,
            "name": frame.name,
            "width": frame.width,
            "height": frame.height,
            "video": None
            if frame.identity.frame_index is None
            else {
                "frame": frame.identity.frame_index,
                "seconds": frame.identity.timestamp,
            },
            "reasons": self.reasons.get(frame.id, []),
            "score": self.scores.get(frame.id),
            "reviewed": human is not None or frame.id in self.saved,
            "teacher": labels,
            "human": None
            if human is None
            else [_label(human, i, origin=None, exported=True) for i in range(len(human))],
        }

    def _stored(self, frame: AppFrame, with_masks: bool):
        with LabelStore.open(self.label_dir) as store:
            found = list(store.frames(with_masks=with_masks, keys=[frame.identity.key]))
        if not found:
            raise Conflict(f"{frame.name} is no longer in the store")
        return found[0]

    def image(self, frame_id: int) -> tuple[bytes, str]:
        """The bytes a browser shows for the frame, and their media type."""
        return self._decoded(frame_id).image

    def _decoded(self, frame_id: int) -> Cached:
        frame = self._frame(frame_id)
        with self._lock:
            cached = self._cache.get(frame_id)
            if cached is not None:
                self._cache.move_to_end(frame_id)
                return cached
        cached = _decode(frame)
        with self._lock:
            self._cache[frame_id] = self._cache.get(frame_id, cached)
            while len(self._cache) > CACHED_FRAMES:
                self._cache.popitem(last=False)
            return self._cache[frame_id]

    def _prefetch_after(self, frame_id: int) -> None:
        """Decode (and embed) the claimed frame and the one after it in the background."""
        position = self.queue.index(frame_id)
        wanted = self.queue[position : position + 2]

        def work() -> None:
            for wanted_id in wanted:
                try:
                    self._embedded(wanted_id)
                except Exception:  # the request for it will say why
                    logger.debug("prefetch of frame %d failed", wanted_id, exc_info=True)

        thread = threading.Thread(target=work, name="distil-prefetch", daemon=True)
        thread.start()
        self._prefetching = thread

    def _embedded(self, frame_id: int) -> Cached:
        cached = self._decoded(frame_id)
        # Not under the model lock: the next frame's encoding (prefetch) runs beside the
        # clicks on this one, which would otherwise wait for it (seconds on a CPU).
        if self.segmenter is not None and cached.embedded is None:
            with cached.encoding:
                if cached.embedded is None:
                    cached.embedded = self.segmenter.embed(cached.rgb)
        return cached

    # -- prompts ---------------------------------------------------------------------

    def prompt(
        self,
        frame_id: int,
        points: Sequence[Sequence[float]] = (),
        box: Sequence[float] | None = None,
    ) -> dict[str, Any]:
        """A mask from clicks (x, y, 1 on the object / 0 off it) and/or a box, with the box
        around it, and an id a save refers to."""
        if self.segmenter is None:
            raise Conflict("no segmenter is loaded (--segmenter)")
        frame = self._frame(frame_id)
        xy = [(float(p[0]), float(p[1])) for p in points]
        labels = [1 if int(p[2]) else 0 for p in points]
        if box is not None:
            box = _checked_box([float(v) for v in box], frame.width, frame.height)
        for x, y in xy:
            if not (0 <= x <= frame.width and 0 <= y <= frame.height):
                raise UsageError(f"a point ({x:.0f}, {y:.0f}) lies outside the frame")
        cached = self._embedded(frame_id)
        with self._model_lock:  # the decoder: one prompt at a time
            mask, score = self.segmenter.prompt(cached.embedded, xy, labels, box)
        if not mask.any():
            return {"mask": None, "xyxy": None, "score": score}
        with self._lock:
            mask_id = f"p{len(cached.prompts)}-{time.monotonic_ns()}"
            cached.prompts[mask_id] = mask
            while len(cached.prompts) > MAX_PROMPTS:
                cached.prompts.popitem(last=False)
        xyxy = mask_box(mask)
        return {"mask": {"id": mask_id, **_mask_png(mask, xyxy)}, "xyxy": xyxy, "score": score}

    def find_text(self, frame_id: int, phrase: str, class_id: int) -> dict[str, Any]:
        """Every instance of `phrase` in the frame, found by SAM 3 at `class_id`'s box
        threshold, as new labels of that class (with masks a save refers to)."""
        if self.text_model is None:
            raise Conflict("finding by text needs a SAM 3 model (--text-model)")
        phrase = " ".join(str(phrase).split())
        if not 1 <= len(phrase) <= 200:
            raise UsageError("phrase: 1 to 200 characters")
        if not 0 <= int(class_id) < len(self.ontology.class_names):
            raise UsageError(f"class_id {class_id} is not a class")
        cached = self._decoded(self._frame(frame_id).id)
        ontology = Ontology.from_dict({"classes": {phrase: "found"}}, source="typed phrase")
        threshold = float(self.ontology.limits.box_threshold[int(class_id)])
        with self._model_lock:
            (found,) = self.text_model.detect([cached.rgb], ontology, threshold)
        labels = []
        for index in range(len(found)):
            mask = found.mask[index] if found.mask is not None else None
            label = {"xyxy": [round(float(v), 2) for v in found.xyxy[index]],
                     "class_id": int(class_id), "score": None, "origin": None,
                     "exported": True, "mask": None}  # fmt: skip
            if mask is not None and mask.any():
                with self._lock:
                    mask_id = f"s{index}-{time.monotonic_ns()}"
                    cached.prompts[mask_id] = mask
                label["mask"] = {"id": mask_id, **_mask_png(mask, label["xyxy"])}
            labels.append(label)
        return {"labels": labels, "scores": [round(float(c), 4) for c in found.confidence]}

    # -- video -----------------------------------------------------------------------

    def propagate(
        self,
        frame_id: int,
        labels: Sequence[dict[str, Any]],
        backward: bool = False,
        count: int = PROPAGATE_FRAMES,
    ) -> dict[str, Any]:
        """Carry a video frame's labels through the next `count` stored frames of its
        video (the previous ones, `backward`) with SAM 2's video memory: per frame, the
        labels proposed (box from the mask, class from the label), for the page to show
        and the person to accept or stop. Boxes without a mask are segmented first."""
        if self.video_model is None:
            raise Conflict("propagating needs a SAM 2.1 or EdgeTAM segmenter (--segmenter)")
        frame = self._frame(frame_id)
        identity = frame.identity
        if identity.frame_index is None:
            raise UsageError("only a video frame can be propagated")
        if not labels:
            raise UsageError("labels: nothing to propagate")
        clip = sorted(
            (f for f in self.frames if f.identity.video_id == identity.video_id
             and f.identity.frame_index is not None),
            key=lambda f: f.identity.frame_index,
        )  # fmt: skip
        at = clip.index(frame)
        count = max(1, min(int(count), 100))
        others = clip[max(0, at - count) : at][::-1] if backward else clip[at + 1 : at + 1 + count]
        if not others:
            return {"frames": []}
        stored = self._stored(frame, with_masks=True)
        cached = self._decoded(frame_id)
        human, _ = self._human(frame, labels, stored.detections, set(), dict(cached.prompts))
        pixels = _video_frames(others)
        with self._model_lock:
            propagator = self._video_propagator()
            propagator.start(frame.height, frame.width)
            propagator.add_frame(propagator.prepare(cached.rgb))
            masks = human.mask
            if masks is None:
                masks = propagator.segment_boxes(human.xyxy)
            propagator.reseed({i: m for i, m in enumerate(masks)})
            carried = []
            for other, rgb in zip(others, pixels, strict=True):
                tracks, found, present = propagator.propagate(propagator.prepare(rgb))
                carried.append((other, tracks, found, present))
        return {"frames": [self._proposal(o, t, f, p, human) for o, t, f, p in carried]}

    def _video_propagator(self) -> Any:
        if self._propagator is None:
            from distil.base_models.sam2_video import Sam2VideoPropagator

            self._propagator = Sam2VideoPropagator(self.video_model, self.settings.device)
        return self._propagator

    def _proposal(
        self,
        frame: AppFrame,
        tracks: Sequence[int],
        masks: np.ndarray,
        present: Sequence[bool],
        human: sv.Detections,
    ) -> dict[str, Any]:
        from distil.utils.rle import encode_masks

        labels, kept = [], {}
        for track, mask, here in zip(tracks, masks, present, strict=True):
            if not here or not mask.any():
                continue  # the object left the frame, or is hidden
            mask_id = f"v{track}-{time.monotonic_ns()}"
            kept[mask_id] = encode_masks(mask[None])[0]
            xyxy = mask_box(mask)
            labels.append(
                {"xyxy": xyxy, "class_id": int(human.class_id[track]), "score": None,
                 "origin": None, "exported": True, "mask": {"id": mask_id, **_mask_png(mask, xyxy)}}
            )  # fmt: skip
        with self._lock:
            self._proposed[frame.id] = kept
        return {"id": frame.id, "name": frame.name, "labels": labels}

    # -- saving ----------------------------------------------------------------------

    def save(
        self,
        client: str,
        frame_id: int,
        labels: Sequence[dict[str, Any]],
        seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Store the frame's labels as a reviewer's, in one transaction with the app
        round's record; returns what was saved and the edits counted."""
        frame = self._frame(frame_id)
        with self._lock:
            if self._held_by_other(frame_id, client, time.monotonic()):
                raise Conflict("another tab or reviewer has this frame open")
        if len(labels) > MAX_LABELS:
            raise UsageError(f"a frame holds at most {MAX_LABELS} labels")
        from distil.sources.freshness import SourceCheck

        problem = SourceCheck().problem(frame.identity)
        if problem:
            raise Conflict(f"not saved: {frame.name} {problem}")
        stored = self._stored(frame, with_masks=True)
        exported = set(select_indices(stored.detections, self.ontology, NMS_IOU).tolist())
        cached = self._cache.get(frame_id)
        prompts = dict(cached.prompts) if cached is not None else {}
        proposed = self._proposed.get(frame_id, {})
        if proposed:
            from distil.utils.rle import decode_masks

            ids = list(proposed)
            masks = decode_masks([proposed[i] for i in ids], frame.height, frame.width)
            prompts.update(zip(ids, masks, strict=True))
        human, edits = self._human(frame, labels, stored.detections, exported, prompts)
        edits["seconds"] = round(min(max(float(seconds), 0.0), MAX_SECONDS), 2)
        with self._lock:
            round_frames = list(dict.fromkeys([*self.round_frames, frame.identity.key]))
        with LabelStore.edit(self.label_dir) as store:
            number = self.round or store.next_round()
            review_round = ReviewRound(
                number, 0.0, str(self.label_dir.resolve()), APP_FORMAT,
                self.settings.frames.value if self.settings.frames is QueueOrder.ALL
                else self.settings.ranking.value,
                round_frames,
            )  # fmt: skip
            item = HumanLabels(
                frame.identity.hash, frame.width, frame.height, human, edits["changed"],
                number, f"distil review serve ({self.reviewer})", APP_FORMAT,
                reviewer=self.reviewer, edits=edits,
            )  # fmt: skip
            store.write_human_labels([item], review_round)
        with self._lock:
            self.round, self.round_frames = number, round_frames
            self.saved.add(frame_id)
            frame.reviewed = True
        return {"saved": True, "round": number, "labels": len(human), "edits": edits}

    def _human(
        self,
        frame: AppFrame,
        labels: Sequence[dict[str, Any]],
        teacher: sv.Detections,
        exported: set[int],
        prompts: dict[str, np.ndarray],
    ) -> tuple[sv.Detections, dict[str, Any]]:
        """The reviewer's labels as Detections, and what they changed: added, deleted,
        relabeled and moved boxes against the exported labels, masks made with clicks."""
        classes = len(self.ontology.class_names)
        xyxy, class_id, masks, origins = [], [], [], []
        counts = {"added": 0, "deleted": 0, "relabeled": 0, "moved": 0, "masks": 0}
        for number, label in enumerate(labels):
            try:
                box = _checked_box([float(v) for v in label["xyxy"]], frame.width, frame.height)
                cls = int(label["class_id"])
            except (KeyError, TypeError, ValueError) as e:
                raise UsageError(
                    f"label {number}: needs xyxy (4 numbers) and class_id ({e})"
                ) from None
            if not 0 <= cls < classes:
                raise UsageError(f"label {number}: class_id {cls} is not a class")
            origin = label.get("origin")
            origin = int(origin) if origin is not None and 0 <= int(origin) < len(teacher) else None
            mask = _mask_for(label.get("mask"), origin, teacher, prompts, frame)
            if isinstance(label.get("mask"), str) and label["mask"] in prompts:
                counts["masks"] += 1
            if origin is None or origin not in exported:
                counts["added"] += 1
            else:
                if int(teacher.class_id[origin]) != cls:
                    counts["relabeled"] += 1
                if np.abs(teacher.xyxy[origin] - np.asarray(box)).max() > 0.5:
                    counts["moved"] += 1
            xyxy.append(box)
            class_id.append(cls)
            masks.append(mask)
            origins.append(origin)
        counts["deleted"] = len(exported - {o for o in origins if o is not None})
        mask = None
        if any(m is not None for m in masks):
            # A box drawn without a mask beside masked ones gets its box as its mask, so
            # the frame stays one whole segmentation (counted, and shown to the reviewer).
            counts["box_masks"] = sum(m is None for m in masks)
            mask = np.stack(
                [
                    m if m is not None else _box_mask(b, frame)
                    for m, b in zip(masks, xyxy, strict=True)
                ]
            )
        human = human_detections(np.asarray(xyxy).reshape(-1, 4), np.asarray(class_id), mask)
        counts["changed"] = (
            counts["added"] + counts["deleted"] + counts["relabeled"] + counts["moved"]
        )
        return human, counts


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container)
        return "reviewer"


def _label(detections: sv.Detections, index: int, origin: int | None, exported: bool) -> dict:
    xyxy = [round(float(v), 2) for v in detections.xyxy[index]]
    label = {
        "xyxy": xyxy,
        "class_id": int(detections.class_id[index]),
        "score": None
        if detections.confidence is None
        else round(float(detections.confidence[index]), 4),
        "origin": origin,
        "exported": exported,
        "mask": None,
    }
    if detections.mask is not None:
        label["mask"] = {"id": f"t{index}" if origin is not None else None}
        label["mask"].update(_mask_png(detections.mask[index], xyxy))
    return label


def _checked_box(box: list[float], width: int, height: int) -> list[float]:
    if len(box) != 4 or not np.isfinite(box).all():
        raise UsageError("a box is 4 finite numbers: x0, y0, x1, y1")
    x0, y0, x1, y1 = np.clip(box, 0, [width, height, width, height]).tolist()
    if x1 - x0 < 1 or y1 - y0 < 1:
        raise UsageError("a box must be at least 1 pixel wide and high inside the frame")
    return [x0, y0, x1, y1]


def _box_mask(box: list[float], frame: AppFrame) -> np.ndarray:
    mask = np.zeros((frame.height, frame.width), dtype=bool)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    mask[y0:y1, x0:x1] = True
    return mask


def _mask_for(
    reference: Any,
    origin: int | None,
    teacher: sv.Detections,
    prompts: dict[str, np.ndarray],
    frame: AppFrame,
) -> np.ndarray | None:
    """The mask a saved label refers to: a mask made by a click (`p...`), the teacher's
    own (`t<i>`, only for the label that came from it), or none."""
    if not isinstance(reference, str):
        return None
    if reference in prompts:
        return prompts[reference]
    if teacher.mask is not None and origin is not None and reference == f"t{origin}":
        return teacher.mask[origin]
    raise Conflict("a mask this save refers to is gone (the server restarted?): click again")


def _mask_png(mask: np.ndarray, xyxy: Sequence[float]) -> dict[str, Any]:
    """The mask inside its box as a white PNG with the mask as alpha (the page tints it)."""
    import cv2

    height, width = mask.shape
    x0, y0 = max(0, int(xyxy[0])), max(0, int(xyxy[1]))
    x1, y1 = min(width, int(np.ceil(xyxy[2]))), min(height, int(np.ceil(xyxy[3])))
    crop = mask[y0:y1, x0:x1]
    if crop.size == 0:
        return {"png": None, "at": [x0, y0]}
    rgba = np.full((*crop.shape, 4), 255, dtype=np.uint8)
    rgba[..., 3] = crop * 255
    ok, png = cv2.imencode(".png", rgba)
    encoded = base64.b64encode(png.tobytes()).decode("ascii") if ok else None
    return {"png": f"data:image/png;base64,{encoded}" if encoded else None, "at": [x0, y0]}


def _decode(frame: AppFrame) -> Cached:
    """Read and decode a stored frame's source (never a path from a request)."""
    from distil.datasets.export import jpeg_bytes
    from distil.sources.images import decode_image, read_file

    identity = frame.identity
    if identity.frame_index is not None:
        from distil.sources.video import VideoFrames

        video = VideoFrames()
        try:
            rgb = video.get(identity.path, identity.frame_index)
        finally:
            video.close()
    else:
        rgb = decode_image(read_file(identity.path)[0])
    # The pixels distil labeled (EXIF orientation applied), whatever the file's format.
    return Cached(rgb, (jpeg_bytes(rgb, quality=92), "image/jpeg"))


def _video_frames(frames: list[AppFrame]) -> list[np.ndarray]:
    """RGB of stored frames of one video, read in one pass (in frame order) and returned
    in the order given."""
    from distil.sources.video import VideoFrames

    video = VideoFrames()
    try:
        ordered = sorted(frames, key=lambda f: f.identity.frame_index)
        rgb = {f.id: video.get(f.identity.path, f.identity.frame_index) for f in ordered}
    finally:
        video.close()
    return [rgb[f.id] for f in frames]
