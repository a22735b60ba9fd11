"""What gets judged: stored auto-labels, a dataset's labels, or a student's predictions."""

from __future__ import annotations

import contextlib
import io
import logging
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv

from distil.datasets.card import DatasetCard
from distil.datasets.filters import DEFAULT_NMS_IOU, select_detections
from distil.datasets.labeled import LabeledImage, LabeledSet
from distil.datasets.naming import dataset_path
from distil.datasets.readers import read_dataset
from distil.errors import MissingInputError, UsageError
from distil.ontologies import Ontology
from distil.settings import REVIEWED, StudentEval
from distil.store import STORE_FILE, LabelStore
from distil.utils.suggest import normalize_name

logger = logging.getLogger(__name__)

STUDENT_SUFFIXES = (".pt", ".onnx")
# Ultralytics' validation settings: scores down to 0.001 so that mAP sees the whole curve.
STUDENT_EVAL_CONF = 0.001
STUDENT_EVAL_IOU = 0.7
STUDENT_EVAL_MAX_DET = 300


@dataclass
class PredictionSet:
    """Scored boxes per image key, plus the per-class score at which they are used.

    `ontology` is set when the predictions are auto-labels: a threshold sweep can then be
    written back to it.
    """

    names: list[str]
    images: dict[str, sv.Detections]
    thresholds: dict[int, float]
    kind: str
    ontology: Ontology | None = None
    notes: list[str] = field(default_factory=list)
    teachers: dict[int, str] = field(default_factory=dict)  # auto-labels: class -> detector
    human: set[str] = field(default_factory=set)  # keys whose boxes a reviewer made
    yolo_val: dict[str, float] | None = None  # a student: the mAP `yolo val` itself reports


def load_predictions(
    path: Path,
    truth: LabeledSet | None = None,
    conf: float = 0.25,
    **student_options,
) -> PredictionSet:
    """Dispatch on what `path` is: a student checkpoint (run on `truth`'s images), a label
    folder, or a dataset."""
    from distil.target_models.transformers_detr import is_detr_weights

    path = Path(path)
    if path.suffix in STUDENT_SUFFIXES or is_detr_weights(path):
        return student_predictions(path, truth or LabeledSet([]), conf, **student_options)
    if (path / STORE_FILE).is_file():
        return label_predictions(path)
    card = DatasetCard.read(path)
    if card is not None:
        source = Path(card.source_labels)
        if (source / STORE_FILE).is_file():
            return label_predictions(source, card)
        logger.warning(
            "%s: its label store %s is gone; judging the exported labels, which carry no scores",
            path,
            source,
        )
    dataset = read_dataset(path)
    images = {k: v.detections for k, v in dataset.images.items()}
    return PredictionSet(
        dataset.names, images, dict.fromkeys(range(len(dataset.names)), 0.0), "dataset"
    )


def label_predictions(
    label_dir: Path, card: DatasetCard | None = None, by_path: bool = False
) -> PredictionSet:
    """Stored teacher predictions with export filters applied, scored for the sweep; keyed
    by file stem (to match other datasets' images), or by stored path (`by_path`).

    Every box down to the store threshold is kept (thresholding a score-sorted list commutes
    with NMS, so the exported labels are exactly those at or above each class threshold).
    With `card` (judging an exported dataset), a reviewed frame is judged by the human
    labels the dataset holds, as export wrote them, and its key is in `human`.
    """
    with LabelStore.open(label_dir) as store:
        stored = Ontology.from_dict(store.ontology_dict, source=f"{label_dir} (stored)")
        ontology, nms_iou, class_filter = stored, DEFAULT_NMS_IOU, None
        if card is not None:  # judge the dataset as it was exported
            ontology = stored.with_class_thresholds(
                box={c.id: c.box_threshold for c in card.classes},
                text={c.id: c.text_threshold for c in card.classes if c.text_threshold is not None},
            )
            nms_iou = card.export.nms_iou
            chosen = card.export.classes
            if chosen != "all":
                class_filter = {ontology.class_names.index(n) for n in chosen}
        everything = ontology.with_class_thresholds(
            box=dict.fromkeys(range(len(ontology.classes)), 0)
        )
        provenance = store.provenance
        teachers = {
            i: provenance.teacher_of(name).model for i, name in enumerate(ontology.class_names)
        }
        images: dict[str, sv.Detections] = {}
        human: set[str] = set()
        for frame in store.frames(with_masks=False):
            key = frame.identity.key if by_path else dataset_path(frame.identity).stem
            if key in images:
                logger.warning("two labeled images are named %s; only the first is judged", key)
                continue
            if card is not None and frame.human is not None:  # what the dataset holds
                detections = frame.human
                if class_filter is not None:
                    detections = detections[np.isin(detections.class_id, list(class_filter))]
                images[key] = detections
                human.add(key)
                continue
            images[key] = select_detections(frame.detections, everything, nms_iou, class_filter)
    thresholds = {i: ontology.class_box_threshold(i) for i in range(len(ontology.classes))}
    # A sweep tunes the user's ontology; classes it cannot judge keep their own values.
    return PredictionSet(
        ontology.class_names, images, thresholds, "labels", stored, teachers=teachers, human=human
    )


def reviewed_ground_truth(label_dir: Path) -> LabeledSet:
    """The human labels of a label store's reviewed frames, as ground truth keyed by stored
    path, as `label_predictions(by_path=True)` keys the teacher's labels."""
    if not (Path(label_dir) / STORE_FILE).is_file():
        raise UsageError(
            f"--ground-truth {REVIEWED}: {label_dir} is not a label folder (the reviewed "
            "frames are a label store's human labels)"
        )
    with LabelStore.open(label_dir) as store:
        names = Ontology.from_dict(store.ontology_dict).class_names
        truth = LabeledSet(names)
        for frame in store.frames(with_masks=False):
            if frame.human is not None:
                identity = frame.identity
                truth.add(
                    LabeledImage(
                        identity.key, identity.path, frame.width, frame.height, frame.human
                    )
                )
    if not truth.images:
        raise UsageError(
            f"--ground-truth {REVIEWED}: {label_dir} has no reviewed frames yet; import "
            "corrections with `distil review import` first"
        )
    return truth


def student_predictions(
    weights: Path,
    truth: LabeledSet,
    conf: float,
    imgsz: int | None = None,
    device: str = "auto",
    batch: int = 8,
    mode: StudentEval = StudentEval.VAL,
) -> PredictionSet:
    """A student's boxes on the ground truth's images, at Ultralytics' validation settings.

    `mode` val (the default) predicts exactly as `YOLO(...).val()` does (rect batches,
    multi-label NMS) and keeps the mAP Ultralytics' own metric gives on the same images
    and labels (`yolo_val`). predict: one square letterbox per image and one label per
    box, as `distil label` and `YOLO(...).predict()` see it."""
    from distil.utils.device import ultralytics_device
    from distil.utils.ultralytics import load_yolo

    if not weights.exists():  # a file, or an exported model folder (OpenVINO)
        raise MissingInputError(f"student weights not found: {weights}")
    paths = {k: v.path for k, v in truth.images.items() if v.path is not None}
    if not paths:
        raise UsageError("the ground truth gives no image files to run the student on")
    from distil.target_models.transformers_detr import DetrPredictor, is_detr_weights

    if is_detr_weights(weights):  # no NMS: `val` and `predict` see the same boxes
        predictor = DetrPredictor.load(weights, device)
        results = _predict_predictions(
            predictor, paths, {"conf": STUDENT_EVAL_CONF, "imgsz": imgsz}, batch
        )
        names = [predictor.names[i] for i in sorted(predictor.names)]
        return PredictionSet(names, results, dict.fromkeys(range(len(names)), conf), "student")
    yolo = load_yolo(weights, task="detect" if weights.suffix == ".onnx" else None)
    settings = {
        "conf": STUDENT_EVAL_CONF,
        "iou": STUDENT_EVAL_IOU,
        "max_det": STUDENT_EVAL_MAX_DET,
        "device": ultralytics_device(device, "predicting"),
        "verbose": False,
        **({"imgsz": imgsz} if imgsz else {}),
    }
    yolo_val = None
    if mode is StudentEval.VAL:
        results, yolo_val = _validation_predictions(yolo, paths, settings, truth)
    else:
        results = _predict_predictions(yolo, paths, settings, batch)
    names = [str(yolo.names[i]) for i in sorted(yolo.names)]
    thresholds = dict.fromkeys(range(len(names)), conf)
    return PredictionSet(names, results, thresholds, "student", yolo_val=yolo_val)


def _predict_predictions(model, paths: dict[str, Path], settings, batch: int) -> dict:
    keys = list(paths)
    results: dict[str, sv.Detections] = {}
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        for key, result in zip(
            chunk, model.predict([str(paths[k]) for k in chunk], **settings), strict=True
        ):
            results[key] = sv.Detections.from_ultralytics(result)
    return results


def _validation_predictions(
    yolo, paths: dict[str, Path], settings, truth: LabeledSet
) -> tuple[dict[str, sv.Detections], dict[str, float]]:
    """The boxes Ultralytics' own validator predicts (rect batches, multi-label NMS), in
    image pixels, and the mAP it reports against `truth` (written as its label files).
    Its own batch size is kept: rect batches group images by shape, so the batch size
    changes the letterbox of an image, and the boxes with it.
    It runs on links to the images in a temporary folder, where its label cache goes too:
    nothing is written beside the user's dataset."""
    import yaml
    from ultralytics.models.yolo.detect import DetectionValidator

    captured: dict[str, dict] = {}

    class Capture(DetectionValidator):
        def update_metrics(self, preds, batch_data) -> None:
            super().update_metrics(preds, batch_data)
            for index, pred in enumerate(preds):
                image = self._prepare_batch(index, batch_data)
                found = self.scale_preds(self._prepare_pred(pred), image)
                captured[Path(image["im_file"]).name] = found

    with tempfile.TemporaryDirectory(prefix="distil-val-") as folder:
        root = Path(folder)
        (root / "images").mkdir()
        (root / "labels").mkdir()
        model_id = {normalize_name(n): i for i, n in yolo.names.items()}
        names = {}
        for number, (key, path) in enumerate(paths.items()):
            name = f"{number:07d}{Path(path).suffix.lower()}"
            (root / "images" / name).symlink_to(Path(path).resolve())
            (root / "labels" / f"{number:07d}.txt").write_text(
                _yolo_lines(truth.images[key], truth.names, model_id)
            )
            names[name] = key
        data = {"path": str(root), "train": "images", "val": "images", "names": dict(yolo.names)}
        (root / "data.yaml").write_text(yaml.safe_dump(data))
        with contextlib.redirect_stdout(io.StringIO()):
            metrics = yolo.val(
                data=str(root / "data.yaml"), validator=Capture, plots=False,
                save_json=False, project=str(root), name="val", **settings,
            )  # fmt: skip
    results = {}
    for name, key in names.items():
        found = captured.get(name)
        if found is None or len(found["cls"]) == 0:
            results[key] = sv.Detections.empty()
            continue
        results[key] = sv.Detections(
            xyxy=found["bboxes"].float().cpu().numpy(),
            confidence=found["conf"].float().cpu().numpy(),
            class_id=found["cls"].cpu().numpy().astype(int),
        )
    return results, {"map50_95": round(float(metrics.box.map), 5),
                     "map50": round(float(metrics.box.map50), 5)}  # fmt: skip


def _yolo_lines(image: LabeledImage, names: list[str], model_id: dict[str, int]) -> str:
    """An image's truth as YOLO label lines in the model's class ids (classes the model
    does not know are left out, as distil's own judging leaves them out)."""
    lines = []
    for (x1, y1, x2, y2), cls in zip(image.detections.xyxy, image.detections.class_id, strict=True):
        target = model_id.get(normalize_name(names[int(cls)]))
        if target is None:
            continue
        w, h = (x2 - x1) / image.width, (y2 - y1) / image.height
        cx, cy = (x1 + x2) / 2 / image.width, (y1 + y2) / 2 / image.height
        lines.append(f"{target} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}\n")
    return "".join(lines)
