"""INT8 students for the edge: ONNX Runtime static quantization calibrated on the student's
own training images (`distil.evaluation.quantization` scores what it cost).

Every layer is quantized (weights per channel, activations per tensor, QDQ format) but the
detection head's decoding (the box distribution, the concatenation of box coordinates in
pixels with class scores), which stays in float: one scale for both would erase the scores.
"""

from __future__ import annotations

import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import UsageError

logger = logging.getLogger(__name__)

CALIBRATION_IMAGES = 64  # Ultralytics calibrates its INT8 exports on a few hundred at most
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


def training_images(data_yaml: Path) -> list[Path]:
    """Every image of the dataset's train split, in name order."""
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
    return images


def calibration_images(images: list[Path], count: int = CALIBRATION_IMAGES) -> list[Path]:
    """Up to `count` of `images`, spread evenly over them."""
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
