from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
import yaml
from PIL import Image

from distil.datasets import export_dataset, select_detections
from distil.detections import FrameIdentity
from distil.ontologies import Ontology, OntologyError
from distil.settings import DatasetSettings, ExportTask, ImageMode, LabelFormat
from distil.sources import read_file
from distil.store import LabelStore, StoreBatch, StoredFrame

ONTO = Ontology.from_dict(
    {
        "box_threshold": 0.3,
        "classes": {
            "car": ["car", "automobile"],
            "dog": {"prompts": "dog", "box_threshold": 0.6, "min_area": 50},
        },
    }
)
SETTINGS = {
    "detector": {"family": "crafted", "model": "m", "revision": "r"},
    "segmenter": {"family": "crafted", "model": "s", "revision": "r"},
    "prompts": [["car", ["car", "automobile"]], ["dog", ["dog"]]],
    "store_threshold": 0.1,
}


def det(rows, height=40, width=60) -> sv.Detections:
    """rows: (x0, y0, x1, y1, confidence, prompt_id); masks fill each box."""
    xyxy = np.array([r[:4] for r in rows], np.float32).reshape(-1, 4)
    masks = np.zeros((len(rows), height, width), bool)
    for m, (x0, y0, x1, y1) in zip(masks, xyxy.astype(int), strict=True):
        m[y0:y1, x0:x1] = True
    prompt_id = np.array([r[5] for r in rows], dtype=int)
    return sv.Detections(
        xyxy=xyxy,
        mask=masks,
        confidence=np.array([r[4] for r in rows]),
        class_id=np.array(ONTO.prompt_class_ids)[prompt_id],
        data={"prompt_id": prompt_id, "text_score": np.array([r[4] for r in rows])},
    )


@pytest.fixture
def crafted_store(tmp_path) -> Path:
    images = tmp_path / "images"
    images.mkdir()
    rows = {
        "a.jpg": [
            (10, 10, 30, 30, 0.9, 0),
            (11, 10, 30, 31, 0.8, 1),  # synonyms, one car
            (40, 5, 55, 35, 0.5, 2),  # dog below its 0.6 threshold
            (0, 0, 5, 5, 0.2, 0),
        ],  # car below 0.3
        "b.jpg": [(20, 10, 50, 30, 0.7, 2), (0, 0, 6, 6, 0.9, 2)],  # second dog too small
        "c.jpg": [],
    }
    label_dir = tmp_path / "run"
    with LabelStore.create(label_dir, SETTINGS) as store:
        store.set_ontology(ONTO.to_dict())
        batch = StoreBatch()
        for shade, (name, r) in enumerate(rows.items()):
            Image.new("RGB", (60, 40), (60 * shade, 100, 100)).save(images / name)
            _, digest, stamp = read_file(images / name)
            identity = FrameIdentity(images / name, images, digest, stamp=stamp)
            batch.frames.append(StoredFrame(identity, 60, 40, det(r)))
        store.write_batch(batch)
    return label_dir


def read_labels(root: Path) -> dict[str, list[list[float]]]:
    return {
        p.name: [[round(float(v), 6) for v in line.split()] for line in p.read_text().splitlines()]
        for p in sorted(root.rglob("labels/*/*.txt"))
    }


def test_select_applies_thresholds_area_and_cross_prompt_nms(crafted_store):
    with LabelStore.open(crafted_store) as store:
        images = {s.identity.path.name: s for s in store.frames()}
    a = select_detections(images["a.jpg"].detections, ONTO)
    assert a.class_id.tolist() == [0] and a.confidence.tolist() == pytest.approx([0.9])
    b = select_detections(images["b.jpg"].detections, ONTO)
    assert b.xyxy.tolist() == [[20, 10, 50, 30]]
    looser = ONTO.with_defaults(box_threshold=0.15, text_threshold=0.15)
    assert len(select_detections(images["a.jpg"].detections, looser)) == 2


def test_yolo_detect_export_exact(crafted_store, tmp_path):
    summary = export_dataset(crafted_store, tmp_path / "ds", DatasetSettings(split=(1, 0, 0)))
    labels = read_labels(tmp_path / "ds")
    assert labels["a.txt"] == [[0, 0.333333, 0.5, 0.333333, 0.5]]
    assert labels["b.txt"] == [[1, 0.583333, 0.5, 0.5, 0.5]]
    assert labels["c.txt"] == []
    assert summary.instances_per_class == {"car": 1, "dog": 1}
    data = yaml.safe_load((tmp_path / "ds/data.yaml").read_text())
    assert data["names"] == {0: "car", 1: "dog"} and data["val"] == "images/train"
    card = json.loads((tmp_path / "ds/dataset_card.json").read_text())
    assert (
        card["classes"][1]["box_threshold"] == 0.6 and card["teacher"]["detector"]["model"] == "m"
    )
    assert "validates on train" in " ".join(card["notes"])
    assert (tmp_path / "ds/README.md").read_text().startswith("# ds")
    source = crafted_store.parent / "images" / "a.jpg"
    assert (tmp_path / "ds/images/train/a.jpg").stat().st_ino == source.stat().st_ino


def test_export_time_settings_change_output_without_models(crafted_store, tmp_path):
    export_dataset(
        crafted_store,
        tmp_path / "ds",
        DatasetSettings(
            split=(1, 0, 0),
            box_threshold=0.1,
            text_threshold=0.1,
            classes=["car"],
            images=ImageMode.COPY,
        ),
    )
    labels = read_labels(tmp_path / "ds")
    assert [row[0] for row in labels["a.txt"]] == [0, 0]
    assert labels["b.txt"] == []
    copied = tmp_path / "ds/images/train/a.jpg"
    assert copied.read_bytes() == (crafted_store.parent / "images/a.jpg").read_bytes()
    with pytest.raises(ValueError, match="unknown class 'dgo'. Did you mean 'dog'"):
        export_dataset(crafted_store, tmp_path / "x", DatasetSettings(classes=["dgo"]))


def test_yolo_segment_polygons(crafted_store, tmp_path):
    export_dataset(
        crafted_store,
        tmp_path / "ds",
        DatasetSettings(task=ExportTask.SEGMENT, split=(1, 0, 0), polygon_tolerance=0),
    )
    row = read_labels(tmp_path / "ds")["a.txt"][0]
    assert row[0] == 0
    points = np.round(np.array(row[1:]).reshape(-1, 2) * [60, 40], 3)
    assert points.min(axis=0).tolist() == [10, 10] and points.max(axis=0).tolist() == [29, 29]


def test_coco_round_trip_through_supervision(crafted_store, tmp_path):
    export_dataset(
        crafted_store,
        tmp_path / "coco",
        DatasetSettings(
            format=LabelFormat.COCO, task=ExportTask.SEGMENT, split=(1, 0, 0), coco_rle=True
        ),
    )
    dataset = sv.DetectionDataset.from_coco(
        images_directory_path=str(tmp_path / "coco/images/train"),
        annotations_path=str(tmp_path / "coco/annotations/train.json"),
        force_masks=True,
    )
    assert dataset.classes == ["car", "dog"]
    by_name = {Path(path).name: d for path, _, d in dataset}
    assert by_name["a.jpg"].xyxy.tolist() == [[10, 10, 30, 30]]
    assert by_name["b.jpg"].class_id.tolist() == [1]
    assert by_name["a.jpg"].mask[0].sum() == 400 and len(by_name["c.jpg"]) == 0


def test_split_and_atomic_replace(crafted_store, tmp_path):
    first = export_dataset(
        crafted_store, tmp_path / "ds", DatasetSettings(split=(0.34, 0.33, 0.33))
    )
    assert sum(first.images_per_split.values()) == 3
    again = export_dataset(
        crafted_store, tmp_path / "ds", DatasetSettings(split=(0.34, 0.33, 0.33))
    )
    assert again.images_per_split == first.images_per_split
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".ds")]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "precious.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a distil dataset"):
        export_dataset(crafted_store, tmp_path / "mine", DatasetSettings())


def test_overlay_ontology_must_keep_prompts(crafted_store, tmp_path):
    other = Ontology.from_dict({"classes": {"car": "car", "dog": "dog"}})
    with pytest.raises(OntologyError, match="differ from those the labels were made with"):
        export_dataset(crafted_store, tmp_path / "ds", ontology=other)
    stricter = Ontology.from_dict({**ONTO.to_dict(), "box_threshold": 0.95})
    summary = export_dataset(crafted_store, tmp_path / "ds", ontology=stricter)
    assert summary.instances_per_class == {"car": 0, "dog": 1}


def test_a_single_video_is_split_by_time_and_the_card_says_so(tmp_path):
    from distil.detections import FileStamp, empty_detections
    from distil.sources.video import frame_hash, video_id
    from tests.synthetic import make_video

    video = make_video(tmp_path / "clip.mp4", frames=60, fps=10)
    digest = video_id(video)
    stamp = FileStamp.of(video.stat())
    frames = [
        StoredFrame(
            FrameIdentity(video, tmp_path, frame_hash(digest, i), i, digest, i / 10, stamp),
            160, 120, empty_detections(),
        )
        for i in range(60)
    ]  # fmt: skip
    with LabelStore.create(tmp_path / "run", SETTINGS) as store:
        store.set_ontology(ONTO.to_dict())
        store.write_batch(StoreBatch(frames))
    summary = export_dataset(tmp_path / "run", tmp_path / "ds")
    assert set(summary.images_per_split) == {"train", "val"}
    assert 0 < summary.images < 60  # the frames next to a cut are left out
    data = yaml.safe_load((tmp_path / "ds" / "data.yaml").read_text())
    assert data["val"] == "images/val"
    card = json.loads((tmp_path / "ds" / "dataset_card.json").read_text())
    assert any("cut by time into chunks" in note for note in card["notes"])
