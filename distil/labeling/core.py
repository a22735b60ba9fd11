"""The labeling engine: scan -> background read/decode/preprocess -> teacher -> store.

Images and sampled video frames share one batched pipeline. With a tracker, videos are
labeled by `distil.labeling.tracking` instead: detections on keyframes, SAM 2 memory between.
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

from distil.base_models.core import BaseModel
from distil.labeling.store import LabelStore, SourceRecord
from distil.ontologies import Ontology
from distil.sources import (
    Frame,
    FrameSampling,
    ImageReadError,
    SkippedFile,
    VideoReadError,
    VideoReport,
    decode_image,
    estimate_frames,
    frame_hash,
    is_video_file,
    iter_video,
    read_file,
    scan_sources,
    video_id,
)
from distil.utils.threads import prefetch

if TYPE_CHECKING:
    from distil.labeling.tracking import VideoTracker

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
# Stored predictions go this far below any threshold, so export can raise thresholds freely.
DEFAULT_STORE_THRESHOLD = 0.1


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
    detections_per_class: dict[str, int] = field(default_factory=dict)
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
            "skipped": [{"path": str(s.path), "reason": s.reason} for s in self.skipped],
            "videos": self.videos,
            "video_frames": self.video_frames,
            "video_problems": [
                {"path": str(s.path), "problem": s.reason} for s in self.video_problems
            ],
            "tracks": self.tracks,
            "detections_per_class": self.detections_per_class,
            "elapsed_s": round(self.elapsed_s, 3),
            "images_per_s": round(self.images_per_s, 3),
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
        }


@dataclass
class _Batch:
    frames: list[Frame] = field(default_factory=list)
    records: list[SourceRecord] = field(default_factory=list)
    prepared: Any = None
    aliases: list[SourceRecord] = field(default_factory=list)  # content already labeled
    skipped: list[SkippedFile] = field(default_factory=list)
    videos: int = 0
    video_frames: int = 0
    video_problems: list[SkippedFile] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return len(self.frames) + len(self.aliases) + len(self.skipped)


def store_settings(
    model: BaseModel,
    ontology: Ontology,
    store_threshold: float,
    tracker: VideoTracker | None = None,
) -> dict:
    """What makes stored labels comparable: the fingerprint is taken over this."""
    described = model.describe()
    settings = {
        "detector": described.get("detector", described),
        "segmenter": described.get("segmenter"),
        "prompts": [[c.name, list(c.prompts)] for c in ontology.classes],
        "store_threshold": store_threshold,
    }
    if tracker is not None:
        settings["tracking"] = tracker.describe(ontology)
    return settings


def label_images(
    inputs: Path | list[Path],
    ontology: Ontology,
    model: BaseModel,
    out_dir: Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    store_threshold: float = DEFAULT_STORE_THRESHOLD,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    sampling: FrameSampling | None = None,
    tracker: VideoTracker | None = None,
) -> LabelSummary:
    """Label every image and video under `inputs` into the store in `out_dir`; resumable.

    Videos give the frames `sampling` selects; with a `tracker` they are tracked instead of
    labeled frame by frame. `progress(done, total)` is called as work completes (total
    counts video frames by estimate).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    sampling = sampling or FrameSampling()
    roots = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"input not found: {root}")
    start = time.perf_counter()
    work = [(path, root) for root in roots for path in scan_sources(root)]
    videos = [(p, r) for p, r in work if is_video_file(p)]
    batched = [(p, r) for p, r in work if not (tracker and is_video_file(p))]
    total = len(work) - len(videos) + sum(estimate_frames(p, sampling) for p, _ in videos)
    summary = LabelSummary(out=str(out_dir))
    timings: dict[str, float] = dict.fromkeys(
        ("read", "prepare", "detect", "segment", "store"), 0.0
    )
    counts: Counter[int] = Counter()
    done = 0

    def advance(count: int) -> None:
        nonlocal done, total
        done += count
        total = max(total, done)
        if progress:
            progress(done, total)

    store = LabelStore.create(
        out_dir,
        store_settings(model, ontology, store_threshold, tracker),
        overwrite=overwrite,
    )
    store.set_ontology(ontology.to_dict())
    try:
        for batch in _prefetched_batches(
            batched, store, model, ontology, batch_size, sampling, timings
        ):
            detections = []
            if batch.frames:
                images = [f.image for f in batch.frames]
                detections = model.predict(
                    images, ontology, store_threshold, batch.prepared, timings
                )
            t0 = time.perf_counter()
            store.write_batch(
                [(r, f.width, f.height) for f, r in zip(batch.frames, batch.records, strict=True)],
                detections,
                batch.aliases,
                [(s.path, s.reason) for s in batch.skipped],
            )
            timings["store"] += time.perf_counter() - t0
            for d in detections:
                counts.update(d.class_id[d.confidence >= _threshold_of(ontology, d)].tolist())
            _add_batch(summary, batch)
            advance(batch.seen)
        if tracker is not None:
            for path, root in videos:
                result = tracker.label_video(
                    path, root, ontology, model, store, sampling, timings, advance
                )
                _add_tracked(summary, result, counts)
    finally:
        store.close()
    summary.elapsed_s = time.perf_counter() - start
    summary.stage_s = timings
    summary.detections_per_class = {
        name: counts.get(i, 0) for i, name in enumerate(ontology.class_names)
    }
    return summary


def _add_batch(summary: LabelSummary, batch: _Batch) -> None:
    summary.images += batch.seen
    summary.labeled += len(batch.frames)
    summary.already_labeled += len(batch.aliases)
    summary.skipped.extend(batch.skipped)
    summary.videos += batch.videos
    summary.video_frames += batch.video_frames
    summary.video_problems.extend(batch.video_problems)
    for s in batch.skipped:
        logger.warning("skipped %s: %s", s.path, s.reason)
    for s in batch.video_problems:
        logger.warning("video %s: %s", s.path, s.reason)


def _add_tracked(summary: LabelSummary, result, counts: Counter[int]) -> None:
    summary.videos += 1
    summary.images += result.frames
    summary.video_frames += result.frames
    summary.labeled += result.labeled
    summary.already_labeled += result.frames - result.labeled
    summary.tracks += result.tracks
    counts.update(result.instances)
    if result.skipped:
        summary.skipped.append(result.skipped)
        logger.warning("skipped %s: %s", result.skipped.path, result.skipped.reason)
    if result.problem:
        summary.video_problems.append(result.problem)
        logger.warning("video %s: %s", result.problem.path, result.problem.reason)


def _threshold_of(ontology: Ontology, detections) -> np.ndarray:
    return np.array([ontology.class_box_threshold(int(c)) for c in detections.class_id])


def _prefetched_batches(work, store, model, ontology, batch_size, sampling, timings):
    """Batches read, hashed, decoded and preprocessed by a background thread, two ahead."""

    def prepared():
        known = store.reader()  # SQLite connections are per thread: opened in the reader
        try:
            for batch in _batches(work, known, batch_size, sampling, timings):
                t0 = time.perf_counter()
                if batch.frames:
                    batch.prepared = model.prepare([f.image for f in batch.frames], ontology)
                timings["prepare"] += time.perf_counter() - t0
                yield batch
        finally:
            known.close()

    return prefetch(prepared(), depth=2)


def _batches(
    work, known: LabelStore, batch_size: int, sampling: FrameSampling, timings
) -> Iterator[_Batch]:
    seen: set[str] = set()
    batch = _Batch()
    for path, root in work:
        t0 = time.perf_counter()
        if is_video_file(path):
            batch.videos += 1
            outcome = _VideoOutcome()
            for frame, record in _video_frames(path, root, sampling, known, seen, outcome):
                if frame is None:
                    batch.aliases.append(record)
                else:
                    batch.frames.append(frame)
                    batch.records.append(record)
                batch.video_frames += 1
                timings["read"] += time.perf_counter() - t0
                if len(batch.frames) >= batch_size or len(batch.aliases) >= 256:
                    yield batch
                    batch = _Batch()
                t0 = time.perf_counter()
            # known only once the video is read to its end, maybe batches later
            batch.skipped.extend(outcome.unreadable)
            batch.video_problems.extend(outcome.partial)
            continue
        try:
            data, digest = read_file(path)
            record = SourceRecord(path, root, digest)
            if digest in seen or known.has(digest):
                batch.aliases.append(record)
            else:
                batch.frames.append(Frame(image=decode_image(data), path=path, hash=digest))
                batch.records.append(record)
                seen.add(digest)
        except ImageReadError as e:
            batch.skipped.append(SkippedFile(path, str(e)))
        timings["read"] += time.perf_counter() - t0
        if len(batch.frames) >= batch_size or len(batch.aliases) >= 256:
            yield batch
            batch = _Batch()
    if batch.seen or batch.videos:
        yield batch


@dataclass
class _VideoOutcome:
    unreadable: list[SkippedFile] = field(default_factory=list)
    partial: list[SkippedFile] = field(default_factory=list)


def _video_frames(path, root, sampling, known, seen, outcome: _VideoOutcome):
    """(Frame or None when already labeled, its record) for each sampled frame of a video;
    why the video could not be read, or was read only in part, goes to `outcome`."""
    try:
        identity = video_id(path)
    except OSError as e:
        outcome.unreadable.append(SkippedFile(path, f"cannot read file ({e.strerror or e})"))
        return
    report = VideoReport(path)
    try:
        for decoded in iter_video(path, sampling, report):
            digest = frame_hash(identity, decoded.index)
            record = SourceRecord(
                path, root, digest, decoded.index, identity, round(decoded.timestamp, 6)
            )
            if digest in seen or known.has(digest):
                yield None, record
                continue
            seen.add(digest)
            image = decoded.rgb()
            yield Frame(image, path, digest, decoded.index, identity, decoded.timestamp), record
    except VideoReadError as e:
        outcome.unreadable.append(SkippedFile(path, str(e)))
        return
    if report.problem and report.kept == 0:
        outcome.unreadable.append(SkippedFile(path, report.problem))
    elif report.problem:
        outcome.partial.append(SkippedFile(path, report.problem))
