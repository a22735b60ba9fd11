"""The teacher a `LabelSettings` names: its models loaded, and the video tracker if asked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from distil.settings import LabelSettings

if TYPE_CHECKING:
    from distil.base_models import BaseModel
    from distil.labeling.tracking import VideoTracker
    from distil.ontologies import Ontology


@dataclass
class Teacher:
    model: BaseModel
    tracker: VideoTracker | None = None


def check_teacher(settings: LabelSettings, ontology: Ontology | None = None) -> None:
    """Fail before any weights load: devices that are not here, model names that are not
    teachers (config reads only), the ontology's per-class teachers included."""
    from distil.base_models import check_tracker_model
    from distil.base_models.registry import resolve, uses_segmenter
    from distil.utils.device import resolve_device

    for device in settings.devices or [settings.device]:
        resolve_device(device)
    if settings.track:
        check_tracker_model(settings.tracker_model)
    detectors = ontology.routes(settings.detector) if ontology else [settings.detector]
    for detector in detectors:
        resolve(detector, "detector")
    if any(uses_segmenter(detector, settings.segmenter) for detector in detectors):
        resolve(settings.segmenter, "segmenter")


def load_teacher(settings: LabelSettings, ontology: Ontology) -> Teacher:
    """Check every model name (configs only), then load the weights.

    >>> teacher = load_teacher(LabelSettings(segmenter="none"), ontology)
    >>> label_images("images", ontology, teacher.model, out, settings, tracker=teacher.tracker)
    """
    from distil.base_models import load_base_model

    check_teacher(settings, ontology)
    model = load_base_model(
        settings.detector,
        settings.segmenter,
        device=settings.device,
        half=settings.half,
        ontology=ontology,
    )
    if settings.compile:
        model.compile()
    if not settings.track:
        return Teacher(model)
    from distil.base_models.registry import VIDEO_DETECTORS, family_of

    if family_of(settings.tracker_model) in VIDEO_DETECTORS:
        from distil.base_models.sam3_video import Sam3Video
        from distil.labeling.tracking import Sam3VideoTracker

        video = Sam3Video(
            settings.tracker_model,
            settings.device,
            settings.half,
            offload_state=settings.offload_state,
        )
        return Teacher(model, Sam3VideoTracker(video, settings.detect_every, settings.match_iou))
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling.tracking import VideoTracker

    propagator = Sam2VideoPropagator(
        settings.tracker_model, settings.device, settings.half, offload_state=settings.offload_state
    )
    tracker = VideoTracker(propagator, settings.detect_every, settings.match_iou, settings.max_lost)
    return Teacher(model, tracker)


def load_worker_teacher(
    settings: LabelSettings, ontology_dict: dict, device: str, threads: int
) -> tuple[BaseModel, Ontology]:
    """In a worker process (`--devices`, a Ray actor): the ontology, and the teacher on
    `device` with torch using `threads` CPU threads (the worker's share)."""
    from distil.ontologies import Ontology
    from distil.utils.cpu import use_threads

    use_threads(settings.threads, share=threads + 1)
    ontology = Ontology.from_dict(ontology_dict)
    settings = settings.model_copy(update={"device": device, "devices": None})
    return load_teacher(settings, ontology).model, ontology
