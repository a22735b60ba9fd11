"""`--engine ray` on a local Ray instance (2 CPUs): the same store and exports as the local
engine, with the tiny teachers and with the real YOLO11n teacher, and a teacher actor
killed mid-job is restarted by Ray while the job completes."""

from __future__ import annotations

import os
import signal
import sqlite3

import psutil
import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.labeling import label
from distil.ontologies import Ontology
from distil.settings import LabelSettings
from tests.conftest import COCO128, YOLO11N, needs_shared, shapes_image
from tests.synthetic import make_video

ray = pytest.importorskip("ray")

ONTOLOGY = Ontology.from_dict({"box_threshold": 0.0, "classes": {"car": "car", "cat": "cat"}})


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


@pytest.fixture
def one_thread():
    """The local reference on one torch thread, as the teacher actor on 2 CPUs runs (the
    thread count changes float sums in the last bits, and stored scores keep 5 decimals)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def inputs(tmp_path):
    root = tmp_path / "inputs"
    root.mkdir()
    for i in range(16):
        Image.fromarray(shapes_image(i, (64, 80))).save(root / f"img{i:02d}.png")
    (root / "copy.png").write_bytes((root / "img03.png").read_bytes())
    (root / "broken.jpg").write_bytes(b"not an image")
    make_video(root / "clip.mp4", frames=6, width=64, height=48)
    return root


def rows(folder):
    with sqlite3.connect(folder / "labels.sqlite") as db:
        predictions = db.execute("SELECT hash, width, height, boxes, masks FROM predictions")
        sources = db.execute("SELECT path, hash, frame_index, video_id FROM sources")
        skipped = db.execute("SELECT path, reason FROM skipped")
        return sorted(predictions), sorted(sources), sorted(skipped)


def exported(folder, to):
    result = CliRunner().invoke(app, ["export", str(folder), "--to", str(to)])
    assert result.exit_code == 0, result.output
    root = to / "labels"
    return {p.relative_to(root): p.read_text() for p in root.rglob("*.txt")}


def test_ray_stores_and_exports_what_the_local_engine_does(
    local_ray, one_thread, tiny_owlv2, tiny_sam, inputs, tmp_path
):
    settings = LabelSettings(detector=tiny_owlv2, segmenter=tiny_sam, device="cpu", batch=4)
    local = label(inputs, ONTOLOGY, settings, tmp_path / "local")
    on_ray = label(
        inputs, ONTOLOGY, settings.model_copy(update={"engine": "ray", "device": "auto"}),
        tmp_path / "ray",
    )  # fmt: skip
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert (on_ray.images, on_ray.video_frames, len(on_ray.skipped)) == (24, 6, 1)
    assert on_ray.detections_per_class == local.detections_per_class
    assert exported(tmp_path / "ray", tmp_path / "ds_ray") == exported(
        tmp_path / "local", tmp_path / "ds_local"
    )
    rerun = label(inputs, ONTOLOGY, settings.model_copy(update={"engine": "ray", "device": "auto"}),
                  tmp_path / "ray")  # fmt: skip
    assert rerun.labeled == 0 and rerun.already_labeled == local.labeled + local.already_labeled


@needs_shared
def test_ray_with_the_yolo11n_teacher(local_ray, one_thread, tmp_path):
    images = tmp_path / "coco"
    images.mkdir()
    for path in sorted((COCO128 / "images").glob("*.jpg"))[:32]:
        (images / path.name).symlink_to(path)
    coco = Ontology.from_dict({"classes": {"person": "person", "car": "car", "dog": "dog"}})
    settings = LabelSettings(detector=str(YOLO11N), segmenter="none", batch=8)
    label(images, coco, settings.model_copy(update={"device": "cpu"}), tmp_path / "local")
    summary = label(images, coco, settings.model_copy(update={"engine": "ray"}), tmp_path / "ray")
    assert summary.labeled == 32 and sum(summary.detections_per_class.values()) > 20
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
    assert exported(tmp_path / "ray", tmp_path / "a") == exported(
        tmp_path / "local", tmp_path / "b"
    )


def test_a_killed_teacher_actor_is_restarted_and_the_job_completes(
    local_ray, tiny_owlv2, inputs, tmp_path
):
    killed: list[int] = []

    def kill_an_actor(done: int, total: int) -> None:
        if killed:
            return
        for process in psutil.process_iter(["cmdline"]):
            if "TeacherActor" in " ".join(process.info["cmdline"] or []):
                os.kill(process.pid, signal.SIGKILL)
                killed.append(process.pid)
                return

    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", engine="ray", batch=1)
    summary = label(inputs, ONTOLOGY, settings, tmp_path / "ray", progress=kill_an_actor)
    assert killed, "no teacher actor process was found to kill"
    assert summary.stored_frames == 17 + 6  # every image file and video frame
    assert summary.images == 24 and len(summary.skipped) == 1
