"""What gets judged: stored auto-labels, a dataset's labels, or a student's predictions."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import supervision as sv

from distil.datasets.card import DatasetCard
from distil.datasets.filters import DEFAULT_NMS_IOU, select_detections
from distil.datasets.labeled import LabeledImage, LabeledSet
from distil.datasets.naming import dataset_path
from distil.datasets.readers import read_dataset
from distil.ontologies import Ontology
from distil.settings import REVIEWED
from distil.store import STORE_FILE, LabelStore

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


def load_predictions(
    path: Path,
    truth_images: dict[str, Path | None] | None = None,
    conf: float = 0.25,
    **student_options,
) -> PredictionSet:
    """Dispatch on what `path` is: a student checkpoint, a label folder, or a dataset."""
    path = Path(path)
    if path.suffix in STUDENT_SUFFIXES:
        return student_predictions(path, truth_images or {}, conf, **student_options)
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
        routes = store.settings.get("routes") or {}
        teachers = {
            i: routes.get(name, store.settings["detector"])["model"]
            for i, name in enumerate(ontology.class_names)
        }
        images: dict[str, sv.Detections] = {}
        for frame in store.frames(with_masks=False):
            key = frame.identity.key if by_path else dataset_path(frame.identity).stem
            if key in images:
                logger.warning("two labeled images are named %s; only the first is judged", key)
                continue
            images[key] = select_detections(frame.detections, everything, nms_iou, class_filter)
    thresholds = {i: ontology.class_box_threshold(i) for i in range(len(ontology.classes))}
    # A sweep tunes the user's ontology; classes it cannot judge keep their own values.
    return PredictionSet(
        ontology.class_names, images, thresholds, "labels", stored, teachers=teachers
    )


def reviewed_ground_truth(label_dir: Path) -> LabeledSet:
    """The human labels of a label store's reviewed frames, as ground truth keyed by stored
    path, as `label_predictions(by_path=True)` keys the teacher's labels."""
    if not (Path(label_dir) / STORE_FILE).is_file():
        raise ValueError(
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
        raise ValueError(
            f"--ground-truth {REVIEWED}: {label_dir} has no reviewed frames yet; import "
            "corrections with `distil review import` first"
        )
    return truth


def student_predictions(
    weights: Path,
    images: dict[str, Path | None],
    conf: float,
    imgsz: int | None = None,
    device: str = "auto",
    batch: int = 8,
) -> PredictionSet:
    """A student's boxes on the ground-truth images, at Ultralytics' validation settings."""
    from distil.utils.device import ultralytics_device
    from distil.utils.ultralytics import load_yolo

    if not weights.is_file():
        raise FileNotFoundError(f"student weights not found: {weights}")
    paths = {k: p for k, p in images.items() if p is not None}
    if not paths:
        raise ValueError("the ground truth gives no image files to run the student on")
    yolo = load_yolo(weights, task="detect" if weights.suffix == ".onnx" else None)
    keys = list(paths)
    results: dict[str, sv.Detections] = {}
    settings = {
        "conf": STUDENT_EVAL_CONF,
        "iou": STUDENT_EVAL_IOU,
        "max_det": STUDENT_EVAL_MAX_DET,
        "device": ultralytics_device(device, "predicting"),
        "verbose": False,
        **({"imgsz": imgsz} if imgsz else {}),
    }
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        for key, result in zip(
            chunk, yolo.predict([str(paths[k]) for k in chunk], **settings), strict=True
        ):
            results[key] = sv.Detections.from_ultralytics(result)
    names = [str(yolo.names[i]) for i in sorted(yolo.names)]
    return PredictionSet(names, results, dict.fromkeys(range(len(names)), conf), "student")
