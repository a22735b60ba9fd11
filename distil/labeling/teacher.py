"""The teacher a `LabelSettings` names: its models loaded, and the video tracker if asked."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
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
    from distil.base_models.registry import ULTRALYTICS_SUFFIXES, resolve, uses_segmenter
    from distil.settings import tracker_checkpoint
    from distil.utils.device import resolve_device
    from distil.utils.hub import HubUnreachableError

    for device in settings.devices or [settings.device]:
        resolve_device(device)
    if settings.track and not settings.box_tracker:
        check_tracker_model(tracker_checkpoint(settings.tracker))
    detectors = ontology.routes(settings.detector) if ontology else [settings.detector]
    for detector in detectors:
        resolve(detector, "detector")
    if any(uses_segmenter(detector, settings.segmenter) for detector in detectors):
        try:
            resolve(settings.segmenter, "segmenter")
        except HubUnreachableError:
            if not all(d.lower().endswith(ULTRALYTICS_SUFFIXES) for d in detectors):
                raise
            # The user gave a YOLO teacher already: boxes only is the fix, not another teacher.
            raise HubUnreachableError(
                f"cannot load the segmenter '{settings.segmenter}': it is not cached here and "
                "the Hugging Face hub cannot be reached. For boxes from your YOLO teacher "
                "alone, use --segmenter none (segmenter: none in a run config); for masks, "
                "give a local SAM folder"
            ) from None


def model_warnings(settings: LabelSettings, ontology: Ontology) -> list[str]:
    """What would stop the run when it loads its teacher, found without loading a model
    or downloading anything (`distil run --check`): a model neither on disk, nor cached,
    nor reachable; prompts a closed-set checkpoint does not know."""
    from distil.base_models.registry import ULTRALYTICS_SUFFIXES, uses_segmenter
    from distil.utils import hub

    warnings = []
    models = list(ontology.routes(settings.detector))
    try:
        segmented = any(uses_segmenter(spec, settings.segmenter) for spec in models)
    except ValueError:  # a detector's config cannot be read: reported below
        segmented = settings.segmenter.lower() != "none"
    if segmented:
        models.append(settings.segmenter)
    for spec in models:
        if spec.lower().endswith(ULTRALYTICS_SUFFIXES):
            warnings += _checkpoint_warnings(spec, ontology, settings.detector)
        elif not Path(spec).expanduser().exists() and not hub.cached(spec):
            reason = "HF_HUB_OFFLINE is set" if hub.offline() else hub.hub_error()
            if reason is not None:
                warnings.append(hub.unreachable_message(spec, reason))
    return warnings


def _checkpoint_warnings(spec: str, ontology: Ontology, default_detector: str) -> list[str]:
    from distil.base_models.ultralytics_yolo import OPEN_VOCABULARY_MODELS, match_prompts
    from distil.utils.ultralytics import load_yolo
    from distil.utils.weights import find_weights, offline

    path = Path(spec).expanduser()
    found = path if path.is_file() else find_weights(path.stem)
    if found is None:
        how = "DISTIL_OFFLINE is set: no download" if offline() else "the run downloads it"
        return [f"{spec}: not on disk, nor in the weights folders ({how})"]
    yolo = load_yolo(found)  # as data: reads the class names
    if type(yolo.model).__name__ in OPEN_VOCABULARY_MODELS:
        return []
    routes = ontology.routes(default_detector)
    prompts = tuple(p for i in routes.get(spec, ()) for p in ontology.classes[i].prompts)
    try:
        match_prompts(prompts, dict(yolo.names))
    except ValueError as e:
        return [f"{spec}: {e}"]
    return []


def load_teacher(settings: LabelSettings, ontology: Ontology) -> Teacher:
    """Check every model name (configs only), then load the weights.

    >>> teacher = load_teacher(LabelSettings(segmenter="none"), ontology)  # doctest: +SKIP
    >>> label_images(  # doctest: +SKIP
    ...     "images", ontology, teacher.model, out, settings, tracker=teacher.tracker)
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
    if settings.tile is not None:
        from distil.base_models.tiling import TiledModel

        model = TiledModel(model, settings.tile_size, settings.tile_overlap, settings.batch)
    if settings.compile:
        model.compile()
    if not settings.track:
        return Teacher(model)
    if settings.box_tracker:
        from distil.labeling.tracking import BoxVideoTracker

        tracker = BoxVideoTracker(
            settings.tracker, settings.detect_every, settings.match_iou, batch=settings.batch
        )
        return Teacher(model, tracker)
    from distil.base_models.registry import VIDEO_DETECTORS, family_of
    from distil.settings import tracker_checkpoint

    checkpoint = tracker_checkpoint(settings.tracker)
    if family_of(checkpoint) in VIDEO_DETECTORS:
        from distil.base_models.sam3_video import Sam3Video
        from distil.labeling.tracking import Sam3VideoTracker

        video = Sam3Video(
            checkpoint, settings.device, settings.half, offload_state=settings.offload_state,
            max_objects_per_pass=settings.max_objects_per_pass,
        )  # fmt: skip
        return Teacher(model, Sam3VideoTracker(video, settings.detect_every, settings.match_iou))
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling.tracking import VideoTracker

    propagator = Sam2VideoPropagator(
        checkpoint, settings.device, settings.half, offload_state=settings.offload_state,
        max_objects_per_pass=settings.max_objects_per_pass,
    )  # fmt: skip
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
