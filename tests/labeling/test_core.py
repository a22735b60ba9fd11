from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from distil.base_models import load_base_model
from distil.labeling import label_images
from distil.ontologies import Ontology
from distil.store import LabelStore, StoreError

ONTOLOGY = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})


@pytest.fixture(scope="module")
def teacher(tiny_grounding_dino, tiny_sam2):
    return load_base_model(tiny_grounding_dino, tiny_sam2, device="cpu")


def store_rows(folder):
    with sqlite3.connect(folder / "labels.sqlite") as db:
        predictions = db.execute(
            "SELECT hash, width, height, boxes, masks FROM predictions ORDER BY hash"
        ).fetchall()
        sources = db.execute("SELECT path, hash FROM sources ORDER BY path").fetchall()
    return predictions, sources


def test_label_stores_every_image_with_masks_and_summary(teacher, image_folder, tmp_path):
    (image_folder / "broken.jpg").write_bytes(b"not an image")
    (image_folder / "empty.png").write_bytes(b"")
    summary = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=3)
    assert summary.images == 10 and summary.labeled == 8
    assert sorted((s.path.name, s.reason.split(" (")[0]) for s in summary.skipped) == [
        ("broken.jpg", "not a readable image"),
        ("empty.png", "empty file"),
    ]
    assert set(summary.detections_per_class) == {"animal", "car"}
    data = summary.to_dict()
    assert {
        "images",
        "labeled",
        "skipped",
        "detections_per_class",
        "elapsed_s",
        "images_per_s",
    } <= set(data)
    json.dumps(data)
    with LabelStore.open(tmp_path / "run") as store:
        assert store.count() == (8, 8)
        stored = list(store.frames())
        assert all(
            s.detections.mask.shape == (len(s.detections), s.height, s.width) for s in stored
        )
        assert len(store.skipped()) == 2
    names = ONTOLOGY.class_names  # supervision's class names, on what the store gives back
    for frame in stored:
        found = frame.detections
        assert found.data["class_name"].tolist() == [names[i] for i in found.class_id]


def test_rerun_skips_stored_images_and_reports_the_store(teacher, image_folder, tmp_path):
    first = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=4)
    assert sum(first.detections_per_class.values()) > 0
    assert first.added_per_class == first.detections_per_class
    before = store_rows(tmp_path / "run")
    again = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=4)
    assert again.labeled == 0 and again.already_labeled == 8
    assert store_rows(tmp_path / "run") == before
    # The summary of a rerun describes the store, and says that this run added nothing.
    assert again.stored_frames == 8
    assert again.detections_per_class == first.detections_per_class
    assert again.added_per_class == {"animal": 0, "car": 0}


def test_a_rerun_reads_only_images_whose_stamp_changed(
    teacher, image_folder, tmp_path, monkeypatch
):
    from distil.sources import stream

    label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=4)
    read = []
    original = stream.read_file
    monkeypatch.setattr(stream, "read_file", lambda path: read.append(path.name) or original(path))
    again = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=4)
    assert (again.images, again.already_labeled, again.labeled, read) == (8, 8, 0, [])

    touched, edited, kept = (
        image_folder / "img0.jpg",
        image_folder / "img2.jpg",
        image_folder / "img4.jpg",
    )
    os.utime(touched, ns=(time.time_ns(), time.time_ns()))  # same content, new time
    edited.write_bytes((image_folder / "img6.jpg").read_bytes())  # new content
    info = kept.stat()
    data = bytearray(kept.read_bytes())
    data[-3] ^= 1  # the same size, a changed byte and the old time: trusted, as export does
    kept.write_bytes(bytes(data))
    os.utime(kept, ns=(info.st_atime_ns, info.st_mtime_ns))
    third = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run", batch=4)
    assert sorted(read) == ["img0.jpg", "img2.jpg"]
    assert (third.images, third.already_labeled, third.labeled) == (8, 8, 0)  # img2 = img6
    with LabelStore.open(tmp_path / "run") as store:
        hashes = {f.identity.path.name: f.identity.hash for f in store.frames(with_masks=False)}
    assert hashes["img2.jpg"] == hashes["img6.jpg"]


def test_interrupted_then_resumed_equals_uninterrupted(teacher, image_folder, tmp_path):
    label_images(image_folder, ONTOLOGY, teacher, tmp_path / "full", batch=2)

    def interrupt(done, total):
        if done >= 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        label_images(image_folder, ONTOLOGY, teacher, tmp_path / "cut", batch=2, progress=interrupt)
    partial, _ = store_rows(tmp_path / "cut")
    assert len(partial) == 4
    resumed = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "cut", batch=2)
    assert resumed.labeled == 4 and resumed.already_labeled == 4
    full = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "full", batch=2)
    assert resumed.detections_per_class == full.detections_per_class
    assert resumed.stored_frames == full.stored_frames == 8
    assert store_rows(tmp_path / "cut")[0] == store_rows(tmp_path / "full")[0]
    full_sources = [(os.path.basename(p), h) for p, h in store_rows(tmp_path / "full")[1]]
    cut_sources = [(os.path.basename(p), h) for p, h in store_rows(tmp_path / "cut")[1]]
    assert cut_sources == full_sources


def test_changed_prompts_or_models_never_mix(teacher, image_folder, tmp_path, tiny_owlv2):
    label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run")
    other = Ontology.from_dict({"classes": {"animal": ["cat"], "car": "red car"}})
    with pytest.raises(StoreError, match="different prompts"):
        label_images(image_folder, other, teacher, tmp_path / "run")
    owl = load_base_model(tiny_owlv2, "none", device="cpu")
    with pytest.raises(StoreError, match="different detector, segmenter"):
        label_images(image_folder, ONTOLOGY, owl, tmp_path / "run")
    fresh = label_images(image_folder, other, teacher, tmp_path / "run", overwrite=True)
    assert fresh.labeled == 8


def test_duplicate_content_is_labeled_once(teacher, image_folder, tmp_path):
    (image_folder / "copy.jpg").write_bytes((image_folder / "img0.jpg").read_bytes())
    summary = label_images(image_folder, ONTOLOGY, teacher, tmp_path / "run")
    assert summary.labeled == 8 and summary.already_labeled == 1
    with LabelStore.open(tmp_path / "run") as store:
        assert store.count() == (9, 9)


def test_kill_9_loses_at_most_the_batch_in_flight(tiny_grounding_dino, image_folder, tmp_path):
    for i in range(40):  # enough batches that the kill lands mid-run
        (image_folder / f"more{i}.jpg").write_bytes(
            (image_folder / f"img{i % 3}.jpg").read_bytes() + bytes([i])
        )
    ontology = tmp_path / "onto.yaml"
    ontology.write_text("classes:\n  animal: [cat, dog]\n  car: red car\n")
    command = [
        sys.executable,
        "-m",
        "distil.cli.main",
        "label",
        str(image_folder),
        "-O",
        str(ontology),
        "--detector",
        tiny_grounding_dino,
        "--segmenter",
        "none",
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--out",
        str(tmp_path / "run"),
        "-q",
    ]
    process = subprocess.Popen(command)
    database = tmp_path / "run" / "labels.sqlite"
    deadline = time.time() + 120
    stored = 0
    while time.time() < deadline and process.poll() is None:
        if database.exists():
            try:
                with sqlite3.connect(database) as db:
                    stored = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
            except sqlite3.OperationalError:  # the file exists before its tables do
                stored = 0
            if stored >= 4:
                break
        time.sleep(0.05)
    if process.poll() is not None:
        pytest.fail("the run finished before it could be killed")
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with sqlite3.connect(database) as db:
        after_kill = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    assert 4 <= after_kill < 48
    assert subprocess.run(command).returncode == 0
    with sqlite3.connect(database) as db:
        assert db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0] == 48
