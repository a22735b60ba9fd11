"""Export a student for deployment; ONNX is checked against PyTorch in onnxruntime."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import ExportError, MissingInputError, UsageError
from distil.settings import ModelFormat, StudentExportSettings, default
from distil.utils.files import refuse_link
from distil.utils.ultralytics import load_yolo

logger = logging.getLogger(__name__)

ONNX_CHECK_ATOL = 1e-2  # pixels for boxes, probability for scores

# format -> (module that must import, the distil extra that installs it)
FORMAT_PACKAGES = {
    ModelFormat.ONNX: ("onnxruntime", None),
    ModelFormat.OPENVINO: ("openvino", "openvino"),
    ModelFormat.TFLITE: ("tensorflow", "tflite"),
    ModelFormat.COREML: ("coremltools", "coreml"),
    ModelFormat.ENGINE: ("tensorrt", "tensorrt"),
}


@dataclass
class ExportResult:
    path: str
    format: str
    imgsz: int
    seconds: float
    check: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_format_available(format: ModelFormat) -> None:
    """Fail before exporting when the format's package is missing, naming the extra."""
    module, extra = FORMAT_PACKAGES.get(format, (None, None))
    if module and importlib.util.find_spec(module) is None:
        fix = f'pip install "distil[{extra}]"' if extra else f"pip install {module}"
        raise UsageError(f"--format {format.value} needs the '{module}' package: {fix}")
    if format is ModelFormat.ENGINE:
        import torch

        if not torch.cuda.is_available():
            raise UsageError("--format engine (TensorRT) needs an NVIDIA GPU")


def export_student(
    weights: Path,
    format: ModelFormat | str = ModelFormat.ONNX,
    imgsz: int | None = default(StudentExportSettings, "imgsz"),
    half: bool = default(StudentExportSettings, "half"),
    dynamic: bool = default(StudentExportSettings, "dynamic"),
    check: bool = default(StudentExportSettings, "check"),
    device: str = "cpu",
) -> ExportResult:
    """Export `weights` next to it (Ultralytics naming: best.onnx, best_openvino_model/...),
    at `imgsz` or else the size the model was trained at. At another size than the trained
    one the export is named by it (best_320.onnx), so it never replaces the other."""
    format = ModelFormat(format)
    weights = Path(weights)
    if not weights.is_file():
        raise MissingInputError(f"student weights not found: {weights}")
    check_format_available(format)
    yolo = load_yolo(weights)
    trained = _trained_size(yolo)
    imgsz = imgsz or trained
    start = time.perf_counter()
    options = dict(format=format.value, imgsz=imgsz, half=half, dynamic=dynamic, device=device)
    if imgsz == trained:
        path = yolo.export(**options, verbose=False)
    else:
        path = _export_by_size(weights, imgsz, options)
    if not path:
        raise ExportError(f"Ultralytics could not export {weights} to {format.value}")
    result = ExportResult(str(path), format.value, imgsz, round(time.perf_counter() - start, 2))
    if format is ModelFormat.ONNX and check:
        result.check = check_onnx(weights, Path(path), imgsz)
        if not result.check["passed"]:
            raise ExportError(
                f"{path} does not match PyTorch: max abs difference "
                f"{result.check['max_abs_diff']:.4g} > {ONNX_CHECK_ATOL}"
            )
    return result


def _export_by_size(weights: Path, imgsz: int, options: dict[str, Any]) -> Path:
    """Export a link named `<stem>_<imgsz>.pt` in a temporary folder beside `weights`, and
    move what Ultralytics writes (`<stem>_<imgsz>.onnx`, a model folder) next to it."""
    with tempfile.TemporaryDirectory(prefix=".distil-export-", dir=weights.parent) as folder:
        named = Path(folder) / f"{weights.stem}_{imgsz}{weights.suffix}"
        try:
            os.link(weights, named)
        except OSError:
            shutil.copyfile(weights, named)
        made = Path(load_yolo(named).export(**options, verbose=False))
        target = weights.parent / made.name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)  # distil's own export at this size, made again
        os.replace(made, refuse_link(target))
    return target


def _trained_size(yolo: Any) -> int:
    """The image size a checkpoint was trained at (640 when it does not say)."""
    size = yolo.overrides.get("imgsz") or 640
    return int(max(size) if isinstance(size, (list, tuple)) else size)


def check_onnx(weights: Path, onnx_path: Path, imgsz: int, seed: int = 0) -> dict[str, Any]:
    """Run PyTorch and onnxruntime on the same input; compare every raw output."""
    import onnxruntime as ort
    import torch

    model = load_yolo(weights).model.float().eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    shape = session.get_inputs()[0].shape
    height, width = (d if isinstance(d, int) else imgsz for d in shape[2:])
    image = np.random.default_rng(seed).random((1, 3, height, width), dtype=np.float32)
    with torch.inference_mode():
        reference = model(torch.from_numpy(image))
    # Eval-mode YOLO returns (inference outputs, training features); the first part is
    # what ONNX exports: one tensor (detect) or (predictions, mask prototypes) (segment).
    first = reference[0] if isinstance(reference, (list, tuple)) else reference
    reference = list(first) if isinstance(first, (list, tuple)) else [first]
    outputs = session.run(None, {session.get_inputs()[0].name: image})
    diffs = []
    for ref, out in zip(reference, outputs, strict=False):
        ref = ref.numpy()
        if ref.shape != out.shape:
            raise ExportError(f"{onnx_path}: output shape {out.shape} != PyTorch {ref.shape}")
        diffs.append(float(np.abs(ref - out).max()))
    max_diff = max(diffs)
    return {
        "runtime": f"onnxruntime {ort.__version__}",
        "input": [1, 3, height, width],
        "max_abs_diff": max_diff,
        "tolerance": ONNX_CHECK_ATOL,
        "passed": max_diff <= ONNX_CHECK_ATOL,
    }
