"""Several students trained on one split, scored by one ruler, timed on one target, and
the one to keep picked by a rule (`--select`): `distil train DATASET --model a,b`.

Each candidate trains in its own run folder, is evaluated on the dataset's validation
frames by distil's COCO mAP, exported to ONNX at the training size (parity-checked) and
timed with ONNX Runtime here. The table and the pick are written to `candidates.json`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distil.errors import DistilError, UsageError
from distil.settings import TrainSettings, parse_select, student_licence
from distil.utils.files import atomic_write_text, increment_path

logger = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.json"
LATENCY_RUNS = 50


@dataclass
class Candidate:
    """One student's row of the table."""

    model: str
    run_dir: str
    best: str
    onnx: str
    map50_95: float
    map50: float
    latency_p50_ms: float
    latency_p90_ms: float
    parameters: int
    file_mb: float
    licence: str
    error: str = ""  # why this candidate has no scores (its training or export failed)
    latency_on: str = ""  # the ONNX Runtime provider timed (CUDA where onnxruntime-gpu is)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Candidates:
    """The table, the rule and the candidate it keeps (None when none meets it)."""

    folder: str
    select: str
    rows: list[Candidate] = field(default_factory=list)
    chosen: str | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "folder": self.folder,
            "select": self.select,
            "chosen": self.chosen,
            "reason": self.reason,
            "candidates": [r.to_dict() for r in self.rows],
        }


def choose(rows: list[Candidate], select: str) -> tuple[str | None, str]:
    """The model `select` keeps among `rows`, and why in words.

    >>> a = Candidate("a", "", "", "", 0.4, 0.6, 9.0, 10.0, 1, 1.0, "agpl-3.0")
    >>> b = Candidate("b", "", "", "", 0.3, 0.7, 4.0, 5.0, 1, 1.0, "apache-2.0")
    >>> choose([a, b], "map50-95")[0], choose([a, b], "map50")[0], choose([a, b], "latency<=5ms")[0]
    ('a', 'b', 'b')
    """
    metric, bound = parse_select(select)
    key = "map50_95" if metric == "map50-95" else "map50"
    rows = [r for r in rows if not r.error]
    if not rows:
        return None, "every candidate failed"
    fitting = [r for r in rows if bound is None or r.latency_p50_ms <= bound]
    if not fitting:
        fastest = min(rows, key=lambda r: r.latency_p50_ms)
        return None, (
            f"no candidate runs within {bound:g} ms here (fastest: {fastest.model}, "
            f"{fastest.latency_p50_ms:.1f} ms median)"
        )
    best = max(fitting, key=lambda r: (getattr(r, key), -r.latency_p50_ms))
    within = f" among those within {bound:g} ms median" if bound is not None else ""
    return best.model, f"best {metric} {getattr(best, key):.3f}{within}"


def compare_candidates(
    data: Path,
    settings: TrainSettings,
    project: Path,
    name: str | None = None,
    progress: Callable[..., None] | None = None,
) -> Candidates:
    """Train, score, export and time every candidate of `settings.model`, and pick one.

    >>> compare_candidates(Path("datasets/exp"), TrainSettings(model="yolo11n,yolo26n"),
    ...                    Path("runs/train"))  # doctest: +SKIP
    """
    from distil.datasets import read_dataset
    from distil.target_models.data import find_data_yaml

    models = settings.models
    if len(models) < 2:
        raise UsageError("--model: name two or more students to compare (yolo11n,yolo26n)")
    data_yaml = find_data_yaml(data)
    truth = read_dataset(data_yaml, "val")  # every candidate is judged on these frames
    folder = Path(project) / name if name else increment_path(Path(project) / "candidates")
    result = Candidates(str(folder), settings.select)
    for model in models:
        one = settings.model_copy(update={"model": model, "candidates": None})
        run_name = Path(model).name if Path(model).exists() else model.replace("/", "_")
        run_name = Path(run_name).stem if model.endswith((".pt", ".yaml")) else run_name
        try:
            row = _candidate(data, one, folder, run_name, truth, progress)
        except (DistilError, RuntimeError) as e:  # one failed candidate leaves the others
            logger.warning("candidate %s failed: %s", model, e)
            row = Candidate(model, str(folder / run_name), "", "", 0.0, 0.0, 0.0, 0.0, 0, 0.0,
                            student_licence(model), error=str(e).splitlines()[0][:300])  # fmt: skip
        result.rows.append(row)
    result.chosen, result.reason = choose(result.rows, settings.select)
    atomic_write_text(folder / CANDIDATES_FILE, json.dumps(result.to_dict(), indent=2) + "\n")
    return result


def _candidate(
    data: Path,
    settings: TrainSettings,
    folder: Path,
    run_name: str,
    truth: Any,
    progress: Callable[..., None] | None,
) -> Candidate:
    """Train one candidate, score it on `truth`, export it to ONNX and time it."""
    from distil.evaluation.core import evaluate, student_validator
    from distil.evaluation.predictions import student_predictions
    from distil.target_models import export_student, onnx_latency, student_for

    student = student_for(settings.model)
    validator = student_validator if student.needs_validator else None
    shown = {"progress": progress} if progress else {}
    if (folder / run_name).is_dir():  # a comparison stopped part way: its runs go on
        trained = student.resume(folder / run_name, **shown, validator=validator)
    else:
        trained = student.train_with(data, settings, folder, run_name, **shown, validator=validator)
    best = Path(trained.best)
    report = evaluate(student_predictions(best, truth, conf=0.001, device="cpu"), truth)
    exported = export_student(best, "onnx", imgsz=settings.imgsz)
    timed = onnx_latency(Path(exported.path), settings.imgsz, runs=LATENCY_RUNS)
    return Candidate(
        model=settings.model,
        run_dir=trained.run_dir,
        best=trained.best,
        onnx=exported.path,
        map50_95=report.map50_95,
        map50=report.map50,
        latency_p50_ms=timed.p50_ms,
        latency_p90_ms=timed.p90_ms,
        parameters=parameter_count(best),
        file_mb=round(Path(exported.path).stat().st_size / 2**20, 2),
        licence=trained.licence,
        latency_on=timed.provider,
    )


def parameter_count(weights: Path) -> int:
    """The parameters of a trained student (a YOLO .pt or a transformers folder)."""
    from distil.target_models.transformers_detr import is_detr_weights, load_detr_model

    if is_detr_weights(weights):
        return int(load_detr_model(weights).num_parameters())
    from distil.utils.ultralytics import load_yolo

    return sum(p.numel() for p in load_yolo(weights).model.parameters())
