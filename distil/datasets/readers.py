"""Read any YOLO or COCO dataset (ground truth, or labels to be judged) into Detections."""

from __future__ import annotations

from pathlib import Path

from distil.datasets.formats.coco import read_coco
from distil.datasets.formats.yolo import read_yolo
from distil.datasets.labeled import LabeledSet
from distil.errors import MissingInputError


def read_dataset(path: Path, split: str | None = None) -> LabeledSet:
    """A YOLO dataset (folder or data.yaml) or a COCO dataset (folder or .json)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"dataset not found: {path}")
    if path.suffix == ".json" or (path.is_dir() and (path / "annotations").is_dir()):
        return read_coco(path, split)
    return read_yolo(path, split)
