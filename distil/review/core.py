"""A review round: rank a label store's frames, write the top ones for a labeling tool,
and record the round in the store.

>>> ranking = rank_store(Path("runs/label/exp"), top=50)  # doctest: +SKIP
>>> write_review_round(  # doctest: +SKIP
...     Path("runs/label/exp"), Path("review/round1"), format="cvat")
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.filters import class_ids, select_detections
from distil.datasets.labeled import LabeledImage
from distil.datasets.naming import dataset_path, unique_path
from distil.detections import remap_classes
from distil.errors import MissingInputError, OutputExistsError, UsageError
from distil.ontologies import Ontology
from distil.review.ranking import FrameJudge, FrameToRank, RankedFrame, rank_frames
from distil.settings import (
    DatasetSettings,
    LabelFormat,
    MaskShape,
    Ranking,
    RankingSettings,
    ReviewSettings,
    default,
)
from distil.sources import as_url, read_file
from distil.sources.remote import set_url_timeout
from distil.sources.video import VideoFrames
from distil.store import LabelStore, ReviewRound, StoredFrame
from distil.utils.files import (
    OUTPUT_MARKER,
    atomic_write_json,
    copy_file,
    mark_output,
    write_bytes,
    written_files,
)
from distil.utils.suggest import normalize_name

logger = logging.getLogger(__name__)

CHUNK = 64  # frames judged together: one student batch, one query of another store
NMS_IOU = default(DatasetSettings, "nms_iou")
RANKING_FILE = "ranking.json"


@dataclass
class ReviewRanking:
    frames: list[RankedFrame]
    ranked: int = 0  # frames considered
    reviewed: int = 0  # frames left out: reviewed already
    pending: int = 0  # frames left out: in a round whose corrections are not imported yet
    ranking: str = Ranking.AUTO.value
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "frames": [f.to_dict() for f in self.frames],
            "ranked": self.ranked,
            "reviewed": self.reviewed,
            "pending": self.pending,
            "ranking": self.ranking,
            "elapsed_s": self.elapsed_s,
        }


@dataclass
class RoundSummary:
    round: int
    folder: str
    format: str
    task_file: str
    frames: int
    ranking: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_ontology(store: LabelStore, path: Path | None) -> Ontology:
    """The ontology whose thresholds say what is exported: the stored one, or `path`
    (same classes and prompts, changed thresholds)."""
    stored = Ontology.from_dict(store.ontology_dict, source=f"{store.path} (stored ontology)")
    if path is None:
        return stored
    ontology = Ontology.from_yaml(path)
    if ontology.class_names != stored.class_names:
        raise UsageError(
            f"{path}: its classes differ from those the labels were made with "
            f"({', '.join(stored.class_names)})"
        )
    return ontology


def rank_store(
    label_dir: Path, settings: RankingSettings | None = None, **options: Any
) -> ReviewRanking:
    """The `settings.top` unreviewed frames of the store most likely to be wrong (all of
    them, with `top` None)."""
    settings = (type(settings) if settings else ReviewSettings).merge(settings, **options)
    with LabelStore.open(label_dir) as store:
        return _rank(store, settings)


def _rank(store: LabelStore, settings: RankingSettings) -> ReviewRanking:
    set_url_timeout(settings.url_timeout)
    start = time.perf_counter()
    ontology = review_ontology(store, settings.ontology)
    other_name = "student" if settings.student else "other teacher"
    ids = class_ids(ontology, settings.classes)
    # Faint candidates are counted per frame, not per class: left out with --classes.
    mean_faint = store.mean_faint() if ids is None else None
    judge = FrameJudge(ontology, NMS_IOU, settings.ranking, other_name, mean_faint)
    counts = {"ranked": 0, "reviewed": 0, "pending": 0}
    wanted = None if ids is None else np.array(sorted(ids))
    frames = _frames_to_rank(store, ontology, settings, counts, wanted)
    ranked = rank_frames(frames, judge, settings.top, settings.video_gap)
    return ReviewRanking(
        ranked,
        counts["ranked"],
        counts["reviewed"],
        counts["pending"],
        settings.ranking.value,
        round(time.perf_counter() - start, 3),
    )


def _frames_to_rank(
    store: LabelStore,
    ontology: Ontology,
    settings: RankingSettings,
    counts: dict[str, int],
    wanted: np.ndarray | None,
) -> Iterator[FrameToRank]:
    with_masks = store.has_masks() and settings.ranking in (Ranking.AUTO, Ranking.UNCERTAINTY)
    pending = set() if settings.include_pending else _pending(store)
    others = _OtherLabels(ontology, settings)
    try:
        chunk: list[StoredFrame] = []
        for frame in store.frames(with_masks=False, raw_masks=with_masks):
            if frame.human is not None:
                counts["reviewed"] += 1
                continue
            if frame.identity.key in pending:
                counts["pending"] += 1
                continue
            counts["ranked"] += 1
            chunk.append(frame)
            if len(chunk) == CHUNK:
                yield from _chunk_to_rank(chunk, others, wanted)
                chunk = []
        yield from _chunk_to_rank(chunk, others, wanted)
    finally:
        others.close()


def _pending(store: LabelStore) -> set[str]:
    """Frames of the rounds still out: none of their corrections imported yet, and their
    folder still there (deleting a round's folder gives its frames back)."""
    returned = store.returned_rounds()
    return {
        key
        for r in store.review_rounds()
        if r.round not in returned and Path(r.folder).exists()
        for key in r.frames
    }


def _chunk_to_rank(
    chunk: list[StoredFrame], others: _OtherLabels, wanted: np.ndarray | None
) -> Iterator[FrameToRank]:
    labels = others.labels(chunk)
    for frame, other in zip(chunk, labels, strict=True):
        masks = frame.encoded[1] if frame.encoded else None
        detections, mask_rles = frame.detections, json.loads(masks) if masks else None
        if wanted is not None:  # judge these classes' labels only
            keep = np.isin(detections.class_id, wanted)
            detections = detections[keep]
            if mask_rles is not None:
                mask_rles = [mask_rles[i] for i in np.flatnonzero(keep)]
            if other is not None:
                other = other[np.isin(other.class_id, wanted)]
        yield FrameToRank(
            frame.identity.key,
            frame.identity.hash,
            detections,
            mask_rles,
            other,
            frame.identity.video_id,
            frame.identity.timestamp,
            frame.detections.metadata.get("faint"),
        )


class _OtherLabels:
    """Labels to compare with, per frame: a student run on the frames, or the exported
    labels of another teacher's store of the same images (classes matched by name)."""

    def __init__(self, ontology: Ontology, settings: RankingSettings) -> None:
        self.names = ontology.class_names
        self.settings = settings
        self.student = None
        self.store: LabelStore | None = None
        self.video = VideoFrames()
        wanted = settings.ranking in (Ranking.AUTO, Ranking.DISAGREEMENT)
        if wanted and settings.student is not None:
            from distil.target_models.transformers_detr import DetrPredictor, is_detr_weights
            from distil.utils.ultralytics import load_yolo

            if is_detr_weights(settings.student):
                self.student = DetrPredictor.load(settings.student, settings.device)
            elif not Path(settings.student).is_file():
                raise MissingInputError(f"--student: no such file: {settings.student}")
            else:
                self.student = load_yolo(settings.student)
            self.mapping = _class_mapping(
                [str(self.student.names[i]) for i in sorted(self.student.names)], self.names
            )
        elif wanted and settings.against is not None:
            self.store = LabelStore.open(settings.against)
            other = Ontology.from_dict(self.store.ontology_dict, source=str(settings.against))
            self.other_ontology = other
            self.mapping = _class_mapping(other.class_names, self.names)

    def labels(self, frames: list[StoredFrame]) -> list[sv.Detections | None]:
        if not frames:
            return []
        if self.student is not None:
            return self._student(frames)
        if self.store is not None:
            return self._other_store(frames)
        return [None] * len(frames)

    def _student(self, frames: list[StoredFrame]) -> list[sv.Detections | None]:
        from distil.utils.device import ultralytics_device

        images = [self._image(f) for f in frames]
        results = self.student.predict(
            images,
            conf=self.settings.student_conf,
            device=ultralytics_device(self.settings.device, "predicting"),
            verbose=False,
        )
        return [_mapped(sv.Detections.from_ultralytics(r), self.mapping) for r in results]

    def _image(self, frame: StoredFrame) -> Any:
        identity = frame.identity
        if identity.frame_index is None:
            return str(identity.path)
        rgb = self.video.get(identity.path, identity.frame_index)
        return np.ascontiguousarray(rgb[..., ::-1])  # Ultralytics reads arrays as BGR

    def _other_store(self, frames: list[StoredFrame]) -> list[sv.Detections | None]:
        assert self.store is not None
        found = {
            f.identity.hash: select_detections(f.detections, self.other_ontology, NMS_IOU)
            for f in self.store.frames(with_masks=False, keys=[f.identity.key for f in frames])
        }
        return [
            _mapped(found[f.identity.hash], self.mapping) if f.identity.hash in found else None
            for f in frames
        ]

    def close(self) -> None:
        self.video.close()
        if self.store is not None:
            self.store.close()


def _class_mapping(theirs: list[str], ours: list[str]) -> dict[int, int]:
    index = {normalize_name(n): i for i, n in enumerate(ours)}
    mapping = {
        i: index[normalize_name(n)] for i, n in enumerate(theirs) if normalize_name(n) in index
    }
    if not mapping:
        raise UsageError(
            f"no class in common to compare: theirs are {', '.join(theirs[:10])}; "
            f"ours are {', '.join(ours)}"
        )
    return mapping


def _mapped(detections: sv.Detections, mapping: dict[int, int]) -> sv.Detections:
    if not len(detections):
        return detections
    kept = remap_classes(detections, mapping)
    if kept.confidence is None:
        kept.confidence = np.ones(len(kept), dtype=np.float32)
    return kept


def write_review_round(
    label_dir: Path,
    out_dir: Path,
    settings: ReviewSettings | None = None,
    student_score: float | None = None,
    **options: Any,
) -> RoundSummary:
    """Rank, write the top frames with their exported labels as pre-annotations into
    `out_dir` in `settings.format`, and record the round in the store (with the mAP50 of
    the student it was ranked with, `student_score`, for the report).

    Images are referenced where they are; video frames, images behind URLs (and all
    images, with `copy_images`) are written into `out_dir/images/`."""
    settings = ReviewSettings.merge(settings, **options)
    out_dir = Path(out_dir)
    _check_target(out_dir)
    existed = out_dir.exists()
    empty = not existed or not any(out_dir.iterdir())
    # One store, opened once for the round: ranked, read and recorded under one lock.
    with LabelStore.edit(label_dir) as store:
        ranking = _rank(store, settings)
        if not ranking.frames:
            waiting = (
                f"; {ranking.pending} are in rounds whose corrections are not imported yet "
                "(--include-pending hands them out again)"
                if ranking.pending
                else ""
            )
            raise UsageError(f"{label_dir}: no unreviewed labeled frames to review{waiting}")
        ontology = review_ontology(store, settings.ontology)
        masks = store.has_masks()
        keys = [f.key for f in ranking.frames]
        frames = {f.identity.key: f for f in store.frames(with_masks=masks, keys=keys)}
        try:
            number, task_file, images = _write_round(
                store, out_dir, settings, ranking, frames, ontology, masks, keys, student_score
            )
        except BaseException:
            _remove_round_files(out_dir, existed, empty)
            raise
    return RoundSummary(
        number, str(out_dir), settings.format.value, str(task_file), len(images), ranking.to_dict()
    )


def _remove_round_files(out_dir: Path, existed: bool, empty: bool) -> None:
    """A round that failed before it was recorded leaves nothing behind in a folder that
    was new or empty (all of it is this round's), so it never blocks its own retry."""
    if empty:
        for entry in list(out_dir.iterdir()) if out_dir.exists() else []:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        if not existed:
            out_dir.rmdir()


def _write_round(
    store: LabelStore,
    out_dir: Path,
    settings: ReviewSettings,
    ranking: ReviewRanking,
    frames: dict[str, StoredFrame],
    ontology: Ontology,
    masks: bool,
    keys: list[str],
    student_score: float | None,
) -> tuple[int, Path, list[LabeledImage]]:
    """The round's files in `out_dir`, then its record in the store; returns (its number,
    the task file, the images handed out)."""
    mark_output(out_dir)
    label_studio = settings.format is LabelFormat.LABEL_STUDIO
    images, urls, scores, used = [], {}, {}, set()
    video = VideoFrames()
    try:
        for ranked in ranking.frames:
            frame = frames[ranked.key]
            image_file = _place(frame, out_dir, settings.copy_images, video, used)
            # Label Studio tasks carry the stored key; the other formats name the file the
            # reviewer opens (for a video frame or a copy, the written one).
            reference = ranked.key
            if not label_studio and image_file != frame.identity.path:
                reference = str(image_file)
            detections = select_detections(frame.detections, ontology, NMS_IOU)
            images.append(
                LabeledImage(reference, image_file, frame.width, frame.height, detections)
            )
            scores[reference] = ranked.score
            if label_studio:
                from distil.datasets.formats.label_studio import local_files_url

                urls[reference] = local_files_url(image_file, settings.document_root)
    finally:
        video.close()
    task_file = _write_tasks(out_dir, images, ontology.class_names, settings, masks, urls, scores)
    atomic_write_json(out_dir / RANKING_FILE, ranking.to_dict())
    number = store.add_review_round(
        ReviewRound(
            0,
            time.time(),
            str(out_dir.resolve()),
            settings.format.value,
            settings.ranking.value,
            keys,
            str(settings.student) if settings.student else None,
            student_score,
        )
    )
    return number, task_file, images


def _write_tasks(
    out_dir: Path,
    images: list[LabeledImage],
    names: list[str],
    settings: ReviewSettings,
    masks: bool,
    urls: dict[str, str],
    scores: dict[str, float],
) -> Path:
    from distil.datasets.formats.registry import HandoffOptions, get_format

    options = HandoffOptions(masks, settings.masks is MaskShape.BRUSH, urls, scores)
    return get_format(settings.format).write_handoff(out_dir, images, names, options)


def _place(
    frame: StoredFrame, out_dir: Path, copy: bool, video: VideoFrames, used: set[Path]
) -> Path:
    """The image file a reviewer opens: the source itself, or a file in `out_dir/images`
    (always for a video frame, or an image behind a URL, which a labeling tool cannot
    open)."""
    identity = frame.identity
    remote = as_url(identity.path) is not None
    if identity.frame_index is None and not copy and not remote:
        return identity.path
    name = unique_path(Path(dataset_path(identity).name), identity.hash, used)
    target = out_dir / "images" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    if remote:
        write_bytes(target, read_file(identity.path)[0])
    elif identity.frame_index is None:
        copy_file(identity.path, target)
    else:
        from distil.datasets.export import write_frame

        write_frame(video.get(identity.path, identity.frame_index), target)
    return target


def _check_target(out_dir: Path) -> None:
    """A round goes into a new or empty folder: an earlier round's folder is its record
    (deleting it gives the round's frames back), and any other folder is the user's."""
    if out_dir.exists() and any(out_dir.iterdir()) and written_files(out_dir) is None:
        whose = (
            "holds an earlier review round"
            if (out_dir / OUTPUT_MARKER).is_file()
            else "exists and was not written by distil"
        )
        raise OutputExistsError(f"{out_dir} {whose}; choose another --to")
