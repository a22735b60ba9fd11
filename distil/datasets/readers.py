"""Read YOLO and COCO datasets (ground truth, or labels to be judged) into Detections."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import supervision as sv
import yaml

from distil.sources.core import scan_images
from distil.sources.images import _pil_open

logger = logging.getLogger(__name__)

EXIF_ORIENTATION = 0x0112
ROTATED_ORIENTATIONS = {5, 6, 7, 8}
CROWD = "iscrowd"  # COCO crowd regions: neither hits nor misses when evaluating


@dataclass
class LabeledImage:
    """One image's boxes; `key` (the file stem) is how predictions are matched to it."""

    key: str
    path: Path | None
    width: int
    height: int
    detections: sv.Detections


@dataclass
class LabeledSet:
    names: list[str]
    images: dict[str, LabeledImage] = field(default_factory=dict)

    def add(self, image: LabeledImage) -> None:
        if image.key in self.images:
            logger.warning(
                "two images are named %s; only the first is used (images are matched by file name)",
                image.key,
            )
            return
        self.images[image.key] = image


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed, i.e. after EXIF rotation, read from the header only."""
    with _pil_open()(path) as image:
        width, height = image.size
        if image.getexif().get(EXIF_ORIENTATION) in ROTATED_ORIENTATIONS:
            width, height = height, width
    return width, height


def read_dataset(path: Path, split: str | None = None) -> LabeledSet:
    """A YOLO dataset (folder or data.yaml) or a COCO dataset (folder or .json)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset not found: {path}")
    if path.suffix == ".json" or (path.is_dir() and (path / "annotations").is_dir()):
        return read_coco(path, split)
    return read_yolo(path, split)


def _yolo_image_dirs(data_yaml: Path, split: str | None) -> tuple[list[str], list[Path]]:
    data = yaml.safe_load(data_yaml.read_text()) or {}
    names = data.get("names")
    if isinstance(names, dict):
        names = [names[k] for k in sorted(names)]
    if not names:
        raise ValueError(f"{data_yaml}: no 'names'")
    root = Path(data.get("path") or ".")
    if not root.is_absolute():
        root = (data_yaml.parent / root).resolve()
    splits = [s for s in ("train", "val", "test") if data.get(s)]
    if split is not None:
        if split not in splits:
            raise ValueError(f"{data_yaml}: no '{split}' split (it has: {', '.join(splits)})")
        splits = [split]
    entries: list[Path] = []
    for s in splits:
        value = data[s]
        for item in value if isinstance(value, list) else [value]:
            entries.append(root / item)
    return [str(n) for n in names], entries


def _list_images(entry: Path) -> list[Path]:
    if entry.suffix == ".txt" and entry.is_file():
        base = entry.parent
        return [
            (base / line.strip()).resolve()
            for line in entry.read_text().splitlines()
            if line.strip()
        ]
    if not entry.is_dir():
        raise FileNotFoundError(f"image folder not found: {entry}")
    return list(scan_images(entry))


def label_file_for(image: Path) -> Path:
    """Ultralytics' rule: the last /images/ in the path becomes /labels/, suffix .txt."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def read_yolo_labels(label: Path, width: int, height: int) -> sv.Detections:
    """Boxes from a YOLO label file (boxes or polygons; a 6th box column is a confidence)."""
    classes, boxes, scores = [], [], []
    text = label.read_text() if label.is_file() else ""
    for number, line in enumerate(text.splitlines(), 1):
        values = line.split()
        if not values:
            continue
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise ValueError(f"{label}:{number}: not a YOLO label line: {line!r}") from None
        cls, rest = int(numbers[0]), numbers[1:]
        if len(rest) in (4, 5):
            cx, cy, w, h = rest[:4]
            box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]
            scores.append(rest[4] if len(rest) == 5 else 1.0)
        elif len(rest) >= 6 and len(rest) % 2 == 0:
            xs, ys = rest[0::2], rest[1::2]
            box = [min(xs), min(ys), max(xs), max(ys)]
            scores.append(1.0)
        else:
            raise ValueError(f"{label}:{number}: expected 5 values or a polygon, got {len(values)}")
        classes.append(cls)
        boxes.append(box)
    if not boxes:
        return sv.Detections.empty()
    xyxy = np.array(boxes, dtype=np.float32) * np.array([width, height, width, height])
    return sv.Detections(
        xyxy=xyxy,
        class_id=np.array(classes, dtype=int),
        confidence=np.array(scores, dtype=np.float32),
    )


def read_yolo(path: Path, split: str | None = None) -> LabeledSet:
    data_yaml = path if path.is_file() else path / "data.yaml"
    if not data_yaml.is_file():
        raise FileNotFoundError(
            f"{path}: no data.yaml (a YOLO dataset needs one for its class names)"
        )
    names, entries = _yolo_image_dirs(data_yaml, split)
    labeled = LabeledSet(names)
    seen: set[Path] = set()
    for entry in entries:
        for image in _list_images(entry):
            if image in seen:  # coco128-style yaml lists one folder as train and val
                continue
            seen.add(image)
            width, height = image_size(image)
            detections = read_yolo_labels(label_file_for(image), width, height)
            labeled.add(LabeledImage(image.stem, image, width, height, detections))
    return labeled


def read_coco(path: Path, split: str | None = None) -> LabeledSet:
    """A COCO .json, or a folder whose annotations/<split>.json files are all read."""
    if path.is_dir():
        files = sorted((path / "annotations").glob("*.json"))
        if split is not None:
            files = [f for f in files if f.stem == split]
            if not files:
                raise ValueError(f"{path}: no annotations/{split}.json")
        images_root = path / "images"
    else:
        files, images_root = [path], path.parent
    labeled: LabeledSet | None = None
    for file in files:
        coco = json.loads(file.read_text())
        categories = sorted(coco["categories"], key=lambda c: c["id"])
        names = [c["name"] for c in categories]
        if labeled is None:
            labeled = LabeledSet(names)
        elif labeled.names != names:
            raise ValueError(f"{file}: categories differ from the other annotation files")
        class_of = {c["id"]: i for i, c in enumerate(categories)}
        boxes: dict[int, list] = {}
        for ann in coco.get("annotations", []):
            x, y, w, h = ann["bbox"]
            boxes.setdefault(ann["image_id"], []).append(
                (
                    class_of[ann["category_id"]],
                    x,
                    y,
                    x + w,
                    y + h,
                    ann.get("score", 1.0),
                    int(ann.get("iscrowd", 0)),
                )
            )
        for image in coco["images"]:
            rows = boxes.get(image["id"], [])
            detections = (
                sv.Detections.empty()
                if not rows
                else sv.Detections(
                    xyxy=np.array([r[1:5] for r in rows], dtype=np.float32),
                    class_id=np.array([r[0] for r in rows], dtype=int),
                    confidence=np.array([r[5] for r in rows], dtype=np.float32),
                    data={CROWD: np.array([r[6] for r in rows], dtype=bool)},
                )
            )
            file_name = Path(image["file_name"])
            candidates = [images_root / file.stem / file_name, images_root / file_name]
            found = next((c for c in candidates if c.is_file()), None)
            labeled.add(
                LabeledImage(file_name.stem, found, image["width"], image["height"], detections)
            )
    if labeled is None:
        raise FileNotFoundError(f"{path}: no COCO annotation files")
    return labeled
