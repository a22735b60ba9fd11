"""Database errors, memory errors and signals end in one line that names the file, with
exit 2 for bad input and 143 for SIGTERM; a terminated run resumes to the same dataset."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.cli.common import handle_errors
from distil.detections import FrameIdentity, empty_detections
from distil.store import LabelStore, StoreBatch, StoredFrame, StoreError
from distil.store.errors import database_error
from tests.conftest import shapes_image

runner = CliRunner()
SETTINGS = {
    "prompts": [["car", ["car"]]],
    "detector": {"family": "crafted", "model": "d", "revision": "r"},
    "segmenter": None,
    "store_threshold": 0.1,
}


def small_store(folder: Path, frames: int = 50) -> Path:
    with LabelStore.create(folder, SETTINGS) as store:
        store.set_ontology({"classes": {"car": "car"}})
        batch = StoreBatch(
            [
                StoredFrame(
                    FrameIdentity(Path(f"{i}.jpg"), Path("."), f"h{i}"), 8, 8, empty_detections()
                )  # fmt: skip
                for i in range(frames)
            ]
        )
        store.write_batch(batch)
    return folder


def export(folder: Path):
    return runner.invoke(app, ["export", str(folder), "--to", str(folder.parent / "ds")])


def test_a_file_that_is_not_a_database(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "labels.sqlite").write_bytes(b"these are my notes, not a database" * 50)
    result = export(tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "labels.sqlite is not a SQLite database" in result.output


def test_a_malformed_store(tmp_path):
    store = small_store(tmp_path / "run", frames=400) / "labels.sqlite"
    data = bytearray(store.read_bytes())
    page = 4096
    data[2 * page : len(data) - page] = b"\x07" * (len(data) - 3 * page)  # inner pages
    store.write_bytes(bytes(data))
    result = export(tmp_path / "run")
    assert result.exit_code == 2, result.output
    assert "labels.sqlite is damaged" in result.output or "not a SQLite database" in result.output


def test_a_full_disk_while_writing_names_the_store_and_keeps_what_was_stored(tmp_path):
    folder = small_store(tmp_path / "run", frames=5)
    store = LabelStore.create(folder, SETTINGS)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL
    big = StoreBatch(
        [
            StoredFrame(
                FrameIdentity(Path(f"x{i}.jpg"), Path("."), f"x{i}" * 200), 8, 8, empty_detections()
            )  # fmt: skip
            for i in range(200)
        ]
    )
    with pytest.raises(StoreError, match="the disk is full; free some space and rerun"):
        store.write_batch(big)
    store.close()
    with LabelStore.open(folder) as reopened:
        assert reopened.count() == (5, 5)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("file is not a database", "is not a SQLite database"),
        ("database disk image is malformed", "is damaged"),
        ("database or disk is full", "the disk is full"),
        ("disk I/O error", "disk I/O error while using the store"),
        ("attempt to write a readonly database", "cannot be written"),
        ("unable to open database file", "cannot be opened"),
    ],
)
def test_sqlite_errors_become_one_line_naming_the_store(message, expected):
    error = database_error(Path("runs/x/labels.sqlite"), sqlite3.OperationalError(message))
    assert isinstance(error, StoreError)
    assert str(error).startswith("runs/x/labels.sqlite") and expected in str(error)


@pytest.mark.parametrize(
    ("raised", "code", "words"),
    [
        (MemoryError(), 2, "out of memory"),
        (sqlite3.DatabaseError("database disk image is malformed"), 2, "database error"),
        (RecursionError(), 2, "nested too deeply"),
    ],
)
def test_last_resort_errors_are_one_line_with_an_exit_code(raised, code, words, capsys):
    @handle_errors
    def command() -> None:
        raise raised

    with pytest.raises(typer.Exit) as stopped:
        command()
    assert stopped.value.exit_code == code
    assert words in capsys.readouterr().err


def label_command(images: Path, ontology: Path, detector: str, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "distil", "label", str(images), "-O", str(ontology),
        "--detector", detector, "--segmenter", "none", "--device", "cpu",
        "--batch-size", "1", "--out", str(out), "--json",
    ]  # fmt: skip


def stored(out: Path) -> int:
    try:
        with sqlite3.connect(f"file:{out / 'labels.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigterm_stops_like_ctrl_c_and_the_rerun_gives_the_same_dataset(
    tmp_path, tiny_grounding_dino
):
    images = tmp_path / "images"
    images.mkdir()
    for i in range(60):
        Image.fromarray(shapes_image(i, (240, 320))).save(images / f"{i:02d}.jpg")
    ontology = tmp_path / "onto.yaml"
    ontology.write_text("classes:\n  car: car\n  dog: dog\n")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        label_command(images, ontology, tiny_grounding_dino, killed), env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while stored(killed) < 3 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    assert "terminated; rerun the same command to resume" in err
    assert 3 <= stored(killed) < 60
    assert not (killed / "labels.sqlite.lock").read_text()  # released on the way out

    resumed = subprocess.run(
        label_command(images, ontology, tiny_grounding_dino, killed), env=env,
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = json.loads(resumed.stdout)
    assert summary["already_labeled"] >= 3 and summary["labeled"] + summary["already_labeled"] == 60

    straight = tmp_path / "straight"
    subprocess.run(
        label_command(images, ontology, tiny_grounding_dino, straight), env=env,
        capture_output=True, check=True,
    )  # fmt: skip
    for out in (killed, straight):
        result = runner.invoke(app, ["export", str(out), "--to", str(out / "ds"), "--json"])
        assert result.exit_code == 0, result.output
    labels = {
        name: {p.name: p.read_text() for p in (tmp_path / name / "ds").rglob("labels/*/*.txt")}
        for name in ("killed", "straight")
    }
    assert len(labels["straight"]) == 60 and labels["killed"] == labels["straight"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--name", "../../escaped"], "name: must be a plain folder name"),
        (["--name", "a/b"], "name: must be a plain folder name"),
        (["--project", "../outside"], "project: must be a folder path without '..'"),
    ],
)
def test_train_run_folders_cannot_escape_the_project(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = runner.invoke(app, ["train", str(tmp_path), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["work"]
    assert list((tmp_path / "work").iterdir()) == []
