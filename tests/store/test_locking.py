"""One writer per store: a second writer is refused naming the holder, a dead holder's lock
is taken over, racing creators give exactly one winner, and readers work on stores they
cannot write."""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.detections import FrameIdentity, empty_detections
from distil.store import LabelStore, StoreBatch, StoredFrame, StoreError
from distil.store.lock import StoreLock, writer_of

SETTINGS = {
    "prompts": [["car", ["car"]]],
    "detector": {"family": "crafted", "model": "d", "revision": "r"},
    "segmenter": None,
    "store_threshold": 0.1,
}

HOLD = """
import sys, time
from pathlib import Path
from distil.store import LabelStore
shard = tuple(map(int, sys.argv[2].split("/"))) if len(sys.argv) > 2 else None
store = LabelStore.create(Path(sys.argv[1]), {"prompts": [["car", ["car"]]], "detector": {
    "family": "crafted", "model": "d", "revision": "r"}, "segmenter": None, "store_threshold": 0.1},
    shard=shard)
print("holding", flush=True)
time.sleep(60)
"""


def hold_store(folder: Path, shard: str | None = None) -> subprocess.Popen:
    """Another process that opened `folder` for labeling (as `shard` i/N) and keeps writing."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(folder), *([shard] if shard else [])],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "holding"
    return process


def one_frame(store: LabelStore, name: str) -> None:
    identity = FrameIdentity(Path(name), Path("."), name)
    store.write_batch(StoreBatch([StoredFrame(identity, 8, 8, empty_detections())]))


def test_a_second_writer_is_refused_naming_the_holder(tmp_path):
    holder = hold_store(tmp_path / "run")
    try:
        with pytest.raises(StoreError) as refused:
            LabelStore.create(tmp_path / "run", SETTINGS)
        message = str(refused.value)
        assert f"pid {holder.pid} on {socket.gethostname()} since 20" in message
        with pytest.raises(StoreError, match="being written"):
            LabelStore.create(tmp_path / "run", SETTINGS, overwrite=True)
        holding = writer_of(tmp_path / "run" / "labels.sqlite")
        assert holding is not None and holding.pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_overwrite_during_another_run_is_refused_and_its_labels_stay(
    tmp_path, image_folder, tiny_grounding_dino
):
    """The CLI path: `distil label --overwrite` into a store another process is filling."""
    out = tmp_path / "run"
    with LabelStore.create(out, SETTINGS) as store:
        one_frame(store, "kept")
    holder = hold_store(out)
    try:
        (tmp_path / "onto.yaml").write_text("classes:\n  car: car\n")
        result = CliRunner().invoke(
            app,
            ["label", str(image_folder), "-O", str(tmp_path / "onto.yaml"), "--detector",
             tiny_grounding_dino, "--segmenter", "none", "--out", str(out), "--overwrite"],
        )  # fmt: skip
        assert result.exit_code == 2, result.output
        assert f"pid {holder.pid}" in result.output
    finally:
        holder.kill()
        holder.wait()
    with LabelStore.open(out) as store:
        assert store.has("kept")


def test_a_killed_writers_lock_is_taken_over(tmp_path, caplog):
    holder = hold_store(tmp_path / "run")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    lock_file = tmp_path / "run" / "labels.sqlite.lock"
    assert str(holder.pid) in lock_file.read_text()  # the dead holder's record is still there
    assert writer_of(tmp_path / "run" / "labels.sqlite") is None
    with (
        caplog.at_level("INFO", logger="distil.store.lock"),
        LabelStore.create(tmp_path / "run", SETTINGS) as store,
    ):
        one_frame(store, "after")
    assert f"left by pid {holder.pid}" in caplog.text
    assert lock_file.read_text() == ""  # released on close


def _create(folder: Path, prompt: str, start, results) -> None:
    start.wait()
    try:
        with LabelStore.create(folder, {**SETTINGS, "prompts": [[prompt, [prompt]]]}) as store:
            one_frame(store, prompt)
            time.sleep(0.05)
        results.put(prompt)
    except StoreError:
        results.put(None)


def test_two_processes_creating_one_store_with_different_prompts_one_wins(tmp_path):
    fork = multiprocessing.get_context("fork")
    for attempt in range(30):
        folder = tmp_path / f"race{attempt}"
        start, results = fork.Barrier(2), fork.Queue()
        workers = [fork.Process(target=_create, args=(folder, p, start, results)) for p in "ab"]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(30)
        winners = [w for w in (results.get(timeout=5), results.get(timeout=5)) if w]
        assert len(winners) == 1, (attempt, winners)
        with LabelStore.open(folder) as store:
            assert store.settings["prompts"] == [[winners[0], [winners[0]]]]


def test_the_lock_is_held_while_writing_and_released_on_close(tmp_path):
    store = LabelStore.create(tmp_path / "run", SETTINGS)
    assert writer_of(store.path) is not None and store.writer() is None
    with LabelStore.open(tmp_path / "run") as reader:
        assert reader.writer().pid == os.getpid()
    store.close()
    assert writer_of(store.path) is None
    with StoreLock(store.path):  # free again
        pass


def test_a_foreign_sqlite_file_is_never_touched(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    foreign = folder / "labels.sqlite"
    with sqlite3.connect(foreign) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
        db.execute("INSERT INTO invoices VALUES (7)")
    db.close()
    before = foreign.read_bytes()
    for overwrite in (False, True):
        with pytest.raises(StoreError, match="not a distil label store.*invoices"):
            LabelStore.create(folder, SETTINGS, overwrite=overwrite)
    with pytest.raises(StoreError, match="not a distil label store"):
        LabelStore.open(folder)
    assert foreign.read_bytes() == before


def read_only_reader(folder: Path, out: Path) -> None:
    """Export and preview the store in `folder` as a user who cannot write it."""
    from distil.datasets import export_dataset
    from distil.reports import render_preview

    summary = export_dataset(folder, out / "ds")
    assert summary.images == 1, summary
    render_preview(folder, out / "preview.png", num=1)
    with LabelStore.open(folder) as store:
        assert store.count() == (1, 1)


def test_readers_work_on_a_store_they_cannot_write(tmp_path):
    from PIL import Image

    from distil.sources import read_file

    shared = Path(os.environ.get("TMPDIR", "/tmp")) / f"distil-ro-{os.getpid()}"
    shared.mkdir(mode=0o755)
    try:
        images = shared / "images"
        images.mkdir()
        Image.new("RGB", (32, 24), (10, 200, 30)).save(images / "a.jpg")
        _, digest, stamp = read_file(images / "a.jpg")
        with LabelStore.create(shared / "run", SETTINGS) as store:
            store.set_ontology({"classes": {"car": "car"}})
            identity = FrameIdentity(images / "a.jpg", images, digest, stamp=stamp)
            store.write_batch(StoreBatch([StoredFrame(identity, 32, 24, empty_detections())]))
        out = shared / "out"
        out.mkdir(mode=0o777)
        out.chmod(0o777)
        for path in (shared / "run", *(shared / "run").iterdir()):
            path.chmod(0o555 if path.is_dir() else 0o444)
        before = {p.name: p.read_bytes() for p in (shared / "run").iterdir() if p.is_file()}
        run_as_other_user(read_only_reader, shared / "run", out)
        after = {p.name: p.read_bytes() for p in (shared / "run").iterdir() if p.is_file()}
        assert after == before
        assert (out / "ds" / "data.yaml").is_file()
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(shared)], check=False)
        subprocess.run(["rm", "-rf", str(shared)], check=False)


def run_as_other_user(function, *args) -> None:
    """Run `function(*args)` where file permissions hold: in a forked child that drops to
    `nobody` when the tests run as root (root may write anything)."""
    if os.geteuid() != 0:
        function(*args)
        return
    import cv2  # noqa: F401 - imported before dropping privileges: /root is unreadable then
    import supervision  # noqa: F401

    import distil.datasets.export  # noqa: F401
    import distil.reports.preview  # noqa: F401

    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            function(*args)
            code = 0
        except BaseException as e:  # noqa: BLE001
            sys.stderr.write(f"{type(e).__name__}: {e}\n")
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_shards_share_a_store_but_each_runs_once(tmp_path):
    folder = tmp_path / "run"
    holder = hold_store(folder, "1/2")
    try:
        with LabelStore.create(folder, SETTINGS, shard=(2, 2)) as store:
            one_frame(store, "b")  # the other shard writes beside it
            assert writer_of(store.path).pid == holder.pid
        with pytest.raises(StoreError) as twice:
            LabelStore.create(folder, SETTINGS, shard=(1, 2))
        assert f"(shard 1/2) is being written by pid {holder.pid}" in str(twice.value)
        with pytest.raises(StoreError) as unsharded:
            LabelStore.create(folder, SETTINGS)
        assert f"shards of a label run (pid {holder.pid} on" in str(unsharded.value)
    finally:
        holder.kill()
        holder.wait()
    with LabelStore.create(folder, SETTINGS) as store:  # the shard is gone: the lock is free
        assert store.count()[1] == 1


def test_a_shard_waits_for_no_unsharded_writer(tmp_path):
    holder = hold_store(tmp_path / "run")
    try:
        with pytest.raises(StoreError) as refused:
            LabelStore.create(tmp_path / "run", SETTINGS, shard=(1, 3))
        assert f"is being written by pid {holder.pid}" in str(refused.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_shard_cannot_overwrite(tmp_path):
    with pytest.raises(StoreError, match="afresh"):
        LabelStore.create(tmp_path / "run", SETTINGS, overwrite=True, shard=(1, 2))
    result = CliRunner().invoke(
        app,
        ["label", str(tmp_path), "-O", str(tmp_path / "o.yaml"), "--shard", "1/2", "--overwrite"],
    )
    assert result.exit_code == 2
    assert "would delete the labels of the other shards" in result.output
