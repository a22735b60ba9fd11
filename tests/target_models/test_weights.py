"""Pretrained student weights: found in the cache, downloaded through Ultralytics into it,
or, when none can be had, a YAML start that is said once. No test touches the network: a
local HTTP server stands in for the download site."""

from __future__ import annotations

import functools
import http.server
import logging
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.target_models import StudentTask, resolve_student
from distil.utils.weights import weights_cache
from tests.synthetic import make_shapes_dataset


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """Real Ultralytics checkpoints (random weights) to stand in for yolo11n.pt and, in the
    same release folder, yolo26n.pt (the default student)."""
    from distil.utils.ultralytics import load_yolo

    folder = tmp_path_factory.mktemp("release")
    load_yolo("yolo26n.yaml").save(folder / "yolo26n.pt")
    load_yolo("yolo11n.yaml").save(folder / "yolo11n.pt")
    return folder / "yolo11n.pt"


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("DISTIL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DISTIL_WEIGHTS_DIR", raising=False)
    return tmp_path / "cache" / "weights"


@pytest.fixture
def mirror(checkpoint, monkeypatch):
    """A download site on localhost serving the checkpoint's folder; yields its URL."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(checkpoint.parent)
    )
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("DISTIL_WEIGHTS_URL", url)
    monkeypatch.delenv("DISTIL_OFFLINE", raising=False)
    yield url
    server.shutdown()


def test_the_cache_is_documented_and_overridable(cache):
    assert weights_cache() == cache


def test_weights_in_the_cache_are_used_without_a_download(cache, checkpoint, monkeypatch):
    cache.mkdir(parents=True)
    (cache / "yolo11n.pt").write_bytes(checkpoint.read_bytes())
    monkeypatch.setenv("DISTIL_WEIGHTS_URL", "http://127.0.0.1:9")  # would fail if asked
    monkeypatch.delenv("DISTIL_OFFLINE", raising=False)
    source = resolve_student("yolo11n", StudentTask.DETECT, download=True)
    assert source.pretrained and source.model == str(cache / "yolo11n.pt")


def test_missing_weights_are_downloaded_into_the_cache(cache, checkpoint, mirror):
    source = resolve_student("yolo11n.pt", StudentTask.DETECT, download=True)  # as in `yolo`
    assert source.pretrained and source.model == str(cache / "yolo11n.pt")
    assert (cache / "yolo11n.pt").read_bytes() == checkpoint.read_bytes()
    assert [p.name for p in cache.iterdir()] == ["yolo11n.pt"]  # no partial file left


def test_no_weights_anywhere_trains_from_the_yaml_and_says_so_once(cache, monkeypatch, caplog):
    monkeypatch.setenv("DISTIL_WEIGHTS_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.delenv("DISTIL_OFFLINE", raising=False)
    with caplog.at_level(logging.WARNING, logger="distil"):
        source = resolve_student("yolo11n", StudentTask.DETECT, download=True)
    assert source.model == "yolo11n.yaml" and not source.pretrained
    [warning] = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "no pretrained yolo11n.pt" in warning and "random weights" in warning
    assert not cache.exists() or not list(cache.iterdir())


def test_train_starts_pretrained_and_logs_each_epoch(tmp_path, cache, mirror, monkeypatch):
    """A 1-epoch CLI run without a terminal: the weights come from the mirror, and the log
    has one `epoch N/M` line per epoch with its losses and metrics."""
    monkeypatch.chdir(tmp_path)
    data = make_shapes_dataset(tmp_path / "shapes", images=8, size=64)
    args = ["train", str(data), "--epochs", "1", "--imgsz", "64", "--batch", "4"]
    result = CliRunner().invoke(app, [*args, "--workers", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    epoch_lines = [line for line in result.output.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 1
    assert epoch_lines[0].startswith("epoch 1/1 box ") and "mAP50-95" in epoch_lines[0]
    assert "(pretrained)" in result.output and str(cache / "yolo26n.pt") in result.output
