"""Judge labels or students against ground truth: mAP, P/R/F1, sweeps, tracks, gates.

Names load on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "coco_map": ["MapResult", "coco_map"],
        "core": [
            "ClassReport",
            "EvalReport",
            "align_classes",
            "evaluate",
            "evaluate_path",
            "swept_ontology",
        ],
        "gates": ["METRICS", "check_bars", "missed_bars"],
        "matching": ["best_f1_threshold", "match_boxes", "operating_point"],
        "predictions": ["PredictionSet", "load_predictions"],
        "tracking": ["TrackScore", "clear_mot"],
    },
)
