"""The labeling engine: scan -> background read/decode/preprocess -> teacher -> store."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distil.base_models.core import BaseModel
from distil.labeling.store import LabelStore
from distil.ontologies import Ontology
from distil.sources import Frame, ImageReadError, SkippedFile, decode_image, read_file, scan_images

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 8
# Stored predictions go this far below any threshold, so export can raise thresholds freely.
DEFAULT_STORE_THRESHOLD = 0.1


@dataclass
class LabelSummary:
    """What a label run did; `to_dict()` is the CLI's --json output."""

    images: int = 0
    labeled: int = 0
    already_labeled: int = 0
    skipped: list[SkippedFile] = field(default_factory=list)
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
            "detections_per_class": self.detections_per_class,
            "elapsed_s": round(self.elapsed_s, 3),
            "images_per_s": round(self.images_per_s, 3),
            "stage_s": {k: round(v, 3) for k, v in self.stage_s.items()},
        }


@dataclass
class _Batch:
    frames: list[Frame]
    roots: list[Path]
    prepared: Any
    aliases: list[tuple[Path, Path, str]]  # (path, root, hash) of already-known content
    skipped: list[SkippedFile]


def store_settings(model: BaseModel, ontology: Ontology, store_threshold: float) -> dict:
    """What makes stored labels comparable: the fingerprint is taken over this."""
    described = model.describe()
    return {
        "detector": described.get("detector", described),
        "segmenter": described.get("segmenter"),
        "prompts": [[c.name, list(c.prompts)] for c in ontology.classes],
        "store_threshold": store_threshold,
    }


def label_images(
    inputs: Path | list[Path],
    ontology: Ontology,
    model: BaseModel,
    out_dir: Path,
    batch_size: int = DEFAULT_BATCH_SIZE,
    store_threshold: float = DEFAULT_STORE_THRESHOLD,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LabelSummary:
    """Label every image under `inputs` into the store in `out_dir`; resumable.

    `progress(done, total)` is called after each batch and each skipped or known image.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    roots = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else inputs)]
    for root in roots:
        if not root.exists():
            raise FileNotFoundError(f"input not found: {root}")
    start = time.perf_counter()
    work = [(path, root) for root in roots for path in scan_images(root)]
    summary = LabelSummary(images=len(work), out=str(out_dir))
    timings: dict[str, float] = {
        "read": 0.0,
        "prepare": 0.0,
        "detect": 0.0,
        "segment": 0.0,
        "store": 0.0,
    }
    counts: Counter[int] = Counter()
    done = 0

    store = LabelStore.create(
        out_dir, store_settings(model, ontology, store_threshold), overwrite=overwrite
    )
    store.set_ontology(ontology.to_dict())
    batches: queue.Queue[_Batch | BaseException | None] = queue.Queue(maxsize=2)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_batches,
        args=(work, store, model, ontology, batch_size, batches, stop, timings),
        name="distil-reader",
        daemon=True,
    )
    reader.start()
    try:
        while (batch := batches.get()) is not None:
            if isinstance(batch, BaseException):
                raise batch
            detections = []
            if batch.frames:
                images = [f.image for f in batch.frames]
                detections = model.predict(
                    images, ontology, store_threshold, batch.prepared, timings
                )
            t0 = time.perf_counter()
            store.write_batch(
                [
                    (f.path, r, f.hash, f.width, f.height)
                    for f, r in zip(batch.frames, batch.roots, strict=True)
                ],
                detections,
                batch.aliases,
                [(s.path, s.reason) for s in batch.skipped],
            )
            timings["store"] += time.perf_counter() - t0
            for d in detections:
                counts.update(d.class_id[d.confidence >= _threshold_of(ontology, d)].tolist())
            summary.labeled += len(batch.frames)
            summary.already_labeled += len(batch.aliases)
            summary.skipped.extend(batch.skipped)
            for s in batch.skipped:
                logger.warning("skipped %s: %s", s.path, s.reason)
            done += len(batch.frames) + len(batch.aliases) + len(batch.skipped)
            if progress:
                progress(done, len(work))
    finally:
        stop.set()
        while reader.is_alive():  # unblock a reader waiting on a full queue
            try:
                batches.get_nowait()
            except queue.Empty:
                reader.join(0.05)
        store.close()
    summary.elapsed_s = time.perf_counter() - start
    summary.stage_s = timings
    summary.detections_per_class = {
        name: counts.get(i, 0) for i, name in enumerate(ontology.class_names)
    }
    return summary


def _threshold_of(ontology: Ontology, detections) -> np.ndarray:
    return np.array([ontology.class_box_threshold(int(c)) for c in detections.class_id])


def _read_batches(work, store, model, ontology, batch_size, out, stop, timings) -> None:
    """Reader thread: hash, skip known content, decode and preprocess whole batches."""
    try:
        known = store.reader()
        try:
            for batch in _batches(work, known, batch_size, timings):
                if stop.is_set():
                    return
                t0 = time.perf_counter()
                if batch.frames:
                    batch.prepared = model.prepare([f.image for f in batch.frames], ontology)
                timings["prepare"] += time.perf_counter() - t0
                out.put(batch)
        finally:
            known.close()
        out.put(None)
    except BaseException as e:  # surfaced in the main thread
        out.put(e)


def _batches(work, known: LabelStore, batch_size: int, timings) -> Iterator[_Batch]:
    seen: set[str] = set()
    batch = _Batch([], [], None, [], [])
    for path, root in work:
        t0 = time.perf_counter()
        try:
            data, digest = read_file(path)
            if digest in seen or known.has(digest):
                batch.aliases.append((path, root, digest))
            else:
                batch.frames.append(Frame(image=decode_image(data), path=path, hash=digest))
                batch.roots.append(root)
                seen.add(digest)
        except ImageReadError as e:
            batch.skipped.append(SkippedFile(path, str(e)))
        timings["read"] += time.perf_counter() - t0
        if len(batch.frames) >= batch_size or len(batch.aliases) >= 256:
            yield batch
            batch = _Batch([], [], None, [], [])
    if batch.frames or batch.aliases or batch.skipped:
        yield batch
