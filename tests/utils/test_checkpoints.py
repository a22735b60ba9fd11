"""Checkpoints are data: a `.pt` carrying a pickled payload is refused by every command
that loads one, and the payload never runs; a Hugging Face folder that ships Python code
is refused without running it."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.utils.ultralytics import CheckpointError, import_ultralytics, load_yolo
from tests.synthetic import make_shapes_dataset

runner = CliRunner()


class Payload:
    """Unpickling this touches `marker`: the stand-in for any code an attacker ships."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """(a clean tiny YOLO checkpoint, the same with a payload, the payload's marker)."""
    folder = tmp_path_factory.mktemp("checkpoints")
    model = import_ultralytics().YOLO("yolo11n.yaml").model  # random weights, no download
    clean, evil, marker = folder / "clean.pt", folder / "evil.pt", folder / "PAYLOAD_RAN"
    torch.save({"model": model, "train_args": {}}, clean)
    torch.save({"model": model, "train_args": {}, "extra": Payload(marker)}, evil)
    Image.new("RGB", (64, 64), (90, 120, 30)).save(folder / "image.jpg")
    (folder / "onto.yaml").write_text("classes:\n  person: person\n")
    return clean, evil, marker


def test_a_clean_checkpoint_loads_and_a_payload_is_refused(checkpoints):
    clean, evil, marker = checkpoints
    assert load_yolo(clean).task == "detect"
    with pytest.raises(CheckpointError, match="refused.*pathlib"):
        load_yolo(evil)
    assert not marker.exists()


@pytest.mark.parametrize(
    "command",
    [
        ["label", "{dir}/image.jpg", "-O", "{dir}/onto.yaml", "--detector", "{evil}",
         "--segmenter", "none", "--out", "{dir}/labels"],
        ["predict", "{evil}", "{dir}/image.jpg", "--out", "{dir}/pred"],
        ["export-model", "{evil}"],
        ["benchmark-student", "{evil}", "--runs", "1"],
        ["train", "{dir}/data", "--model", "{evil}", "--epochs", "1"],
    ],
    ids=["label", "predict", "export", "benchmark-student", "train"],
)  # fmt: skip
def test_every_command_refuses_a_checkpoint_with_a_payload(checkpoints, command, tmp_path):
    _, evil, marker = checkpoints
    if command[0] == "train" and not (evil.parent / "data").exists():
        make_shapes_dataset(evil.parent / "data", images=4)  # so the model is what fails
    args = [a.format(dir=evil.parent, evil=evil) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "refused" in result.output and "never runs code" in result.output
    assert len(result.output.strip().splitlines()) <= 3  # one message (rich may wrap it)
    assert not marker.exists()


def test_eval_refuses_a_student_checkpoint_with_a_payload(checkpoints, tmp_path):
    _, evil, marker = checkpoints
    data = make_shapes_dataset(tmp_path / "gt", images=4)
    result = runner.invoke(app, ["eval", str(evil), "-g", str(data)])
    assert result.exit_code == 2, result.output
    assert "refused" in result.output
    assert not marker.exists()


def test_a_hugging_face_folder_with_code_is_refused_without_running_it(tmp_path):
    """`trust_remote_code` stays off: the config's `auto_map` module is never imported."""
    folder = tmp_path / "remote"
    folder.mkdir()
    marker = tmp_path / "REMOTE_CODE_RAN"
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "evil",
                "auto_map": {"AutoConfig": "evil_config.EvilConfig"},
            }
        )
    )
    (folder / "evil_config.py").write_text(
        f"import pathlib\npathlib.Path({str(marker)!r}).touch()\n"
        "from transformers import PretrainedConfig\n"
        "class EvilConfig(PretrainedConfig):\n    model_type = 'evil'\n"
    )
    (tmp_path / "onto.yaml").write_text("classes:\n  cat: cat\n")
    Image.new("RGB", (32, 32)).save(tmp_path / "a.jpg")
    result = runner.invoke(
        app,
        ["label", str(tmp_path / "a.jpg"), "-O", str(tmp_path / "onto.yaml"),
         "--detector", str(folder), "--segmenter", "none", "--out", str(tmp_path / "out")],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "never runs code" in result.output
    assert not marker.exists()


def test_hf_weights_with_a_payload_are_refused_with_exit_2(tiny_dir, tmp_path):
    from tests import tiny_models

    folder = tiny_models.build_owlv2(tmp_path / "owlv2-evil")
    for weights in folder.glob("*.safetensors"):
        weights.unlink()
    marker = tmp_path / "PAYLOAD_RAN"
    torch.save({"weight": Payload(marker)}, folder / "pytorch_model.bin")
    Image.new("RGB", (64, 64), (90, 120, 30)).save(tmp_path / "image.jpg")
    (tmp_path / "onto.yaml").write_text("classes: [car]\n")
    args = ["label", str(tmp_path / "image.jpg"), "-O", str(tmp_path / "onto.yaml")]
    result = runner.invoke(app, [*args, "--detector", str(folder), "--segmenter", "none",
                                 "--out", str(tmp_path / "out"), "--device", "cpu"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "refused: its weights hold Python objects" in result.output
    assert not marker.exists()


def test_a_model_yaml_with_code_in_activation_is_refused_before_training(tmp_path):
    data = make_shapes_dataset(tmp_path / "shapes", images=4)
    marker = tmp_path / "RAN"
    model = tmp_path / "model.yaml"
    model.write_text(
        f"nc: 2\nactivation: __import__('pathlib').Path('{marker}').touch()\n"
        "backbone:\n  - [-1, 1, Conv, [16, 3, 2]]\nhead:\n  - [[0], 1, Detect, [nc]]\n"
    )
    result = runner.invoke(app, ["train", str(data), "--model", str(model), "--epochs", "1"])
    assert result.exit_code == 2, result.output
    assert (
        "activation:" in result.output and "is not an activation such as nn.SiLU()" in result.output
    )
    assert not marker.exists()


@pytest.mark.parametrize("command", ["predict", "benchmark-student"])
def test_a_garbage_onnx_is_one_line_with_exit_2(tmp_path, command):
    model = tmp_path / "best.onnx"
    model.write_bytes(bytes(range(256)) * 4)
    (tmp_path / "image.jpg").write_bytes(b"")
    args = [command, str(model)] + ([str(tmp_path / "image.jpg")] if command == "predict" else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "best.onnx: not a readable ONNX model" in result.output
