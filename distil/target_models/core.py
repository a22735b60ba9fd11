"""What a student (target model) is: something distil can train, predict with and export."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from distil.settings import ExportTask

StudentTask = ExportTask  # a student detects or segments, as its dataset does


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
    def predict(self, sources: list[Path], out_dir: Path, **options: Any) -> Any:
        """Write annotated outputs and labels for images or videos."""

    @abstractmethod
    def export(self, format: str, **options: Any) -> Any:
        """Write a deployable model file; returns its path."""
