"""`distil run`: label -> export -> train -> eval -> export -> report, resumable by stage.

State lives in `<run>/run_state.json`. Rerunning the same config resumes: labeling skips
stored images, the dataset is re-exported (seconds, deterministic), training continues
from `last.pt` or is skipped when finished, exports are skipped when already made.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distil.errors import UsageError
from distil.evaluation.gates import missed_bars
from distil.settings import RunSettings
from distil.utils.files import atomic_write_json, mark_output, read_user_text

logger = logging.getLogger(__name__)

STATE_FILE = "run_state.json"
STAGES = ("label", "corrections", "dataset", "train", "eval", "export", "review", "report")


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


def done_stages(run_dir: Path) -> list[str]:
    """Stages a run folder has finished, as its state file records them."""
    path = Path(run_dir) / STATE_FILE
    return list(json.loads(path.read_text())["stages"]) if path.is_file() else []


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


# `progress("label")` -> a context giving the stage's progress callback: `(done, total)`
# for label and dataset, a `TrainStatus` for train.
StageProgress = Callable[[str], AbstractContextManager[Callable[..., None] | None]]


def _no_progress(stage: str) -> AbstractContextManager[None]:
    return nullcontext()


def run_pipeline(
    config: RunSettings,
    on_stage: Callable[[str], None] | None = None,
    progress: StageProgress = _no_progress,
) -> RunResult:
    """Run every stage of `config` in `<project>/<name>`; returns what each stage made.
    `progress(stage)` gives the label, dataset and train stages their progress callback."""
    ontology = check_run(config)  # fails before any model loads or file is written
    run_dir = config.run_dir
    mark_output(run_dir)
    atomic_write_json(run_dir / "config.json", config.model_dump(mode="json"))
    state = _State(run_dir)
    result = RunResult(str(run_dir))
    ontology_text = read_user_text(Path(config.ontology))

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

    # Each stage is keyed by what it reads, so a rerun of a finished run does nothing
    # but report (no teacher loads): the label key covers every source file's stamp, so a
    # new or changed image is labeled.
    label_key = _digest(ontology_text, config.label.model_dump(mode="json"), _sources(config))
    stage("label", lambda: _label(config, ontology, run_dir, progress), key=label_key)
    if config.review is not None and config.review.corrections:
        corrections_key = _digest(label_key, _stamps(config.review.corrections))
        stage("corrections", lambda: _import_corrections(config, run_dir), key=corrections_key)
    reviewed = _reviewed(run_dir / "label")  # new corrections make a new dataset
    dataset_key = _digest(label_key, config.dataset.model_dump(mode="json"), reviewed)
    stage("dataset", lambda: _dataset(config, run_dir, progress), key=dataset_key)
    train_key = _digest(
        ontology_text,
        config.label.model_dump(mode="json"),
        config.dataset.model_dump(mode="json"),
        config.train.model_dump(mode="json"),
        reviewed,
    )
    trained = stage(
        "train", lambda: _train(config, run_dir, state, train_key, progress), key=train_key
    )
    eval_key = _digest(
        dataset_key, train_key, config.eval.model_dump(mode="json"),
        _stamps([config.eval.ground_truth] if config.eval.ground_truth else []),
    )  # fmt: skip
    evaluation = stage("eval", lambda: _eval(config, run_dir, trained), key=eval_key)
    export_key = _digest(train_key, config.export.model_dump(mode="json"))
    stage("export", lambda: _export(config, trained), key=export_key)
    result.metrics = evaluation["student"]["metrics"]
    if config.review is not None:
        stage("review", lambda: _review(config, run_dir, trained, evaluation), key=train_key)
    result.missed_bars = missed_bars(result.metrics, config.fail_under)
    report_key = _digest(
        {name: entry.get("key") for name, entry in state.data["stages"].items() if name != "report"}
    )
    report = stage("report", lambda: _report(run_dir, state, result), key=report_key)
    if not Path(report["html"]).is_file():  # deleted since: written again
        report = _report(run_dir, state, result)
    result.report = report["html"]
    return result


def check_run(config: RunSettings):
    """Everything that can be checked before a model loads: the ontology and the training
    options (the settings themselves were checked when read). Returns the ontology."""
    from distil.ontologies import Ontology
    from distil.target_models import check_options

    ontology = Ontology.from_yaml(config.ontology)
    check_options(config.train.options)
    return ontology


def _sources(config: RunSettings) -> list[Any]:
    """Every source file the inputs hold, with its size and modification time (a URL's
    files by name): what the label stage reads."""
    from distil.sources import as_url, scan_sources

    found = []
    for path in scan_sources(config.inputs):
        if as_url(path) is not None:
            found.append(str(path))
            continue
        try:
            info = os.stat(path)
        except OSError:
            found.append(str(path))  # unreadable now: the label stage says why
            continue
        found.append([str(path), info.st_size, info.st_mtime_ns])
    return found


def _stamps(paths: list[Path]) -> list[Any]:
    """Size and modification time of `paths` (each file under a folder), or None."""
    stamps = []
    for root in paths:
        files = sorted(Path(root).rglob("*")) if Path(root).is_dir() else [Path(root)]
        for file in files:
            try:
                info = file.stat()
            except OSError:
                stamps.append([str(file), None])
                continue
            if file.is_file():
                stamps.append([str(file), info.st_size, info.st_mtime_ns])
    return stamps


def _label(config: RunSettings, ontology, run_dir: Path, progress: StageProgress) -> dict:
    from distil.labeling import label

    with progress("label") as update:
        summary = label(config.inputs, ontology, config.label, run_dir / "label", update)
    return summary.to_dict()


def _dataset(config: RunSettings, run_dir: Path, progress: StageProgress) -> dict[str, Any]:
    from distil.datasets import export_dataset

    with progress("dataset") as update:
        summary = export_dataset(
            run_dir / "label", run_dir / "dataset", config.dataset, progress=update
        )
    if not summary.images_per_split.get("train"):
        raise UsageError("the dataset has no training images: label more images")
    return summary.to_dict()


def _train(
    config: RunSettings, run_dir: Path, state: _State, key: str, progress: StageProgress
) -> dict[str, Any]:
    from distil.target_models import student_for
    from distil.target_models.core import log_epochs

    with progress("train") as update:
        if len(config.train.models) > 1:
            return _compare(config, run_dir, update or log_epochs)
        student = student_for(config.train.model)
        return _fit(student, config, run_dir, state, key, update or log_epochs)


def _compare(config: RunSettings, run_dir: Path, update) -> dict[str, Any]:
    """`train.candidates`: each trained, scored and timed in candidates/; the one picked
    by `train.select` is the run's student (evaluated and exported as one trained alone)."""
    from distil.evaluation.candidates import compare_candidates
    from distil.target_models.core import TRAIN_DONE_FILE

    table = compare_candidates(run_dir / "dataset", config.train, run_dir, "candidates", update)
    picked = next((r for r in table.rows if r.model == table.chosen), None)
    if picked is None:
        raise UsageError(f"train.select {table.select}: no student picked: {table.reason}")
    logger.info("student: %s (%s)", picked.model, table.reason)
    done = json.loads((Path(picked.run_dir) / TRAIN_DONE_FILE).read_text())
    return {**done, "candidates": table.to_dict()}


def _fit(student, config: RunSettings, run_dir: Path, state: _State, key: str, update) -> dict:
    from distil.evaluation.core import student_validator

    validator = student_validator if student.needs_validator else None
    train_dir = run_dir / _train_dir_name(run_dir, state, key)
    last = next((train_dir / "weights").glob("last*"), None)  # last.pt, or a last/ folder
    if last is not None:
        if state.data.get("train_key") not in (None, key):
            raise UsageError(
                f"{train_dir} was trained with other settings; choose another "
                "run name (name=...) or delete that folder"
            )
        logger.info("resuming training from %s", last)
        return student.resume(train_dir, progress=update, validator=validator).to_dict()
    state.data["train_key"] = key  # what train/ holds, so changed settings are caught
    state.data.setdefault("trainings", {})[train_dir.name] = key
    state.save()
    dataset = run_dir / "dataset"
    return student.train_with(
        dataset, config.train, run_dir, train_dir.name, update, validator=validator
    ).to_dict()


def _train_dir_name(run_dir: Path, state: _State, key: str) -> str:
    """`train`, or for labels with human corrections `train-reviewed<frames>`: each
    round's student is kept, and a finished training is never mistaken for one to resume.
    Another set of corrections with as many frames gets the next free name (`-2`, `-3`)."""
    reviewed = len(_reviewed(run_dir / "label"))
    if not reviewed:
        return "train"
    trainings: dict[str, str] = state.data.get("trainings", {})
    base = name = f"train-reviewed{reviewed}"
    count = 1
    while not (
        trainings.get(name) == key or (name not in trainings and not (run_dir / name).exists())
    ):
        count += 1
        name = f"{base}-{count}"
    return name


def _eval(config: RunSettings, run_dir: Path, trained: dict[str, Any]) -> dict[str, Any]:
    from distil.evaluation import evaluate_path

    settings = config.eval
    out: dict[str, Any] = {}
    if settings.ground_truth:
        truth = settings.ground_truth
        labels = evaluate_path(
            run_dir / "dataset", truth, settings, sweep_out=run_dir / "ontology_swept.yaml"
        )
        out["labels"] = labels.to_dict()
        against = f"ground truth {truth}"
    else:
        truth, settings = run_dir / "dataset", settings.replace(split="val")
        against = "the auto-labels of the val split (no eval.ground_truth given)"
    student = evaluate_path(
        Path(trained["best"]),
        truth,
        settings.replace(sweep=False, imgsz=settings.imgsz or config.train.imgsz),
    )
    out["student"] = {
        **student.to_dict(),
        "against": against,
        "metrics": student.metrics(),
    }
    if settings.ground_truth:
        from distil.evaluation.overlap import image_overlap

        overlap = image_overlap(run_dir / "dataset" / "images" / "train", truth)
        out["student"]["overlap"] = overlap.to_dict()
        if overlap.warning():
            logger.warning("%s", overlap.warning())
    atomic_write_json(run_dir / "eval.json", out)
    return out


def _reviewed(label_dir: Path) -> list[list[Any]]:
    """What the store's human labels are now (frame and import time of each)."""
    from distil.store import LabelStore

    with LabelStore.open(label_dir) as store:
        return sorted([h.hash, h.imported_at] for h in store.human_labels())


def _import_corrections(config: RunSettings, run_dir: Path) -> dict[str, Any]:
    """Corrected task files named in `review.corrections` (missing ones are waited for)."""
    from distil.review import import_corrections

    assert config.review is not None
    imported, waiting = [], []
    for path in config.review.corrections:
        if not Path(path).exists():
            waiting.append(str(path))
            continue
        summary = import_corrections(run_dir / "label", path, config.review.format)
        imported.append(summary.to_dict())
    for path in waiting:
        logger.info("review.corrections: %s is not there yet; imported when it is", path)
    return {"imported": imported, "waiting": waiting}


def _review(
    config: RunSettings, run_dir: Path, trained: dict[str, Any], evaluation: dict[str, Any]
) -> dict[str, Any]:
    """The next round's task file, ranked with the trained student's disagreement."""
    from distil.review import write_review_round
    from distil.store import LabelStore

    assert config.review is not None
    with LabelStore.open(run_dir / "label") as store:
        number = len(store.review_rounds()) + 1
    settings = config.review.replace(student=Path(trained["best"]))
    summary = write_review_round(
        run_dir / "label",
        run_dir / "review" / f"round{number}",
        settings,
        student_score=evaluation["student"]["metrics"]["map50"],
    )
    return summary.to_dict()


def _export(config: RunSettings, trained: dict[str, Any]) -> dict[str, Any]:
    from distil.evaluation.quantization import int8_cost
    from distil.target_models import export_student, onnx_latency

    settings = config.export
    imgsz = settings.imgsz or config.train.imgsz
    exports = []
    for format in settings.formats:
        result = export_student(
            Path(trained["best"]), format, imgsz, settings.half, settings.dynamic,
            settings.check, int8=settings.int8, data=settings.data,
            calibration=settings.calibration,
        )  # fmt: skip
        exports.append((int8_cost(result) if settings.int8 else result).to_dict())
    latency = []
    onnx = next((e["path"] for e in exports if e["format"] == "onnx"), None)
    if config.export.benchmark and onnx:
        latency.append(onnx_latency(Path(onnx), imgsz, runs=config.export.benchmark_runs).to_dict())
    return {"exports": exports, "latency": latency}


def _report(run_dir: Path, state: _State, result: RunResult) -> dict[str, Any]:
    from distil.reports.html import write_run_report

    path = write_run_report(run_dir, state.data["stages"], result.missed_bars)
    return {"html": str(path)}
