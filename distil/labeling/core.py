"""The labeling engine: frame stream -> background read/decode/preprocess -> teacher -> store.

Images and sampled video frames share one batched pipeline. With a tracker, videos are
labeled by `distil.labeling.tracking` instead: detections on keyframes, SAM 2 memory between.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from distil.detections import name_classes
from distil.settings import LabelSettings, parse_shard
from distil.sources import (
    Frame,
    OtherShard,
    Shard,
    SkippedFile,
    check_inputs,
    display_path,
    estimate_frames,
    is_utf8,
    is_video_file,
    iter_frames,
    scan_sources,
    video_id,
)
from distil.sources.freshness import current_stamp
from distil.sources.remote import set_url_timeout
from distil.store import LabelStore, StoreBatch, StoredFrame, StoreWriter
from distil.store.provenance import LabelProvenance
from distil.store.store import stored_name
from distil.utils.profiling import Timings
from distil.utils.threads import prefetch

if TYPE_CHECKING:
    from distil.base_models import BaseModel
    from distil.labeling.tracking import VideoTracker
    from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

STAGES = ("read", "prepare", "detect", "segment", "store")
_MAX_ALIASES = 256  # a batch of already-labeled frames is stored at this size


@dataclass
class LabelSummary:
    """What a label run did; `to_dict()` is the CLI's --json output."""

    images: int = 0  # image files and video frames seen
    labeled: int = 0
    already_labeled: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
    videos: int = 0
    video_frames: int = 0  # of `images`, how many were video frames
    video_problems: list[SkippedFile] = field(default_factory=list)  # read only in part
    tracks: int = 0
    other_shard: int = 0  # images and videos left to other shards (--shard)
    detections_per_class: dict[str, int] = field(default_factory=dict)  # the whole store's
    added_per_class: dict[str, int] = field(default_factory=dict)  # by this run
    stored_frames: int = 0  # labeled frames in the store, this run's and earlier ones
    elapsed_s: float = 0.0
    stage_s: dict[str, float] = field(default_factory=dict)
    out: str = ""

    @property
    def images_per_s(self) -> float:
        return self.labeled / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": self.out,
            "images": self.images,
            "labeled": self.labeled,
            "already_labeled": self.already_labeled,
            "skipped": [{"path": display_path(s.path), "reason": s.reason} for s in self.skipped],
            "videos": self.videos,
            "video_frames": self.video_frames,
            "video_problems": [
                {"path": display_path(s.path), "problem": s.reason} for s in self.video_problems
            ],
            "tracks": self.tracks,
            "other_shard": self.other_shard,
            "stored_frames": self.stored_frames,
            "detections_per_class": self.detections_per_class,
            "added_per_class": self.added_per_class,
            "elapsed_s": round(self.elapsed_s, 3),
            "images_per_s": round(self.images_per_s, 3),
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
        }

    def add_problem(self, problem: SkippedFile) -> None:
        if problem.partial:
            self.video_problems.append(problem)
            logger.warning("video %s: %s", display_path(problem.path), problem.reason)
        else:
            self.skipped.append(problem)
            logger.warning("skipped %s: %s", display_path(problem.path), problem.reason)


@dataclass
class FrameBatch:
    """Frames to label plus what else the stream gave since the last batch."""

    frames: list[Frame] = field(default_factory=list)  # with pixels
    aliases: list[Frame] = field(default_factory=list)  # content already labeled
    problems: list[SkippedFile] = field(default_factory=list)
    other_shard: int = 0  # images left to other shards
    prepared: Any = None

    def add(self, item: Frame | SkippedFile | OtherShard) -> None:
        """Sort one item of `iter_frames` into the batch."""
        if isinstance(item, OtherShard):
            self.other_shard += 1
        elif isinstance(item, SkippedFile):
            self.problems.append(item)
        elif item.known:
            self.aliases.append(item)
        else:
            self.frames.append(item)

    @property
    def empty(self) -> bool:
        return not (self.frames or self.aliases or self.problems or self.other_shard)


@dataclass
class Job:
    """What a label run reads: batched sources (and folders that could not be listed) in
    order, the videos a tracker takes, an estimate of the frames, and the sources that
    `--shard` left to other shards before reading."""

    batched: list[tuple[Path, Path] | SkippedFile]
    tracked: list[tuple[Path, Path]]
    videos: int
    total: int
    other_shard: int = 0
    unchanged: int = 0  # stored images left out unread (`skip_unchanged`), of this shard
    unchanged_other_shard: int = 0  # and of other shards


def plan_job(inputs: Path | list[Path], settings: LabelSettings, tracking: bool) -> Job:
    """Scan `inputs` into a `Job`; a missing input is a FileNotFoundError."""
    set_url_timeout(settings.url_timeout)
    roots = check_inputs(inputs)
    unreadable: list[SkippedFile] = []  # folders that could not be listed
    work = [(path, root) for root in roots for path in scan_sources(root, unreadable)]
    others = 0
    if settings.shard:  # a video goes to one shard whole, by its id
        shard = Shard.parse(settings.shard)
        kept = [(p, r) for p, r in work if not is_video_file(p) or _in_shard(p, shard)]
        others, work = len(work) - len(kept), kept
    videos = [(p, r) for p, r in work if is_video_file(p)]
    sampling = settings.sampling()
    total = len(work) - len(videos) + sum(estimate_frames(p, sampling) for p, _ in videos)
    return Job(
        batched=[(p, r) for p, r in work if not (tracking and is_video_file(p))] + unreadable,
        tracked=videos if tracking else [],
        videos=len(videos),
        total=total,
        other_shard=others,
    )


_STAMP_CHUNK = 2000


def skip_unchanged(job: Job, store: LabelStore, settings: LabelSettings) -> Job:
    """The job without the images the store labeled under the same path and input folder,
    whose size and modification time are still the stored ones: they are not read again
    (for a bucket: not downloaded), as export trusts the same stamp. Any other image is
    read and hashed, so a changed one is labeled anew."""
    images = [
        item
        for item in job.batched
        if not isinstance(item, SkippedFile) and not is_video_file(item[0]) and is_utf8(item[0])
    ]
    shard = Shard.parse(settings.shard) if settings.shard else None
    left_out: set[Path] = set()
    others = 0
    for start in range(0, len(images), _STAMP_CHUNK):  # a bounded lookup at a time
        chunk = images[start : start + _STAMP_CHUNK]
        stored = store.image_stamps(str(path) for path, _ in chunk)
        for path, root in chunk:
            entry = stored.get(str(path))
            same_root = entry is not None and entry[0] == stored_name(str(root))
            if not same_root or current_stamp(path) != entry[2]:
                continue
            left_out.add(path)
            others += shard is not None and not shard.owns(entry[1])
    if not left_out:
        return job
    return dataclasses.replace(
        job,
        batched=[i for i in job.batched if isinstance(i, SkippedFile) or i[0] not in left_out],
        unchanged=len(left_out) - others,
        unchanged_other_shard=others,
    )


class Tally:
    """The summary, per-class counts and progress of a run, fed batch by batch."""

    def __init__(
        self,
        ontology: Ontology,
        job: Job,
        out_dir: Path,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.summary = LabelSummary(
            out=str(out_dir),
            videos=job.videos,
            other_shard=job.other_shard + job.unchanged_other_shard,
            images=job.unchanged,
            already_labeled=job.unchanged,
        )
        self.counts: Counter[int] = Counter()
        self._ontology = ontology
        classes = range(len(ontology.class_names))
        self._thresholds = np.array([ontology.class_box_threshold(i) for i in classes])
        self._progress = progress
        self._done = 0
        self._total = job.total
        if job.unchanged or job.unchanged_other_shard:
            self.advance(job.unchanged + job.unchanged_other_shard)

    def add(self, labeled: StoreBatch) -> None:
        summary = self.summary
        for frame in labeled.frames:
            d = frame.detections
            self.counts.update(d.class_id[d.confidence >= self._thresholds[d.class_id]].tolist())
        summary.images += labeled.seen - labeled.other_shard
        summary.other_shard += labeled.other_shard
        summary.labeled += len(labeled.frames)
        summary.already_labeled += len(labeled.aliases)
        summary.video_frames += sum(f.identity.frame_index is not None for f in labeled.frames)
        summary.video_frames += sum(a.frame_index is not None for a in labeled.aliases)
        for problem in labeled.skipped:
            summary.add_problem(problem)
        self.advance(labeled.seen)

    def add_tracked(self, result) -> None:
        summary = self.summary
        summary.images += result.frames
        summary.video_frames += result.frames
        summary.labeled += result.labeled
        summary.already_labeled += result.frames - result.labeled
        summary.tracks += result.tracks
        self.counts.update(result.instances)
        if result.problem:
            summary.add_problem(result.problem)

    def advance(self, count: int) -> None:
        self._done += count
        self._total = max(self._total, self._done)
        if self._progress:
            self._progress(self._done, self._total)

    def finish(self, store: LabelStore, start: float, timings: dict[str, float]) -> LabelSummary:
        """Close the summary with the store's totals at the ontology's thresholds."""
        ontology, summary = self._ontology, self.summary
        stored = store.class_counts(self._thresholds.tolist())
        summary.stored_frames = store.count()[1]
        summary.elapsed_s = time.perf_counter() - start
        summary.stage_s = dict(timings)
        names = ontology.class_names
        summary.detections_per_class = {name: stored.get(i, 0) for i, name in enumerate(names)}
        summary.added_per_class = {name: self.counts.get(i, 0) for i, name in enumerate(names)}
        return summary


def open_store(
    out_dir: Path, provenance: LabelProvenance, settings: LabelSettings, ontology: Ontology
) -> LabelStore:
    """The run's store, opened for writing with the ontology recorded."""
    store = LabelStore.create(
        out_dir,
        provenance,
        overwrite=settings.overwrite,
        shard=parse_shard(settings.shard) if settings.shard else None,
    )
    store.set_ontology(ontology.to_dict())
    return store


def label_provenance(
    model: BaseModel,
    ontology: Ontology,
    store_threshold: float,
    tracker: VideoTracker | None = None,
) -> LabelProvenance:
    """What makes stored labels comparable: the store's fingerprint is taken over this."""
    described = model.describe()
    settings = {
        "detector": described.get("detector", described),
        "segmenter": described.get("segmenter"),
        "prompts": [[c.name, list(c.prompts)] for c in ontology.classes],
        "store_threshold": store_threshold,
    }
    if "routes" in described:  # per-class teachers: which detector labels which class
        settings["routes"] = described["routes"]
    if "tiling" in described:
        settings["tiling"] = described["tiling"]
    if tracker is not None:
        settings["tracking"] = tracker.describe(ontology)
    return LabelProvenance.model_validate(settings)


def label_images(
    inputs: Path | list[Path],
    ontology: Ontology,
    model: BaseModel,
    out_dir: Path,
    settings: LabelSettings | None = None,
    *,
    tracker: VideoTracker | None = None,
    progress: Callable[[int, int], None] | None = None,
    provenance: LabelProvenance | None = None,
    **options: Any,
) -> LabelSummary:
    """Label every image and video under `inputs` into the store in `out_dir`; resumable.

    `settings` (or any of its fields as keywords: `batch=4`) choose batch size, stored
    threshold and video sampling. Videos give the frames the sampling selects; with a
    `tracker` they are tracked instead of labeled frame by frame. `progress(done, total)` is
    called as work completes (total counts video frames by estimate).

    >>> label_images(  # doctest: +SKIP
    ...     Path("images"), ontology, teacher, Path("runs/label/exp"), batch=4)
    """
    settings = LabelSettings.merge(settings, **options)
    start = time.perf_counter()
    job = plan_job(inputs, settings, tracker is not None)
    timings = Timings.fromkeys(STAGES, 0.0)
    if provenance is None:  # `engine.label` describes the teacher once, for the folder name
        provenance = label_provenance(model, ontology, settings.store_threshold, tracker)
    store = open_store(out_dir, provenance, settings, ontology)
    job = skip_unchanged(job, store, settings)
    tally = Tally(ontology, job, out_dir, progress)
    try:
        with timings.active():
            with StoreWriter(store) as writer:
                batches = label_batches(job.batched, store, model, ontology, settings, timings)
                for labeled in batches:
                    writer.put(labeled)
                    tally.add(labeled)
            timings.add("store", writer.timings.get("store", 0.0))
            sampling = settings.sampling()
            for path, root in job.tracked:
                result = tracker.label_video(
                    path, root, ontology, model, store, sampling, timings, tally.advance
                )
                tally.add_tracked(result)
        return tally.finish(store, start, timings)
    finally:
        store.close()


def label_batches(
    work: Iterable[tuple[Path, Path] | SkippedFile],
    store: LabelStore,
    model: BaseModel,
    ontology: Ontology,
    settings: LabelSettings,
    timings: Timings,
    encode: bool = False,
) -> Iterator[StoreBatch]:
    """Label `work` batch by batch, reading ahead in a background thread (`label_batch`)."""
    for batch in _prefetched_batches(work, store, model, ontology, settings, timings):
        yield label_batch(batch, model, ontology, settings.store_threshold, timings, encode)


def label_batch(
    batch: FrameBatch,
    model: BaseModel,
    ontology: Ontology,
    store_threshold: float,
    timings: Timings | None = None,
    encode: bool = False,
) -> StoreBatch:
    """One batch through the teacher (`batch.prepared`, when set, is its preprocessing);
    `encode` encodes the store columns here (a worker sending batches to the writer)."""
    images = [f.image for f in batch.frames]
    detections = model.predict(images, ontology, store_threshold, batch.prepared) if images else []
    for found in detections:  # named once the routes' ids are the whole ontology's
        name_classes(found, ontology.class_names)
    frames = [
        StoredFrame(f.identity, f.image.shape[1], f.image.shape[0], d)
        for f, d in zip(batch.frames, detections, strict=True)
    ]
    if encode:
        with timings.measure("encode") if timings is not None else nullcontext():
            frames = [f.encode() for f in frames]
    aliases = [a.identity for a in batch.aliases]
    return StoreBatch(frames, aliases, batch.problems, other_shard=batch.other_shard)


def _in_shard(video: Path, shard: Shard) -> bool:
    try:
        return shard.owns(video_id(video))
    except OSError:  # unreadable: the shard that reads it reports why (shard 1 by rule)
        return shard.index == 1


def _prefetched_batches(
    work: Iterable[tuple[Path, Path] | SkippedFile],
    store: LabelStore,
    model: BaseModel,
    ontology: Ontology,
    settings: LabelSettings,
    timings: Timings,
) -> Iterator[FrameBatch]:
    """Batches read, hashed, decoded and preprocessed by a background thread, two ahead."""

    def prepared():
        known = store.reader()  # SQLite connections are per thread: opened in the reader
        try:
            for batch in _batches(work, known, settings, timings):
                with timings.measure("prepare"):
                    if batch.frames:
                        batch.prepared = model.prepare([f.image for f in batch.frames], ontology)
                yield batch
        finally:
            known.close()

    return prefetch(prepared(), depth=2)


def _batches(
    work, known: LabelStore, settings: LabelSettings, timings: Timings
) -> Iterator[FrameBatch]:
    batch = FrameBatch()
    shard = Shard.parse(settings.shard) if settings.shard else None
    stream = iter_frames(work, settings.sampling(), known.has, shard)
    while True:
        with timings.measure("read"):
            item = next(stream, None)
        if item is None:
            break
        batch.add(item)
        if len(batch.frames) >= settings.batch or len(batch.aliases) >= _MAX_ALIASES:
            yield batch
            batch = FrameBatch()
    if not batch.empty:
        yield batch
