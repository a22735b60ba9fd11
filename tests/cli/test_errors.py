"""Bugs are not bad input: distil's UsageErrors are exit 2 and one line; any other error
is exit 1, a line saying it is a bug and where to report it, and with `--verbose` or
DISTIL_DEBUG=1 its traceback."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from PIL import Image

from distil.cli.common import handle_errors
from distil.errors import ExportError, MissingInputError, UsageError
from tests.conftest import shapes_image

BUG = "this is a bug in distil"


@pytest.mark.parametrize(
    ("raised", "code", "words", "a_bug"),
    [
        (UsageError("--batch-size: must be at least 1"), 2, "--batch-size: must be", False),
        (MissingInputError("input not found: x"), 2, "input not found: x", False),
        (ExportError("best.onnx does not match PyTorch"), 1, "does not match PyTorch", False),
        (OSError(errno.ENOSPC, "No space left", "out/labels.sqlite"), 2, "disk is full", False),
        (FileNotFoundError(errno.ENOENT, "No such file", "a.jpg"), 2, "a.jpg: no such", False),
        (OSError(errno.ECONNRESET, "Connection reset"), 1, "Connection reset", False),
        (ValueError("operands could not be broadcast"), 1, "ValueError: operands", True),
        (AttributeError("'str' object has no attribute 'get'"), 1, "AttributeError", True),
        (KeyError("boxes"), 1, "KeyError: 'boxes'", True),
    ],
)
def test_what_each_error_says_and_its_exit_code(raised, code, words, a_bug, capsys, monkeypatch):
    monkeypatch.delenv("DISTIL_DEBUG", raising=False)

    @handle_errors
    def command() -> None:
        raise raised

    with pytest.raises(typer.Exit) as stopped:
        command()
    err = capsys.readouterr().err
    assert stopped.value.exit_code == code
    assert words in err
    assert (BUG in err) == a_bug
    assert "Traceback" not in err
    if a_bug:
        assert "DISTIL_DEBUG=1" in err and "report it" in err
    else:
        assert len(err.strip().splitlines()) == 1


def test_debugging_shows_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("DISTIL_DEBUG", "1")

    @handle_errors
    def command() -> None:
        raise ValueError("a bug deep inside")

    with pytest.raises(typer.Exit):
        command()
    err = capsys.readouterr().err
    assert "Traceback" in err and "a bug deep inside" in err and BUG in err


BROKEN_TEACHER = """
import sys
import numpy as np
from distil.base_models.grounding_dino import GroundingDinoDetector

def broken(self, *args, **kwargs):
    np.zeros((2, 3)) + np.zeros((4, 5))  # a NumPy error inside a teacher

GroundingDinoDetector.detect = broken
from distil.cli.main import run
sys.argv = ["distil", *sys.argv[1:]]
run()
"""


def test_a_numpy_error_inside_a_teacher_is_a_bug_with_its_traceback_on_request(
    tmp_path, tiny_grounding_dino
):
    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(shapes_image(0, (64, 80))).save(images / "a.jpg")
    ontology = tmp_path / "onto.yaml"
    ontology.write_text("classes:\n  car: car\n")
    script = tmp_path / "broken_teacher.py"
    script.write_text(BROKEN_TEACHER)
    args = ["label", str(images), "-O", str(ontology), "--detector", tiny_grounding_dino,
            "--segmenter", "none", "--device", "cpu", "--out", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("DISTIL_DEBUG", None)

    def distil(*extra: str, **more_env: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, str(script), *extra, *args],
            capture_output=True, text=True, env={**env, **more_env}, timeout=300,
        )  # fmt: skip

    plain = distil()
    assert plain.returncode == 1, plain.stderr
    assert "ValueError: operands could not be broadcast" in plain.stderr
    assert BUG in plain.stderr and "Traceback" not in plain.stderr
    for shown in (distil("--verbose"), distil(DISTIL_DEBUG="1")):
        assert shown.returncode == 1, shown.stderr
        assert "Traceback" in shown.stderr and "broken" in shown.stderr


def test_a_store_whose_recorded_settings_were_edited_is_bad_input(tmp_path):
    from typer.testing import CliRunner

    from distil.cli import app
    from distil.detections import FrameIdentity, empty_detections
    from distil.store import LabelStore, StoreBatch, StoredFrame

    settings = {"detector": "edited by hand", "prompts": [["car", ["car"]]]}
    with LabelStore.create(tmp_path / "run", settings) as store:
        store.set_ontology({"classes": {"car": "car"}})
        frame = StoredFrame(FrameIdentity(Path("a.jpg"), Path("."), "h"), 8, 8, empty_detections())
        store.write_batch(StoreBatch([frame]))
    result = CliRunner().invoke(app, ["export", str(tmp_path / "run"), "--to", str(tmp_path / "d")])
    assert result.exit_code == 2, result.output
    assert "recorded settings are not a distil store's (detector" in result.output
