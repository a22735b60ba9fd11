"""What a student (target model) is: something distil can train, predict with and export."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from distil.errors import UsageError
from distil.settings import STUDENT_LICENCES, ExportTask, check_project, check_run_name

logger = logging.getLogger(__name__)

StudentTask = ExportTask  # a student detects or segments, as its dataset does
TRAIN_DONE_FILE = "distil_train.json"  # a finished run: its TrainResult
ONNX_CHECK_ATOL = 1e-2  # pixels for boxes, probability for scores


@dataclass
class ExportResult:
    """A deployable file a student exported, and how its check against PyTorch went."""

    path: str
    format: str
    imgsz: int
    seconds: float
    check: dict[str, Any] | None = None
    int8: dict[str, Any] | None = None  # --int8: the float and INT8 models' mAP and latency

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class TargetModel(ABC):
    """A student; third-party ones register under the `distil.target_models` entry points.

    `train` returns a result with `run_dir`, `best` and `licence`; `needs_validator`: it
    takes a `validate` callable (from `distil.evaluation.student_validator`) that scores
    an epoch's boxes on the validation split, rather than scoring them itself."""

    needs_validator: ClassVar[bool] = False

    @classmethod
    def accepts(cls, model: str) -> bool:
        """Whether `train.model` value `model` names a student of this kind."""
        return False

    @classmethod
    def accepts_weights(cls, weights: Path) -> bool:
        """Whether `weights` (a file or folder `train` wrote, or its export) is one of these."""
        return False

    @classmethod
    def accepts_run(cls, run_dir: Path) -> bool:
        """Whether the training run folder `run_dir` (to resume) is one of these."""
        return False

    @abstractmethod
    def train(self, data: Path, **options: Any) -> Any:
        """Train on a YOLO dataset; returns a summary with the run folder and weights."""

    @abstractmethod
    def train_with(
        self,
        data: Path,
        settings: Any,
        project: Path,
        name: str | None = None,
        progress: Any = None,
        validator: Any = None,
    ) -> Any:
        """`train` with a `TrainSettings` (what `distil train` and `distil run` call), in
        `project/name`, sending a `TrainStatus` to `progress` after each batch and epoch."""

    def resume(self, run_dir: Path, progress: Any = None, validator: Any = None) -> Any:
        """Continue an interrupted run folder (`--resume`)."""
        raise UsageError(f"--resume {run_dir}: {type(self).__name__} cannot resume a run")

    @abstractmethod
    def predict(self, sources: list[Path], out_dir: Path, **options: Any) -> Any:
        """Write annotated outputs and labels for images or videos."""

    @abstractmethod
    def export(self, format: str, **options: Any) -> Any:
        """Write a deployable model file; returns its path."""


@dataclass
class TrainStatus:
    """Where training is: sent after every batch, and after every epoch with its metrics."""

    epoch: int  # 1-based: the epoch running, or just finished
    epochs: int
    batch: int  # batches done in this epoch
    batches: int
    losses: dict[str, float] = field(default_factory=dict)  # this epoch's running means
    metrics: dict[str, float] = field(default_factory=dict)  # validation, at epoch end
    epoch_done: bool = False
    epoch_s: float = 0.0  # the finished epoch's time
    validated: bool = True  # False: validation is off for this epoch (`val=False`)

    def line(self) -> str:
        """`epoch 3/100 box 1.234 cls 2.345 dfl 1.100 | mAP50 0.412 mAP50-95 0.251 (12.3s)`"""
        losses = " ".join(f"{k.removesuffix('_loss')} {v:.3f}" for k, v in self.losses.items())
        shown = {k: v for k, v in self.metrics.items() if k.startswith("metrics/")}
        metrics = " ".join(
            f"{k.split('/')[-1].removesuffix('(B)')} {v:.3f}" for k, v in shown.items()
        )
        if not self.validated:
            metrics = "not validated"
        return f"epoch {self.epoch}/{self.epochs} {losses} | {metrics} ({self.epoch_s:.1f}s)"


def log_epochs(status: TrainStatus) -> None:
    """The default progress: one log line per finished epoch."""
    if status.epoch_done:
        logger.info("%s", status.line())


@dataclass
class TrainResult:
    run_dir: str
    best: str
    last: str
    model: str
    pretrained: bool
    task: str
    device: str
    epochs: int
    metrics: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    resumed: bool = False
    licence: str = STUDENT_LICENCES["ultralytics"]  # of the student's code and weights

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_run_folder(project: Path, name: str | None) -> None:
    """The run folder stays inside `project`, and `project` has no `..`."""
    try:
        check_project(Path(project))
    except ValueError as e:
        raise UsageError(f"project: {e}") from None
    if name is not None:
        try:
            check_run_name(name)
        except ValueError as e:
            raise UsageError(f"name: {e}") from None
