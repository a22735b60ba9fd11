"""Teachers. Names are imported on first use; model code only when a model is loaded."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["BaseModel", "Detector", "GroundedModel", "Segmenter", "make_detections"],
        "registry": [
            "ModelSpecError",
            "check_tracker_model",
            "family_of",
            "load_base_model",
            "load_detector",
            "load_segmenter",
            "teacher_summary",
            "uses_segmenter",
        ],
    },
)
