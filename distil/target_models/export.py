"""Export a student for deployment; ONNX is checked against PyTorch in onnxruntime."""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import ExportError, MissingInputError, UsageError
from distil.settings import ModelFormat, StudentExportSettings, default
from distil.target_models.core import ONNX_CHECK_ATOL, ExportResult
from distil.utils.files import refuse_link
from distil.utils.ultralytics import load_yolo

logger = logging.getLogger(__name__)


# format -> (module that must import, the distil extra that installs it)
FORMAT_PACKAGES = {
    ModelFormat.ONNX: ("onnxruntime", None),
    ModelFormat.OPENVINO: ("openvino", "openvino"),
    ModelFormat.TFLITE: ("tensorflow", "tflite"),
    ModelFormat.COREML: ("coremltools", "coreml"),
    ModelFormat.ENGINE: ("tensorrt", "tensorrt"),
}


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
    int8: bool = default(StudentExportSettings, "int8"),
    data: Path | None = None,
    calibration: int = default(StudentExportSettings, "calibration"),
) -> ExportResult:
    """Export `weights` next to it (Ultralytics naming: best.onnx, best_openvino_model/...),
    at `imgsz` or else the size the model was trained at. At another size than the trained
    one the export is named by it (best_320.onnx), so it never replaces the other.

    `int8`: the float export is made and checked as usual, then quantized (ONNX:
    best_int8.onnx beside it; other formats: Ultralytics' int8 export), calibrated on
    `calibration` training images of `data` (default: the student's training dataset);
    `result.int8` names the float model and the data (`distil.evaluation.quantization`
    scores both on its validation frames)."""
    from distil.target_models.transformers_detr import export_detr, is_detr_weights

    format = ModelFormat(format)
    weights = Path(weights)
    if is_detr_weights(weights):
        return export_detr(weights, format, imgsz, half, dynamic, check, int8)
    if not weights.is_file():
        raise MissingInputError(f"student weights not found: {weights}")
    check_format_available(format)
    if int8 and format not in INT8_FORMATS:
        names = ", ".join(f.value for f in INT8_FORMATS)
        raise UsageError(f"--int8: {format.value} has no INT8 export here; use {names}")
    if int8 and half:
        raise UsageError("--int8 and --half: choose one")
    yolo = load_yolo(weights)
    data_yaml = _calibration_data(weights, yolo, data) if int8 else None
    trained = _trained_size(yolo)
    imgsz = imgsz or trained
    start = time.perf_counter()
    options: dict[str, Any] = dict(
        format=format.value, imgsz=imgsz, half=half, dynamic=dynamic, device=device
    )
    if nms_free(yolo):  # YOLO26, YOLOv10: the one-to-one head, no NMS outside the model
        options["nms"] = False
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
    if data_yaml is not None:
        quantized, images = _int8_export(
            weights, Path(path), format, imgsz, options, data_yaml, calibration
        )
        result.int8 = {
            "float_model": str(path),
            "data": str(data_yaml),
            "calibration_images": images,
        }
        result.path = str(quantized)
        result.seconds = round(time.perf_counter() - start, 2)
    return result


INT8_FORMATS = (ModelFormat.ONNX, ModelFormat.OPENVINO, ModelFormat.TFLITE, ModelFormat.ENGINE)


def _calibration_data(weights: Path, yolo: Any, data: Path | None) -> Path:
    """The data.yaml to calibrate on: `data`, else the one the student was trained on."""
    from distil.target_models.data import find_data_yaml

    if data is not None:
        return find_data_yaml(Path(data))
    trained_on = yolo.overrides.get("data")
    if not trained_on or not Path(trained_on).is_file():
        raise UsageError(
            f"--int8: {weights} does not say which dataset it was trained on"
            + (f" ({trained_on} is gone)" if trained_on else "")
            + "; give --data DATASET to calibrate on"
        )
    return Path(trained_on)


def _int8_export(
    weights: Path,
    float_export: Path,
    format: ModelFormat,
    imgsz: int,
    options: dict[str, Any],
    data_yaml: Path,
    calibration: int,
) -> tuple[Path, int]:
    """The INT8 model and how many images calibrated it: ONNX Runtime static quantization
    of the float ONNX, or Ultralytics' own INT8 export for the other formats (calibrated
    on a `calibration`-image share of `data_yaml`'s training images)."""
    from distil.target_models.quantize import calibration_images, quantize_onnx, training_images

    every = training_images(data_yaml)
    images = calibration_images(every, calibration)
    if format is ModelFormat.ONNX:
        target = float_export.with_name(f"{float_export.stem}_int8.onnx")
        return quantize_onnx(float_export, images, imgsz, refuse_link(target)), len(images)
    made = load_yolo(weights).export(
        **options, int8=True, data=str(data_yaml), fraction=len(images) / len(every),
        verbose=False,
    )  # fmt: skip
    if not made:
        raise ExportError(f"Ultralytics could not export {weights} to INT8 {format.value}")
    return Path(made), len(images)


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


END_TO_END_COLUMNS = 6  # x1, y1, x2, y2, score, class: an NMS-free head's top-k rows
# Scores this close to the last one kept may trade places across runtimes.
TOP_K_MARGIN = 1e-3


def kept_rows_difference(reference: np.ndarray, exported: np.ndarray) -> tuple[float, int]:
    """The largest difference between two top-k detection tables (rows x1, y1, x2, y2,
    score, class) over the rows both keep for sure, and how many those are: near-equal
    scores at the cut may swap in or out, and equal ones come in any order, in either
    runtime. An infinite difference when they keep different rows.

    >>> rows = np.array([[0, 0, 4, 4, 0.9, 1], [1, 1, 5, 5, 0.5, 2], [2, 2, 6, 6, 0.1, 0]])
    >>> kept_rows_difference(rows, rows[[1, 0, 2]] + [0, 0, 0, 1e-4, 0, 0])
    (0.0001, 2)
    """
    cut = max(reference[:, 4].min(), exported[:, 4].min()) + TOP_K_MARGIN
    ref, out = reference[reference[:, 4] > cut], exported[exported[:, 4] > cut]
    if len(ref) != len(out):
        return float("inf"), 0
    if not len(ref):
        return 0.0, 0

    def ordered(rows: np.ndarray) -> np.ndarray:
        keys = np.round(rows[:, [0, 1, 5]], 1)  # class and corner, coarse enough for noise
        return rows[np.lexsort((keys[:, 0], keys[:, 1], keys[:, 2]))]

    return round(float(np.abs(ordered(ref) - ordered(out)).max()), 6), len(ref)


def _trained_size(yolo: Any) -> int:
    """The image size a checkpoint was trained at (640 when it does not say)."""
    size = yolo.overrides.get("imgsz") or 640
    return int(max(size) if isinstance(size, (list, tuple)) else size)


def nms_free(yolo: Any) -> bool:
    """Whether the model has an end-to-end (one-to-one) head that needs no NMS."""
    head = getattr(yolo.model, "model", [None])[-1]
    return hasattr(yolo.model, "end2end") and getattr(head, "one2one_cv2", None) is not None


def check_onnx(weights: Path, onnx_path: Path, imgsz: int, seed: int = 0) -> dict[str, Any]:
    """Run PyTorch and onnxruntime on the same input; compare every raw output (for an
    end-to-end model, the detections both keep; see `kept_rows_difference`)."""
    import onnxruntime as ort
    import torch

    yolo = load_yolo(weights)
    model = yolo.model.float().eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    end_to_end = nms_free(yolo) and session.get_outputs()[0].shape[-1] == END_TO_END_COLUMNS
    if end_to_end:
        model.end2end = True  # the same one-to-one top-k output the export holds
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
    compared: int | None = None  # end-to-end: the detection rows compared
    for ref, out in zip(reference, outputs, strict=False):
        ref = ref.numpy()
        if ref.shape != out.shape:
            raise ExportError(f"{onnx_path}: output shape {out.shape} != PyTorch {ref.shape}")
        if end_to_end and ref.ndim == 3 and ref.shape[-1] == END_TO_END_COLUMNS:
            difference, compared = kept_rows_difference(ref[0], out[0])
            diffs.append(difference)
        else:
            diffs.append(float(np.abs(ref - out).max()))
    max_diff = max(diffs)
    return {
        "runtime": f"onnxruntime {ort.__version__}",
        "input": [1, 3, height, width],
        "max_abs_diff": max_diff,
        "tolerance": ONNX_CHECK_ATOL,
        "passed": max_diff <= ONNX_CHECK_ATOL,
        **({"end_to_end_rows_compared": compared} if compared is not None else {}),
    }
