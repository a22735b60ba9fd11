"""Which class loads a checkpoint, decided from the checkpoint itself, not from its name.

Built-in families are listed below by import path (nothing heavy is imported until a
model is loaded). Third-party teachers register under the entry-point group
`distil.base_models` with the checkpoint's `model_type` as the entry-point name::

    [project.entry-points."distil.base_models"]
    my-detector = "my_package.teacher:MyDetector"
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distil.errors import UsageError
from distil.settings import DEFAULT_SEGMENTER, NO_SEGMENTER

if TYPE_CHECKING:
    from distil.base_models.core import BaseModel, Detector, Segmenter
    from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

ULTRALYTICS_FAMILY = "ultralytics"
ULTRALYTICS_SUFFIXES = (".pt", ".pth")

DETECTORS = {
    "grounding-dino": "distil.base_models.grounding_dino:GroundingDinoDetector",
    # MM Grounding DINO and LLMDet (same architecture, other weights).
    "mm-grounding-dino": "distil.base_models.grounding_dino:MMGroundingDinoDetector",
    "owlv2": "distil.base_models.owlv2:Owlv2Detector",
    "omdet-turbo": "distil.base_models.omdet_turbo:OmDetTurboDetector",
    "florence2": "distil.base_models.florence2:Florence2Detector",
    # SAM 3, from its image checkpoint or its video one (which holds the image detector).
    "sam3": "distil.base_models.sam3:Sam3Detector",
    "sam3_video": "distil.base_models.sam3:Sam3Detector",
    ULTRALYTICS_FAMILY: "distil.base_models.ultralytics_yolo:UltralyticsDetector",
}
# Detectors that make their own masks: no segmenter is loaded after them, and
# `--segmenter none` tells them to keep boxes only.
SEGMENTING_DETECTORS = ("sam3", "sam3_video")
SEGMENTERS = {
    "sam": "distil.base_models.sam:SamSegmenter",
    "sam2": "distil.base_models.sam:Sam2Segmenter",
    "sam2_video": "distil.base_models.sam:Sam2Segmenter",
    "edgetam": "distil.base_models.sam:EdgeTamSegmenter",
    "edgetam_video": "distil.base_models.sam:EdgeTamSegmenter",
    # SAM 3's tracker, a SAM 2-style promptable segmenter, alone or in SAM 3's full
    # (video) checkpoint.
    "sam3_tracker": "distil.base_models.sam:Sam3TrackerSegmenter",
    "sam3_video": "distil.base_models.sam:Sam3TrackerSegmenter",
}


class ModelSpecError(UsageError):
    """A --detector / --segmenter value that cannot be resolved to a supported model."""


def family_of(spec: str) -> str:
    """The model family of a hub id, local folder or `.pt` file (reads config only)."""
    if spec.lower().endswith(ULTRALYTICS_SUFFIXES):
        from distil.utils.weights import checkpoint_file

        try:
            checkpoint_file(spec)  # a bare yolo11n.pt: the weights cache, or a download
        except FileNotFoundError as e:
            raise ModelSpecError(str(e)) from None
        return ULTRALYTICS_FAMILY
    from distil.base_models.hf import model_type_of
    from distil.utils import hub

    hub.prepare(spec)  # an unreachable hub fails here in seconds, naming the fixes
    try:
        return model_type_of(spec)
    except (OSError, ValueError) as e:
        if "custom code" in str(e):
            raise ModelSpecError(
                f"'{spec}' ships Python code to run (auto_map in its config); distil never "
                "runs code from a model checkpoint (trust_remote_code is off)"
            ) from None
        where = "local folder" if Path(spec).exists() else "Hugging Face id (or cached copy)"
        raise ModelSpecError(
            f"cannot read the config of '{spec}' as a {where}: {str(e).splitlines()[0]}"
        ) from None


def _plugin_paths() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group="distil.base_models")}


def _load_class(path: str) -> type:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def resolve(spec: str, role: str) -> tuple[str, str]:
    """(family, import path) for `spec` in `role` ('detector' or 'segmenter')."""
    known = {**(DETECTORS if role == "detector" else SEGMENTERS), **_plugin_paths()}
    family = family_of(spec)
    if family not in known:
        builtin = DETECTORS if role == "detector" else SEGMENTERS
        names = ", ".join(sorted(builtin))
        raise ModelSpecError(
            f"--{role} '{spec}' is a '{family}' model, which is not a supported {role}. "
            f"Supported {role} families: {names}"
            + (
                " (or an Ultralytics YOLO / RT-DETR / YOLO-World / YOLOE .pt file)"
                if role == "detector"
                else ""
            )
        )
    return family, known[family]


# Video memory that carries the teacher's keyframe masks, and video models that detect and
# track on their own (SAM 3's checkpoint holds both its image and its video model).
TRACKER_FAMILIES = ("sam2", "sam2_video", "edgetam", "edgetam_video")
VIDEO_DETECTORS = ("sam3_video",)


def check_tracker_model(spec: str) -> None:
    """Fail before any weights load unless `spec` is a SAM 2 / 2.1, EdgeTAM or SAM 3 video
    checkpoint."""
    family = family_of(spec)
    if family not in TRACKER_FAMILIES + VIDEO_DETECTORS:
        raise ModelSpecError(
            f"--tracker '{spec}' is a '{family}' model; tracking needs a box tracker "
            "(bytetrack, botsort), SAM 2 / 2.1 or EdgeTAM video memory, or SAM 3's video "
            "model (e.g. facebook/sam2.1-hiera-tiny, yonigozlan/EdgeTAM-hf, facebook/sam3)"
        )


def uses_segmenter(detector: str, segmenter: str) -> bool:
    """Whether a segmenter is loaded after `detector` (reads the detector's config only)."""
    return segmenter.lower() != NO_SEGMENTER and family_of(detector) not in SEGMENTING_DETECTORS


def teacher_summary(detector: str, segmenter: str, read_hub: bool = True) -> str:
    """'detector + segmenter' as it will run, for a plan or a log line. With
    `read_hub=False` a hub id's config is not fetched, and a hub id shows both names."""
    if segmenter.lower() != NO_SEGMENTER and (read_hub or Path(detector).exists()):
        try:
            if not uses_segmenter(detector, segmenter):
                return f"{detector} (with its own masks)"
        except ValueError:
            pass  # the teacher check before loading names the problem
    return f"{detector} + {segmenter}"


def load_detector(spec: str, **kwargs: Any) -> Detector:
    _, path = resolve(spec, "detector")
    return _load_class(path)(spec, **kwargs)


def load_segmenter(spec: str, **kwargs: Any) -> Segmenter | None:
    if spec.lower() == NO_SEGMENTER:
        return None
    _, path = resolve(spec, "segmenter")
    return _load_class(path)(spec, **kwargs)


def load_base_model(
    detector: str,
    segmenter: str = NO_SEGMENTER,
    device: str = "auto",
    half: bool = True,
    ontology: Ontology | None = None,
) -> BaseModel:
    """Check every spec first (config reads only), then load the weights; with `ontology`,
    a closed-set detector also checks that it knows every prompt.

    Classes of `ontology` that name a `teacher` are labeled by that detector (each loaded
    once, merged by class: a `RoutedModel`). A detector that makes its own masks (SAM 3)
    takes no segmenter: `segmenter` then only says whether to keep masks ('none': boxes
    only)."""
    routes = ontology.routes(detector) if ontology is not None else {detector: ()}
    own_masks = {spec: resolve(spec, "detector")[0] in SEGMENTING_DETECTORS for spec in routes}
    keep_masks = segmenter.lower() != NO_SEGMENTER
    needs_segmenter = keep_masks and not all(own_masks.values())
    if needs_segmenter:
        resolve(segmenter, "segmenter")
    elif keep_masks and segmenter != DEFAULT_SEGMENTER:
        logger.warning("%s makes its own masks; --segmenter %s is not loaded", detector, segmenter)
    detectors = {}
    for spec, own in own_masks.items():
        options = {"masks": keep_masks} if own else {}
        detectors[spec] = load_detector(spec, device=device, half=half, **options)
    model_segmenter = None
    if needs_segmenter:
        model_segmenter = load_segmenter(segmenter, device=device, half=half)
    if ontology is None:
        from distil.base_models.core import GroundedModel

        return GroundedModel(detectors[detector], model_segmenter)
    for spec, class_ids in routes.items():
        check = getattr(detectors[spec], "check_ontology", None)
        if check is not None:
            check(ontology.subset(class_ids))
    if len(routes) == 1:
        from distil.base_models.core import GroundedModel

        return GroundedModel(next(iter(detectors.values())), model_segmenter)
    from distil.base_models.routing import Route, RoutedModel

    return RoutedModel(
        [Route.of(spec, detectors[spec], ontology, ids) for spec, ids in routes.items()],
        model_segmenter,
    )
