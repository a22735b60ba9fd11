"""Merges are all or nothing, and a damaged store is refused by every writer: SQLite's
quick check runs when a store is opened for writing (and on every store a merge reads)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.detections import FrameIdentity, empty_detections
from distil.store import LabelStore, StoreBatch, StoredFrame, StoreError, VideoProgress
from tests.store.test_locking import SETTINGS

runner = CliRunner()


def store_of(folder: Path, names: list[str], settings: dict = SETTINGS) -> Path:
    with LabelStore.create(folder, settings) as store:
        store.set_ontology({"classes": {"car": "car"}})
        frames = [
            StoredFrame(FrameIdentity(Path(n), Path("."), n), 8, 8, empty_detections())
            for n in names
        ]
        video = VideoProgress("v1", {"window": list(range(2000))})  # a few pages of state
        store.write_batch(StoreBatch(frames, video=video))
    return folder


def frames_of(folder: Path) -> list[str]:
    with LabelStore.open(folder) as store:
        return sorted(key for key, _ in store.sources())


def damage_table(folder: Path, table: str) -> None:
    """Overwrite the root page of `table` with garbage, as a bad disk sector would."""
    path = folder / "labels.sqlite"
    with sqlite3.connect(path) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        (root,) = db.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    data = bytearray(path.read_bytes())
    data[(root - 1) * page_size : root * page_size] = b"\x5a" * page_size
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("bad", ["other job", "damaged"])
def test_a_merge_with_a_bad_store_writes_nothing(tmp_path, bad):
    good = store_of(tmp_path / "good", ["a.jpg", "b.jpg"])
    other = {**SETTINGS, "store_threshold": 0.5} if bad == "other job" else SETTINGS
    broken = store_of(tmp_path / "bad", ["c.jpg"], other)
    if bad == "damaged":
        damage_table(broken, "videos")
    result = runner.invoke(app, ["merge", str(tmp_path / "new"), str(good), str(broken)])
    assert result.exit_code == 2, result.output
    assert not (tmp_path / "new" / "labels.sqlite").exists()  # nothing half-merged
    existing = store_of(tmp_path / "existing", ["z.jpg"])
    result = runner.invoke(app, ["merge", str(existing), str(good), str(broken)])
    assert result.exit_code == 2, result.output
    assert frames_of(existing) == ["z.jpg"]


def test_a_store_with_a_damaged_table_is_refused_for_writing(tmp_path):
    folder = store_of(tmp_path / "run", ["a.jpg"])
    damage_table(folder, "videos")
    with pytest.raises(StoreError, match="is damaged"):
        LabelStore.create(folder, SETTINGS)
    with pytest.raises(StoreError, match="is damaged"):
        LabelStore.edit(folder)


def test_a_good_merge_still_merges(tmp_path):
    one = store_of(tmp_path / "one", ["a.jpg"])
    two = store_of(tmp_path / "two", ["b.jpg", "a.jpg"])
    result = runner.invoke(app, ["merge", str(tmp_path / "all"), str(one), str(two), "--json"])
    assert result.exit_code == 0, result.output
    assert frames_of(tmp_path / "all") == ["a.jpg", "b.jpg"]


def test_a_tampered_schema_version_is_one_line(tmp_path):
    folder = store_of(tmp_path / "run", ["a.jpg"])
    with sqlite3.connect(folder / "labels.sqlite") as db:
        db.execute("PRAGMA user_version = 0")
        db.execute("UPDATE meta SET value = 'five' WHERE key = 'schema_version'")
    result = runner.invoke(app, ["export", str(folder), "--to", str(tmp_path / "ds")])
    assert result.exit_code == 2, result.output
    assert "its schema version 'five' is not a number" in result.output
    assert "invalid literal" not in result.output
