from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from distil.base_models import GroundedModel
from distil.base_models.core import FAINT_CEILING, FAINT_FLOOR
from distil.base_models.ultralytics_yolo import UltralyticsDetector, match_prompts
from distil.datasets import export_dataset
from distil.labeling import label_images
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from distil.store import LabelStore
from tests.conftest import COCO128, YOLO11N, needs_shared

NAMES = {0: "person", 1: "traffic light", 2: "cell_phone"}


def test_prompts_match_names_loosely_and_unknown_ones_list_known_names():
    assert match_prompts(("Person", "traffic-light", "cell phone"), NAMES) == [0, 1, 2]
    with pytest.raises(
        ValueError,
        match=r"'forklift' are not classes.*It knows: person, "
        r"traffic light, cell_phone",
    ):
        match_prompts(("person", "forklift"), NAMES)
    with pytest.raises(ValueError, match="name the same class"):
        match_prompts(("cell phone", "cell_phone"), NAMES)


def coco_ontology() -> Ontology:
    import yaml

    names = yaml.safe_load((COCO128 / "data.yaml").read_text())["names"]
    names = list(names.values()) if isinstance(names, dict) else names
    return Ontology.from_dict({"classes": {n: n for n in names}, "box_threshold": 0.25})


@needs_shared
def test_exported_labels_equal_ultralytics_predictions(tmp_path):
    """The real YOLO11n teacher through distil gives Ultralytics' own boxes and classes."""
    from ultralytics import YOLO

    images = sorted((COCO128 / "images").glob("*.jpg"))[:48]
    subset = tmp_path / "images"
    subset.mkdir()
    for image in images:
        (subset / image.name).symlink_to(image)
    teacher = GroundedModel(UltralyticsDetector(str(YOLO11N), device="cpu"))
    summary = label_images(subset, coco_ontology(), teacher, tmp_path / "run", batch_size=8)
    assert summary.labeled == len(images) and not summary.skipped
    export_dataset(
        tmp_path / "run",
        tmp_path / "ds",
        DatasetSettings(box_threshold=0.25, split=(1.0, 0.0, 0.0)),
    )
    reference = YOLO(str(YOLO11N))
    compared = 0
    for image in images:
        result = reference.predict(str(image), conf=0.25, rect=False, verbose=False)[0]
        height, width = result.orig_shape
        rows = np.loadtxt(tmp_path / "ds/labels/train" / f"{image.stem}.txt", ndmin=2)
        assert len(rows) == len(result.boxes), image.name
        if not len(rows):
            continue
        cx, cy, w, h = (
            rows[:, 1] * width,
            rows[:, 2] * height,
            rows[:, 3] * width,
            rows[:, 4] * height,
        )
        ours = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        theirs = result.boxes.xyxy.numpy()
        cost = np.abs(ours[:, None] - theirs[None]).max(axis=2)
        r, c = linear_sum_assignment(cost)
        assert cost[r, c].max() <= 1.0, image.name
        np.testing.assert_array_equal(
            rows[r, 0].astype(int), result.boxes.cls.numpy()[c].astype(int)
        )
        compared += len(r)
    assert compared > 100
    # Each image's faint count is the number of Ultralytics' own boxes from 0.02 to 0.1.
    with LabelStore.open(tmp_path / "run") as store:
        faint = {f.identity.path.name: f.detections.metadata["faint"] for f in store.frames()}
    expected = {
        image.name: int((scores < FAINT_CEILING).sum())
        for image in images
        for scores in [
            reference.predict(str(image), conf=FAINT_FLOOR, rect=False, verbose=False)[0].boxes.conf
        ]
    }
    assert faint == expected and sum(faint.values()) > 5 * len(images)


@needs_shared
def test_the_direct_path_gives_exactly_what_yolo_predict_gives():
    """Letterbox in `prepare`, AutoBackend, NMS and scaling driven directly: the same
    boxes, scores and classes, to the bit, as `YOLO.predict(rect=False)`."""
    from distil.sources import load_frame

    images = [load_frame(p).image for p in sorted((COCO128 / "images").glob("*.jpg"))[:16]]
    ontology = coco_ontology()
    direct = UltralyticsDetector(str(YOLO11N), device="cpu")
    through_predict = UltralyticsDetector(str(YOLO11N), device="cpu")
    through_predict._backend = None
    for start in range(0, len(images), 8):
        batch = images[start : start + 8]
        ours = direct.detect(batch, ontology, 0.1, direct.prepare(batch, ontology))
        theirs = through_predict.detect(batch, ontology, 0.1)
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a.xyxy, b.xyxy)
            np.testing.assert_array_equal(a.confidence, b.confidence)
            np.testing.assert_array_equal(a.class_id, b.class_id)
