"""A full disk, a read-only folder and a file where a folder goes are each one line with
exit 2 naming the path, and the dataset there before stays intact."""

from __future__ import annotations

import errno
import pathlib
from pathlib import Path

from typer.testing import CliRunner

from distil.cli import app
from tests.cli.test_exit_codes import small_store
from tests.sources.test_odd_inputs import run_unprivileged
from tests.store.test_portable import image_store

runner = CliRunner()


def exported_store(tmp_path: Path) -> Path:
    from PIL import Image

    from tests.conftest import shapes_image

    images = tmp_path / "imgs"
    images.mkdir()
    for i in range(3):
        Image.fromarray(shapes_image(i)).save(images / f"{i}.png")
    image_store(tmp_path / "run", sorted(images.iterdir()), images)
    return tmp_path / "run"


def test_an_export_that_fills_the_disk_is_one_line_and_keeps_the_old_dataset(tmp_path, monkeypatch):
    store = exported_store(tmp_path)
    target = tmp_path / "ds"
    assert runner.invoke(app, ["export", str(store), "--to", str(target)]).exit_code == 0
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    real_write = pathlib.Path.write_text

    def write_until_full(self, *args, **kwargs):
        if self.name == "1.txt":  # the disk fills up while the second label file is written
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "write_text", write_until_full)
    result = runner.invoke(app, ["export", str(store), "--to", str(target)])
    assert result.exit_code == 2, result.output
    assert "1.txt: the disk is full; free some space and rerun" in result.output
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert not [p for p in tmp_path.iterdir() if ".staging-" in p.name]


def test_to_a_regular_file_is_one_line(tmp_path):
    store = small_store(tmp_path / "run", frames=1)
    (tmp_path / "notes.txt").write_text("mine")
    result = runner.invoke(app, ["export", str(store), "--to", str(tmp_path / "notes.txt")])
    assert result.exit_code == 2, result.output
    assert "notes.txt is a file, not a folder" in result.output
    assert (tmp_path / "notes.txt").read_text() == "mine"


def invoke(folder: Path, *args: str) -> tuple[int, str]:
    """The command's exit code and output (`folder`: what `run_unprivileged` opens up)."""
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_export_and_preview_into_a_read_only_folder_are_one_line(tmp_path):
    store = exported_store(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    code, output = run_unprivileged(invoke, store, "export", str(store), "--to", str(locked / "ds"))
    assert code == 2, output
    assert "permission denied" in output and str(locked) in output
    store.chmod(0o555)
    code, output = run_unprivileged(invoke, store, "preview", str(store))
    assert code == 2, output
    assert "permission denied" in output or "read-only" in output
