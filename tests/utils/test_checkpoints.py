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
