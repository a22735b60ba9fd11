import json
from collections import defaultdict
from contextlib import contextmanager
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from distil.pipeline import STAGES, load_config, run_pipeline
from tests.synthetic import make_shapes_dataset

WITHOUT_REVIEW = [s for s in STAGES if s not in ("corrections", "review")]


@pytest.fixture
def run_config(tmp_path, tiny_grounding_dino, tiny_sam2):
    data = make_shapes_dataset(tmp_path / "shapes", images=12, size=96)
    (tmp_path / "onto.yaml").write_text(
        "box_threshold: 0.0\ntext_threshold: 0.0\nclasses:\n  square: [square, box]\n"
        "  disc: green disc\n"
    )
    config = {
        "name": "tiny",
        "project": str(tmp_path / "runs"),
        "inputs": [str(data / "images")],
        "ontology": "onto.yaml",
        "label": {
            "detector": tiny_grounding_dino,
            "segmenter": tiny_sam2,
            "device": "cpu",
            "batch": 4,
            "store_threshold": 0.0,
        },
        "dataset": {"split": "0.75,0.25"},
        "train": {
            "epochs": 2,
            "imgsz": 64,
            "batch": 4,
            "workers": 0,
            "device": "cpu",
            "options": {"plots": False},
        },
        "eval": {"ground_truth": str(data), "sweep": True},
        "export": {"benchmark_runs": 3},
    }
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_completes_every_stage_and_resumes_after_interruption(
    run_config, tmp_path, stop_training
):
    stop_training(True)
    seen = []
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_config(run_config), on_stage=seen.append)
    assert seen == ["label", "dataset", "train"]
    stop_training(False)

    calls = defaultdict(list)

    @contextmanager
    def progress(stage):
        yield lambda *update: calls[stage].append(update)

    result = run_pipeline(load_config(run_config), progress=progress)
    run = tmp_path / "runs" / "tiny"
    assert list(result.stages) == WITHOUT_REVIEW
    # The label stage finished before the interruption: its sources are unchanged, so it
    # is not run again; the dataset stage was done too.
    assert result.stages["label"]["cached"] and result.stages["dataset"]["cached"]
    assert "label" not in calls and "dataset" not in calls
    [last_epoch] = [status for (status,) in calls["train"] if status.epoch_done]
    assert last_epoch.epoch == last_epoch.epochs == 2 and "metrics/mAP50(B)" in last_epoch.metrics
    assert "epoch 2/2" in last_epoch.line()
    assert result.stages["label"]["labeled"] == 12
    assert result.stages["train"]["resumed"] and result.stages["train"]["epochs"] == 2
    evaluation = result.stages["eval"]
    assert evaluation["labels"]["images"] == 12 and evaluation["student"]["images"] == 12
    assert (run / "ontology_swept.yaml").is_file() or all(
        c["best_threshold"] is None for c in evaluation["labels"]["classes"]
    )
    onnx = result.stages["export"]["exports"][0]
    assert onnx["format"] == "onnx" and onnx["check"]["passed"]
    assert result.stages["export"]["latency"][0]["p50_ms"] > 0
    assert set(result.metrics) >= {"map50_95", "map50", "precision", "recall"}
    page = ReportPage(run / "report" / "index.html")
    assert page.headings >= {
        "Labels",
        "Sample labels",
        "Student training",
        "Evaluation",
        "Export and latency",
        "Dataset card",
    }
    assert {"samples.png", "training.png", "classes.png", "boxes_per_image.png"} <= page.images
    assert "licence AGPL-3.0" in page.text and result.stages["train"]["licence"] == "agpl-3.0"
    for image in page.images:  # every picture the page shows is there
        assert (run / "report" / image).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # The labels table describes the store and the run that labeled it.
    assert any(row[:4] == ["12", "12", "12", "0"] for row in page.rows)
    assert any(row[:1] == ["square"] and len(row) == 3 for row in page.rows)  # per class
    # The dataset card is HTML, not markdown in a <pre>.
    assert "card" in page.classes and "<pre>" not in page.text and "\n| " not in page.text
    # Ground truth = the labeled images, so the student is judged on its training images.
    assert "are also training images of the student" in page.text
    assert evaluation["student"]["overlap"]["shared"] == 9

    # A rerun of the finished run does no work: no model loads, no export, no eval.
    import time

    import distil.evaluation
    import distil.labeling.teacher
    import distil.target_models

    def refuse(*args, **kwargs):
        raise AssertionError("a finished run did work again")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(distil.labeling.teacher, "load_teacher", refuse)
        patch.setattr(distil.target_models, "export_student", refuse)
        patch.setattr(distil.evaluation, "evaluate_path", refuse)
        start = time.perf_counter()
        again = run_pipeline(load_config(run_config))
        assert time.perf_counter() - start < 10
    assert all(entry["cached"] for entry in again.stages.values())
    assert again.metrics == result.metrics
    state = json.loads((run / "run_state.json").read_text())
    assert set(state["stages"]) == set(WITHOUT_REVIEW)
    with pytest.raises(ValueError, match="trained with other settings"):
        run_pipeline(load_config(run_config, {"train.epochs": 3}))


def test_changed_training_settings_do_not_silently_reuse_a_run(run_config, stop_training):
    stop_training(True)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_config(run_config))
    stop_training(False)
    with pytest.raises(ValueError, match="trained with other settings"):
        run_pipeline(load_config(run_config, {"train.epochs": 3}))


def test_candidates_train_on_one_split_and_the_pick_is_the_exported_student(run_config, tmp_path):
    from tests.tiny_models import build_rf_detr

    config = yaml.safe_load(run_config.read_text())
    rf_detr = str(build_rf_detr(tmp_path / "rf-detr"))
    config["train"] |= {"candidates": ["yolo11n", rf_detr], "epochs": 1, "options": {}}
    config["eval"] = {"ground_truth": config["eval"]["ground_truth"]}
    run_config.write_text(yaml.safe_dump(config))
    result = run_pipeline(load_config(run_config))
    table = result.stages["train"]["candidates"]
    rows = {r["model"]: r for r in table["candidates"]}
    assert list(rows) == ["yolo11n", rf_detr] and table["chosen"] in rows
    picked = rows[table["chosen"]]
    assert result.stages["train"]["best"] == picked["best"]
    assert result.stages["train"]["licence"] == picked["licence"]
    assert result.stages["eval"]["student"]["images"] == 12
    (onnx,) = result.stages["export"]["exports"]
    assert onnx["check"]["passed"] and Path(onnx["path"]).parent == Path(picked["best"]).parent
    page = ReportPage(tmp_path / "runs" / "tiny" / "report" / "index.html")
    assert "Candidates, picked by map50-95" in page.headings
    shown = {row[0]: row for row in page.rows if row and row[0].lstrip("\N{CHECK MARK} ") in rows}
    assert len(shown) == 2 and {row[7] for row in shown.values()} == {"agpl-3.0", "apache-2.0"}


class ReportPage(HTMLParser):
    """Headings, image sources, table rows and classes of a rendered report page."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.text = path.read_text()
        self.headings: set[str] = set()
        self.images: set[str] = set()
        self.classes: set[str] = set()
        self.rows: list[list[str]] = []
        self._tag: str | None = None
        self.feed(self.text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._tag = tag
        self.classes.update((attrs.get("class") or "").split())
        if tag == "img":
            self.images.add(attrs["src"])
        elif tag == "tr":
            self.rows.append([])

    def handle_data(self, data):
        if self._tag in ("h1", "h2", "h3"):
            self.headings.add(data.strip())
        elif self._tag == "td" and self.rows:
            self.rows[-1].append(data.strip())

    def handle_endtag(self, tag):
        self._tag = None


@pytest.mark.parametrize(
    ("reviewed", "trainings", "folders", "expected"),
    [
        (0, {}, [], "train"),
        (13, {}, [], "train-reviewed13"),
        (13, {"train-reviewed13": "this"}, ["train-reviewed13"], "train-reviewed13"),  # resume
        (13, {"train-reviewed13": "other"}, ["train-reviewed13"], "train-reviewed13-2"),
        (13, {}, ["train-reviewed13"], "train-reviewed13-2"),  # a folder distil did not record
        (
            13,
            {"train-reviewed13": "other", "train-reviewed13-2": "this"},
            ["train-reviewed13", "train-reviewed13-2"],
            "train-reviewed13-2",
        ),
    ],
)
def test_reviewed_students_never_share_a_folder(
    tmp_path, monkeypatch, reviewed, trainings, folders, expected
):
    from distil.pipeline import core

    monkeypatch.setattr(core, "_reviewed", lambda label_dir: [[str(i), 0] for i in range(reviewed)])
    for folder in folders:
        (tmp_path / folder).mkdir()
    state = core._State(tmp_path)
    state.data["trainings"] = trainings
    assert core._train_dir_name(tmp_path, state, "this") == expected
