"""What users bring from Ultralytics' `yolo` CLI and from any terminal tool: GPU numbers,
`-h`, `--batch`, text printed as written, help that reads at 80 columns."""

from __future__ import annotations

import re

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.utils.device import gpu_indices, resolve_device, ultralytics_device

runner = CliRunner()
COMMANDS = [
    "label",
    "export",
    "export-model",
    "preview",
    "train",
    "eval",
    "predict",
    "benchmark-student",
    "run",
]


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)


@pytest.mark.parametrize(
    ("device", "indices"),
    [("auto", None), ("cpu", None), ("0", [0]), ("1", [1]), ("0,1", [0, 1]), ("cuda", [0]),
     ("cuda:1", [1]), (" CUDA:0 ", [0])],
)  # fmt: skip
def test_gpu_numbers_as_in_ultralytics(two_gpus, device, indices):
    assert gpu_indices(device) == indices


@pytest.mark.parametrize(
    ("device", "expected"), [("0", "0"), ("0,1", "0,1"), ("cuda:1", "1"), ("cpu", "cpu")]
)
def test_training_takes_several_gpus(two_gpus, device, expected):
    assert ultralytics_device(device) == expected


@pytest.mark.parametrize(
    ("device", "message"),
    [("2", "--device 2: GPU 2 does not exist; this machine has 2"),
     ("0,3", "--device 0,3: GPU 3 does not exist"),
     ("cuda:5", "--device cuda:5: GPU 5 does not exist")],
)  # fmt: skip
def test_a_gpu_that_is_not_there_names_the_flag(two_gpus, device, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        gpu_indices(device)


def test_labeling_takes_one_device(two_gpus):
    assert resolve_device("1") == torch.device("cuda", 1)
    with pytest.raises(ValueError, match="--device 0,1: this command runs on one device"):
        resolve_device("0,1")


@pytest.mark.parametrize("command", ["train", "label"])
@pytest.mark.parametrize("device", ["0", "0,1", "cuda:0"])
def test_a_gpu_on_a_machine_without_one_is_exit_2(tmp_path, monkeypatch, command, device):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    (tmp_path / "onto.yaml").write_text("classes: {car: car}\n")
    Image.new("RGB", (32, 32)).save(tmp_path / "a.jpg")
    args = {
        "train": ["train", str(tmp_path), "--epochs", "1"],
        "label": ["label", str(tmp_path / "a.jpg"), "-O", str(tmp_path / "onto.yaml")],
    }[command]
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images\nval: images\nnames: [car]\n")
    result = runner.invoke(app, [*args, "--device", device])
    assert result.exit_code == 2, result.output
    assert f"--device {device}: no CUDA GPU on this machine" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_dash_h_is_help(command):
    result = runner.invoke(app, [command, "-h"])
    assert result.exit_code == 0 and result.output.startswith(f"Usage: distil {command}")


def test_the_ontology_is_dash_capital_o():
    result = runner.invoke(app, ["label", "x.jpg", "-o", "onto.yaml"])
    assert result.exit_code == 2 and "No such option: -o" in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_help_reads_at_80_columns(command):
    result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in result.output and "<bool>" not in result.output
    options = lines[lines.index("Options:") + 1 :]
    for i, line in enumerate(options):
        if not line.startswith("  -"):
            continue
        # Help on the same line after the name, or on the next, indented further.
        same_line = re.match(r"  (-\S+(?:, -\S+)?(?: / \S+)?(?: \S+)?) {2,}\S", line)
        next_line = i + 1 < len(options) and options[i + 1].startswith(" " * 8)
        assert same_line or next_line, f"{command}: no help for {line.strip()}"


def test_square_brackets_print_as_written(tmp_path, tiny_owlv2):
    """rich markup would eat `[train]` and `[1]`: errors, warnings and summaries keep them."""
    (tmp_path / "o.yaml").write_text("classes: {car: car}\n")
    missing = runner.invoke(
        app, ["label", str(tmp_path / "data[train]"), "-O", str(tmp_path / "o.yaml")]
    )
    assert missing.exit_code == 2
    assert f"input not found: {tmp_path / 'data[train]'}" in missing.output

    images = tmp_path / "data[train]"
    images.mkdir()
    Image.new("RGB", (64, 48), "gray").save(images / "good[0].jpg")
    (images / "bad[1].jpg").write_bytes(b"not an image")
    out = tmp_path / "labels[v2]"
    result = runner.invoke(
        app,
        ["label", str(images), "-O", str(tmp_path / "o.yaml"), "--detector", tiny_owlv2,
         "--segmenter", "none", "--device", "cpu", "--out", str(out)],
        env={"COLUMNS": "60"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"-> {out}" in result.output  # one line however long: never split mid-path
    assert f"skipped {images / 'bad[1].jpg'}: not a readable image" in result.output
    # Without a terminal, progress is a plain line (every 30 s, and at the end).
    assert re.search(r"^labeling 2/2 img, [\d.]+ img/s, \d+s$", result.output, re.M)


def test_an_extra_in_a_message_prints_as_written(tmp_path, monkeypatch):
    from distil.target_models import export

    monkeypatch.setitem(
        export.FORMAT_PACKAGES, export.ModelFormat.OPENVINO, ("no_such_module", "openvino")
    )
    (tmp_path / "best.pt").write_bytes(b"weights")
    result = runner.invoke(app, ["export-model", str(tmp_path / "best.pt"), "-f", "openvino"])
    assert result.exit_code == 2
    assert 'pip install "distil[openvino]"' in result.output
