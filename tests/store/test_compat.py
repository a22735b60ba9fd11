"""A store written by distil 0.1.0 (schema 1) opens, migrates and exports exactly as that
release exported it; and labeling the same inputs today stores the same labels."""

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from distil.datasets import export_dataset
from distil.store import SCHEMA_VERSION, LabelStore
from distil.utils.files import OUTPUT_MARKER

FIXTURE = Path(__file__).parents[1] / "data" / "store_v1"
EXPECTED = json.loads((FIXTURE / "expected_exports.json").read_text())
# The four export settings the fixture was exported with.
CASES = {
    "yolo-detect": {},
    "yolo-segment": {"task": "segment", "split": (0.5, 0.5, 0.0), "seed": 1},
    "coco-segment-rle": {"format": "coco", "task": "segment", "coco_rle": True, "nms_iou": 0.5},
    "coco-segment-polygon": {
        "format": "coco",
        "task": "segment",
        "classes": ["disc"],
        "polygon_tolerance": 2.0,
    },
}


def snapshot(root: Path) -> dict:
    """Every file of an exported dataset: text as text, images as SHA-256, the card and
    data.yaml without what changes from run to run (time, version, absolute paths). The
    output marker (the list of files distil wrote) is distil's bookkeeping, not data."""
    files = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != OUTPUT_MARKER):
        relative = path.relative_to(root).as_posix()
        data = path.read_bytes()
        if path.name == "dataset_card.json":
            card = json.loads(data)
            for key in ("created", "source_labels", "distil_version"):
                card.pop(key)
            for entry in card["classes"]:  # added since 0.1.0: who labeled the class
                assert entry.pop("teacher") == card["teacher"]["detector"]["model"]
                assert entry.pop("reviewed_frames") == 0  # and the review
            assert card.pop("reviewed_frames") == 0
            files[relative] = card
        elif path.name == "data.yaml":
            content = yaml.safe_load(data)
            content.pop("path")
            files[relative] = content
        elif path.name == "README.md":
            lines = data.decode().splitlines()
            files[relative] = "\n".join(x for x in lines if not x.startswith("Auto-labeled by"))
        elif path.suffix in (".txt", ".json"):
            files[relative] = data.decode()
        else:
            files[relative] = hashlib.sha256(data).hexdigest()
    return json.loads(json.dumps(files))  # as stored in expected_exports.json


@pytest.fixture
def old_store(tmp_path, monkeypatch):
    """A copy of the fixture; its sources are relative to the fixture folder."""
    copy = tmp_path / "store_v1"
    shutil.copytree(FIXTURE, copy)
    monkeypatch.chdir(copy)
    return copy


def test_a_v1_store_migrates_and_exports_exactly_as_0_1_0(old_store, tmp_path):
    with sqlite3.connect(old_store / "label" / "labels.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    for name, options in CASES.items():
        export_dataset(Path("label"), tmp_path / name, **options)
        assert snapshot(tmp_path / name) == EXPECTED[name], name
    with sqlite3.connect(old_store / "label" / "labels.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        columns = [row[1] for row in db.execute("PRAGMA table_info(predictions)")]
        assert "masks" in columns and "detections" not in columns


def test_boxes_are_read_without_masks(old_store):
    with LabelStore.open(Path("label")) as store:
        with_masks = {f.identity.key: f.detections for f in store.frames(with_masks=True)}
        boxes = {f.identity.key: f.detections for f in store.frames(with_masks=False)}
    assert boxes.keys() == with_masks.keys()
    assert any(d.mask is not None and len(d) for d in with_masks.values())
    for key, detections in boxes.items():
        assert detections.mask is None
        assert detections.xyxy.tolist() == with_masks[key].xyxy.tolist()
        assert detections.class_id.tolist() == with_masks[key].class_id.tolist()


def test_labeling_the_same_inputs_today_exports_the_same_dataset(
    old_store, tmp_path, tiny_grounding_dino, tiny_sam2, tiny_sam2_video
):
    """The fixture's inputs, labeled now with the same tiny models and settings it was
    made with, give the same exports (the model paths in the card aside)."""
    from distil.base_models import load_base_model
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling import VideoTracker, label_images
    from distil.ontologies import Ontology

    with sqlite3.connect(old_store / "label" / "labels.sqlite") as db:
        made_with = json.loads(
            db.execute("SELECT value FROM meta WHERE key = 'settings'").fetchone()[0]
        )
    ontology = Ontology.from_dict(json.loads((old_store / "ontology.json").read_text()))
    teacher = load_base_model(tiny_grounding_dino, tiny_sam2, device="cpu")
    tracker = VideoTracker(Sam2VideoPropagator(tiny_sam2_video, device="cpu"), detect_every=4)
    label_images(
        [Path("inputs")], ontology, teacher, Path("relabeled"), batch=2,
        store_threshold=made_with["store_threshold"], tracker=tracker,
    )  # fmt: skip
    for name, options in CASES.items():
        export_dataset(Path("relabeled"), tmp_path / name, **options)
        now, then = snapshot(tmp_path / name), EXPECTED[name]
        for files in (now, then):
            for key in ("fingerprint", "teacher"):
                files["dataset_card.json"].pop(key)
            files["README.md"] = [x for x in files["README.md"].splitlines() if "`" not in x]
        assert now == then, name


def test_human_labels_of_schema_5_gain_an_empty_reviewer_and_edits(tmp_path):
    """A store whose human labels were imported before the review app (schema 5) keeps
    them, with no reviewer and no edits recorded."""
    from tests.review.test_round import TEACHER, make_store

    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    with sqlite3.connect(store / "labels.sqlite") as db:
        db.execute(
            "INSERT INTO human_labels (hash, width, height, boxes, masks, changed, round, "
            "file, format, imported_at) SELECT hash, width, height, boxes, NULL, 0, 1, "
            "'export.json', 'label-studio', 1.0 FROM predictions LIMIT 1"
        )
        db.execute("ALTER TABLE human_labels DROP COLUMN reviewer")
        db.execute("ALTER TABLE human_labels DROP COLUMN edits")
        db.execute("PRAGMA user_version = 5")
        db.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels()
    assert (human.file, human.reviewer, human.edits) == ("export.json", None, None)
    with sqlite3.connect(store / "labels.sqlite") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
