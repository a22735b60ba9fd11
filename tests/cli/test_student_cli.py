import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from distil.cli import app
from distil.cli.common import EXIT_QUALITY, EXIT_USAGE
from tests.synthetic import make_shapes_dataset

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_help_on_every_new_command():
    for command in ("train", "eval", "predict", "benchmark-student", "run"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout


def test_train_eval_export_predict_benchmark_with_json(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_shapes_dataset(tmp_path / "shapes", images=12)
    result = invoke(
        "train",
        data,
        "--epochs",
        1,
        "--imgsz",
        64,
        "--batch",
        4,
        "--workers",
        0,
        "--device",
        "cpu",
        "--set",
        "plots=false",
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    trained = json.loads(result.stdout)
    assert trained["run_dir"].endswith("runs/train/exp") and trained["epochs"] == 1

    typo = invoke("train", data, "--set", "mosiac=0.5", "-q")
    assert typo.exit_code == EXIT_USAGE and "Did you mean 'mosaic'" in typo.output
    assert trained["licence"] == "agpl-3.0"
    refused = invoke("train", data, "--licence", "Apache-2.0,MIT")
    assert refused.exit_code == EXIT_USAGE
    assert "--licence apache-2.0,mit refuses --model yolo26n: it is AGPL-3.0" in refused.output

    result = invoke(
        "eval",
        data,
        "-g",
        data,
        "--split",
        "val",
        "--json",
        "-q",
        "--fail-under",
        "map50=0.99,f1=1",
    )
    assert result.exit_code == 0, result.output  # the labels judged against themselves
    report = json.loads(result.stdout)
    assert report["map50_95"] == pytest.approx(1.0) and report["images"] == 3
    assert (tmp_path / "runs/eval/exp/eval.json").is_file()

    result = invoke(
        "eval",
        trained["best"],
        "-g",
        data,
        "--imgsz",
        64,
        "--device",
        "cpu",
        "--fail-under",
        "map50=0.99",
        "-q",
    )
    assert result.exit_code == EXIT_QUALITY and "below the bar" in result.output
    bad = invoke("eval", data, "-g", data, "--fail-under", "mAP=0.5", "-q")
    assert bad.exit_code == EXIT_USAGE and "unknown metric" in bad.output

    result = invoke("export-model", trained["best"], "--imgsz", 64, "--json", "-q")
    assert result.exit_code == 0, result.output
    [exported] = json.loads(result.stdout)["exports"]
    assert exported["format"] == "onnx" and exported["check"]["passed"]
    wrong = invoke("export-model", trained["best"], "--format", "coco", "-q")
    assert wrong.exit_code == EXIT_USAGE and "--format: must be one of onnx" in wrong.output
    mixed_up = invoke("export", trained["best"])
    assert mixed_up.exit_code == EXIT_USAGE and "distil export-model" in mixed_up.output

    result = invoke("benchmark-student", exported["path"], "--imgsz", 64, "--runs", 3, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["latency"][0]["input"] == [1, 3, 64, 64]
    # A static 64 px model is not timed at 128 and reported as such.
    refused = invoke("benchmark-student", exported["path"], "--imgsz", "64,128", "--runs", 3)
    assert refused.exit_code == EXIT_USAGE
    assert "--imgsz 128" in refused.output and "64x64 inputs only" in refused.output
    # A .pt is exported once per size, out of the user's folder.
    weights = Path(trained["best"])
    before = sorted(weights.parent.iterdir())
    result = invoke("benchmark-student", weights, "--imgsz", "64,96", "--runs", 2, "--json")
    assert result.exit_code == 0, result.output
    inputs = [row["input"] for row in json.loads(result.stdout)["latency"]]
    assert inputs == [[1, 3, 64, 64], [1, 3, 96, 96]]
    assert sorted(weights.parent.iterdir()) == before

    result = invoke(
        "predict",
        trained["best"],
        data / "images/val",
        "--conf",
        0.5,
        "--device",
        "cpu",
        "--json",
        "-q",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["frames"] == 3


def test_run_gate_and_config_errors(tmp_path, monkeypatch, tiny_grounding_dino):
    monkeypatch.chdir(tmp_path)
    data = make_shapes_dataset(tmp_path / "shapes", images=8)
    (tmp_path / "onto.yaml").write_text("box_threshold: 0.0\nclasses:\n  square: square\n")
    config = {
        "inputs": str(data / "images"),
        "ontology": "onto.yaml",
        "name": "gate",
        "label": {
            "detector": tiny_grounding_dino,
            "segmenter": "none",
            "device": "cpu",
            "store_threshold": 0.0,
        },
        "train": {
            "epochs": 1,
            "imgsz": 64,
            "batch": 4,
            "workers": 0,
            "device": "cpu",
            "options": {"plots": False},
        },
        "export": {"benchmark": False},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    result = invoke("run", tmp_path / "run.yaml", "--fail-under", "map50=1.0", "--json", "-q")
    assert result.exit_code == EXIT_QUALITY, result.output
    summary = json.loads(result.stdout)
    assert summary["missed_bars"] and summary["report"].endswith("index.html")
    bad = invoke("run", tmp_path / "run.yaml", "--set", "train.epoch=2", "-q")
    assert bad.exit_code == EXIT_USAGE and "Did you mean 'epochs'" in bad.output
