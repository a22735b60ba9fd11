"""A store works from any working directory: sources are stored by absolute path, stores
that older releases wrote with relative paths are migrated, and an export that finds
none of its sources fails instead of writing an empty dataset."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.datasets import export_dataset
from distil.detections import FrameIdentity, empty_detections
from distil.errors import UsageError
from distil.sources import read_file
from distil.store import LabelStore, ReviewRound, StoreBatch, StoredFrame
from tests.conftest import COCO128, YOLO11N, needs_shared, shapes_image
from tests.store.test_locking import SETTINGS

runner = CliRunner()
CONFIGS = Path(__file__).parents[2] / "configs"


def image_store(folder: Path, images: list[Path], root: Path) -> None:
    """A store whose sources are `images` as given (relative or not), as a label run of an
    older release stored them."""
    with LabelStore.create(folder, SETTINGS) as store:
        store.set_ontology({"classes": {"car": "car"}})
        frames = [
            StoredFrame(FrameIdentity(p, root, read_file(p)[1]), 128, 96, empty_detections())
            for p in images
        ]
        store.write_batch(StoreBatch(frames))
        keys = [str(p) for p in images]
        store.add_review_round(ReviewRound(0, 0.0, "r", "coco", "auto", keys[:1]))


def test_an_older_store_with_relative_paths_is_migrated_from_any_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "imgs").mkdir(parents=True)
    for i in range(2):
        Image.fromarray(shapes_image(i)).save(project / "imgs" / f"{i}.png")
    monkeypatch.chdir(project)
    image_store(Path("runs/exp"), [Path("imgs/0.png"), Path("imgs/1.png")], Path("imgs"))
    with sqlite3.connect(project / "runs/exp/labels.sqlite") as db:
        db.execute("PRAGMA user_version = 4")  # as the release before absolute paths
    elsewhere = tmp_path / "ci-job"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # the job changed folder: the paths are found from the store
    summary = export_dataset(project / "runs/exp", elsewhere / "ds")
    assert summary.images == 2 and not summary.left_out
    with LabelStore.open(project / "runs/exp") as store:
        keys = [key for key, _ in store.sources()]
        assert keys == [str(project / "imgs" / f"{i}.png") for i in range(2)]
        assert store.review_rounds()[0].frames == keys[:1]
        assert {f.identity.root for f in store.frames(with_masks=False)} == {project / "imgs"}


def test_an_export_that_finds_no_source_fails_and_writes_nothing(tmp_path, monkeypatch):
    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(shapes_image(0)).save(images / "0.png")
    image_store(tmp_path / "exp", [images / "0.png"], images)
    shutil.rmtree(images)
    with pytest.raises(UsageError, match="none of its 1 labeled sources can be exported"):
        export_dataset(tmp_path / "exp", tmp_path / "ds")
    assert not (tmp_path / "ds").exists()
    result = runner.invoke(app, ["export", str(tmp_path / "exp"), "--to", str(tmp_path / "ds")])
    assert result.exit_code == 2, result.output
    assert "deleted" in result.output


@needs_shared
def test_label_with_a_relative_path_then_export_from_another_folder(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "imgs").mkdir(parents=True)
    for path in sorted((COCO128 / "images").iterdir())[:3]:
        shutil.copy(path, project / "imgs" / path.name)
    monkeypatch.chdir(project)
    args = ["label", "imgs", "-O", str(CONFIGS / "coco80.yaml"), "--detector", str(YOLO11N)]
    result = runner.invoke(app, [*args, "--segmenter", "none", "--out", "runs/exp"])
    assert result.exit_code == 0, result.output
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", "project/runs/exp", "--to", "ds", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["images"] == 3 and summary["left_out"] == []
