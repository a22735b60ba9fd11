"""Export never exports stale labels, never touches what distil did not write, writes only
inside `--to`, honours the umask and leaves nothing half-done behind."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from distil.datasets import export_dataset
from distil.datasets.card import DatasetCard
from distil.detections import FrameIdentity, empty_detections
from distil.settings import DatasetSettings
from distil.sources import read_file
from distil.store import LabelStore, StoreBatch, StoredFrame
from distil.utils.files import OUTPUT_MARKER

SETTINGS = {
    "prompts": [["car", ["car"]]],
    "detector": {"family": "crafted", "model": "d", "revision": "r"},
    "segmenter": None,
    "store_threshold": 0.1,
}
ALL_TRAIN = DatasetSettings(split=(1, 0, 0))


def picture(path: Path, shade: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 24), (shade, 255 - shade, 40)).save(path)
    return path


def crafted_store(label_dir: Path, files: list[Path], root: Path, paths=None) -> Path:
    """A store holding `files` as labeled (no detections), as `distil label` records them;
    `paths` replaces the stored source paths (a tampered store)."""
    with LabelStore.create(label_dir, SETTINGS) as store:
        store.set_ontology({"classes": {"car": "car"}})
        frames = []
        for i, file in enumerate(files):
            _, digest, stamp = read_file(file)
            path = paths[i] if paths else file
            frames.append(StoredFrame(FrameIdentity(path, root, digest, stamp=stamp), 32, 24,
                                      empty_detections()))  # fmt: skip
        store.write_batch(StoreBatch(frames))
    return label_dir


@pytest.fixture
def labeled(tmp_path) -> tuple[Path, Path]:
    images = tmp_path / "images"
    files = [picture(images / f"{name}.jpg", 40 * i) for i, name in enumerate("abcd")]
    return crafted_store(tmp_path / "run", files, images), images


def exported_names(dataset: Path) -> list[str]:
    return sorted(p.name for p in (dataset / "images").rglob("*.jpg"))


def test_a_replaced_image_is_left_out_and_a_deleted_one_listed(labeled, tmp_path):
    label_dir, images = labeled
    picture(images / "a.jpg", 250)  # same path, new content
    (images / "b.jpg").unlink()
    stamp = images / "c.jpg"
    os.utime(stamp, ns=(1, 1))  # touched only: same content, so still exported
    summary = export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    assert exported_names(tmp_path / "ds") == ["c.jpg", "d.jpg"]
    reasons = {Path(item["path"]).name: item["reason"] for item in summary.left_out}
    assert reasons["a.jpg"].startswith("changed since it was labeled")
    assert reasons["b.jpg"] == "deleted since it was labeled"
    card = DatasetCard.read(tmp_path / "ds")
    assert any("2 labeled sources were left out" in note for note in card.notes)


def test_relabeling_a_replaced_image_exports_it_again(tmp_path, tiny_grounding_dino):
    from distil.base_models import load_base_model
    from distil.labeling import label_images
    from distil.ontologies import Ontology

    images = tmp_path / "images"
    for i in range(3):
        picture(images / f"{i}.jpg", 60 * i)
    ontology = Ontology.from_dict({"classes": {"car": "car"}})
    model = load_base_model(tiny_grounding_dino, "none", device="cpu")
    label_images(images, ontology, model, tmp_path / "run")
    picture(images / "1.jpg", 255)
    assert len(export_dataset(tmp_path / "run", tmp_path / "ds", ALL_TRAIN).left_out) == 1
    again = label_images(images, ontology, model, tmp_path / "run")
    assert again.labeled == 1 and again.already_labeled == 2
    summary = export_dataset(tmp_path / "run", tmp_path / "ds", ALL_TRAIN)
    assert summary.left_out == [] and summary.images == 3


def test_an_export_while_labeling_says_the_store_was_being_written(labeled, tmp_path):
    label_dir, _ = labeled
    with LabelStore.create(label_dir, SETTINGS):  # a label run holds the store
        summary = export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    assert summary.store_being_written.startswith(f"pid {os.getpid()} on ")
    card = DatasetCard.read(tmp_path / "ds")
    assert any("still being written" in note for note in card.notes)
    assert export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN).store_being_written is None


def test_re_export_keeps_the_users_files(labeled, tmp_path):
    label_dir, _ = labeled
    dataset = tmp_path / "ds"
    export_dataset(label_dir, dataset, ALL_TRAIN)
    (dataset / "NOTES.txt").write_text("reviewed by Ana")
    (dataset / "hand_labels").mkdir()
    (dataset / "hand_labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (dataset / "empty_folder").mkdir()
    (dataset / "labels" / "train" / "extra.txt").write_text("mine\n")
    summary = export_dataset(label_dir, dataset, DatasetSettings(split=(1, 0, 0), nms_iou=0.5))
    assert sorted(summary.kept_user_files) == [
        "NOTES.txt", "hand_labels/a.txt", "labels/train/extra.txt",
    ]  # fmt: skip
    assert (dataset / "NOTES.txt").read_text() == "reviewed by Ana"
    assert (dataset / "hand_labels" / "a.txt").read_text() == "0 0.5 0.5 0.1 0.1\n"
    assert (dataset / "labels" / "train" / "extra.txt").read_text() == "mine\n"
    assert (dataset / "empty_folder").is_dir()
    assert exported_names(dataset) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]


def test_a_user_file_where_the_new_export_writes_is_named_and_nothing_changes(labeled, tmp_path):
    label_dir, _ = labeled
    dataset = tmp_path / "ds"
    export_dataset(label_dir, dataset, ALL_TRAIN)
    (dataset / "labels" / "val").mkdir()
    (dataset / "labels" / "val" / "a.txt").write_text("my own label\n")
    before = sorted(str(p.relative_to(dataset)) for p in dataset.rglob("*"))
    with pytest.raises(FileExistsError, match="labels/val/a.txt"):
        export_dataset(label_dir, dataset, DatasetSettings(split=(0, 1, 0)))
    assert sorted(str(p.relative_to(dataset)) for p in dataset.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir() if ".staging-" in p.name] == []


def test_a_folder_that_is_not_a_dataset_is_refused(labeled, tmp_path):
    label_dir, _ = labeled
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("...")
    with pytest.raises(FileExistsError, match="not a distil dataset"):
        export_dataset(label_dir, tmp_path / "mine", ALL_TRAIN)
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize(("mask", "file_mode", "folder_mode"), [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)])  # fmt: skip
def test_exported_files_and_folders_honour_the_umask(
    labeled, tmp_path, mask, file_mode, folder_mode
):
    label_dir, _ = labeled
    old = os.umask(mask)
    try:
        export_dataset(label_dir, tmp_path / "ds", DatasetSettings(split=(1, 0, 0), images="copy"))
    finally:
        os.umask(old)
    dataset = tmp_path / "ds"
    for path in [dataset, *dataset.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == folder_mode, path
        elif path.suffix != ".jpg":  # copied images keep their source's mode, as `cp -p`
            assert mode == file_mode, path


def test_an_interrupted_export_leaves_nothing_behind(labeled, tmp_path, monkeypatch):
    import distil.datasets.export as export_module

    label_dir, _ = labeled
    export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    before = {p: p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file()}
    calls = []

    def interrupted(*args):
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return 0

    monkeypatch.setattr(export_module, "_place_image", interrupted)
    with pytest.raises(KeyboardInterrupt):
        export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "images", "run"]
    assert {p: p.read_bytes() for p in (tmp_path / "ds").rglob("*") if p.is_file()} == before


def test_leftovers_of_a_killed_export_are_cleaned_and_a_half_swap_restored(labeled, tmp_path):
    label_dir, _ = labeled
    export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    (tmp_path / "ds" / "NOTES.txt").write_text("keep me")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    (tmp_path / f".ds.staging-{dead}-abc").mkdir()
    (tmp_path / f".ds.staging-{dead}-abc" / "images").mkdir()
    os.replace(tmp_path / "ds", tmp_path / f".ds.old-{dead}")  # killed mid-swap
    export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "images", "run"]
    assert (tmp_path / "ds" / "NOTES.txt").read_text() == "keep me"


def test_a_tampered_store_cannot_write_outside_the_dataset(tmp_path):
    """Stored source paths full of `..` (the store was edited) still land inside `--to`."""
    images = tmp_path / "work" / "images"
    victim = picture(tmp_path / "victim.jpg", 10)
    inside = picture(images / "ok.jpg", 90)
    climb = Path(*[".."] * 12)
    tampered = [images / os.path.relpath(victim, images), images / climb / inside.relative_to("/")]
    crafted_store(tmp_path / "work" / "run", [victim, inside], images, paths=tampered)
    files_before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    export_dataset(tmp_path / "work" / "run", tmp_path / "work" / "ds", ALL_TRAIN)
    dataset = (tmp_path / "work" / "ds").resolve()
    files_after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p: b for p, b in files_after.items() if dataset not in p.resolve().parents} == {
        p: b for p, b in files_before.items() if "labels.sqlite" not in p.name
    } | {p: files_after[p] for p in files_before if "labels.sqlite" in p.name}
    assert exported_names(dataset) == ["ok.jpg", "victim.jpg"]


def test_names_near_the_file_system_limit_export_unchanged(tmp_path):
    images = tmp_path / "images"
    long_stem = "x" * 238
    files = [
        picture(images / f"{long_stem}.jpg", 20),
        picture(images / "sub" / f"{long_stem}.jpg", 200),
    ]
    label_dir = crafted_store(tmp_path / "run", files, images)
    export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    names = sorted(p.name for p in (tmp_path / "ds" / "labels").rglob("*.txt"))
    assert names == [f"{long_stem}.txt", f"{long_stem}.txt"]
    marker = (tmp_path / "ds" / OUTPUT_MARKER).read_text()
    assert f"images/train/sub/{long_stem}.jpg" in marker


def test_the_card_and_summary_are_json(labeled, tmp_path):
    label_dir, images = labeled
    (images / "d.jpg").unlink()
    summary = export_dataset(label_dir, tmp_path / "ds", ALL_TRAIN)
    assert json.loads(json.dumps(summary.to_dict()))["left_out"][0]["reason"]
