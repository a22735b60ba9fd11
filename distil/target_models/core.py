"""What a student (target model) is: something distil can train, predict with and export."""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from distil.settings import ExportTask

StudentTask = ExportTask  # a student detects or segments, as its dataset does


class TargetModel(ABC):
    """A student; third-party ones register under the `distil.target_models` entry points."""

    @abstractmethod
    def train(self, data: Path, **options: Any) -> Any:
        """Train on a YOLO dataset; returns a summary with the run folder and weights."""

    @abstractmethod
    def predict(self, sources: list[Path], out_dir: Path, **options: Any) -> Any:
        """Write annotated outputs and labels for images or videos."""

    @abstractmethod
    def export(self, format: str, **options: Any) -> Any:
        """Write a deployable model file; returns its path."""
