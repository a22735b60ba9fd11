"""Several devices on one machine (`--devices 0,1`): one worker process per device, one
writer.

Each worker loads the teacher on its device, then pulls chunks of sources from one shared
queue (so a slow device takes fewer), reads, decodes and labels them with the local
pipeline, and sends encoded batches back. The parent is the store's only writer; it counts
and reports progress for the whole job.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distil.settings import LabelSettings
from distil.utils.cpu import available_cores

if TYPE_CHECKING:
    from distil.labeling.core import Job, LabelSummary
    from distil.ontologies import Ontology
    from distil.store.provenance import LabelProvenance

logger = logging.getLogger(__name__)

_CHUNK_BATCHES = 2  # a chunk of work is this many batches of sources
_RESULTS_QUEUED = 4  # batches per worker waiting for the writer at most


class WorkerError(RuntimeError):
    """A worker process failed or died; what it labeled before is stored."""


def label_on_devices(
    job: Job,
    ontology: Ontology,
    settings: LabelSettings,
    out_dir: Path | Callable[[LabelProvenance], Path],
    progress: Callable[[int, int], None] | None = None,
) -> LabelSummary:
    """Label `job` with one worker process per device of `settings.devices`.

    `out_dir` may be a function of the store settings (the teacher's fingerprint, known
    once a worker has loaded it), as the CLI's default output folder is."""
    from distil.labeling.core import Tally, open_store, skip_unchanged
    from distil.store import StoreWriter
    from distil.utils.profiling import Timings

    start = time.perf_counter()
    devices = list(settings.devices or [])
    context = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    tasks = context.Queue()
    results = context.Queue(maxsize=_RESULTS_QUEUED * len(devices))
    starts = [context.Queue() for _ in devices]
    threads = max(1, available_cores() // len(devices) - 1)  # one core each left to read
    workers = [
        context.Process(
            target=_work,
            args=(i, device, settings, ontology.to_dict(), threads, starts[i], tasks, results),
            name=f"distil-label-{device}",
            daemon=True,
        )
        for i, device in enumerate(devices)
    ]
    for worker in workers:
        worker.start()
    messages = _messages(results, workers, devices)
    finished = 0
    try:
        provenance = _ready(messages, len(devices))
        folder = out_dir(provenance) if callable(out_dir) else Path(out_dir)
        store = open_store(folder, provenance, settings, ontology)
        job = skip_unchanged(job, store, settings)
        tally = Tally(ontology, job, folder, progress)
        timings = Timings()  # summed over workers
        try:
            for start_queue in starts:
                start_queue.put(str(folder))
            for chunk in _chunks(job.batched, settings.batch * _CHUNK_BATCHES):
                tasks.put(chunk)
            for _ in devices:
                tasks.put(None)
            with StoreWriter(store) as writer:
                while finished < len(devices):
                    kind, _, payload = next(messages)
                    if kind == "batch":
                        writer.put(payload)
                        tally.add(payload)
                    elif kind == "done":
                        finished += 1
                        for stage, seconds in payload.items():
                            timings.add(stage, seconds)
            timings["store"] = writer.timings.get("store", 0.0)
            return tally.finish(store, start, timings)
        finally:
            store.close()
    finally:
        for start_queue in starts:
            start_queue.put(None)  # a worker still waiting to start ends
        for worker in workers:  # after an error, the others stop at once
            worker.join(timeout=10 if finished == len(devices) else 0)
            if worker.is_alive():
                worker.terminate()
                worker.join()


def _chunks(items: list, size: int) -> Iterator[list]:
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def _messages(
    results: Any, workers: list[Any], devices: list[str]
) -> Iterator[tuple[str, int, Any]]:
    """The workers' messages; an error, or a worker gone without a word, raises."""
    while True:
        try:
            kind, index, payload = results.get(timeout=1.0)
        except queue.Empty:
            for worker, device in zip(workers, devices, strict=True):
                if worker.exitcode not in (None, 0):
                    raise WorkerError(
                        f"the worker on device {device} died (exit code {worker.exitcode}); "
                        "labels stored so far are kept: rerun to finish"
                    ) from None
            continue
        if kind == "error":
            raise WorkerError(f"worker on device {devices[index]}: {payload}")
        yield kind, index, payload


def _ready(messages: Iterator[tuple[str, int, Any]], count: int) -> LabelProvenance:
    """Wait for every worker's teacher; all must describe the same labels."""
    described: dict[int, LabelProvenance] = {}
    while len(described) < count:
        kind, index, payload = next(messages)
        if kind == "ready":
            described[index] = payload
    first = described[0]
    for index, provenance in described.items():
        if provenance != first:  # e.g. bf16 on one GPU, fp16 on another
            raise WorkerError(
                f"the teacher differs between devices 0 and {index} ({provenance.record()} "
                f"vs {first.record()}); give devices of one kind"
            )
    return first


def _work(
    index: int,
    device: str,
    settings: LabelSettings,
    ontology_dict: dict[str, Any],
    threads: int,
    start_queue: Any,
    tasks: Any,
    results: Any,
) -> None:
    """One worker process: load the teacher on `device`, label chunks until told to stop."""
    try:
        from distil.labeling.core import label_batches, label_provenance
        from distil.labeling.teacher import load_worker_teacher
        from distil.sources.remote import set_url_timeout
        from distil.store import LabelStore
        from distil.utils.profiling import Timings

        set_url_timeout(settings.url_timeout)
        model, ontology = load_worker_teacher(settings, ontology_dict, device, threads)
        results.put(("ready", index, label_provenance(model, ontology, settings.store_threshold)))
        folder = start_queue.get()
        if folder is None:
            return
        timings = Timings()
        with LabelStore.open(Path(folder)) as store, timings.active():
            work = _pulled(tasks)
            for labeled in label_batches(work, store, model, ontology, settings, timings, True):
                results.put(("batch", index, labeled))
        results.put(("done", index, dict(timings)))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which raises
        logger.debug("worker %d failed:\n%s", index, traceback.format_exc())
        results.put(("error", index, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__))


def _pulled(tasks) -> Iterator:
    while (chunk := tasks.get()) is not None:
        yield from chunk
