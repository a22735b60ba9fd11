from distil.evaluation.coco_map import MapResult, coco_map
from distil.evaluation.core import (
    ClassReport,
    EvalReport,
    align_classes,
    evaluate,
    evaluate_path,
    swept_ontology,
)
from distil.evaluation.gates import METRICS, check_bars, missed_bars
from distil.evaluation.matching import best_f1_threshold, match_boxes, operating_point
from distil.evaluation.predictions import PredictionSet, load_predictions
from distil.evaluation.tracking import TrackScore, clear_mot

__all__ = [
    "METRICS",
    "ClassReport",
    "EvalReport",
    "MapResult",
    "PredictionSet",
    "TrackScore",
    "align_classes",
    "best_f1_threshold",
    "check_bars",
    "clear_mot",
    "coco_map",
    "evaluate",
    "evaluate_path",
    "load_predictions",
    "match_boxes",
    "missed_bars",
    "operating_point",
    "swept_ontology",
]
