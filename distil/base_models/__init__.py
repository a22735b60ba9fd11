"""Teachers. Heavy model code is imported only when a model is loaded."""

from distil.base_models.core import (
    BaseModel,
    Detector,
    GroundedModel,
    Segmenter,
    empty_detections,
    make_detections,
)
from distil.base_models.registry import (
    NO_SEGMENTER,
    ModelSpecError,
    check_tracker_model,
    family_of,
    load_base_model,
    load_detector,
    load_segmenter,
)

DEFAULT_DETECTOR = "IDEA-Research/grounding-dino-tiny"
DEFAULT_SEGMENTER = "facebook/sam2.1-hiera-tiny"

__all__ = [
    "DEFAULT_DETECTOR",
    "DEFAULT_SEGMENTER",
    "NO_SEGMENTER",
    "BaseModel",
    "Detector",
    "GroundedModel",
    "ModelSpecError",
    "Segmenter",
    "check_tracker_model",
    "empty_detections",
    "family_of",
    "load_base_model",
    "load_detector",
    "load_segmenter",
    "make_detections",
]
