"""Read any YOLO or COCO dataset (ground truth, or labels to be judged) into Detections."""

from __future__ import annotations

from pathlib import Path

from distil.datasets.formats.registry import get_format
from distil.datasets.labeled import LabeledSet
from distil.errors import MissingInputError, UsageError
from distil.settings import LabelFormat


def read_dataset(path: Path, split: str | None = None) -> LabeledSet:
    """A YOLO dataset (folder or data.yaml) or a COCO dataset (folder or .json)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"dataset not found: {path}")
    coco = path.suffix == ".json" or (path.is_dir() and (path / "annotations").is_dir())
    found = get_format(LabelFormat.COCO if coco else LabelFormat.YOLO)
    if found.read_dataset is None:
        raise UsageError(f"{path}: {found.name.value} datasets cannot be read as ground truth")
    return found.read_dataset(path, split)
