"""Apache-2.0 students trained through `transformers`: RF-DETR, D-FINE and RT-DETRv2.

A student starts from a Hugging Face id or a local checkpoint folder (weights read as
data, through the same `from_pretrained` path as the teachers), with its classification
head resized to the dataset's classes (`id2label` from the dataset card's names). It
trains on the exported dataset (YOLO or COCO, read by `distil.datasets`) with torchvision
v2 augmentation (flip, scale jitter, colour), AdamW, a warmup-then-cosine schedule, an
EMA of the weights, AMP on a GPU, and early stopping by validation mAP. A run folder
holds `weights/best/` (the EMA weights of the best epoch) and `weights/last/` with the
trainer state, which `resume` continues from.

The model's inputs are RGB images in [0, 1] resized to the square training size; the
normalization the family expects happens inside `DetrOutputs`, which is also what ONNX
exports: `scores` (sigmoid class probabilities per query) and `boxes` (x1, y1, x2, y2 in
0..1 of the image), and for a segmenting RF-DETR `masks` (each query's mask
probabilities at 1/4 of the input), so the exported file needs no pre- or
post-processing code but a resize and a top-k.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import (
    CheckpointError,
    ExportError,
    MissingInputError,
    OutputExistsError,
    UsageError,
)
from distil.settings import (
    DETR_OPTIONS,
    STUDENT_LICENCES,
    TRANSFORMERS_STUDENT_FAMILIES,
    TRANSFORMERS_STUDENTS,
    TrainSettings,
    student_licence,
)
from distil.target_models.core import (
    ONNX_CHECK_ATOL,
    TRAIN_DONE_FILE,
    ExportResult,
    StudentTask,
    TargetModel,
    TrainResult,
    TrainStatus,
    check_run_folder,
    log_epochs,
)
from distil.target_models.data import checked_data_yaml, dataset_task, find_data_yaml
from distil.utils.files import atomic_write_json, atomic_write_text, increment_path, mark_output
from distil.utils.suggest import did_you_mean

logger = logging.getLogger(__name__)

STUDENT_FILE = "distil_student.json"  # beside config.json: what distil needs to run it
STATE_FILE = "trainer_state.pt"  # in weights/last: optimizer, schedule, EMA, epoch
ARGS_FILE = "train_args.json"  # in the run folder: what resume trains with
RESULTS_FILE = "results.csv"  # one row an epoch, in Ultralytics' columns (the report's curves)
# Family -> (mean, std) its processor normalizes with; None: inputs stay in [0, 1].
NORMALIZE = {
    "rf_detr": ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "d_fine": None,
    "rt_detr_v2": None,
}
SEGMENTING_FAMILIES = ("rf_detr",)  # RfDetrForInstanceSegmentation: masks from any RF-DETR
MASK_THRESHOLD = 0.5
SIZE_MULTIPLE = 32  # the strides (and RF-DETR's patch windows) the input sides divide by
MAX_DETECTIONS = 300  # top-k (query, class) pairs a prediction keeps
# Options of `train.options` for these students, with their defaults.
DEFAULT_LR = 1e-4


@dataclass
class DetrSource:
    """Where a transformers student's weights come from, and its family."""

    name: str  # hub id or folder, as from_pretrained takes it
    model_type: str
    task: StudentTask


def is_detr_student(model: str | Path) -> bool:
    """Whether `model` names a transformers student (a name, hub id or folder)."""
    from distil.settings import student_model_type

    return student_model_type(str(model)) is not None


def is_detr_weights(weights: str | Path) -> bool:
    """Whether `weights` is a trained (or exported) transformers student of distil's."""
    path = Path(weights)
    if path.is_dir():
        return (path / STUDENT_FILE).is_file()
    return path.suffix == ".onnx" and path.with_name(f"{path.stem}.{STUDENT_FILE}").is_file()


def resolve_detr(model: str, task: StudentTask) -> DetrSource:
    """The checkpoint to start from: a short name (rf-detr-nano) -> its hub id; a folder
    or hub id as given. Its config is read (not its weights) to learn the family."""
    from distil.base_models.hf import model_type_of

    name = TRANSFORMERS_STUDENTS.get(model.lower(), model)
    if Path(name).expanduser().exists():
        name = str(Path(name).expanduser())
        if not (Path(name) / "config.json").is_file():
            raise MissingInputError(f"--model {model}: {name} has no config.json")
    try:
        model_type = model_type_of(name)
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise MissingInputError(f"--model {model}: cannot read its config ({first})") from None
    if model_type not in TRANSFORMERS_STUDENT_FAMILIES:
        known = ", ".join(sorted(TRANSFORMERS_STUDENT_FAMILIES))
        raise UsageError(
            f"--model {model}: a {model_type} checkpoint; transformers students are {known}"
        )
    if task is StudentTask.SEGMENT and model_type not in SEGMENTING_FAMILIES:
        raise UsageError(
            f"--model {model}: the dataset holds masks and {model_type} detects boxes only: "
            "train an RF-DETR or -seg YOLO student, or export the dataset with --task detect"
        )
    return DetrSource(name, model_type, task)


def check_detr_options(options: dict[str, Any]) -> dict[str, Any]:
    """`train.options` for a transformers student: known keys of the right type."""
    for key, value in options.items():
        if key not in DETR_OPTIONS:
            raise UsageError(
                f"unknown option '{key}' for a transformers student."
                f"{did_you_mean(key, DETR_OPTIONS)} Options: {', '.join(DETR_OPTIONS)}"
            )
        kind = type(DETR_OPTIONS[key])
        if kind is bool and not isinstance(value, bool):
            raise UsageError(f"option '{key}': expected true or false, got {value!r}")
        if kind is float and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise UsageError(f"option '{key}': expected a number, got {value!r}")
    return {**DETR_OPTIONS, **options}


def check_imgsz(imgsz: int) -> None:
    if imgsz % SIZE_MULTIPLE:
        raise UsageError(
            f"--imgsz {imgsz}: transformers students take sides that divide by "
            f"{SIZE_MULTIPLE} (e.g. {max(1, round(imgsz / SIZE_MULTIPLE)) * SIZE_MULTIPLE})"
        )


def normalized(images: Any, model_type: str) -> Any:
    """[0, 1] RGB images as the family's processor would give them to the model."""
    import torch

    normalize = NORMALIZE.get(model_type)
    if normalize is None:
        return images
    mean, std = (torch.tensor(v, device=images.device).view(1, 3, 1, 1) for v in normalize)
    return (images - mean) / std


class DetrOutputs:
    """Builds the torch module (in eval mode) that maps [0, 1] RGB images to (scores, boxes),
    and for a segmenting student (scores, boxes, masks): mask probabilities of each query at
    1/4 of the input size."""

    @staticmethod
    def wrap(model: Any, model_type: str) -> Any:
        import torch

        class Exported(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
                out = self.model(pixel_values=normalized(images, model_type))
                centre, size = out.pred_boxes[..., :2], out.pred_boxes[..., 2:]
                boxes = torch.cat([centre - size / 2, centre + size / 2], dim=-1)
                if getattr(out, "pred_masks", None) is not None:
                    return out.logits.sigmoid(), boxes, out.pred_masks.sigmoid()
                return out.logits.sigmoid(), boxes

        return Exported().eval()


def top_detections(
    scores: np.ndarray, boxes: np.ndarray, conf: float, max_det: int = MAX_DETECTIONS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One image's best (query, class) pairs above `conf`: xyxy in 0..1, scores, classes
    and the queries they come from; DETR students need no NMS (one query, one object).

    >>> s = np.array([[0.9, 0.1], [0.2, 0.6]]); b = np.array([[0, 0, .5, .5], [.5, .5, 1, 1]])
    >>> _, scores, classes, queries = top_detections(s, b, conf=0.5)
    >>> scores.tolist(), classes.tolist(), queries.tolist()
    ([0.9, 0.6], [0, 1], [0, 1])
    """
    flat = scores.reshape(-1)
    k = min(max_det, flat.size)
    order = np.argpartition(-flat, k - 1)[:k]
    order = order[np.argsort(-flat[order], kind="stable")]
    order = order[flat[order] > conf]
    queries, classes = np.divmod(order, scores.shape[1])
    return np.clip(boxes[queries], 0, 1), flat[order], classes, queries


class DetrPredictor:
    """A trained transformers student (PyTorch folder or its ONNX export), run like an
    Ultralytics model: `predict(images, conf=...)` gives Ultralytics `Results` (plotting,
    label lines and tracking come with them), `names` its classes.

    >>> DetrPredictor.load("runs/train/exp/weights/best").predict(["a.jpg"])  # doctest: +SKIP
    """

    def __init__(
        self,
        run: Callable[[np.ndarray], tuple],
        names: dict[int, str],
        imgsz: int,
        task: str = "detect",
    ) -> None:
        self.run = run
        self.names = names
        self.imgsz = imgsz
        self.task = task

    @classmethod
    def load(cls, weights: str | Path, device: str = "cpu") -> DetrPredictor:
        weights = Path(weights)
        if not is_detr_weights(weights):
            raise MissingInputError(f"not a transformers student of distil's: {weights}")
        info = read_student_file(weights)
        names = {int(k): str(v) for k, v in info["names"].items()}
        task = info.get("task", StudentTask.DETECT.value)
        if weights.suffix == ".onnx":
            from distil.target_models.latency import load_onnx

            load_onnx(weights)
            import onnxruntime as ort

            session = ort.InferenceSession(str(weights), providers=["CPUExecutionProvider"])
            feed = session.get_inputs()[0].name

            def run_onnx(batch: np.ndarray) -> tuple:
                # The export is static, batch 1: one image a run
                outputs = [session.run(None, {feed: image[None]}) for image in batch]
                return tuple(np.concatenate(parts) for parts in zip(*outputs, strict=True))

            return cls(run_onnx, names, info["imgsz"], task)
        import torch

        from distil.utils.device import resolve_device

        target = resolve_device(device)
        segment = task == StudentTask.SEGMENT.value
        module = DetrOutputs.wrap(load_detr_model(weights, segment), info["model_type"])
        module = module.to(target)

        def run(batch: np.ndarray) -> tuple:
            with torch.inference_mode():
                outputs = module(torch.from_numpy(batch).to(target))
            return tuple(t.float().cpu().numpy() for t in outputs)

        return cls(run, names, info["imgsz"], task)

    def predict(
        self,
        images: list[Any],
        conf: float = 0.25,
        imgsz: int | None = None,
        max_det: int = MAX_DETECTIONS,
        batch: int = 8,
        **_: Any,
    ) -> list[Any]:
        """`images`: paths or BGR arrays (as Ultralytics takes them); device, verbose and
        iou are accepted and unused (the device was chosen at load; no NMS)."""
        import torch
        from ultralytics.engine.results import Results

        size = imgsz or self.imgsz
        results = []
        for start in range(0, len(images), batch):
            chunk = [_bgr(image) for image in images[start : start + batch]]
            inputs = np.stack([resized_input(bgr[..., ::-1], size) for bgr, _ in chunk])
            scores, boxes, *masks = self.run(inputs)
            for index, (bgr, path) in enumerate(chunk):
                xyxy, confidences, classes, queries = top_detections(
                    scores[index], boxes[index], conf, max_det
                )
                height, width = bgr.shape[:2]
                xyxy = xyxy * np.array([width, height, width, height], dtype=np.float32)
                rows = np.column_stack([xyxy, confidences, classes]).astype(np.float32)
                found = {"boxes": torch.from_numpy(rows)}
                if masks:
                    found["masks"] = torch.from_numpy(
                        _image_masks(masks[0][index][queries], width, height)
                    )
                results.append(Results(bgr, path=path, names=self.names, **found))
        return results


def _image_masks(probabilities: np.ndarray, width: int, height: int) -> np.ndarray:
    """Queries' mask probabilities (at 1/4 of the input) as masks of the image, 0/1 float."""
    import cv2

    masks = np.zeros((len(probabilities), height, width), np.float32)
    for mask, probability in zip(masks, probabilities, strict=True):
        resized = cv2.resize(probability, (width, height), interpolation=cv2.INTER_LINEAR)
        mask[resized > MASK_THRESHOLD] = 1.0
    return masks


def _bgr(image: Any) -> tuple[np.ndarray, str]:
    if isinstance(image, np.ndarray):
        return image, "image0.jpg"
    from distil.sources.images import decode_image, read_file

    data, _, _ = read_file(Path(image))
    return np.ascontiguousarray(decode_image(data)[..., ::-1]), str(image)


def resized_input(rgb: np.ndarray, size: int) -> np.ndarray:
    """An RGB uint8 image as the model's input: size x size, CHW float32 in [0, 1]."""
    import cv2

    resized = cv2.resize(rgb, (size, size), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized.transpose(2, 0, 1), dtype=np.float32) / 255.0


def read_student_file(weights: Path) -> dict[str, Any]:
    file = (
        weights / STUDENT_FILE
        if weights.is_dir()
        else weights.with_name(f"{weights.stem}.{STUDENT_FILE}")
    )
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{file}: unreadable ({e})") from None


def load_detr_model(folder: Path | str, segment: bool | None = None, **kwargs: Any) -> Any:
    """A transformers detector from a folder or hub id, its weights read as data only; with
    `segment` its instance-segmentation model (RF-DETR: a detection checkpoint gains a new
    mask head). None: as the folder's distil_student.json says."""
    import torch
    from transformers import AutoModelForInstanceSegmentation, AutoModelForObjectDetection

    from distil.base_models.hf import load_pretrained

    if segment is None:
        segment = read_student_file(Path(folder)).get("task") == StudentTask.SEGMENT.value
    auto = AutoModelForInstanceSegmentation if segment else AutoModelForObjectDetection
    model, _, _ = load_pretrained(
        _AutoDetector(auto, kwargs), str(folder), torch.device("cpu"), torch.float32,
        processor_class=_NoProcessor,
    )  # fmt: skip
    return model


class _NoProcessor:
    """distil resizes and normalizes students' inputs itself; no processor is read."""

    @staticmethod
    def from_pretrained(*args: Any, **kwargs: Any) -> None:
        return None


class _AutoDetector:
    """AutoModelForObjectDetection with extra from_pretrained arguments (the new head)."""

    def __init__(self, auto: Any, kwargs: dict[str, Any]) -> None:
        self.auto, self.kwargs = auto, kwargs

    def from_pretrained(self, name: str, **kwargs: Any) -> Any:
        return self.auto.from_pretrained(name, **kwargs, **self.kwargs)


class DetrDataset:
    """A split of a dataset as (image tensor, target) pairs, augmented when training."""

    def __init__(
        self, labeled: Any, imgsz: int, train: bool, options: dict[str, Any], masks: bool = False
    ) -> None:
        self.images = [image for image in labeled.images.values() if image.path is not None]
        self.imgsz = imgsz
        self.masks = masks  # read from the label files' polygons, one per box
        self.transform = _transforms(imgsz, train, options)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[Any, dict[str, Any]] | None:
        import torch
        from torchvision import tv_tensors

        from distil.sources.images import load_frame

        item = self.images[index]
        frame = load_frame(item.path)
        if not hasattr(frame, "image"):  # a SkippedFile: reported once, left out
            _skip_once(str(item.path), frame.reason)
            return None
        rgb = frame.image
        height, width = rgb.shape[:2]
        image = tv_tensors.Image(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1))
        boxes = tv_tensors.BoundingBoxes(
            torch.as_tensor(item.detections.xyxy, dtype=torch.float32).reshape(-1, 4),
            format="XYXY", canvas_size=(height, width),
        )  # fmt: skip
        labels = torch.as_tensor(item.detections.class_id, dtype=torch.int64).reshape(-1)
        target = {"boxes": boxes, "labels": labels}
        if self.masks:
            masks = _polygon_masks(item.path, width, height, len(labels))
            if masks is None:
                return None
            target["masks"] = tv_tensors.Mask(torch.from_numpy(masks))
        image, target = self.transform(image, target)
        xyxy = target["boxes"] / self.imgsz
        centre, size = (xyxy[:, :2] + xyxy[:, 2:]) / 2, xyxy[:, 2:] - xyxy[:, :2]
        pixels = image.float() / 255.0
        found = {"class_labels": target["labels"], "boxes": torch.cat([centre, size], 1)}
        if self.masks:
            found["masks"] = target["masks"].float()
        return pixels, found


def _polygon_masks(image: Path, width: int, height: int, count: int) -> np.ndarray | None:
    """The masks of an image's YOLO polygons (a box line: its rectangle), in label order."""
    import cv2

    from distil.datasets.formats.yolo import label_file_for, read_yolo_polygons

    label = label_file_for(image)
    polygons = read_yolo_polygons(label, width, height)
    if len(polygons) != count:
        _skip_once(str(image), f"{label} changed while training (its objects do not match)")
        return None
    masks = np.zeros((count, height, width), np.uint8)
    for mask, polygon in zip(masks, polygons, strict=True):
        cv2.fillPoly(mask, [np.round(polygon).astype(np.int32)], 1)
    return masks


_SKIPPED: set[str] = set()


def _skip_once(path: str, reason: str) -> None:
    if path not in _SKIPPED:
        _SKIPPED.add(path)
        logger.warning("skipped %s: %s", path, reason)


def _transforms(imgsz: int, train: bool, options: dict[str, Any]) -> Any:
    from torchvision.transforms import v2

    steps: list[Any] = []
    if train:
        if options["fliplr"] > 0:
            steps.append(v2.RandomHorizontalFlip(p=float(options["fliplr"])))
        if options["scale"] > 0 or options["translate"] > 0:
            scale = float(options["scale"])
            steps.append(
                v2.RandomAffine(
                    degrees=0,
                    translate=(options["translate"],) * 2,
                    scale=(1 - scale, 1 + scale),
                    fill=114,
                )  # fmt: skip
            )
        if options["colour"] > 0:
            c = float(options["colour"])
            steps.append(v2.ColorJitter(brightness=c, contrast=c, saturation=c, hue=0.02))
    steps += [
        v2.Resize((imgsz, imgsz), antialias=True),
        v2.ClampBoundingBoxes(),
        v2.SanitizeBoundingBoxes(min_size=1),
    ]
    return v2.Compose(steps)


def _collate(items: list[Any]) -> tuple[Any, list[dict[str, Any]]] | None:
    import torch

    kept = [item for item in items if item is not None]
    if not kept:
        return None
    return torch.stack([image for image, _ in kept]), [target for _, target in kept]


Validator = Callable[[list[str], dict[str, Any]], dict[str, float]]
"""Scores a student's boxes on the validation frames: (class names, {image key:
sv.Detections in pixels}) -> {"mAP50": .., "mAP50-95": ..}; `distil.evaluation` makes it
(`student_validator`), so every student is scored by the same COCO mAP."""
ValidatorFactory = Callable[[Path], Validator]  # data.yaml -> its validation split's scorer


class DetrStudent(TargetModel):
    """A transformers detector student (RF-DETR, D-FINE, RT-DETRv2).

    >>> DetrStudent().train(Path("runs/label/exp/dataset"), model="rf-detr-nano",
    ...                     epochs=50, imgsz=384)  # doctest: +SKIP
    """

    needs_validator = True

    def __init__(self, weights: str | Path | None = None) -> None:
        self.weights = Path(weights) if weights else None

    @classmethod
    def accepts(cls, model: str) -> bool:
        return is_detr_student(model)

    @classmethod
    def accepts_weights(cls, weights: Path) -> bool:
        return is_detr_weights(weights)

    @classmethod
    def accepts_run(cls, run_dir: Path) -> bool:
        return (Path(run_dir) / ARGS_FILE).is_file()

    def train(
        self,
        data: Path,
        model: str = "rf-detr-nano",
        project: Path = Path("runs/train"),
        name: str | None = None,
        device: str = "auto",
        progress: Callable[[TrainStatus], None] = log_epochs,
        threads: int | None = None,
        validator: ValidatorFactory | None = None,
        epochs: int = 100,
        imgsz: int = 640,
        batch: int = 16,
        patience: int = 100,
        lr0: float | None = None,
        workers: int = 8,
        seed: int = 0,
        **options: Any,
    ) -> TrainResult:
        """Train in `project/name` (next free expN by default). `validator(data.yaml)`
        gives what scores each epoch's EMA weights on the validation split (best/ and
        early stopping follow it; `distil.evaluation.student_validator`); without one,
        best/ is the last epoch's and training runs every epoch."""
        check_run_folder(project, name)
        check_imgsz(imgsz)
        data_yaml = find_data_yaml(data)
        options = check_detr_options(options)
        if batch < 1:
            raise UsageError("--batch: transformers students take a fixed batch (1 or more)")
        source = resolve_detr(model, dataset_task(data_yaml))
        _device(device)  # one device, checked before the weights load
        run_dir = Path(project) / name if name else increment_path(Path(project) / "exp")
        if (run_dir / "weights" / "last").exists():
            raise OutputExistsError(
                f"{run_dir} already holds a training run: resume it with "
                f"--resume {run_dir} or choose another --name"
            )
        args = {
            "data": str(data_yaml.resolve()), "model": model, "source": source.name,
            "model_type": source.model_type, "device": device, "threads": threads,
            "epochs": epochs, "imgsz": imgsz, "batch": batch, "patience": patience,
            "lr0": lr0 or DEFAULT_LR, "workers": workers, "seed": seed, "options": options,
            "licence": _licence(model, source.model_type), "task": source.task.value,
        }  # fmt: skip
        trainer = _Trainer(run_dir, args, progress, validator)
        mark_output(run_dir)
        atomic_write_json(run_dir / ARGS_FILE, args)
        return trainer.fit(resume=False)

    def train_with(
        self,
        data: Path,
        settings: TrainSettings,
        project: Path,
        name: str | None = None,
        progress: Callable[[TrainStatus], None] = log_epochs,
        validator: ValidatorFactory | None = None,
    ) -> TrainResult:
        """`train` with the options of a `TrainSettings` (`distil train`, `distil run`)."""
        return self.train(
            data, model=settings.model, project=project, name=name, device=settings.device,
            progress=progress, threads=settings.threads, validator=validator,
            epochs=settings.epochs, imgsz=settings.imgsz, batch=settings.batch,
            patience=settings.patience, lr0=settings.lr0, workers=settings.workers,
            seed=settings.seed, **settings.options,
        )  # fmt: skip

    def resume(
        self,
        run_dir: Path,
        progress: Callable[[TrainStatus], None] = log_epochs,
        validator: ValidatorFactory | None = None,
    ) -> TrainResult:
        """Continue an interrupted run from weights/last; a finished run is returned as is."""
        run_dir = Path(run_dir)
        done = run_dir / TRAIN_DONE_FILE
        if done.is_file():
            return TrainResult(**json.loads(done.read_text()))
        if not (run_dir / "weights" / "last" / STATE_FILE).is_file():
            raise MissingInputError(f"{run_dir} has no weights/last to resume from")
        args = json.loads((run_dir / ARGS_FILE).read_text())
        return _Trainer(run_dir, args, progress, validator).fit(resume=True)

    def predict(self, sources: list[Path], out_dir: Path, **options: Any) -> Any:
        from distil.target_models.predict import predict_student

        if self.weights is None:
            raise UsageError("no student weights to predict with")
        predictor = DetrPredictor.load(self.weights, options.get("device", "auto"))
        return predict_student(predictor, sources, out_dir, **options)

    def export(self, format: str, **options: Any) -> Any:
        if self.weights is None:
            raise UsageError("no student weights to export")
        return export_detr(self.weights, format, **options)


def _licence(model: str, model_type: str) -> str:
    """Read when training starts (a local folder may move later): by name, else, for a
    hub id whose name does not say its family, by the family its config gave."""
    found = student_licence(model)
    if found == "unknown":
        found = STUDENT_LICENCES.get(TRANSFORMERS_STUDENT_FAMILIES[model_type], "unknown")
    return found


def _device(device: str) -> Any:
    from distil.utils.device import gpu_indices, resolve_device

    indices = gpu_indices(device)
    if indices and len(indices) > 1:
        raise UsageError(
            f"--device {device}: transformers students train on one device; give one GPU"
        )
    return resolve_device(device)


class _Trainer:
    """One training run of a transformers student: the loop, its state and its files."""

    def __init__(
        self,
        run_dir: Path,
        args: dict[str, Any],
        progress: Callable[[TrainStatus], None],
        validator: ValidatorFactory | None,
    ) -> None:
        from distil.datasets import read_dataset

        self.run_dir, self.args, self.progress = run_dir, args, progress
        self.options = args["options"]
        data_yaml = Path(args["data"])
        checked_data_yaml(data_yaml)
        self.validate = validator(data_yaml) if validator is not None else None
        self.train_set = read_dataset(data_yaml, "train")
        self.val_set = read_dataset(data_yaml, "val")
        self.names = list(self.train_set.names)
        self.task = args.get("task", StudentTask.DETECT.value)  # runs before masks: detect
        self.segment = self.task == StudentTask.SEGMENT.value
        if not self.train_set.images:
            raise UsageError(f"{data_yaml}: the train split has no images")
        if self.validate is None:
            logger.warning(
                "no validator given: weights/best is the last epoch's and early stopping is "
                "off (distil train and distil run score every epoch)"
            )

    def fit(self, resume: bool) -> TrainResult:
        import torch
        from torch.optim.swa_utils import AveragedModel

        from distil.utils.cpu import use_threads

        args = self.args
        use_threads(args["threads"])
        device = _device(args["device"])
        torch.manual_seed(args["seed"])
        weights = self.run_dir / "weights"
        start_from = weights / "last" if resume else args["source"]
        id2label = dict(enumerate(self.names))
        model = load_detr_model(
            start_from, segment=self.segment, num_labels=len(self.names), id2label=id2label,
            label2id={v: k for k, v in id2label.items()}, ignore_mismatched_sizes=True,
        ).to(device)  # fmt: skip
        model.train()
        loader = self._loader(train=True)
        steps = max(1, len(loader)) * args["epochs"]
        optimizer = torch.optim.AdamW(
            self._parameter_groups(model), lr=args["lr0"],
            weight_decay=float(self.options["weight_decay"]),
        )  # fmt: skip
        warmup = max(1, round(float(self.options["warmup_epochs"]) * len(loader)))
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: _lr_factor(step, warmup, steps)
        )
        decay = float(self.options["ema_decay"])
        ema = AveragedModel(model, multi_avg_fn=_ema_update(decay), use_buffers=True)
        amp_dtype = _amp_dtype(device, bool(self.options["amp"]))
        scaler = torch.amp.GradScaler(enabled=amp_dtype is torch.float16)
        state = {"epoch": 0, "best": -1.0, "bad_epochs": 0, "metrics": {}, "history": []}
        if resume:
            saved = torch.load(
                weights / "last" / STATE_FILE, map_location=device, weights_only=True
            )
            optimizer.load_state_dict(saved["optimizer"])
            schedule.load_state_dict(saved["schedule"])
            scaler.load_state_dict(saved["scaler"])
            ema.load_state_dict(saved["ema"])
            state = saved["progress"]
            logger.info("resuming %s from epoch %d", self.run_dir, state["epoch"] + 1)
        started = time.perf_counter()
        for epoch in range(state["epoch"], args["epochs"]):
            epoch_start = time.perf_counter()
            losses = self._epoch(model, ema, loader, optimizer, schedule, scaler, amp_dtype, epoch)
            metrics = self._score(ema.module, device)
            state["epoch"] = epoch + 1
            score = metrics.get("metrics/mAP50-95(B)", float(epoch))
            improved = score > state["best"]
            if improved:
                state.update(best=score, bad_epochs=0, metrics=metrics)
                self._save(ema.module, weights / "best")
            else:
                state["bad_epochs"] += 1
            self._save(model, weights / "last")
            state.setdefault("history", []).append(
                {"epoch": epoch + 1, "lr": schedule.get_last_lr()[0], "losses": losses,
                 "metrics": metrics, "epoch_s": round(time.perf_counter() - epoch_start, 2)}
            )  # fmt: skip
            _write_results(self.run_dir / RESULTS_FILE, state["history"])
            torch.save(
                {"optimizer": optimizer.state_dict(), "schedule": schedule.state_dict(),
                 "scaler": scaler.state_dict(), "ema": ema.state_dict(), "progress": state},
                weights / "last" / STATE_FILE,
            )  # fmt: skip
            self.progress(
                TrainStatus(
                    epoch=epoch + 1,
                    epochs=args["epochs"],
                    batch=len(loader),
                    batches=len(loader),
                    losses=losses,
                    metrics=metrics,
                    epoch_done=True,
                    epoch_s=round(time.perf_counter() - epoch_start, 2),
                    validated=self.validate is not None,
                )  # fmt: skip
            )
            if self.validate is not None and state["bad_epochs"] >= max(1, args["patience"]):
                logger.info(
                    "stopping early: no better validation mAP50-95 in %d epochs", args["patience"]
                )
                break
        return self._finish(state, device, started, resume)

    def _loader(self, train: bool) -> Any:
        import torch

        dataset = DetrDataset(
            self.train_set if train else self.val_set, self.args["imgsz"], train, self.options,
            masks=self.segment,
        )  # fmt: skip
        generator = torch.Generator().manual_seed(self.args["seed"])
        return torch.utils.data.DataLoader(
            dataset, batch_size=self.args["batch"], shuffle=train, drop_last=False,
            num_workers=min(self.args["workers"], os.cpu_count() or 1),
            collate_fn=_collate, generator=generator,
        )  # fmt: skip

    def _parameter_groups(self, model: Any) -> list[dict[str, Any]]:
        backbone, rest = [], []
        for name, parameter in model.named_parameters():
            if parameter.requires_grad:
                (backbone if ".backbone." in f".{name}" else rest).append(parameter)
        factor = float(self.options["backbone_lr_factor"])
        return [
            {"params": rest},
            {"params": backbone, "lr": self.args["lr0"] * factor},
        ]

    def _epoch(self, model, ema, loader, optimizer, schedule, scaler, amp_dtype, epoch) -> dict:
        import torch

        model.train()
        device = next(model.parameters()).device
        totals: dict[str, float] = {}
        done = 0
        for batch in loader:
            if batch is None:
                continue
            images, targets = batch
            images = images.to(device, non_blocking=True)
            targets = [{k: v.to(device) for k, v in t.items()} for t in targets]
            pixels = normalized(images, self.args["model_type"])
            autocast = (
                torch.autocast(device.type, dtype=amp_dtype)
                if amp_dtype is not None
                else contextlib.nullcontext()
            )
            with autocast:
                out = model(pixel_values=pixels, labels=targets)
            loss = out.loss
            if not torch.isfinite(loss):
                raise UsageError(
                    f"training diverged at epoch {epoch + 1} (loss {float(loss)}): lower "
                    "--lr0, or keep --set amp=false"
                )
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(model.parameters(), float(self.options["grad_clip"]))
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            ema.update_parameters(model)
            done += 1
            for key, value in _shown_losses(loss, out.loss_dict).items():
                totals[key] = totals.get(key, 0.0) + value
            losses = {k: round(v / done, 5) for k, v in totals.items()}
            self.progress(
                TrainStatus(
                    epoch=epoch + 1,
                    epochs=self.args["epochs"],
                    batch=done,
                    batches=len(loader),
                    losses=losses,
                )  # fmt: skip
            )
        return {k: round(v / max(done, 1), 5) for k, v in totals.items()}

    def _score(self, model: Any, device: Any) -> dict[str, float]:
        """The validation mAP of `model` (the EMA weights), by the given validator."""
        if self.validate is None:
            return {}
        import supervision as sv
        import torch

        module = DetrOutputs.wrap(model, self.args["model_type"]).eval()
        found: dict[str, sv.Detections] = {}
        items = [image for image in self.val_set.images.values() if image.path is not None]
        size = self.args["imgsz"]
        for start in range(0, len(items), self.args["batch"]):
            chunk, inputs = [], []
            for item in items[start : start + self.args["batch"]]:
                frame = _frame(item.path)
                if frame is not None:
                    chunk.append((item, frame.shape[1], frame.shape[0]))
                    inputs.append(resized_input(frame, size))
            if not inputs:
                continue
            with torch.inference_mode():
                scores, boxes = module(torch.from_numpy(np.stack(inputs)).to(device))[:2]
            for (item, width, height), s, b in zip(
                chunk, scores.float().cpu().numpy(), boxes.float().cpu().numpy(), strict=True
            ):
                xyxy, confidence, classes, _ = top_detections(s, b, conf=0.001)
                found[item.key] = sv.Detections(
                    xyxy=(xyxy * [width, height, width, height]).astype(np.float32),
                    confidence=confidence.astype(np.float32),
                    class_id=classes.astype(int),
                )
        model.train()
        scored = self.validate(self.names, found)
        return {f"metrics/{k}(B)": round(float(v), 5) for k, v in scored.items()}

    def _save(self, model: Any, folder: Path) -> None:
        model.save_pretrained(folder, safe_serialization=True)
        atomic_write_json(
            folder / STUDENT_FILE,
            {
                "model_type": self.args["model_type"],
                "task": self.task,
                "imgsz": self.args["imgsz"],
                "names": dict(enumerate(self.names)),
                "data": self.args["data"],
                "licence": self.args["licence"],
            },
        )

    def _finish(self, state: dict, device: Any, started: float, resumed: bool) -> TrainResult:
        weights = self.run_dir / "weights"
        result = TrainResult(
            run_dir=str(self.run_dir),
            best=str(weights / "best"),
            last=str(weights / "last"),
            model=self.args["model"],
            pretrained=True,
            task=self.task,
            device=str(device),
            epochs=int(self.args["epochs"]),
            metrics=state["metrics"],
            elapsed_s=round(time.perf_counter() - started, 1),
            resumed=resumed,
            licence=self.args["licence"],
        )
        atomic_write_json(self.run_dir / TRAIN_DONE_FILE, result.to_dict())
        return result


def _write_results(path: Path, history: list[dict[str, Any]]) -> None:
    """Every epoch so far as a row, columns named as Ultralytics names them (`train/*_loss`,
    `metrics/mAP50(B)`, `lr/pg0`), so the report plots either student's curves."""
    import csv
    import io

    rows = []
    for entry in history:
        row = {"epoch": entry["epoch"]}
        for key, value in entry["losses"].items():
            row[f"train/{'total' if key == 'loss' else key}_loss"] = value
        row |= entry["metrics"] | {"lr/pg0": entry["lr"], "time": entry["epoch_s"]}
        rows.append(row)
    text = io.StringIO()
    columns = list(dict.fromkeys(key for row in rows for key in row))
    writer = csv.DictWriter(text, fieldnames=columns, restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, text.getvalue())


def _frame(path: Path) -> np.ndarray | None:
    from distil.sources.images import load_frame

    frame = load_frame(path)
    if not hasattr(frame, "image"):
        _skip_once(str(path), frame.reason)
        return None
    return frame.image


def _shown_losses(loss: Any, parts: dict[str, Any] | None) -> dict[str, float]:
    """The total and the final layer's terms (loss_vfl -> vfl), not the auxiliary ones."""
    shown = {"loss": float(loss.detach())}
    for key, value in (parts or {}).items():
        auxiliary = any(t in key for t in ("_aux", "_dn", "_enc")) or key[-1].isdigit()
        if key.startswith("loss_") and not auxiliary:  # loss_ce_0: RF-DETR's layer 0
            shown[key.removeprefix("loss_")] = float(value.detach())
    return shown


def _lr_factor(step: int, warmup: int, steps: int) -> float:
    """Linear warmup, then cosine down to 5% of the initial rate.

    >>> [round(_lr_factor(s, 10, 100), 3) for s in (0, 5, 10, 55, 100)]
    [0.1, 0.6, 1.0, 0.525, 0.05]
    """
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, steps - warmup))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


def _ema_update(decay: float) -> Callable[..., None]:
    """EMA whose decay ramps up over the first updates (the early weights are poor)."""
    import torch

    def update(averaged: list, current: list, count: Any) -> None:
        n = int(count)
        rate = min(decay, (1 + n) / (10 + n))
        floats = [(a, c) for a, c in zip(averaged, current, strict=True) if a.is_floating_point()]
        if floats:
            torch._foreach_lerp_([a for a, _ in floats], [c for _, c in floats], 1 - rate)
        for a, c in zip(averaged, current, strict=True):
            if not a.is_floating_point():  # counters such as BatchNorm's: the latest
                a.copy_(c)

    return update


def _amp_dtype(device: Any, amp: bool) -> Any:
    import torch

    if not amp or device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


ONNX_OPSET = 18


def export_detr(
    weights: Path,
    format: str = "onnx",
    imgsz: int | None = None,
    half: bool = False,
    dynamic: bool = False,
    check: bool = True,
    int8: bool = False,
    out_dir: Path | None = None,
    **_: Any,
) -> Any:
    """ONNX of a transformers student at `imgsz` (default: its training size), next to its
    folder (`best.onnx`, or `best_320.onnx` at another size), with `best.distil_student.json`
    beside it (or in `out_dir`); checked against PyTorch in onnxruntime."""
    import torch

    from distil.utils.files import refuse_link

    weights = Path(weights)
    if str(format) not in ("onnx", "ModelFormat.ONNX"):
        raise UsageError(f"--format {format}: transformers students export to onnx only here")
    if int8 or half or dynamic:
        flag = "--int8" if int8 else "--half" if half else "--dynamic"
        raise UsageError(f"{flag}: not offered for transformers students yet; export float ONNX")
    info = read_student_file(weights)
    size = imgsz or int(info["imgsz"])
    check_imgsz(size)
    name = weights.name if size == int(info["imgsz"]) else f"{weights.name}_{size}"
    target = refuse_link(Path(out_dir or weights.parent) / f"{name}.onnx")
    segment = info.get("task") == StudentTask.SEGMENT.value
    module = DetrOutputs.wrap(load_detr_model(weights, segment), info["model_type"])
    outputs = ["scores", "boxes"] + (["masks"] if segment else [])
    example = torch.rand(1, 3, size, size)
    start = time.perf_counter()
    with _export_quietly():
        try:
            torch.onnx.export(
                module, (example,), str(target), input_names=["images"],
                output_names=outputs, opset_version=ONNX_OPSET, dynamo=True,
                external_data=False, verbose=False,
            )  # fmt: skip
        except Exception as e:  # the exporter's many error types; the cause is in its text
            first = str(e).strip().splitlines()[0][:200]
            raise ExportError(f"{weights}: ONNX export failed: {first}") from e
    _write_metadata(target, info, size)
    atomic_write_json(target.with_name(f"{target.stem}.{STUDENT_FILE}"), {**info, "imgsz": size})
    result = ExportResult(str(target), "onnx", size, round(time.perf_counter() - start, 2))
    if check:
        result.check = check_detr_onnx(module, target, size)
        if not result.check["passed"]:
            raise ExportError(
                f"{target} does not match PyTorch: max abs difference "
                f"{result.check['max_abs_diff']:.4g} > {ONNX_CHECK_ATOL}"
            )
    return result


@contextlib.contextmanager
def _export_quietly() -> Iterator[None]:
    """transformers' runtime checks are tensor asserts the ONNX exporter cannot translate;
    they are compiler hints only, and off while exporting."""
    previous = os.environ.get("TRANSFORMERS_DISABLE_TORCH_CHECK")
    os.environ["TRANSFORMERS_DISABLE_TORCH_CHECK"] = "1"
    chatty = [logging.getLogger(name) for name in ("onnxscript", "onnx_ir", "torch.onnx")]
    levels = [log.level for log in chatty]
    for log in chatty:
        log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(open(os.devnull, "w")):  # noqa: SIM115
            yield
    finally:
        for log, level in zip(chatty, levels, strict=True):
            log.setLevel(level)
        if previous is None:
            os.environ.pop("TRANSFORMERS_DISABLE_TORCH_CHECK", None)
        else:
            os.environ["TRANSFORMERS_DISABLE_TORCH_CHECK"] = previous


def _write_metadata(target: Path, info: dict[str, Any], size: int) -> None:
    import onnx

    graph = onnx.load(str(target))
    for key, value in {
        "names": json.dumps(info["names"]), "imgsz": str(size),
        "model_type": info["model_type"], "licence": info.get("licence", ""),
        "producer": "distil",
    }.items():  # fmt: skip
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(target))


def check_detr_onnx(module: Any, onnx_path: Path, size: int, seed: int = 0) -> dict[str, Any]:
    """PyTorch and onnxruntime on the same input: scores, boxes (in pixels) and mask
    probabilities compared, query for query as sets (queries whose encoder scores tie may
    come in either order)."""
    import onnxruntime as ort
    import torch

    image = np.random.default_rng(seed).random((1, 3, size, size), dtype=np.float32)
    with torch.inference_mode():
        expected = [t.numpy() for t in module(torch.from_numpy(image))]
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    found = session.run(None, {"images": image})
    difference = _paired_difference(_query_rows(expected, size), _query_rows(found, size))
    return {
        "runtime": f"onnxruntime {ort.__version__}",
        "input": [1, 3, size, size],
        "max_abs_diff": round(difference, 6),
        "tolerance": ONNX_CHECK_ATOL,
        "passed": difference <= ONNX_CHECK_ATOL,
    }


def _query_rows(outputs: list[np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per query of the first image: its scores and pixel box, and its mask probabilities
    (no columns for a detector)."""
    scores, boxes, *masks = outputs
    mask = masks[0][0].reshape(len(scores[0]), -1) if masks else np.zeros((len(scores[0]), 0))
    return np.concatenate([scores[0], boxes[0] * size], axis=1), mask


def _paired_difference(
    queries: tuple[np.ndarray, np.ndarray], others: tuple[np.ndarray, np.ndarray]
) -> float:
    """The largest difference between each query and the other side's query it is paired
    with: paired by scores and boxes so that the difference is smallest (the order does not
    count), then compared on masks too."""
    from scipy.optimize import linear_sum_assignment

    (found, found_masks), (other, other_masks) = queries, others
    cost = np.abs(found[:, None, :] - other[None, :, :]).max(axis=2)
    rows, columns = linear_sum_assignment(cost)
    masks = np.abs(found_masks[rows] - other_masks[columns])
    return float(max(cost[rows, columns].max(), masks.max(initial=0.0)))
