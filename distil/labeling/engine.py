"""Which engine labels a job: this process, one worker process per device, or Ray Data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from distil.settings import Engine, LabelSettings

if TYPE_CHECKING:
    from distil.labeling.core import LabelSummary
    from distil.ontologies import Ontology
    from distil.store.provenance import LabelProvenance


def label(
    inputs: Path | list[Path],
    ontology: Ontology,
    settings: LabelSettings,
    out: Path | Callable[[LabelProvenance], Path],
    progress: Callable[[int, int], None] | None = None,
) -> LabelSummary:
    """Load the teacher `settings` names and label `inputs` on the engine it names: this
    process, one worker process per device (`devices`), or Ray Data (`engine: ray`).

    `out` is the store's folder, or a function of the store settings that gives it.

    >>> label(  # doctest: +SKIP
    ...     ["images"], ontology, LabelSettings(devices="0,1"), Path("runs/label/exp"))
    """
    from distil.labeling.core import label_images, label_provenance, plan_job
    from distil.labeling.teacher import check_teacher, load_teacher
    from distil.utils.cpu import use_threads

    if settings.engine == Engine.RAY:
        from distil.labeling.ray_engine import label_on_ray

        check_teacher(settings.model_copy(update={"device": "cpu"}), ontology)  # cluster GPUs
        return label_on_ray(plan_job(inputs, settings, False), ontology, settings, out, progress)
    if settings.devices:
        from distil.labeling.workers import label_on_devices

        check_teacher(settings, ontology)
        return label_on_devices(
            plan_job(inputs, settings, False), ontology, settings, out, progress
        )
    use_threads(settings.threads)
    teacher = load_teacher(settings, ontology)
    threshold = settings.store_threshold
    provenance = label_provenance(teacher.model, ontology, threshold, teacher.tracker)
    return label_images(
        inputs, ontology, teacher.model, out(provenance) if callable(out) else out, settings,
        tracker=teacher.tracker, progress=progress, provenance=provenance,
    )  # fmt: skip
