"""What INT8 cost a student: the float and the INT8 export scored on the same validation
frames by distil's COCO mAP, and timed here."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distil.target_models.export import ExportResult


@dataclass
class QuantizationCost:
    """The float and INT8 students side by side on the validation frames."""

    float_model: str
    int8_model: str
    calibration_images: int
    validation_images: int
    float_map50_95: float
    int8_map50_95: float
    float_map50: float
    int8_map50: float
    float_p50_ms: float | None = None
    int8_p50_ms: float | None = None

    @property
    def map50_95_change(self) -> float:
        return round(self.int8_map50_95 - self.float_map50_95, 5)

    @property
    def speedup(self) -> float | None:
        if not self.float_p50_ms or not self.int8_p50_ms:
            return None
        return round(self.float_p50_ms / self.int8_p50_ms, 3)

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "map50_95_change": self.map50_95_change,
            "map50_change": round(self.int8_map50 - self.float_map50, 5),
            "speedup": self.speedup,
        }


def int8_cost(result: ExportResult, device: str = "cpu", latency_runs: int = 20) -> ExportResult:
    """`result` of an `--int8` export with `result.int8` completed: both models' mAP on
    the validation frames of the dataset it was calibrated on, and (ONNX) their latency.

    >>> int8_cost(export_student("best.pt", "onnx", int8=True))  # doctest: +SKIP
    """
    made = result.int8 or {}
    cost = quantization_cost(
        Path(made["float_model"]), Path(result.path), Path(made["data"]), result.imgsz,
        made["calibration_images"], device, latency_runs,
    )  # fmt: skip
    result.int8 = {**made, **cost.to_dict()}
    return result


def quantization_cost(
    float_model: Path,
    int8_model: Path,
    data_yaml: Path,
    imgsz: int,
    calibration: int,
    device: str = "cpu",
    latency_runs: int = 0,
) -> QuantizationCost:
    """Score both exports on the dataset's validation frames with distil's mAP, and time
    both (ONNX) when `latency_runs`."""
    from distil.datasets import read_dataset
    from distil.evaluation.core import evaluate
    from distil.evaluation.predictions import student_predictions
    from distil.target_models.latency import onnx_latency

    truth = read_dataset(data_yaml, "val")
    scores = {}
    for name, model in (("float", float_model), ("int8", int8_model)):
        predicted = student_predictions(model, truth, conf=0.001, imgsz=imgsz, device=device)
        scores[name] = evaluate(predicted, truth)
    cost = QuantizationCost(
        float_model=str(float_model),
        int8_model=str(int8_model),
        calibration_images=calibration,
        validation_images=len(truth.images),
        float_map50_95=scores["float"].map50_95,
        int8_map50_95=scores["int8"].map50_95,
        float_map50=scores["float"].map50,
        int8_map50=scores["int8"].map50,
    )
    if latency_runs and float_model.suffix == ".onnx":
        cost.float_p50_ms = onnx_latency(float_model, imgsz, runs=latency_runs).p50_ms
        cost.int8_p50_ms = onnx_latency(int8_model, imgsz, runs=latency_runs).p50_ms
    return cost
