"""YOLO datasets: label files and the data.yaml that Ultralytics trains on as-is, written
and read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv
import yaml

from distil.datasets.formats.registry import DatasetWriter, Format, HandoffOptions
from distil.datasets.labeled import (
    LabeledImage,
    LabeledSet,
    check_box,
    finite,
    image_size,
    unknown_class,
    whole,
)
from distil.datasets.naming import unique_stems
from distil.datasets.polygons import PolygonStats, mask_to_polygon
from distil.detections import class_ids, human_detections
from distil.errors import MissingInputError, UsageError
from distil.settings import LabelFormat
from distil.sources.core import scan_images
from distil.utils.files import MAX_ANNOTATION_BYTES, atomic_write_text, read_user_text
from distil.utils.yaml import load_yaml

DATA_YAML = "data.yaml"


def yolo_box_lines(detections: sv.Detections, width: int, height: int) -> list[str]:
    """'class cx cy w h' lines, normalized to [0, 1]."""
    lines = []
    for (x0, y0, x1, y1), cls in zip(detections.xyxy, class_ids(detections), strict=True):
        cx, cy = (x0 + x1) / 2 / width, (y0 + y1) / 2 / height
        w, h = (x1 - x0) / width, (y1 - y0) / height
        lines.append(f"{int(cls)} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return lines


def yolo_polygon_lines(
    detections: sv.Detections,
    width: int,
    height: int,
    min_fragment_area: float,
    tolerance: float,
    stats: PolygonStats,
) -> list[str]:
    """'class x1 y1 x2 y2 ...' lines, one polygon per instance, normalized to [0, 1]."""
    if detections.mask is None:
        raise UsageError(
            "these labels have no masks: label with a --segmenter, or export with --task detect"
        )
    lines = []
    for mask, cls in zip(detections.mask, class_ids(detections), strict=True):
        result = mask_to_polygon(mask, min_fragment_area, tolerance)
        if len(result.polygon) == 0:
            stats.empty_masks += 1
            continue
        stats.record(result)
        points = (result.polygon / np.array([width, height])).clip(0, 1)
        lines.append(f"{int(cls)} " + " ".join(f"{v:.6f}" for v in points.reshape(-1)))
    return lines


def write_data_yaml(
    root: Path, class_names: list[str], splits: dict[str, int], final_root: Path | None = None
) -> Path:
    """data.yaml in `root` with the absolute `path` of `final_root` (where the dataset will
    live once moved into place), so Ultralytics finds the images from anywhere."""
    data: dict[str, Any] = {"path": str(Path(final_root or root).resolve())}
    for split in ("train", "val", "test"):
        if splits.get(split):
            data[split] = f"images/{split}"
    if "val" not in data:
        # Ultralytics requires a val set; with none requested, validate on train and say so.
        data["val"] = data.get("train", "images/train")
    data["nc"] = len(class_names)
    data["names"] = dict(enumerate(class_names))
    path = Path(root) / DATA_YAML
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def _yolo_image_dirs(data_yaml: Path, split: str | None) -> tuple[list[str], list[Path]]:
    data = load_yaml(data_yaml) or {}
    if not isinstance(data, dict):
        raise UsageError(f"{data_yaml}: expected a mapping (names, train, val, ...)")
    names = yaml_names(data, data_yaml)
    if not names:
        raise UsageError(f"{data_yaml}: no 'names'")
    root = Path(yaml_folders(data, "path", data_yaml)[0] if data.get("path") else ".")
    if not root.is_absolute():
        root = (data_yaml.parent / root).resolve()
    splits = [s for s in ("train", "val", "test") if data.get(s)]
    if split is not None:
        if split not in splits:
            raise UsageError(f"{data_yaml}: no '{split}' split (it has: {', '.join(splits)})")
        splits = [split]
    entries: list[Path] = []
    for s in splits:
        entries += [root / item for item in yaml_folders(data, s, data_yaml)]
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
        raise MissingInputError(f"image folder not found: {entry}")
    return list(scan_images(entry))


def label_file_for(image: Path) -> Path:
    """Ultralytics' own rule: the last /images/ in the path becomes /labels/, suffix .txt."""
    from distil.utils.ultralytics import import_ultralytics

    import_ultralytics()
    from ultralytics.data.utils import img2label_paths

    return Path(img2label_paths([str(image)])[0])


def _label_rows(label: Path) -> Iterator[tuple[int, int, list[float]]]:
    """(line number, class, values) of each object line of a YOLO label file (none when it
    is missing). A class that is not a whole number from 0, a value that is not a finite
    number, a negative width or height, and a line that is neither a box nor a polygon are
    ValueErrors naming the file and line."""
    text = read_user_text(label, MAX_ANNOTATION_BYTES) if label.is_file() else ""
    for number, line in enumerate(text.splitlines(), 1):
        values = line.split()
        if not values:
            continue
        try:
            cls = whole(values[0], "class id")
            rest = [finite(v, "a coordinate") for v in values[1:]]
        except ValueError as e:
            raise UsageError(f"{label}:{number}: {e}: {line[:60]!r}") from None
        if len(rest) in (4, 5):
            if rest[2] < 0 or rest[3] < 0:
                raise UsageError(f"{label}:{number}: a box of negative width or height")
        elif len(rest) < 6 or len(rest) % 2:
            raise UsageError(f"{label}:{number}: expected 5 values or a polygon, got {len(values)}")
        yield number, cls, rest


def read_yolo_labels(label: Path, width: int, height: int) -> sv.Detections:
    """Boxes from a YOLO label file (boxes or polygons; a 6th box column is a confidence)."""
    classes, boxes, scores = [], [], []
    for _, cls, rest in _label_rows(label):
        if len(rest) in (4, 5):
            box = sv.xcycwh_to_xyxy(np.array([rest[:4]]))[0].tolist()
            scores.append(rest[4] if len(rest) == 5 else 1.0)
        else:
            xs, ys = rest[0::2], rest[1::2]
            box = [min(xs), min(ys), max(xs), max(ys)]
            scores.append(1.0)
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


def read_yolo_polygons(label: Path, width: int, height: int) -> list[np.ndarray]:
    """Each object's outline in pixels, (N, 2), in the file's order (as `read_yolo_labels`
    gives its boxes): a polygon line's points, a box line's rectangle."""
    outlines = []
    for _, _, rest in _label_rows(label):
        if len(rest) in (4, 5):
            x1, y1, x2, y2 = sv.xcycwh_to_xyxy(np.array([rest[:4]]))[0]
            points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]])
        else:
            points = np.array(rest).reshape(-1, 2)
        outlines.append(points * np.array([width, height]))
    return outlines


def read_yolo(path: Path, split: str | None = None) -> LabeledSet:
    data_yaml = path if path.is_file() else path / DATA_YAML
    if not data_yaml.is_file():
        raise MissingInputError(
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


CLASSES_TXT = "classes.txt"  # class names, one per line, as LabelImg and X-AnyLabeling read them
IMAGES_TXT = "images.txt"
# CVAT's "YOLO 1.1" export: class names in obj.names, label files in obj_<subset>_data/
CVAT_NAMES = "obj.names"


def write_yolo_folder(
    folder: Path, images: Iterable[LabeledImage], names: Sequence[str]
) -> list[Path]:
    """Plain YOLO labels for a labeling tool: `labels/<stem>.txt` per image (a clashing
    stem gets a number), `labels/classes.txt`, and `images.txt` listing the images (full
    paths) in the same order as the label files; returns the label files."""
    folder = Path(folder)
    images = list(images)
    written = []
    for image, stem in zip(images, unique_stems([i.key for i in images]), strict=True):
        lines = yolo_box_lines(image.detections, image.width, image.height)
        file = folder / "labels" / f"{stem}.txt"
        atomic_write_text(file, "".join(f"{line}\n" for line in lines))
        written.append(file)
    atomic_write_text(folder / "labels" / CLASSES_TXT, "".join(f"{n}\n" for n in names))
    atomic_write_text(folder / IMAGES_TXT, "".join(f"{i.key}\n" for i in images))
    return written


def read_yolo_folder(
    folder: Path, names: Sequence[str], size_of: Callable[[str], tuple[int, int] | None]
) -> list[LabeledImage]:
    """Label files of a folder (its `labels/`, or itself) with the class names of its
    `classes.txt` or `data.yaml`, keyed by label file name. YOLO coordinates are fractions
    of the image, so `size_of(key)` gives each image's (width, height); one it does not
    know is left out (it cannot be matched anyway). Where the folder's `images.txt`
    lists the images (as `write_yolo_folder` writes it), each file is keyed by its image's
    path instead."""
    folder = Path(folder)
    cvat = sorted(p for p in folder.glob("obj_*_data") if p.is_dir())
    labels = folder / "labels" if (folder / "labels").is_dir() else folder
    own = _folder_names(folder, labels)
    listed = folder / IMAGES_TXT
    paths = listed.read_text(encoding="utf-8").splitlines() if listed.is_file() else []
    path_of = dict(zip(unique_stems(paths), paths, strict=True))
    class_of = {n: i for i, n in enumerate(names)}
    images = []
    files = [f for d in cvat for f in d.rglob("*.txt")] if cvat else labels.glob("*.txt")
    for file in sorted(files):
        if file.name == CLASSES_TXT:
            continue
        key = path_of.get(file.stem, file.stem)
        size = size_of(key)
        if size is None:
            images.append(LabeledImage(key, None, 0, 0, human_detections([], [])))
            continue
        read = read_yolo_labels(file, *size)
        for number, box in enumerate(read.xyxy.tolist(), 1):
            try:
                check_box(box, *size, f"object {number}")
            except ValueError as e:
                raise UsageError(f"{file}: {e}") from None
        classes = []
        for number in class_ids(read).tolist():
            name = own[number] if number < len(own) else f"class {number}"
            if name not in class_of:
                raise UsageError(f"{file}: {unknown_class(name, names)}")
            classes.append(class_of[name])
        images.append(
            LabeledImage(key, None, *size, human_detections(read.xyxy, np.asarray(classes)))
        )
    return images


def yaml_folders(data: dict[str, Any], key: str, source: Path) -> list[str]:
    """The folder paths a data.yaml gives under `key` (`path`, or a split: one or a list),
    each checked to be a path, not a number or a mapping.

    >>> yaml_folders({"val": ["images/a", "images/b"]}, "val", Path("data.yaml"))
    ['images/a', 'images/b']
    """
    value = data.get(key)
    folders: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if not isinstance(item, str) or not item.strip():
            raise UsageError(f"{source}: {key}: {repr(item)[:40]} is not a folder path")
        folders.append(item)
    return folders


def yaml_names(data: Any, source: Path) -> list[str]:
    """The class names of a data.yaml: a list, or a mapping of class ids 0, 1, ... to names."""
    names = (data if isinstance(data, dict) else {}).get("names") or []
    if isinstance(names, dict):
        try:
            ids = {whole(key, "a class id"): str(name) for key, name in names.items()}
        except ValueError as e:
            raise UsageError(f"{source}: names: {e}") from None
        if sorted(ids) != list(range(len(ids))):
            raise UsageError(f"{source}: names: the class ids must be 0 to {len(ids) - 1}")
        return [ids[i] for i in range(len(ids))]
    if not isinstance(names, list):
        raise UsageError(f"{source}: names is neither a list nor a mapping of class ids")
    return [str(name) for name in names]


def _folder_names(folder: Path, labels: Path) -> list[str]:
    for candidate in (labels / CLASSES_TXT, folder / CLASSES_TXT, folder / CVAT_NAMES):
        if candidate.is_file():
            return [
                n.strip() for n in candidate.read_text(encoding="utf-8").splitlines() if n.strip()
            ]
    data_yaml = folder / DATA_YAML
    if data_yaml.is_file():
        return yaml_names(load_yaml(data_yaml), data_yaml)
    raise UsageError(
        f"{folder}: no classes.txt, obj.names or data.yaml names the label files' classes"
    )


class YoloDatasetWriter(DatasetWriter):
    """`labels/<split>/<image>.txt` per image (boxes, or polygons with masks), then the
    data.yaml that Ultralytics trains on."""

    def add(self, image: LabeledImage, split: str) -> None:
        detections, width, height = image.detections, image.width, image.height
        if self.options.masks:
            options = self.options
            lines = yolo_polygon_lines(
                detections, width, height, options.min_fragment_area, options.tolerance,
                self.stats,
            )  # fmt: skip
        else:
            lines = yolo_box_lines(detections, width, height)
        label = (self.root / "labels" / split / self.relative(image)).with_suffix(".txt")
        # Straight into the staging folder: it is swapped in whole, so no file is seen
        # half-written, and no temporary name adds to a long file name.
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
        self.per_split[split] += 1

    def finish(self) -> None:
        write_data_yaml(self.root, self.names, dict(self.per_split), self.options.final_root)


def _write_handoff(
    folder: Path, images: list[LabeledImage], names: Sequence[str], options: HandoffOptions
) -> Path:
    write_yolo_folder(folder, images, names)
    return Path(folder) / "labels"


YOLO = Format(
    LabelFormat.YOLO,
    dataset_writer=YoloDatasetWriter,
    write_handoff=_write_handoff,
    read_handoff=read_yolo_folder,
    read_dataset=read_yolo,
)
