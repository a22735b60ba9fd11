"""`distil run`: label -> export -> train -> eval -> export -> report, resumable by stage.

State lives in `<run>/run_state.json`. Rerunning the same config resumes: labeling skips
stored images, the dataset is re-exported (seconds, deterministic), training continues
from `last.pt` or is skipped when finished, exports are skipped when already made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distil.evaluation.gates import missed_bars
from distil.pipeline.config import RunConfig
from distil.utils.files import atomic_write_json

logger = logging.getLogger(__name__)

STATE_FILE = "run_state.json"
STAGES = ("label", "dataset", "train", "eval", "export", "report")


@dataclass
class RunResult:
    run_dir: str
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # the student's, for gates
    missed_bars: list[str] = field(default_factory=list)
    report: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_dir": self.run_dir,
            "stages": self.stages,
            "metrics": self.metrics,
            "missed_bars": self.missed_bars,
            "report": self.report,
        }


def _digest(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class _State:
    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / STATE_FILE
        self.data: dict[str, Any] = (
            json.loads(self.path.read_text()) if self.path.is_file() else {"stages": {}}
        )

    def done(self, stage: str, key: str) -> dict[str, Any] | None:
        entry = self.data["stages"].get(stage)
        return entry["result"] if entry and entry.get("key") == key else None

    def record(self, stage: str, key: str, result: dict[str, Any], seconds: float) -> None:
        self.data["stages"][stage] = {"key": key, "result": result, "seconds": round(seconds, 2)}
        self.save()

    def save(self) -> None:
        atomic_write_json(self.path, self.data)


def run_pipeline(config: RunConfig, on_stage: Callable[[str], None] | None = None) -> RunResult:
    """Run every stage of `config` in `<project>/<name>`; returns what each stage made."""
    from distil.ontologies import Ontology

    ontology = Ontology.from_yaml(config.ontology)  # fails before any model loads
    from distil.target_models import check_options

    check_options(config.train.options)
    run_dir = Path(config.project) / config.name
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_dir / "config.json", config.to_dict())
    state = _State(run_dir)
    result = RunResult(str(run_dir))
    ontology_text = Path(config.ontology).read_text(encoding="utf-8")

    def stage(name: str, fn: Callable[[], dict[str, Any]], key: str | None = None) -> dict:
        if on_stage:
            on_stage(name)
        if key is not None and (cached := state.done(name, key)) is not None:
            logger.info("%s: already done, skipped", name)
            result.stages[name] = {**cached, "cached": True}
            return cached
        start = time.perf_counter()
        output = fn()
        state.record(name, key or "", output, time.perf_counter() - start)
        result.stages[name] = output
        return output

    stage("label", lambda: _label(config, ontology, run_dir))
    stage("dataset", lambda: _dataset(config, run_dir))
    train_key = _digest(
        ontology_text,
        config.section_dict("label"),
        config.section_dict("dataset"),
        config.section_dict("train"),
    )
    trained = stage("train", lambda: _train(config, run_dir, state, train_key), key=train_key)
    evaluation = stage("eval", lambda: _eval(config, run_dir, trained))
    export_key = _digest(train_key, config.section_dict("export"))
    stage("export", lambda: _export(config, trained), key=export_key)
    result.metrics = evaluation["student"]["metrics"]
    result.missed_bars = missed_bars(result.metrics, config.fail_under)
    report = stage("report", lambda: _report(run_dir, state, result))
    result.report = report["html"]
    return result


def _label(config: RunConfig, ontology, run_dir: Path) -> dict[str, Any]:
    from distil.base_models import check_tracker_model, load_base_model
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling import label_images
    from distil.labeling.tracking import VideoTracker

    settings = config.label
    if settings.track:
        check_tracker_model(settings.tracker_model)
    model = load_base_model(
        settings.detector,
        settings.segmenter,
        device=settings.device,
        half=settings.half,
        ontology=ontology,
    )
    tracker = None
    if settings.track:
        propagator = Sam2VideoPropagator(settings.tracker_model, settings.device, settings.half)
        tracker = VideoTracker(
            propagator, settings.detect_every, settings.match_iou, settings.max_lost
        )
    summary = label_images(
        [Path(p) for p in config.inputs],
        ontology,
        model,
        run_dir / "label",
        batch_size=settings.batch_size,
        store_threshold=settings.store_threshold,
        sampling=settings.sampling(),
        tracker=tracker,
    )
    return summary.to_dict()


def _dataset(config: RunConfig, run_dir: Path) -> dict[str, Any]:
    from distil.datasets import ExportOptions, ExportTask, ImageMode, export_dataset, parse_split

    d = config.dataset
    options = ExportOptions(
        task=ExportTask(d.task),
        box_threshold=d.box_threshold,
        text_threshold=d.text_threshold,
        nms_iou=d.nms_iou,
        split=parse_split(d.split),
        seed=d.seed,
        images=ImageMode(d.images),
    )
    summary = export_dataset(run_dir / "label", run_dir / "dataset", options)
    if not summary.images_per_split.get("train"):
        raise ValueError("the dataset has no training images: label more images")
    return summary.to_dict()


def _train(config: RunConfig, run_dir: Path, state: _State, key: str) -> dict[str, Any]:
    from distil.target_models import YoloStudent

    train_dir = run_dir / "train"
    student = YoloStudent()
    if (train_dir / "weights" / "last.pt").is_file():
        if state.data.get("train_key") not in (None, key):
            raise ValueError(
                f"{train_dir} was trained with other settings; choose another "
                "run name (name=...) or delete that folder"
            )
        logger.info("resuming training from %s", train_dir / "weights" / "last.pt")
        return student.resume(train_dir).to_dict()
    state.data["train_key"] = key  # what train/ holds, so changed settings are caught
    state.save()
    t = config.train
    options = {
        "epochs": t.epochs,
        "imgsz": t.imgsz,
        "batch": t.batch,
        "patience": t.patience,
        "workers": t.workers,
        "seed": t.seed,
        **t.options,
    }
    return student.train(
        run_dir / "dataset",
        model=t.model,
        project=run_dir,
        name="train",
        device=t.device,
        weights_dir=Path(t.weights_dir) if t.weights_dir else None,
        **options,
    ).to_dict()


def _eval(config: RunConfig, run_dir: Path, trained: dict[str, Any]) -> dict[str, Any]:
    from distil.evaluation import evaluate_path

    e = config.eval
    out: dict[str, Any] = {}
    if e.ground_truth:
        truth, split = Path(e.ground_truth), e.split
        labels = evaluate_path(
            run_dir / "dataset",
            truth,
            split=split,
            sweep=e.sweep,
            sweep_out=run_dir / "ontology_swept.yaml",
        )
        out["labels"] = labels.to_dict()
        against = f"ground truth {truth}"
    else:
        truth, split = run_dir / "dataset", "val"
        against = "the auto-labels of the val split (no eval.ground_truth given)"
    student = evaluate_path(
        Path(trained["best"]),
        truth,
        split=split,
        conf=e.conf,
        imgsz=config.train.imgsz,
        device=config.train.device,
    )
    out["student"] = {
        **student.to_dict(),
        "against": against,
        "metrics": student.metrics(),
    }
    atomic_write_json(run_dir / "eval.json", out)
    return out


def _export(config: RunConfig, trained: dict[str, Any]) -> dict[str, Any]:
    from distil.target_models import ModelFormat, export_student, onnx_latency

    imgsz = config.export.imgsz or config.train.imgsz
    exports = [
        export_student(Path(trained["best"]), ModelFormat(f), imgsz=imgsz).to_dict()
        for f in config.export.formats
    ]
    latency = []
    onnx = next((e["path"] for e in exports if e["format"] == "onnx"), None)
    if config.export.benchmark and onnx:
        latency.append(onnx_latency(Path(onnx), imgsz, runs=config.export.benchmark_runs).to_dict())
    return {"exports": exports, "latency": latency}


def _report(run_dir: Path, state: _State, result: RunResult) -> dict[str, Any]:
    from distil.reports.html import write_run_report

    path = write_run_report(run_dir, state.data["stages"], result.missed_bars)
    return {"html": str(path)}
