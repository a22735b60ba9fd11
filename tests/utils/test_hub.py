"""An unreachable hub: a model that is not cached fails in seconds with one line naming the
fixes; a cached one is used offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from PIL import Image

# Nothing listens on port 9 (discard) here: every request is refused at once, as a
# firewalled CI runner refuses the hub.
UNREACHABLE = "http://127.0.0.1:9"


def hub_env(hf_home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    return {**env, "HF_ENDPOINT": UNREACHABLE, "HF_HOME": str(hf_home), "COLUMNS": "200"}


def label(tmp_path: Path, detector: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    images = tmp_path / "images"
    images.mkdir(exist_ok=True)
    Image.new("RGB", (64, 48), "gray").save(images / "a.jpg")
    (tmp_path / "onto.yaml").write_text("classes: {car: car}\n")
    command = [
        sys.executable,
        "-m",
        "distil",
        "label",
        str(images),
        "-O",
        str(tmp_path / "onto.yaml"),
    ]
    command += ["--detector", detector, "--segmenter", "none", "--out", str(tmp_path / "out")]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_an_unreachable_model_fails_fast_with_the_fixes(tmp_path):
    start = time.perf_counter()
    result = label(tmp_path, "IDEA-Research/grounding-dino-tiny", hub_env(tmp_path / "hf"))
    elapsed = time.perf_counter() - start
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) <= 3, result.stderr
    error = lines[-1]
    assert "IDEA-Research/grounding-dino-tiny" in error
    for fix in ("local model folder", "HF_HUB_OFFLINE=1", ".pt teacher"):
        assert fix in error
    assert elapsed < 20, elapsed  # seconds, not the minute of retries huggingface_hub makes


def test_a_missing_local_folder_is_named_as_a_folder(tmp_path):
    result = label(tmp_path, "./models/gdino", hub_env(tmp_path / "hf"))
    assert result.returncode == 2
    assert "model folder not found: ./models/gdino" in result.stderr


def test_a_cached_model_is_used_when_the_hub_cannot_be_reached(tmp_path, tiny_owlv2):
    hf_home = tmp_path / "hf"
    commit = "0" * 40
    repo = hf_home / "hub" / "models--tiny--owlv2"
    shutil.copytree(tiny_owlv2, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    result = label(tmp_path, "tiny/owlv2", hub_env(hf_home))
    assert result.returncode == 0, result.stderr
    assert "using cached models" in result.stderr
    assert (tmp_path / "out" / "labels.sqlite").is_file()


def test_with_hf_hub_offline_set_the_error_does_not_say_to_set_it(tmp_path):
    env = {**hub_env(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = label(tmp_path, "IDEA-Research/grounding-dino-tiny", env)
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "HF_HUB_OFFLINE is set" in error and "run with HF_HUB_OFFLINE=1" not in error
    assert "configs/yolo-run.yaml" in error


def test_a_yolo_teacher_with_an_unreachable_segmenter_is_told_segmenter_none(tmp_path):
    import torch

    from distil.utils.ultralytics import import_ultralytics

    model = import_ultralytics().YOLO("yolo11n.yaml").model  # random weights: a real .pt
    torch.save({"model": model, "train_args": {}}, tmp_path / "teacher.pt")
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (64, 48), "gray").save(images / "a.jpg")
    (tmp_path / "onto.yaml").write_text("classes: {person: person}\n")
    command = [sys.executable, "-m", "distil", "label", str(images), "-O",
               str(tmp_path / "onto.yaml"), "--detector", str(tmp_path / "teacher.pt"),
               "--out", str(tmp_path / "out")]  # fmt: skip
    result = subprocess.run(
        command, env=hub_env(tmp_path / "hf"), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "--segmenter none" in error and ".pt teacher" not in error
