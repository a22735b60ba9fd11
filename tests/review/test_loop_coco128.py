"""The data engine end to end on real data: the YOLO11n teacher labels coco128, `distil
run` trains a student and writes review round 1; a simulated reviewer (the human COCO
labels) corrects it in Label Studio's export format; the next `distil run` imports the
corrections, exports them exactly, retrains, and writes round 2 without the reviewed
frames; the report shows both rounds."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from distil.datasets.readers import read_dataset
from distil.pipeline import load_config, run_pipeline
from distil.store import LabelStore
from tests.conftest import COCO128, YOLO11N, needs_shared


def reviewer(tasks_file: Path, out: Path) -> Path:
    """Label Studio's export after a reviewer drew the human COCO boxes on every task."""
    truth = read_dataset(COCO128)
    tasks = json.loads(tasks_file.read_text())
    for number, task in enumerate(tasks, 1):
        task["id"] = number
        task.pop("predictions")
        labeled = truth.images[Path(task["data"]["distil_path"]).stem]
        result = []
        for (x0, y0, x1, y1), c in zip(
            labeled.detections.xyxy.tolist(), labeled.detections.class_id.tolist(), strict=True
        ):
            w, h = labeled.width / 100, labeled.height / 100
            result.append({
                "type": "rectanglelabels", "from_name": "label", "to_name": "image",
                "original_width": labeled.width, "original_height": labeled.height,
                "value": {"x": x0 / w, "y": y0 / h, "width": (x1 - x0) / w,
                          "height": (y1 - y0) / h, "rotation": 0,
                          "rectanglelabels": [truth.names[c]]},
            })  # fmt: skip
        task["annotations"] = [{"id": number, "result": result}]
    out.write_text(json.dumps(tasks))
    return out


@needs_shared
def test_review_loop_on_coco128(tmp_path):
    names = yaml.safe_load((COCO128 / "data.yaml").read_text())["names"]
    (tmp_path / "coco.yaml").write_text(
        yaml.safe_dump({"classes": {n: n for n in names.values()}}, sort_keys=False)
    )
    corrected = tmp_path / "corrected.json"
    config = {
        "name": "loop",
        "project": str(tmp_path / "runs"),
        "inputs": [str(COCO128 / "images")],
        "ontology": "coco.yaml",
        "label": {"detector": str(YOLO11N), "segmenter": "none", "device": "cpu", "batch": 16},
        "dataset": {"split": "0.75,0.25"},
        "train": {
            "model": str(YOLO11N),
            "epochs": 1,
            "imgsz": 64,
            "batch": 16,
            "workers": 0,
            "device": "cpu",
            "options": {"plots": False},
        },  # fmt: skip
        "export": {"benchmark": False, "check": False},
        "review": {"top": 13, "device": "cpu", "corrections": [str(corrected)]},
    }
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    first = run_pipeline(load_config(tmp_path / "run.yaml"))
    round1 = first.stages["review"]
    assert round1["round"] == 1 and round1["frames"] == 13
    assert first.stages["corrections"]["waiting"] == [str(corrected)]
    first_frames = [f["path"] for f in round1["ranking"]["frames"]]
    # ranked with the trained student: its disagreement is among the reasons, as are the
    # cluttered frames' faint candidates
    reasons = " ".join(r for f in round1["ranking"]["frames"] for r in f["reasons"])
    assert "the student" in reasons and "faint candidates" in reasons

    reviewer(Path(round1["task_file"]), corrected)
    second = run_pipeline(load_config(tmp_path / "run.yaml"))
    (imported,) = second.stages["corrections"]["imported"]
    assert imported["matched"] == imported["stored"] == 13 and imported["rounds"] == [1]
    assert imported["labels_changed"] > 0
    assert not second.stages["train"].get("cached")  # the corrected dataset is trained on
    round2 = second.stages["review"]
    assert round2["round"] == 2
    assert not {f["path"] for f in round2["ranking"]["frames"]} & set(first_frames)

    # the reviewed frames are exported exactly as the human labels
    truth = read_dataset(COCO128)
    dataset = Path(second.run_dir) / "dataset"
    for path in first_frames:
        label = next(dataset.rglob(f"labels/*/{Path(path).stem}.txt"))
        rows = np.array([line.split() for line in label.read_text().splitlines()], float)
        expected = truth.images[Path(path).stem].detections
        assert sorted(rows[:, 0].astype(int).tolist()) == sorted(expected.class_id.tolist())
    card = json.loads((dataset / "dataset_card.json").read_text())
    assert card["reviewed_frames"] == 13

    with LabelStore.open(Path(second.run_dir) / "label") as store:
        rounds = store.review_rounds()
    assert [r.round for r in rounds] == [1, 2] and rounds[0].student_score is not None
    report = Path(second.report).read_text()
    assert "Review rounds" in report and "13" in report
