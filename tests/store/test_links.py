"""A symbolic link (or a hard link) planted in an output folder never leads a write outside
it: the store, its lock, its journal files and distil's markers are refused with exit 2,
naming the link, and the file it points at is untouched."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.errors import LinkRefusedError, UsageError
from distil.store import LabelStore, StoreError
from distil.utils.files import atomic_write_text, copy_file, mark_output, write_bytes
from tests.conftest import shapes_image
from tests.store.test_locking import SETTINGS, one_frame

runner = CliRunner()


@pytest.fixture
def precious(tmp_path) -> Path:
    path = tmp_path / "precious.txt"
    path.write_text("precious\n")
    return path


def a_store(folder: Path) -> Path:
    with LabelStore.create(folder, SETTINGS) as store:
        store.set_ontology({"classes": {"car": "car"}})
        one_frame(store, "a.jpg")
    return folder


@pytest.mark.parametrize(
    "name", ["labels.sqlite.lock", "labels.sqlite", "labels.sqlite-wal", "labels.sqlite-shm"]
)
def test_a_store_file_that_is_a_link_is_refused_and_its_target_untouched(tmp_path, precious, name):
    out = tmp_path / "out"
    out.mkdir()
    (out / name).symlink_to(precious)
    with pytest.raises(LinkRefusedError, match=f"{name} is a symbolic link"):
        LabelStore.create(out, SETTINGS)
    assert precious.read_text() == "precious\n"


def test_a_dangling_store_link_creates_nothing_where_it_points(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere.sqlite"
    out.mkdir()
    (out / "labels.sqlite").symlink_to(elsewhere)
    with pytest.raises(LinkRefusedError):
        LabelStore.create(out, SETTINGS)
    with pytest.raises(LinkRefusedError):
        LabelStore.open(out)
    assert not elsewhere.exists()


def test_a_hard_linked_lock_file_is_not_emptied(tmp_path, precious):
    out = tmp_path / "out"
    out.mkdir()
    os.link(precious, out / "labels.sqlite.lock")
    with pytest.raises(UsageError, match="has other hard links"):
        LabelStore.create(out, SETTINGS)
    assert precious.read_text() == "precious\n"


def test_a_shard_lock_link_is_refused(tmp_path, precious):
    out = tmp_path / "out"
    out.mkdir()
    (out / "labels.sqlite.lock.shard-1-of-2").symlink_to(precious)
    with pytest.raises(LinkRefusedError):
        LabelStore.create(out, SETTINGS, shard=(1, 2))
    assert precious.read_text() == "precious\n"


def test_label_refuses_a_lock_link_before_any_model_loads(tmp_path, precious):
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    Image.fromarray(shapes_image(0)).save(images / "a.jpg")
    onto = tmp_path / "onto.yaml"
    onto.write_text("classes: [car]\n")
    out.mkdir()
    (out / "labels.sqlite.lock").symlink_to(precious)
    # The default teacher is not on this machine: it is never looked for.
    args = ["label", str(images), "-O", str(onto), "--segmenter", "none", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "labels.sqlite.lock is a symbolic link" in result.output
    assert "loading teacher" not in result.output
    assert precious.read_text() == "precious\n"


def test_merge_and_review_import_refuse_a_lock_link(tmp_path, precious):
    shard = a_store(tmp_path / "shard")
    out = tmp_path / "merged"
    out.mkdir()
    (out / "labels.sqlite.lock").symlink_to(precious)
    result = runner.invoke(app, ["merge", str(out), str(shard)])
    assert result.exit_code == 2, result.output
    assert "is a symbolic link" in result.output
    (shard / "labels.sqlite.lock").unlink()
    (shard / "labels.sqlite.lock").symlink_to(precious)
    corrections = tmp_path / "corrections.json"
    corrections.write_text('{"images": [], "annotations": [], "categories": []}')
    result = runner.invoke(app, ["review", "import", str(shard), str(corrections)])
    assert result.exit_code == 2, result.output
    assert "is a symbolic link" in result.output
    assert precious.read_text() == "precious\n"


def test_markers_and_written_files_never_follow_a_link(tmp_path, precious):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".distil-output").symlink_to(precious)
    with pytest.raises(LinkRefusedError):
        mark_output(out)
    (out / "a.txt").symlink_to(precious)
    with pytest.raises(LinkRefusedError):
        atomic_write_text(out / "a.txt", "x")
    with pytest.raises(LinkRefusedError):
        write_bytes(out / "a.txt", b"x")
    with pytest.raises(LinkRefusedError):
        copy_file(tmp_path / "precious.txt", out / "a.txt")
    assert precious.read_text() == "precious\n"
    assert (out / ".distil-output").is_symlink() and (out / "a.txt").is_symlink()


def test_a_store_error_is_still_a_store_error(tmp_path):
    with pytest.raises(StoreError, match="no label store"):
        LabelStore.open(tmp_path)
