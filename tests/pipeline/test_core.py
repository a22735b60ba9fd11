import json

import pytest
import yaml

from distil.pipeline import STAGES, load_config, run_pipeline
from tests.synthetic import make_shapes_dataset


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

    result = run_pipeline(load_config(run_config))
    run = tmp_path / "runs" / "tiny"
    assert list(result.stages) == list(STAGES)
    assert (
        result.stages["label"]["already_labeled"] == 12 and result.stages["label"]["labeled"] == 0
    )
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
    html = (run / "report" / "index.html").read_text()
    for section in (
        "Labels",
        "Student training",
        "Evaluation",
        "Export and latency",
        "Dataset card",
        "samples.png",
        "training.png",
        "classes.png",
    ):
        assert section in html
    for png in ("samples", "training", "classes", "boxes_per_image"):
        assert (run / "report" / f"{png}.png").stat().st_size > 1000

    again = run_pipeline(load_config(run_config))
    assert again.stages["train"]["cached"] and again.stages["export"]["cached"]
    state = json.loads((run / "run_state.json").read_text())
    assert set(state["stages"]) == set(STAGES)
    with pytest.raises(ValueError, match="trained with other settings"):
        run_pipeline(load_config(run_config, {"train.epochs": 3}))


def test_changed_training_settings_do_not_silently_reuse_a_run(run_config, stop_training):
    stop_training(True)
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(load_config(run_config))
    stop_training(False)
    with pytest.raises(ValueError, match="trained with other settings"):
        run_pipeline(load_config(run_config, {"train.epochs": 3}))
