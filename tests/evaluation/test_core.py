import json

import numpy as np
import pytest
import supervision as sv
import yaml

from distil import Ontology
from distil.base_models import GroundedModel
from distil.base_models.ultralytics_yolo import UltralyticsDetector
from distil.datasets import LabeledImage, LabeledSet, export_dataset, read_dataset
from distil.evaluation import PredictionSet, evaluate, evaluate_path
from distil.labeling import label_images
from distil.settings import DatasetSettings
from tests.conftest import COCO128, YOLO11N, coco128_for_ultralytics, needs_shared
from tests.synthetic import SHAPE_NAMES, make_shapes_dataset


def boxes(rows, scores=None):
    rows = np.array(rows, dtype=float).reshape(-1, 5)
    return sv.Detections(
        xyxy=rows[:, 1:],
        class_id=rows[:, 0].astype(int),
        confidence=np.ones(len(rows)) if scores is None else np.array(scores),
    )


def test_perfect_predictions_score_one(tmp_path):
    truth = read_dataset(make_shapes_dataset(tmp_path / "ds", images=12))
    predictions = PredictionSet(
        truth.names, {k: v.detections for k, v in truth.images.items()}, {0: 0.5, 1: 0.5}, "student"
    )
    report = evaluate(predictions, truth)
    assert report.map50_95 == pytest.approx(1.0) and report.map50 == pytest.approx(1.0)
    assert report.precision == 1.0 and report.recall == 1.0 and report.f1 == 1.0
    assert report.images == 12 and all(c.map50_95 == pytest.approx(1.0) for c in report.classes)


def test_shifted_boxes_give_the_hand_computed_map():
    # Every 100x100 box is predicted 10 px to the right: IoU = 90*100 / (110*100) = 0.818.
    # It is a hit at IoU thresholds 0.50..0.80 (7 of 10) and a miss at 0.85..0.95.
    truth, pred = LabeledSet(["thing"]), {}
    for i in range(5):
        truth.add(LabeledImage(f"im{i}", None, 400, 400, boxes([[0, 50, 50, 150, 150]])))
        pred[f"im{i}"] = boxes([[0, 60, 50, 160, 150]], [0.9])
    report = evaluate(PredictionSet(["thing"], pred, {0: 0.5}, "student"), truth)
    assert report.map50 == pytest.approx(1.0)
    assert report.map50_95 == pytest.approx(0.7)
    assert report.map75 == pytest.approx(1.0)


def test_missing_and_extra_boxes_set_precision_and_recall():
    truth = LabeledSet(["a", "b"])
    truth.add(
        LabeledImage("x", None, 200, 200, boxes([[0, 0, 0, 50, 50], [1, 100, 100, 150, 150]]))
    )
    # One hit on class a, one false box of class a, class b missed.
    pred = {"x": boxes([[0, 0, 0, 50, 50], [0, 120, 0, 180, 40]], [0.9, 0.8])}
    report = evaluate(PredictionSet(["a", "b"], pred, {0: 0.5, 1: 0.5}, "labels"), truth)
    a, b = report.classes
    assert (a.precision, a.recall) == (0.5, 1.0) and (b.precision, b.recall) == (0.0, 0.0)
    assert report.precision == 0.5 and report.recall == 0.5


def test_classes_are_matched_by_name_and_unknown_ones_are_reported():
    truth = LabeledSet(["Traffic_Light", "car"])
    truth.add(LabeledImage("x", None, 100, 100, boxes([[0, 0, 0, 10, 10]])))
    pred = {"x": boxes([[0, 50, 50, 60, 60], [1, 0, 0, 10, 10]], [0.9, 0.9])}
    report = evaluate(
        PredictionSet(["dog", "traffic light"], pred, {0: 0.1, 1: 0.1}, "labels"), truth
    )
    assert report.classes_not_in_ground_truth == ["dog"]
    assert report.classes_not_predicted == ["car"]
    assert report.map50 == pytest.approx(1.0)
    with pytest.raises(ValueError, match="no class names in common"):
        evaluate(PredictionSet(["dog"], pred, {0: 0.1}, "labels"), truth)


def test_images_are_matched_by_file_name():
    truth = LabeledSet(["a"])
    truth.add(LabeledImage("x", None, 100, 100, boxes([[0, 0, 0, 10, 10]])))
    with pytest.raises(ValueError, match="matched by file name"):
        evaluate(PredictionSet(["a"], {"y": boxes([[0, 0, 0, 10, 10]])}, {0: 0.1}, "labels"), truth)


def test_coco_ground_truth_gives_the_same_answer_as_yolo(tmp_path):
    root = make_shapes_dataset(tmp_path / "ds", images=8)
    yolo = read_dataset(root)
    coco = {
        "images": [],
        "annotations": [],
        "categories": [{"id": i + 1, "name": n} for i, n in enumerate(SHAPE_NAMES)],
    }
    for image_id, image in enumerate(yolo.images.values(), 1):
        coco["images"].append(
            {
                "id": image_id,
                "file_name": image.path.name,
                "width": image.width,
                "height": image.height,
            }
        )
        for (x1, y1, x2, y2), c in zip(
            image.detections.xyxy, image.detections.class_id, strict=True
        ):
            coco["annotations"].append(
                {
                    "id": len(coco["annotations"]) + 1,
                    "image_id": image_id,
                    "category_id": int(c) + 1,
                    "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)],
                    "iscrowd": 0,
                }
            )
    (tmp_path / "gt.json").write_text(json.dumps(coco))
    report = evaluate_path(root, tmp_path / "gt.json")
    assert report.images == 8 and report.map50_95 == pytest.approx(1.0)


@needs_shared
def test_label_map_equals_ultralytics_val_on_coco128(tmp_path):
    """Auto-labels of the real YOLO11n teacher, judged by distil against the human labels,
    score what Ultralytics' own `val` of that model reports on those images (within 0.01)."""
    from distil.utils.ultralytics import import_ultralytics

    names = yaml.safe_load((COCO128 / "data.yaml").read_text())["names"]
    ontology = Ontology.from_dict({"classes": {n: n for n in names.values()}})
    teacher = GroundedModel(UltralyticsDetector(str(YOLO11N), device="cpu"))
    label_images(
        COCO128 / "images",
        ontology,
        teacher,
        tmp_path / "run",
        batch_size=16,
        store_threshold=0.001,
    )
    export_dataset(
        tmp_path / "run",
        tmp_path / "ds",
        DatasetSettings(box_threshold=0.001, split=(1.0, 0.0, 0.0)),
    )
    ours = evaluate_path(tmp_path / "ds", COCO128)

    data = coco128_for_ultralytics(tmp_path / "coco128")
    yolo = import_ultralytics().YOLO(str(YOLO11N))
    theirs = yolo.val(
        data=str(data),
        imgsz=640,
        batch=16,
        device="cpu",
        plots=False,
        verbose=False,
        project=str(tmp_path),
        name="val",
    ).box
    assert ours.images == 128
    assert ours.map50_95 == pytest.approx(theirs.map, abs=0.01)
    assert ours.map50 == pytest.approx(theirs.map50, abs=0.01)


@needs_shared
def test_student_eval_reports_what_yolo_val_reports(tmp_path):
    """`distil eval best.pt` predicts as `yolo val` does by default, and reports the mAP
    Ultralytics' own metric gives on those images and labels: within 0.002 of `val()`.
    The COCO mAP (distil's one ruler, pycocotools) and the square `predict` mode are
    reported beside it."""
    from distil.utils.ultralytics import import_ultralytics

    data = coco128_for_ultralytics(tmp_path / "coco128")
    theirs = import_ultralytics().YOLO(str(YOLO11N)).val(
        data=str(data), imgsz=640, device="cpu", plots=False, verbose=False,
        project=str(tmp_path), name="val",
    ).box  # fmt: skip
    before = sorted((p.name, p.stat().st_mtime_ns) for p in COCO128.iterdir())
    ours = evaluate_path(YOLO11N, COCO128, device="cpu", both_modes=True)
    assert ours.student_mode == "val"
    assert ours.yolo_val["map50_95"] == pytest.approx(theirs.map, abs=0.002)
    assert ours.yolo_val["map50"] == pytest.approx(theirs.map50, abs=0.002)
    assert ours.other_mode["student_mode"] == "predict"
    assert ours.map50_95 == pytest.approx(theirs.map, abs=0.01)  # the COCO ruler, near
    # The user's dataset folder is read, never written (no labels.cache of ours in it).
    assert sorted((p.name, p.stat().st_mtime_ns) for p in COCO128.iterdir()) == before
