"""`--engine ray`: the same teachers on Ray Data, on a local Ray instance or a cluster.

Ray tasks read, hash and decode the sources (`iter_frames`, as the local engine does);
teacher actors (`map_batches` with a callable class, one per GPU, or per CPU worker when
there is none) label them; results stream back to the driver, which is the store's only
writer. Export, resume and review therefore work as after a local run. Ray restarts a
failed actor and retries its batch; a killed driver loses what was in flight, and a rerun
skips what is stored.

Frames and results travel as pickled bytes: a frame's pixels have its own size, which
Arrow tensor columns do not hold well.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distil.settings import LabelSettings
from distil.sources import SkippedFile

if TYPE_CHECKING:
    from distil.base_models.core import BaseModel
    from distil.labeling.core import Job, LabelSummary
    from distil.ontologies import Ontology
    from distil.store.provenance import LabelProvenance

logger = logging.getLogger(__name__)

_CPUS_PER_ACTOR = 4  # without GPUs: one teacher actor per this many CPUs


def label_on_ray(
    job: Job,
    ontology: Ontology,
    settings: LabelSettings,
    out: Path | Callable[[LabelProvenance], Path],
    progress: Callable[[int, int], None] | None = None,
) -> LabelSummary:
    """Label `job` on Ray Data; `out` is the store's folder or a function of the store
    settings that gives it (they are known once a teacher has loaded)."""
    ray = _import_ray()
    from distil.labeling.core import Tally, open_store, skip_unchanged
    from distil.store import StoreBatch, StoreWriter

    start = time.perf_counter()
    started_here = not ray.is_initialized()
    if started_here:
        # None: $RAY_ADDRESS, else a running local instance, else a new one.
        ray.init(address=settings.ray_address, logging_level=logging.WARNING)
    try:
        actors, gpus, cpus = _placement(ray, settings)
        teacher_args = dict(settings=settings, ontology=ontology.to_dict(), gpus=gpus, cpus=cpus)
        options = {"num_gpus": gpus, "num_cpus": cpus}
        provenance = ray.get(ray.remote(_describe).options(**options).remote(**teacher_args))
        folder = out(provenance) if callable(out) else Path(out)
        store = open_store(folder, provenance, settings, ontology)
        try:
            job = skip_unchanged(job, store, settings)
            tally = Tally(ontology, job, folder, progress)
            sources = [item for item in job.batched if not isinstance(item, SkippedFile)]
            problems = [item for item in job.batched if isinstance(item, SkippedFile)]
            with StoreWriter(store) as writer:
                if problems:  # folders that could not be listed
                    labeled = StoreBatch(skipped=problems)
                    writer.put(labeled)
                    tally.add(labeled)
                if sources:
                    known = ray.put(frozenset(store.hashes()))
                    rows = _dataset(ray, sources, known, settings, teacher_args, actors)
                    for row in rows:
                        labeled = pickle.loads(row["labeled"])
                        writer.put(labeled)
                        tally.add(labeled)
            return tally.finish(store, start, {"store": writer.timings.get("store", 0.0)})
        finally:
            store.close()
    finally:
        if started_here:
            ray.shutdown()


def _import_ray():
    try:
        import ray
        import ray.data
    except ImportError:
        raise ImportError(
            '--engine ray needs Ray Data: pip install "distil[ray]" (on every node of a '
            "cluster, with distil itself)"
        ) from None
    return ray


def _placement(ray, settings: LabelSettings) -> tuple[int, int, int]:
    """(actors, GPUs per actor, CPUs per actor): one GPU each when the cluster has GPUs;
    else `_CPUS_PER_ACTOR` CPUs each, leaving at least one CPU to the decoding tasks."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus:
        return settings.actors or gpus, 1, 1
    actors = settings.actors or max(1, (cpus - 1) // _CPUS_PER_ACTOR)
    return actors, 0, max(1, min(_CPUS_PER_ACTOR, cpus - 1))


def _dataset(
    ray: Any,
    sources: list[tuple[Path, Path]],
    known: Any,
    settings: LabelSettings,
    teacher_args: dict[str, Any],
    actors: int,
) -> Any:
    """The Ray Data pipeline: sources -> frames (tasks) -> labeled batches (actors)."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # distil shows its own
    items = [{"path": str(path), "root": str(root)} for path, root in sources]
    frames = ray.data.from_items(items).flat_map(
        _read_frames,
        fn_kwargs={"known": known, "settings": settings},
        num_cpus=1,
    )
    labeled = frames.map_batches(
        TeacherActor,
        fn_constructor_kwargs=teacher_args,
        batch_size=settings.batch,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=teacher_args["gpus"],
        num_cpus=teacher_args["cpus"],
    )
    return labeled.iter_rows()


def _read_frames(row: dict[str, str], known, settings: LabelSettings) -> Iterator[dict]:
    """One source -> its frames (pixels only where not labeled yet) or why it gave none."""
    from distil.sources import Shard, iter_frames
    from distil.sources.remote import set_url_timeout

    set_url_timeout(settings.url_timeout)
    known_hashes = _known(known)
    shard = Shard.parse(settings.shard) if settings.shard else None
    work = [(Path(row["path"]), Path(row["root"]))]
    for item in iter_frames(work, settings.sampling(), known_hashes.__contains__, shard):
        yield {"item": pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)}


_KNOWN: dict[str, frozenset[str]] = {}  # per worker process: the known hashes, fetched once


def _known(reference) -> frozenset[str]:
    import ray

    if not isinstance(reference, ray.ObjectRef):
        return reference
    key = reference.hex()
    if key not in _KNOWN:
        _KNOWN.clear()
        _KNOWN[key] = ray.get(reference)
    return _KNOWN[key]


def _load_model(
    settings: LabelSettings, ontology_dict: dict[str, Any], gpus: int, cpus: int
) -> tuple[BaseModel, Ontology]:
    from distil.labeling.teacher import load_worker_teacher

    device = "cuda" if gpus else "cpu"  # Ray gives the actor its GPU as cuda:0
    return load_worker_teacher(settings, ontology_dict, device, cpus)


def _describe(
    settings: LabelSettings, ontology: dict[str, Any], gpus: int, cpus: int
) -> LabelProvenance:
    """The store settings of the teacher as an actor loads it (dtype depends on the GPU)."""
    from distil.labeling.core import label_provenance

    model, onto = _load_model(settings, ontology, gpus, cpus)
    return label_provenance(model, onto, settings.store_threshold)


class TeacherActor:
    """One teacher on one GPU (or CPU worker), labeling batches of frames."""

    def __init__(
        self, settings: LabelSettings, ontology: dict[str, Any], gpus: int, cpus: int
    ) -> None:
        self.settings = settings
        self.model, self.ontology = _load_model(settings, ontology, gpus, cpus)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        from distil.labeling.core import FrameBatch, label_batch

        frames = FrameBatch()
        for item in map(pickle.loads, batch["item"]):
            frames.add(item)
        if frames.frames:
            frames.prepared = self.model.prepare([f.image for f in frames.frames], self.ontology)
        labeled = label_batch(
            frames, self.model, self.ontology, self.settings.store_threshold, encode=True
        )
        result = pickle.dumps(labeled, protocol=pickle.HIGHEST_PROTOCOL)
        return {"labeled": np.array([result], dtype=object)}
