"""`--devices`: one worker process per device, the parent the only writer. Tested with two
CPU workers: the same store as one process, progress over the whole job, and a worker
killed mid-job fails the run without losing what was stored."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3

import pytest
from PIL import Image

from distil.labeling import WorkerError, label
from distil.ontologies import Ontology
from distil.settings import LabelSettings
from tests.conftest import shapes_image

ONTOLOGY = Ontology.from_dict({"box_threshold": 0.0, "classes": {"car": "car", "cat": "cat"}})


@pytest.fixture
def images(tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(24):
        Image.fromarray(shapes_image(i, (64, 80))).save(root / f"img{i:02d}.png")
    (root / "broken.jpg").write_bytes(b"not an image")
    return root


def rows(folder):
    with sqlite3.connect(folder / "labels.sqlite") as db:
        predictions = db.execute("SELECT hash, width, height, boxes FROM predictions ORDER BY 1")
        sources = db.execute("SELECT path, hash FROM sources ORDER BY path")
        return predictions.fetchall(), sources.fetchall()


def test_two_workers_store_what_one_process_stores(tiny_owlv2, images, tmp_path):
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", device="cpu", batch=2)
    one = label(images, ONTOLOGY, settings, tmp_path / "one")
    seen = []
    two = label(
        images,
        ONTOLOGY,
        settings.model_copy(update={"device": "auto", "devices": ["cpu", "cpu"]}),
        lambda fingerprint: tmp_path / "two",  # chosen once the workers know the teacher
        progress=lambda done, total: seen.append((done, total)),
    )
    assert rows(tmp_path / "two") == rows(tmp_path / "one")
    assert (two.labeled, two.images, len(two.skipped)) == (24, 25, 1)
    assert two.detections_per_class == one.detections_per_class
    assert two.added_per_class == one.added_per_class
    assert seen[-1] == (25, 25) and len(seen) > 2  # progress covers the whole job
    assert two.out == str(tmp_path / "two")
    again = label(images, ONTOLOGY, settings.model_copy(update={"devices": ["cpu"] * 2}),
                  tmp_path / "two")  # fmt: skip
    assert (again.labeled, again.already_labeled) == (0, 24)


def test_a_killed_worker_fails_the_run_and_a_rerun_finishes(tiny_owlv2, images, tmp_path):
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", devices=["cpu", "cpu"], batch=1)
    killed = []

    def kill_one(done: int, total: int) -> None:
        if not killed:
            victim = multiprocessing.active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    with pytest.raises(WorkerError, match=r"died \(exit code -9\); labels stored so far"):
        label(images, ONTOLOGY, settings, tmp_path / "run", progress=kill_one)
    assert not multiprocessing.active_children()  # the other worker was stopped
    rerun = label(images, ONTOLOGY, settings, tmp_path / "run")
    assert rerun.labeled + rerun.already_labeled == 24
    assert rerun.already_labeled >= 1  # what was stored before the kill stays
    assert rerun.stored_frames == 24


def test_an_absent_gpu_fails_before_any_worker_starts(tiny_owlv2, images, tmp_path):
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", devices=["0", "1"])
    with pytest.raises(ValueError, match="no CUDA GPU on this machine"):
        label(images, ONTOLOGY, settings, tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_tiled_labels_are_the_same_from_two_workers(tiny_owlv2, tmp_path):
    root = tmp_path / "images"
    root.mkdir()
    for i in range(4):
        Image.fromarray(shapes_image(i, (200, 260))).save(root / f"img{i:02d}.png")
    settings = LabelSettings(
        detector=tiny_owlv2, segmenter="none", device="cpu", batch=4, tile="96"
    )
    one = label(root, ONTOLOGY, settings, tmp_path / "one")
    two = label(
        root, ONTOLOGY, settings.model_copy(update={"devices": ["cpu", "cpu"]}), tmp_path / "two"
    )
    assert one.labeled == two.labeled == 4
    assert rows(tmp_path / "one")[0] == rows(tmp_path / "two")[0]
