"""The dataset card: what made a dataset, with which settings, and what is in it.

Export writes it (`dataset_card.json` plus a readable `README.md`); train, eval and the
report read it back as a `DatasetCard`, never as a loose dict.

>>> card = DatasetCard.read(Path("runs/label/exp/dataset"))  # doctest: +SKIP
>>> card.export.task, [c.box_threshold for c in card.classes]  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from distil.errors import UsageError
from distil.settings import ExportTask, ImageMode, LabelFormat
from distil.utils.files import atomic_write_json, atomic_write_text

CARD_FILE = "dataset_card.json"


class _Part(BaseModel):
    # Cards from newer releases may say more; what this one knows is still read.
    model_config = ConfigDict(extra="ignore")


class CardClass(_Part):
    id: int
    name: str
    prompts: list[str]
    box_threshold: float
    text_threshold: float | None = None  # None: the teacher scores no text (a YOLO .pt)
    min_area: float | None = None
    max_area: float | None = None
    instances: int = 0
    teacher: str | None = None  # the detector that labeled this class
    reviewed_frames: int = 0  # frames with this class whose labels a person reviewed


class CardTeacher(_Part):
    detector: dict[str, Any]
    segmenter: dict[str, Any] | None = None
    store_threshold: float


class CardExport(_Part):
    """The export settings the dataset was written with."""

    format: LabelFormat
    task: ExportTask
    nms_iou: float
    classes: list[str] | Literal["all"] = "all"
    split: list[float]
    seed: int
    images: ImageMode
    min_fragment_area: float
    polygon_tolerance: float
    coco_rle: bool = False


class DatasetCard(_Part):
    name: str
    distil_version: str
    created: str
    source_labels: str  # the label folder it was exported from
    fingerprint: str
    teacher: CardTeacher
    classes: list[CardClass]
    reviewed_frames: int = 0  # frames exported with human labels
    images: int
    images_per_split: dict[str, int]
    polygons: dict[str, int] = {}
    export: CardExport
    notes: list[str] = []

    @classmethod
    def read(cls, root: Path) -> DatasetCard | None:
        """The card of the dataset in `root`, or None when it has none (not from distil)."""
        path = Path(root) / CARD_FILE
        if not path.is_file():
            return None
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except ValidationError as e:
            raise UsageError(
                f"{path}: not a distil dataset card ({e.errors()[0]['msg']})"
            ) from None

    def write(self, root: Path) -> None:
        """`dataset_card.json` and a readable `README.md` next to the data."""
        atomic_write_json(Path(root) / CARD_FILE, self.model_dump(mode="json"))
        atomic_write_text(Path(root) / "README.md", self.render())

    def render(self) -> str:
        """The card as Markdown."""
        detector = self.teacher.detector
        lines = [
            f"# {self.name}",
            "",
            f"Auto-labeled by distil {self.distil_version} on {self.created}.",
            "",
            "## Teacher",
            f"- detector: `{detector['model']}` ({detector['family']}, "
            f"revision `{detector['revision']}`"
            + (", with its own masks)" if detector.get("masks") else ")"),
        ]
        if self.teacher.segmenter:
            seg = self.teacher.segmenter
            lines.append(
                f"- segmenter: `{seg['model']}` ({seg['family']}, revision `{seg['revision']}`)"
            )
        routed = len({c.teacher for c in self.classes}) > 1
        lines += [
            "",
            "## Classes",
            "",
            "| id | class | prompts | box thr | text thr | instances |"
            + (" teacher |" if routed else ""),
            "|---|---|---|---|---|---|" + ("---|" if routed else ""),
        ]
        for c in self.classes:
            lines.append(
                f"| {c.id} | {c.name} | {', '.join(c.prompts)} | "
                f"{c.box_threshold} | {'-' if c.text_threshold is None else c.text_threshold} | "
                f"{c.instances} |" + (f" `{c.teacher}` |" if routed else "")
            )
        if self.reviewed_frames:
            per_class = ", ".join(
                f"{c.name} {c.reviewed_frames}" for c in self.classes if c.reviewed_frames
            )
            lines += [
                "",
                "## Reviewed",
                "",
                f"{self.reviewed_frames} frames carry human labels, written as reviewed (no "
                f"threshold, NMS or area filter). Reviewed frames per class: {per_class or '-'}.",
            ]
        lines += ["", "## Splits", ""]
        for split, count in self.images_per_split.items():
            lines.append(f"- {split}: {count} images")
        lines += ["", "## Export settings", ""]
        for key, value in self.export.model_dump(mode="json").items():
            lines.append(f"- {key}: {value}")
        if self.notes:
            lines += ["", "## Notes", ""] + [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"
