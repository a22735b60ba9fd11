from distil.target_models.core import StudentTask, TargetModel
from distil.target_models.export import ExportResult, ModelFormat, check_onnx, export_student
from distil.target_models.latency import Latency, onnx_latency
from distil.target_models.predict import PredictSummary, predict_student
from distil.target_models.ultralytics_yolo import (
    DEFAULT_STUDENT,
    TrainResult,
    YoloStudent,
    check_options,
    resolve_student,
)

__all__ = [
    "DEFAULT_STUDENT",
    "ExportResult",
    "Latency",
    "ModelFormat",
    "PredictSummary",
    "StudentTask",
    "TargetModel",
    "TrainResult",
    "YoloStudent",
    "check_onnx",
    "check_options",
    "export_student",
    "onnx_latency",
    "predict_student",
    "resolve_student",
]
