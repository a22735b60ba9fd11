"""INT8 students for the edge: ONNX Runtime static quantization calibrated on the student's
own training images, and what it cost: mAP of the float and the INT8 model on the
validation frames, scored by distil's COCO mAP, and their latency here.

Every layer is quantized (weights per channel, activations per tensor, QDQ format) but the
detection head's decoding (the box distribution, the concatenation of box coordinates in
pixels with class scores), which stays in float: one scale for both would erase the scores.
"""

from __future__ import annotations

import logging
import re
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import UsageError

logger = logging.getLogger(__name__)

CALIBRATION_IMAGES = 64  # Ultralytics calibrates its INT8 exports on a few hundred at most
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


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


def calibration_images(data_yaml: Path, count: int = CALIBRATION_IMAGES) -> list[Path]:
    """Up to `count` images of the dataset's train split, spread evenly over it."""
    from distil.datasets.formats.yolo import yaml_folders
    from distil.target_models.data import checked_data_yaml

    data, _, root = checked_data_yaml(data_yaml)
    images: list[Path] = []
    for entry in yaml_folders(data, "train", data_yaml):
        folder = Path(entry) if Path(entry).is_absolute() else root / entry
        images += sorted(
            p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
    if not images:
        raise UsageError(f"--int8: {data_yaml} has no training images to calibrate on")
    picks = np.linspace(0, len(images) - 1, min(count, len(images))).round().astype(int)
    return [images[i] for i in sorted(set(picks.tolist()))]


def model_input(path: Path, imgsz: int) -> np.ndarray:
    """An image as the exported student takes it: letterboxed to `imgsz` square as
    Ultralytics predicts, RGB, 0-1, (1, 3, imgsz, imgsz) float32."""
    import cv2
    from ultralytics.data.augment import LetterBox

    image = cv2.imread(str(path))
    if image is None:
        raise UsageError(f"--int8: cannot read calibration image {path}")
    boxed = LetterBox((imgsz, imgsz), auto=False)(image=image)
    return np.ascontiguousarray(boxed[..., ::-1].transpose(2, 0, 1))[None].astype(np.float32) / 255


def quantize_onnx(float_onnx: Path, images: list[Path], imgsz: int, target: Path) -> Path:
    """`float_onnx` quantized to INT8 at `target`, calibrated on `images`; the export's
    metadata (class names, stride, size) is kept so Ultralytics and distil read it."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Calibration(CalibrationDataReader):
        def __init__(self, name: str) -> None:
            self.feeds = ({name: model_input(p, imgsz)} for p in images)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.feeds, None)

    graph = onnx.load(str(float_onnx))
    input_name = graph.graph.input[0].name
    with tempfile.TemporaryDirectory(prefix=".distil-int8-", dir=target.parent) as folder:
        prepared = Path(folder) / "prepared.onnx"
        quant_pre_process(str(float_onnx), str(prepared), skip_symbolic_shape=True)
        quantized = Path(folder) / "int8.onnx"
        quantize_static(
            str(prepared), str(quantized), Calibration(input_name),
            quant_format=QuantFormat.QDQ, nodes_to_exclude=head_decoding(graph),
            per_channel=True, activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        )  # fmt: skip
        model = onnx.load(str(quantized))
        del model.metadata_props[:]
        model.metadata_props.extend(graph.metadata_props)
        onnx.save(model, str(target))
    return target


def head_decoding(graph: Any) -> list[str]:
    """The nodes of an Ultralytics export's detection head that decode its outputs: the
    last module's nodes outside its box, class and mask branches (`cv2`, `cv3`, `cv4`)."""
    modules = [re.match(r"/model\.(\d+)/", node.name) for node in graph.graph.node]
    indexes = [int(m.group(1)) for m in modules if m]
    if not indexes:
        raise UsageError("--int8: not an Ultralytics ONNX export (no /model.N/ layers)")
    head = f"/model.{max(indexes)}/"
    branch = re.compile(rf"{re.escape(head)}(one2one_)?cv[234]")
    return [
        node.name
        for node in graph.graph.node
        if node.name.startswith(head) and not branch.match(node.name)
    ]


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
