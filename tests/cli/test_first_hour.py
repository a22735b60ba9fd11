"""What a new user trips on in the first hour: a bare `yolo11n.pt` teacher found in the
weights cache, the offline run config, `run --check` naming models it cannot get and
prompts a checkpoint does not know, and the small messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distil.cli import app
from tests.conftest import COCO128, YOLO11N, needs_shared

runner = CliRunner()
CONFIGS = Path(__file__).parents[2] / "configs"


@pytest.fixture
def weights_dir(tmp_path, monkeypatch):
    """A weights folder holding `yolo11n.pt`, as Ultralytics' download would leave it."""
    folder = tmp_path / "weights"
    folder.mkdir()
    shutil.copy(YOLO11N, folder / "yolo11n.pt")
    monkeypatch.setenv("DISTIL_WEIGHTS_DIR", str(folder))
    return folder


@pytest.fixture
def few_images(tmp_path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for path in sorted((COCO128 / "images").iterdir())[:2]:
        shutil.copy(path, folder / path.name)
    return folder


@needs_shared
def test_a_bare_yolo11n_pt_teacher_comes_from_the_weights_cache(
    weights_dir, few_images, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # no yolo11n.pt here: the name is looked up
    args = ["label", str(few_images), "-O", str(CONFIGS / "coco80.yaml"), "--detector"]
    result = runner.invoke(app, [*args, "yolo11n.pt", "--segmenter", "none", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labeled"] == 2
    assert not (tmp_path / "yolo11n.pt").exists()  # nothing downloaded beside the user


@needs_shared
def test_the_offline_run_config_checks_clean(weights_dir, few_images):
    args = ["run", str(CONFIGS / "yolo-run.yaml"), "--check", "--json"]
    result = runner.invoke(app, [*args, "--set", f"inputs={few_images}"])
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["warnings"] == [] and plan["inputs"]["images"] == 2


@needs_shared
def test_run_check_names_prompts_the_checkpoint_does_not_know(weights_dir, few_images, tmp_path):
    (tmp_path / "onto.yaml").write_text("classes: {person: persn, car: car}\n")
    args = ["run", str(CONFIGS / "yolo-run.yaml"), "--check", "--set", f"inputs={few_images}"]
    result = runner.invoke(app, [*args, "--set", f"ontology={tmp_path / 'onto.yaml'}"])
    assert result.exit_code == 0, result.output
    assert "'persn' are not classes of this closed-set detector. Did you mean 'person'?" in (
        " ".join(result.output.split())
    )


def test_run_check_names_a_checkpoint_it_cannot_get(tmp_path, monkeypatch):
    monkeypatch.setenv("DISTIL_WEIGHTS_DIR", str(tmp_path))
    (tmp_path / "images").mkdir()
    result = runner.invoke(
        app,
        ["run", str(CONFIGS / "yolo-run.yaml"), "--check", "--json",
         "--set", f"inputs={tmp_path / 'images'}", "--set", "label.detector=yolo11x.pt"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (warning,) = json.loads(result.stdout)["warnings"]
    assert "yolo11x.pt: not on disk" in warning and "DISTIL_OFFLINE is set" in warning


@pytest.mark.parametrize(
    ("args", "says", "not_says"),
    [
        (["export-model", "x.pt", "--int4"], "No such option: --int4", "--quiet"),
        (["export-model", "x.pt", "--halff"], "Possible options: --half", "--help"),
        (["label", ".", "-O", "x.yaml", "--tracker", "bytetrak"],
         "'bytetrak' is not a tracker. Did you mean 'bytetrack'?", "Hugging Face"),
    ],
)  # fmt: skip
def test_small_messages(args, says, not_says):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert says in result.output and not_says not in result.output


def test_an_ultralytics_option_in_train_points_to_train_options(tmp_path):
    (tmp_path / "onto.yaml").write_text("classes: [car]\n")
    (tmp_path / "images").mkdir()
    (tmp_path / "run.yaml").write_text("inputs: images\nontology: onto.yaml\n")
    result = runner.invoke(
        app, ["run", str(tmp_path / "run.yaml"), "--check", "--set", "train.mosaic=0.5"]
    )
    assert result.exit_code == 2
    assert "train.mosaic: unknown field. Other Ultralytics train settings go in train.options" in (
        result.output
    )
