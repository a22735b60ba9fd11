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
