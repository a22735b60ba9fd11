"""Whether a student is judged on images it was trained on: same bytes, any file name."""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from distil.sources.core import is_image_file
from distil.sources.images import content_hash


@dataclass
class Overlap:
    ground_truth_images: int
    training_images: int
    shared: int  # ground-truth images whose content is also a training image

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def warning(self) -> str | None:
        if not self.shared:
            return None
        return (
            f"{self.shared} of {self.ground_truth_images} ground-truth images are also "
            "training images of the student: its scores on them are optimistic; evaluate "
            "on images it never saw"
        )


def _images(root: Path) -> list[Path]:
    root = Path(root)
    if root.is_file():
        root = root.parent  # a data.yaml or COCO json: the images around it
    return [
        Path(folder) / name
        for folder, _, names in os.walk(root)
        for name in names
        if is_image_file(Path(name))
    ]


def _hash(path: Path) -> str:
    return content_hash(path.read_bytes())


def image_overlap(training: Path, ground_truth: Path) -> Overlap:
    """Count ground-truth images with the same content as a training image. Only files
    of a size some training image has are read, so a disjoint set costs a `stat` each.

    >>> image_overlap(Path("runs/run/x/dataset/images/train"), Path("coco/val"))  # doctest: +SKIP
    Overlap(ground_truth_images=128, training_images=102, shared=102)
    """
    by_size: dict[int, list[Path]] = defaultdict(list)
    for path in _images(training):
        by_size[path.stat().st_size].append(path)
    truth = _images(ground_truth)
    candidates = [p for p in truth if p.stat().st_size in by_size]
    sizes = {p.stat().st_size for p in candidates}
    trained = {_hash(p) for size in sizes for p in by_size[size]}
    shared = sum(_hash(p) in trained for p in candidates)
    return Overlap(len(truth), sum(map(len, by_size.values())), shared)
