"""Judge labels or a student against ground truth: COCO mAP, P/R/F1, threshold sweep."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv
import yaml

from distil.datasets.labeled import LabeledSet
from distil.datasets.readers import read_dataset
from distil.detections import remap_classes
from distil.errors import UsageError
from distil.evaluation.coco_map import coco_map
from distil.evaluation.gates import METRICS
from distil.evaluation.matching import (
    ClassMatches,
    accumulate,
    best_f1_threshold,
    operating_point,
)
from distil.evaluation.predictions import (
    PredictionSet,
    label_predictions,
    load_predictions,
    reviewed_ground_truth,
)
from distil.ontologies import Ontology
from distil.settings import REVIEWED, EvalSettings, StudentEval
from distil.utils.files import atomic_write_text
from distil.utils.suggest import normalize_name

logger = logging.getLogger(__name__)

MATCH_IOU = 0.5  # P/R/F1 and the sweep count a hit at IoU 0.5, like mAP50


@dataclass
class ClassReport:
    name: str
    ground_truth: int
    predictions: int
    map50_95: float | None
    map50: float | None
    threshold: float
    precision: float
    recall: float
    f1: float
    best_threshold: float | None = None
    best_f1: float | None = None
    teacher: str | None = None  # auto-labels: the detector that labeled this class


@dataclass
class EvalReport:
    kind: str  # labels, dataset or student
    images: int
    map50_95: float
    map50: float
    map75: float
    precision: float
    recall: float
    f1: float
    classes: list[ClassReport]
    images_without_predictions: int = 0
    predictions_without_ground_truth: int = 0
    classes_not_in_ground_truth: list[str] = field(default_factory=list)
    classes_not_predicted: list[str] = field(default_factory=list)
    sweep_ontology: str | None = None
    human_frames: int = 0  # judged frames whose labels a reviewer made (an exported dataset)
    student_mode: str | None = None  # how a student predicted (val or predict)
    other_mode: dict[str, Any] | None = None  # the other way's mAP, when asked for
    yolo_val: dict[str, float] | None = None  # student, val mode: Ultralytics' own metric
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def metrics(self) -> dict[str, float]:
        """The headline metrics that quality bars can name."""
        return {name: float(getattr(self, name)) for name in METRICS}


def align_classes(
    pred_names: list[str], truth_names: list[str]
) -> tuple[dict[int, int], list[str], list[str]]:
    """Prediction class id -> ground-truth class id, matched by name (case, _ and - ignored).

    Also returns the predicted names unknown to the ground truth and the ground-truth
    names never predicted.
    """
    truth_ids = {normalize_name(n): i for i, n in enumerate(truth_names)}
    mapping = {
        i: truth_ids[normalize_name(n)]
        for i, n in enumerate(pred_names)
        if normalize_name(n) in truth_ids
    }
    unknown = [n for i, n in enumerate(pred_names) if i not in mapping]
    unused = [n for i, n in enumerate(truth_names) if i not in mapping.values()]
    return mapping, unknown, unused


def evaluate(predictions: PredictionSet, truth: LabeledSet, sweep: bool = False) -> EvalReport:
    """Compare `predictions` with `truth` on the images both have, matched by file name."""
    start = time.perf_counter()
    mapping, unknown, unused = align_classes(predictions.names, truth.names)
    if not mapping:
        raise UsageError(
            f"no class names in common: predictions have "
            f"{', '.join(predictions.names)}; ground truth has "
            f"{', '.join(truth.names)}"
        )
    for name in unknown:
        logger.warning("class '%s' is not in the ground truth; it is not judged", name)
    class_ids = sorted(mapping.values())
    threshold_of = {mapping[p]: t for p, t in predictions.thresholds.items() if p in mapping}
    keys = [k for k in truth.images if k in predictions.images]
    missing = len(truth.images) - len(keys)
    extra = len(set(predictions.images) - set(truth.images))
    if not keys:
        raise UsageError(
            "no image of the ground truth has predictions: images are matched "
            "by file name (without extension)"
        )
    if missing:
        logger.warning(
            "%d ground-truth images have no predictions (not labeled?) and are left out", missing
        )

    truths = [truth.images[k].detections for k in keys]
    scored = [remap_classes(predictions.images[k], mapping) for k in keys]
    operating = [_at_thresholds(d, threshold_of) for d in scored]
    sizes = [(truth.images[k].width, truth.images[k].height) for k in keys]
    # mAP of what is judged: exported labels as they are; a student's full score range.
    ranked = scored if predictions.kind == "student" else operating
    result = coco_map(truths, ranked, sizes, class_ids)

    prediction_id = {t: p for p, t in mapping.items()}
    matches: dict[int, ClassMatches] = {}
    for t, p in zip(truths, scored, strict=True):
        accumulate(matches, p, t, class_ids, MATCH_IOU)
    classes, totals = [], np.zeros(3, dtype=int)
    for cls in class_ids:
        scores, hits = matches[cls].arrays()
        n_truth = matches[cls].ground_truth
        point = operating_point(scores, hits, n_truth, threshold_of[cls])
        totals += (point.true_positives, point.false_positives, point.false_negatives)
        best = best_f1_threshold(scores, hits, n_truth) if sweep else None
        classes.append(
            ClassReport(
                name=truth.names[cls],
                ground_truth=n_truth,
                predictions=point.true_positives + point.false_positives,
                map50_95=_round(result.per_class_map50_95.get(cls)),
                map50=_round(result.per_class_map50.get(cls)),
                threshold=threshold_of[cls],
                precision=_round(point.precision),
                recall=_round(point.recall),
                f1=_round(point.f1),
                best_threshold=_round(best.threshold) if best else None,
                best_f1=_round(best.f1) if best else None,
                teacher=predictions.teachers.get(prediction_id.get(cls, -1)),
            )
        )
    tp, fp, fn = (int(v) for v in totals)
    return EvalReport(
        kind=predictions.kind,
        images=len(keys),
        map50_95=_round(result.map50_95),
        map50=_round(result.map50),
        map75=_round(result.map75),
        precision=_round(tp / (tp + fp) if tp + fp else 0.0),
        recall=_round(tp / (tp + fn) if tp + fn else 0.0),
        f1=_round(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0),
        classes=classes,
        images_without_predictions=missing,
        predictions_without_ground_truth=extra,
        classes_not_in_ground_truth=unknown,
        classes_not_predicted=unused,
        human_frames=len(predictions.human.intersection(keys)),
        elapsed_s=round(time.perf_counter() - start, 3),
    )


def _at_thresholds(detections: sv.Detections, thresholds: dict[int, float]) -> sv.Detections:
    if len(detections) == 0:
        return detections
    limit = np.array([thresholds[c] for c in detections.class_id])
    return detections[detections.confidence >= limit]


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 5)


def swept_ontology(report: EvalReport, ontology: Ontology) -> Ontology:
    """The ontology with each judged class's box threshold set to its best-F1 value."""
    index = {normalize_name(n): i for i, n in enumerate(ontology.class_names)}
    best = {
        index[normalize_name(c.name)]: c.best_threshold
        for c in report.classes
        if c.best_threshold is not None and normalize_name(c.name) in index
    }
    return ontology.with_class_thresholds(box=best)


def evaluate_path(
    predictions: Path,
    ground_truth: Path | None = None,
    settings: EvalSettings | None = None,
    *,
    sweep_out: Path | None = None,
    both_modes: bool = False,
    **options: Any,
) -> EvalReport:
    """`distil eval` as a function: load both sides, judge, write the swept ontology.

    `settings` (or its fields as keywords: `split="val"`, `sweep=True`) choose the split,
    the sweep and, for a student, its score, size, device and way of predicting
    (`student_mode`); `both_modes` also scores a student the other way (`other_mode`).

    >>> evaluate_path(  # doctest: +SKIP
    ...     Path("runs/label/exp"), Path("hand_labeled"), split="val", sweep=True)
    """
    settings = EvalSettings.merge(settings, **options)
    ground_truth = ground_truth or settings.ground_truth
    if ground_truth is None:
        raise UsageError("--ground-truth: give the hand-labeled dataset to judge against")
    sweep = settings.sweep
    split = settings.split.value if settings.split else None
    if str(ground_truth) == REVIEWED:
        truth = reviewed_ground_truth(predictions)
        predicted = label_predictions(predictions, by_path=True)
    else:
        truth = read_dataset(ground_truth, split)
        predicted = load_predictions(
            predictions, truth, settings.conf, imgsz=settings.imgsz, device=settings.device,
            mode=settings.student_mode,
        )  # fmt: skip
    report = evaluate(predicted, truth, sweep=sweep)
    if predicted.kind == "student":
        report.student_mode = settings.student_mode.value
        report.yolo_val = predicted.yolo_val
        if both_modes:  # the other way of predicting, for comparison (`--json`)
            other = next(m for m in StudentEval if m is not settings.student_mode)
            again = load_predictions(
                predictions, truth, settings.conf, imgsz=settings.imgsz,
                device=settings.device, mode=other,
            )  # fmt: skip
            scored = evaluate(again, truth)
            report.other_mode = {"student_mode": other.value, "map50_95": scored.map50_95,
                                 "map50": scored.map50}  # fmt: skip
    if sweep and predicted.ontology is not None and sweep_out is not None:
        tuned = swept_ontology(report, predicted.ontology)
        header = (
            f"# box thresholds tuned for best F1 on {ground_truth} by `distil eval "
            "--sweep`;\n# use it with `distil export LABEL_DIR --ontology THIS_FILE`\n"
        )
        atomic_write_text(
            sweep_out, header + yaml.safe_dump(tuned.to_dict(), sort_keys=False, allow_unicode=True)
        )
        report.sweep_ontology = str(sweep_out)
    elif sweep and predicted.ontology is None:
        logger.info(
            "--sweep: best thresholds are reported; no ontology to write them to "
            "(the predictions are not auto-labels)"
        )
    return report


def student_validator(data_yaml: Path) -> Callable[[list[str], dict[str, sv.Detections]], dict]:
    """How a student trained by distil scores each epoch on the validation split of
    `data_yaml`: distil's COCO mAP, the same ruler as `distil eval`.

    >>> validate = student_validator(Path("dataset/data.yaml"))  # doctest: +SKIP
    >>> validate(["cat"], {"img1": detections})  # doctest: +SKIP
    {'mAP50': 0.61, 'mAP50-95': 0.42}
    """
    truth = read_dataset(data_yaml, "val")

    def validate(names: list[str], images: dict[str, sv.Detections]) -> dict[str, float]:
        predictions = PredictionSet(
            names, images, dict.fromkeys(range(len(names)), 0.25), "student"
        )
        report = evaluate(predictions, truth)
        return {"mAP50": report.map50, "mAP50-95": report.map50_95}

    return validate
