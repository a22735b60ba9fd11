"""Every label format distil writes and reads, in one table: export, the review hand-off,
import and eval all look a format up here, so a new format is one module and one line.

A format module gives one `Format`:

- `dataset_writer(root, names, options)`: a `DatasetWriter` that streams a whole dataset
  with its splits into `root` (`distil export --format`): `add(image, split)` per image,
  `finish()` once.
- `write_handoff(folder, images, names, options)` / `read_handoff(path, names, size_of)`:
  the files a person corrects in a labeling tool (`distil review`), and reading them back
  (`distil review import`).
- `read_dataset(path, split)`: a dataset as ground truth (`distil eval -g`), where the
  format holds one that distil can judge against.

>>> get_format("yolo").name.value
'yolo'
>>> [f.value for f in FORMATS]
['yolo', 'coco', 'voc', 'label-studio', 'cvat']
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from distil.datasets.polygons import PolygonStats
from distil.errors import MissingInputError, UsageError
from distil.settings import LabelFormat
from distil.utils.suggest import did_you_mean

if TYPE_CHECKING:
    from distil.datasets.labeled import LabeledImage, LabeledSet, SizeOf

# The module and name of each format's `Format`, imported when the format is used.
FORMATS: dict[LabelFormat, str] = {
    LabelFormat.YOLO: "distil.datasets.formats.yolo:YOLO",
    LabelFormat.COCO: "distil.datasets.formats.coco:COCO",
    LabelFormat.VOC: "distil.datasets.formats.voc:VOC",
    LabelFormat.LABEL_STUDIO: "distil.datasets.formats.label_studio:LABEL_STUDIO",
    LabelFormat.CVAT: "distil.datasets.formats.cvat:CVAT",
}


@dataclass(frozen=True)
class WriteOptions:
    """How a dataset writer draws the labels: `masks` None (boxes), 'polygon' or 'rle'
    (COCO's exact masks); `final_root` is where the dataset will be once written (a
    dataset is written into a staging folder, then swapped in)."""

    masks: str | None = None
    min_fragment_area: float = 0.0
    tolerance: float = 0.0
    final_root: Path | None = None


@dataclass(frozen=True)
class HandoffOptions:
    """A review round's files: `masks` (the store has them), `brush` (masks as a tool's
    brush strokes, not polygons), and per image key its `urls` and ranking `scores`."""

    masks: bool = False
    brush: bool = False
    urls: dict[str, str] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)


class DatasetWriter(ABC):
    """Streams a dataset into `root`. Each `add` gets an image whose `path` is where it
    lies under `images/<split>/` and whose `key` is its source in the store."""

    def __init__(self, root: Path, names: Sequence[str], options: WriteOptions) -> None:
        self.root = Path(root)
        self.names = list(names)
        self.options = options
        self.stats = PolygonStats()
        self.per_split: Counter[str] = Counter()

    @staticmethod
    def relative(image: LabeledImage) -> Path:
        """Where the image lies under `images/<split>/`."""
        return Path(image.path or image.key)

    @abstractmethod
    def add(self, image: LabeledImage, split: str) -> None:
        """Write (or hold) one image's labels."""

    def finish(self) -> None:  # noqa: B027 - a hook: formats with a file per image need none
        """Write what is written once, after the last image (an index, a split's file)."""


@dataclass(frozen=True)
class Format:
    name: LabelFormat
    dataset_writer: Callable[[Path, Sequence[str], WriteOptions], DatasetWriter]
    write_handoff: Callable[[Path, list[LabeledImage], Sequence[str], HandoffOptions], Path]
    read_handoff: Callable[[Path, Sequence[str], SizeOf], list[LabeledImage]]
    read_dataset: Callable[[Path, str | None], LabeledSet] | None = None


def get_format(name: LabelFormat | str) -> Format:
    """The format called `name`; an unknown name is a UsageError listing the known ones."""
    try:
        key = LabelFormat(name)
    except ValueError:
        known = [f.value for f in LabelFormat]
        raise UsageError(
            f"unknown format '{name}'.{did_you_mean(str(name), known)} Formats: " + ", ".join(known)
        ) from None
    module, _, attribute = FORMATS[key].partition(":")
    found: Format = getattr(importlib.import_module(module), attribute)
    return found


def annotation_files(path: Path, suffix: str) -> list[Path]:
    """`path` itself, or the `suffix` files under the folder `path`, in name order."""
    if path.is_file():
        return [path]
    files = sorted(p for p in path.rglob(f"*{suffix}") if p.is_file())
    if not files:
        raise MissingInputError(f"{path}: no {suffix} files to import")
    return files
