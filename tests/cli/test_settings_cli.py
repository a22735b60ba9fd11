"""Options come from `distil.settings`: checked before any model loads or file is written,
errors name the field in the user's terms, and the CLI starts without heavy imports."""

import json
import subprocess
import sys

import pytest
import yaml
from typer.testing import CliRunner

from distil.cli import app
from distil.cli.params import option_parameters
from distil.settings import SECTIONS, LabelSettings

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def imported_after(code: str) -> set[str]:
    """Heavy modules imported by a fresh interpreter running `code`."""
    probe = (
        f"{code}\nimport sys, json\n"
        "print(json.dumps(sorted(m for m in ('torch', 'transformers', 'ultralytics', "
        "'supervision', 'cv2') if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_version_and_help_import_no_heavy_library():
    assert imported_after("from distil.cli.main import app") == set()
    code = (
        "from typer.testing import CliRunner\nfrom distil.cli import app\n"
        "r = CliRunner().invoke(app, ['--version'])\nassert r.exit_code == 0\n"
        "r = CliRunner().invoke(app, ['label', '--help'])\nassert r.exit_code == 0"
    )
    assert imported_after(code) == set()


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    (tmp_path / "onto.yaml").write_text("classes:\n  car: car\n")
    return tmp_path


def write_config(folder, **changes):
    config = {"inputs": "images", "ontology": "onto.yaml", **changes}
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# Values the issue found accepted, or caught only after the label stage.
BAD_CONFIG = [
    ({"dataset": {"split": "abc"}}, "dataset.split: expected fractions"),
    ({"dataset": {"images": "hardlink"}}, "dataset.images: must be one of link, copy, symlink"),
    ({"train": {"epochs": -3}}, "train.epochs: must be at least 1, got -3"),
    ({"label": {"batch": 0}}, "label.batch: must be at least 1, got 0"),
    ({"label": {"batch_size": 0}}, "label.batch_size: must be at least 1, got 0"),  # old name
    ({"label": {"device": "tpu"}}, "label.device: unknown device 'tpu'"),
    ({"dataset": {"box_threshold": 7}}, "dataset.box_threshold: must be at most 1.0, got 7"),
    ({"dataset": {"nms_iou": 5}}, "dataset.nms_iou: must be at most 1.0, got 5"),
    ({"train": {"imgsz": 0}}, "train.imgsz: must be at least 32, got 0"),
    ({"eval": {"conf": 5}}, "eval.conf: must be at most 1.0, got 5"),
    ({"label": {"detect_every": 0}}, "label.detect_every: must be at least 1, got 0"),
    ({"name": ""}, "name: must be a plain folder name"),
    ({"name": "../elsewhere"}, "name: must be a plain folder name"),
    ({"name": "a/b"}, "name: must be a plain folder name"),
    ({"label": {"detector": "./no/such/folder"}}, "label.detector: model folder not found"),
    ({"dataset": {"format": "coco"}}, "dataset.format must be yolo in a run"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CONFIG)
def test_bad_config_values_fail_the_check_naming_the_field(project, change, message):
    result = invoke("run", write_config(project, **change), "--check")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert sorted(p.name for p in project.iterdir()) == ["images", "onto.yaml", "run.yaml"]


def test_check_prints_the_plan_and_writes_nothing(project):
    (project / "images" / "a.jpg").write_bytes(b"x")
    config = write_config(
        project,
        label={"offload_state": True, "overwrite": True},
        dataset={
            "classes": "car",
            "coco_rle": True,
            "polygon_tolerance": 2,
            "min_fragment_area": 5,
        },
        review={"top": 20, "format": "cvat", "corrections": ["round1.zip"]},
    )
    result = invoke("run", config, "--check", "--json")
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    assert plan["inputs"] == {"images": 1, "videos": 0} and plan["classes"] == ["car"]
    assert list(plan["stages"])[:2] == ["label", "corrections"]
    assert plan["stages"]["corrections"].endswith("round1.zip (not there yet)")
    assert plan["stages"]["review"].startswith("next round: 20 frames for cvat")
    assert plan["done"] == [] and plan["run_dir"].endswith("runs/run/exp")
    assert sorted(p.name for p in project.iterdir()) == ["images", "onto.yaml", "run.yaml"]
    text = invoke("run", config, "--check")
    assert text.exit_code == 0 and "config ok" in text.output


def test_a_config_typo_is_reported_before_torch_is_imported(project):
    config = write_config(project, label={"batch_sise": 3})
    code = (
        "from typer.testing import CliRunner\nfrom distil.cli import app\n"
        f"r = CliRunner().invoke(app, ['run', {str(config)!r}, '--check'])\n"
        "assert r.exit_code == 2 and \"Did you mean 'batch'\" in r.output, r.output"
    )
    assert imported_after(code) == set()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--batch", "0"], "'--batch' / '--batch-size'"),
        (["--batch-size", "0"], "'--batch' / '--batch-size'"),  # the old name, an alias
        (["--device", "tpu"], "--device: unknown device 'tpu'"),
        (["--shard", "5/4"], "--shard: shard 5/4: i must be between 1 and N"),
        (["--every", "2", "--fps", "1"], "--every and --fps both choose frames"),
        (["--detector", "./missing"], "--detector: model folder not found"),
    ],
)
def test_bad_flags_name_the_flag(project, args, message):
    result = invoke("label", "images", "-O", "onto.yaml", *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_every_label_option_is_a_flag_and_a_config_key():
    flags = {p.name for p in option_parameters(LabelSettings)}
    assert flags == set(LabelSettings.model_fields)
    assert SECTIONS["label"] is LabelSettings


@pytest.mark.parametrize(
    "args",
    [
        ["export", "nowhere", "--to", "ds"],
        ["eval", "nowhere", "-g", "missing"],
        ["eval", ".", "-g", "missing"],
        ["review", "nowhere"],
        ["review", "import", "nowhere", "x.json"],
        ["review", "serve", "nowhere"],
        ["review", "stats", "nowhere"],
        ["merge", "out", "nowhere"],
        ["preview", "nowhere"],
    ],
)
def test_model_free_commands_say_a_wrong_path_without_importing_torch(args, tmp_path):
    code = (
        "import os\n"
        f"os.chdir({str(tmp_path)!r})\n"
        "from typer.testing import CliRunner\nfrom distil.cli import app\n"
        f"r = CliRunner().invoke(app, {args!r})\n"
        "assert r.exit_code == 2, r.output\n"
        "assert 'not found' in r.output or 'no label store' in r.output, r.output"
    )
    assert imported_after(code) & {"torch", "transformers", "ultralytics"} == set()


def test_an_export_that_needs_no_nms_imports_no_torch(tmp_path):
    from PIL import Image

    from tests.conftest import shapes_image
    from tests.store.test_portable import image_store

    images = tmp_path / "imgs"
    images.mkdir()
    Image.fromarray(shapes_image(0)).save(images / "0.png")
    image_store(tmp_path / "run", [images / "0.png"], images)
    code = (
        "from distil.datasets import export_dataset\nfrom pathlib import Path\n"
        f"s = export_dataset(Path({str(tmp_path / 'run')!r}), Path({str(tmp_path / 'ds')!r}))\n"
        "assert s.images == 1"
    )
    assert imported_after(code) & {"torch", "transformers", "ultralytics"} == set()
