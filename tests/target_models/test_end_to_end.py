"""YOLO26 (an NMS-free head) exports end to end: the ONNX file holds the one-to-one
head's top-k detections, no NMS outside the model; the parity check compares the
detections both runtimes keep, and `distil predict` and `benchmark-student` take it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app


@pytest.fixture(scope="module")
def yolo26(tmp_path_factory) -> Path:
    """A YOLO26n whose one-to-one class head gives well spread scores (a fresh one gives
    every anchor the same score, and the check would have no detection to compare)."""
    import torch

    from distil.utils.ultralytics import load_yolo

    folder = tmp_path_factory.mktemp("yolo26")
    torch.manual_seed(0)  # the same model whatever ran before
    yolo = load_yolo("yolo26n.yaml")
    head = yolo.model.model[-1]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in head.one2one_cv3.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * 0.3)
        for branch in head.one2one_cv3:
            branch[-1].bias.fill_(-2.0)  # scores around 0.1-0.9, not the prior's 1e-4
    yolo.overrides["imgsz"] = 160
    yolo.save(folder / "yolo26n.pt")
    return folder / "yolo26n.pt"


def test_the_onnx_export_is_end_to_end_and_matches_pytorch(yolo26, tmp_path):
    import onnxruntime as ort

    runner = CliRunner()
    exported = runner.invoke(app, ["export-model", str(yolo26), "--imgsz", "160", "--json"])
    assert exported.exit_code == 0, exported.output
    (result,) = json.loads(exported.stdout)["exports"]
    check = result["check"]
    assert check["passed"] and check["end_to_end_rows_compared"] >= 20, check
    session = ort.InferenceSession(result["path"], providers=["CPUExecutionProvider"])
    assert session.get_outputs()[0].shape == [1, 300, 6]  # detections, not raw anchors

    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(
            images / f"{i}.jpg"
        )
    predicted = runner.invoke(
        app, ["predict", result["path"], str(images), "--conf", "0.01", "--out",
              str(tmp_path / "predicted"), "--json"],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    assert json.loads(predicted.stdout)["frames"] == 2
    timed = runner.invoke(
        app, ["benchmark-student", result["path"], "--imgsz", "160", "--runs", "3", "--json"]
    )
    assert timed.exit_code == 0, timed.output
