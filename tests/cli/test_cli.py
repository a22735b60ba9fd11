from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner
from ultralytics.data.utils import check_det_dataset

from distil.cli import app
from distil.version import RELEASE

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_version_and_help_on_every_command():
    shown = invoke("--version").stdout.strip()
    assert shown.startswith(f"distil {RELEASE}")
    changelog = (Path(__file__).parents[2] / "CHANGELOG.md").read_text()
    assert f"\n## {RELEASE} " in changelog  # the release has its section
    if (Path(__file__).parents[2] / ".git").exists():  # a checkout: the commit is named
        assert "+g" in shown
    for command in ("label", "export", "preview"):
        result = invoke(command, "--help")
        assert result.exit_code == 0 and "Usage" in result.stdout


@pytest.fixture
def ontology(tmp_path):
    path = tmp_path / "onto.yaml"
    path.write_text(
        "classes:\n  animal: [cat, dog]\n  car: {prompts: red car, box_threshold: 0.2}\n"
    )
    return path


def test_label_export_preview_gives_a_dataset_ultralytics_accepts(
    tmp_path, image_folder, ontology, tiny_grounding_dino, tiny_sam, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    (image_folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    result = invoke(
        "label",
        image_folder,
        "-O",
        ontology,
        "--detector",
        tiny_grounding_dino,
        "--segmenter",
        tiny_sam,
        "--device",
        "cpu",
        "--batch",
        "4",
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["out"] == "runs/label/exp"
    assert summary["images"] == 9 and summary["labeled"] == 8
    assert summary["skipped"][0]["path"].endswith("corrupt.jpg")
    assert set(summary["detections_per_class"]) == {"animal", "car"}
    assert summary["images_per_s"] > 0

    again = invoke(
        "label",
        image_folder,
        "-O",
        ontology,
        "--detector",
        tiny_grounding_dino,
        "--segmenter",
        tiny_sam,
        "--device",
        "cpu",
        "--json",
    )
    assert json.loads(again.stdout)["out"] == "runs/label/exp"  # same job resumes in place
    assert json.loads(again.stdout)["labeled"] == 0

    result = invoke(
        "export",
        "runs/label/exp",
        "--task",
        "segment",
        "--box-threshold",
        "0.0",
        "--text-threshold",
        "0.0",
        "--split",
        "0.5,0.5",
        "--json",
    )
    assert result.exit_code == 0, result.output
    exported = json.loads(result.stdout)
    assert exported["images"] == 8 and exported["polygons"]["instances"] > 0
    data = check_det_dataset(str(tmp_path / "runs/label/exp/dataset/data.yaml"))
    assert data["nc"] == 2 and data["names"] == {0: "animal", 1: "car"}

    result = invoke("preview", "runs/label/exp", "--num", "4", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"] == 4


def test_bad_ontology_fails_before_any_model_loads(tmp_path, image_folder, monkeypatch):
    monkeypatch.setattr(
        "distil.base_models.load_base_model", lambda *a, **k: pytest.fail("a model was loaded")
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("classes:\n  car: {prompts: car, box_treshold: 0.3}\n")
    result = invoke("label", image_folder, "-O", bad, "--detector", "no/such-model")
    assert result.exit_code == 2
    assert "classes.car.box_treshold: unknown key. Did you mean 'box_threshold'?" in result.output


def test_runtime_errors_are_one_line_with_exit_codes(tmp_path, ontology):
    result = invoke("export", tmp_path / "nothing")
    assert result.exit_code == 2 and "no label store" in result.output
    result = invoke("label", tmp_path / "missing", "-O", ontology)
    assert result.exit_code == 2 and "input not found" in result.output
    result = invoke("label", tmp_path, "-O", ontology, "--detector", tmp_path / "x.pt")
    assert result.exit_code == 2 and "checkpoint file not found" in result.output


@pytest.mark.parametrize(
    "tracker", ["tiny_sam2_video", "tiny_edgetam", "tiny_sam3_video", "bytetrack", "botsort"]
)
def test_label_track_then_video_preview(tmp_path, ontology, tiny_grounding_dino, tracker, request):
    from tests.synthetic import make_video

    checkpoint = request.getfixturevalue(tracker) if tracker.startswith("tiny") else tracker

    make_video(tmp_path / "clips" / "walk.mp4", frames=8)
    out = tmp_path / "run"
    common = ("-O", ontology, "--detector", tiny_grounding_dino, "--device", "cpu", "--out", out)
    result = invoke("label", tmp_path / "clips", *common, "--track", "--detect-every", "4",
                    "--tracker", checkpoint, "--segmenter", "none", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["videos"] == 1 and summary["video_frames"] == 8 and summary["tracks"] >= 0
    result = invoke("preview", out, "--video", "walk.mp4", "--json")
    assert result.exit_code == 0, result.output
    preview = json.loads(result.stdout)
    assert preview == {"out": str(out / "preview_walk.mp4"), "frames": 8}
    import av

    with av.open(preview["out"]) as container:
        assert container.streams.video[0].frames == 8
    gif = invoke("preview", out, "--out", tmp_path / "walk.gif", "--json")
    assert gif.exit_code == 0 and (tmp_path / "walk.gif").stat().st_size > 0


def test_video_options_are_checked_before_models_load(tmp_path, ontology, tiny_sam):
    (tmp_path / "clips").mkdir()
    both = invoke("label", tmp_path / "clips", "-O", ontology, "--every", "2", "--fps", "5")
    assert both.exit_code == 2 and "--every and --fps" in both.output
    sam1 = invoke(
        "label", tmp_path / "clips", "-O", ontology, "--track", "--tracker-model", tiny_sam
    )  # --tracker-model: the option's old name
    assert sam1.exit_code == 2 and "tracking needs a box tracker" in sam1.output
