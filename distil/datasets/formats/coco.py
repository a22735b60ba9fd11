"""COCO datasets: instances JSON, one file per split, written and read."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.formats.registry import (
    DatasetWriter,
    Format,
    HandoffOptions,
    WriteOptions,
    annotation_files,
)
from distil.datasets.labeled import (
    CROWD,
    LabeledImage,
    LabeledSet,
    SizeOf,
    canvas,
    check_box,
    finite,
    polygon_points,
    shapes_to_detections,
    unknown_class,
    whole,
)
from distil.datasets.polygons import PolygonStats, mask_to_polygon, polygons_to_mask
from distil.detections import class_ids, human_detections, masks_of, scores
from distil.errors import MissingInputError, UsageError
from distil.settings import LabelFormat
from distil.utils.files import MAX_ANNOTATION_BYTES, atomic_write_json, read_user_text
from distil.utils.rle import decode_masks, encode_masks


class CocoBuilder:
    """Collects images and annotations of one split; category ids are class id + 1."""

    def __init__(self, class_names: list[str]) -> None:
        self.categories = [
            {"id": i + 1, "name": n, "supercategory": "none"} for i, n in enumerate(class_names)
        ]
        self.images: list[dict[str, Any]] = []
        self.annotations: list[dict[str, Any]] = []

    def add(
        self,
        file_name: str,
        width: int,
        height: int,
        detections: sv.Detections,
        masks: str | None,
        min_fragment_area: float,
        tolerance: float,
        stats: PolygonStats,
    ) -> None:
        """`masks`: None (boxes only), 'polygon' (holes filled) or 'rle' (exact)."""
        image_id = len(self.images) + 1
        self.images.append(
            {"id": image_id, "file_name": file_name, "width": width, "height": height}
        )
        mask = masks_of(detections)
        if masks is not None and mask is None:
            raise ValueError("mask annotations asked of detections without masks")  # checked before
        rles = encode_masks(mask) if masks == "rle" and mask is not None else []
        xywh = sv.xyxy_to_xywh(detections.xyxy)
        for i, ((x, y, w, h), cls, score) in enumerate(
            zip(xywh, class_ids(detections), scores(detections), strict=True)
        ):
            annotation: dict[str, Any] = {
                "id": len(self.annotations) + 1,
                "image_id": image_id,
                "category_id": int(cls) + 1,
                "bbox": [round(float(v), 2) for v in (x, y, w, h)],
                "area": round(float(w * h), 2),
                "iscrowd": 0,
                "score": round(float(score), 5),
            }
            if masks == "rle" and mask is not None:
                annotation["segmentation"] = rles[i]
                annotation["area"] = float(mask[i].sum())
            elif masks == "polygon" and mask is not None:
                result = mask_to_polygon(mask[i], min_fragment_area, tolerance)
                if not result.parts:
                    stats.empty_masks += 1
                    continue
                stats.record(result)
                annotation["segmentation"] = [
                    np.round(p, 2).reshape(-1).tolist() for p in result.parts
                ]
                annotation["area"] = float(mask[i].sum())
            self.annotations.append(annotation)

    def write(self, path: Path) -> None:
        atomic_write_json(
            path,
            {"images": self.images, "annotations": self.annotations, "categories": self.categories},
        )


def load_coco(file: Path) -> Any:
    """A pycocotools `COCO` index of `file`, without its progress prints on stdout. The
    fields it indexes are checked first: a wrong one is a UsageError naming the file, the
    entry and the field."""
    from pycocotools.coco import COCO

    try:
        data = json.loads(Path(file).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise UsageError(f"{file}: not a readable COCO file ({e})") from None
    try:
        _check_indexed_fields(data)
    except ValueError as e:
        raise UsageError(f"{file}: {e}") from None
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _check_indexed_fields(data: Any) -> None:
    """What pycocotools reads of a COCO file, as COCO defines it."""
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UsageError("not a COCO file: no list of `images`")
    category_ids = set()
    for number, category in enumerate(_entries(data, "categories"), 1):
        if not isinstance(category.get("id"), (int, str)) or "name" not in category:
            raise UsageError(f"category {number} needs an `id` (a number) and a `name`")
        category_ids.add(category["id"])
    for entry in _entries(data, "images"):
        where = f"image {str(entry.get('file_name', entry.get('id', '?')))[:60]!r}"
        if not isinstance(entry.get("id"), (int, str)):
            raise UsageError(f"{where}: its `id` is {str(entry.get('id'))[:40]!r}, not a number")
        if not isinstance(entry.get("file_name"), str):
            raise UsageError(f"{where}: its `file_name` is not text")
        for side in ("width", "height"):
            whole(entry.get(side), f"{where} {side}", 1)
    for annotation in _entries(data, "annotations"):
        where = f"annotation {str(annotation.get('id', '?'))[:40]}"
        if not isinstance(annotation.get("image_id"), (int, str)):
            raise UsageError(f"{where}: its `image_id` is not an image's id")
        category_id = annotation.get("category_id")
        if not isinstance(category_id, (int, str)) or category_id not in category_ids:
            shown = str(category_id)[:40]
            raise UsageError(f"{where}: category_id {shown} is not one of the categories")
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise UsageError(f"{where}: bbox is {str(bbox)[:40]}, not [x, y, width, height]")
        for value in bbox:
            finite(value, f"{where} bbox")
        if "score" in annotation:
            finite(annotation["score"], f"{where} score")
        if annotation.get("iscrowd", 0) not in (0, 1):
            raise UsageError(f"{where}: iscrowd is {str(annotation['iscrowd'])[:20]}, not 0 or 1")


def read_coco(path: Path, split: str | None = None) -> LabeledSet:
    """A COCO .json, or a folder whose annotations/<split>.json files are all read."""
    if path.is_dir():
        files = sorted((path / "annotations").glob("*.json"))
        if split is not None:
            files = [f for f in files if f.stem == split]
            if not files:
                raise UsageError(f"{path}: no annotations/{split}.json")
        images_root = path / "images"
    else:
        files, images_root = [path], path.parent
    labeled: LabeledSet | None = None
    for file in files:
        coco = load_coco(file)
        categories = coco.loadCats(sorted(coco.getCatIds()))
        names = [c["name"] for c in categories]
        if labeled is None:
            labeled = LabeledSet(names)
        elif labeled.names != names:
            raise UsageError(f"{file}: categories differ from the other annotation files")
        class_of = {c["id"]: i for i, c in enumerate(categories)}
        for image_id, image in coco.imgs.items():
            file_name = Path(image["file_name"])
            candidates = [images_root / file.stem / file_name, images_root / file_name]
            found = next((c for c in candidates if c.is_file()), None)
            detections = _detections(coco.imgToAnns.get(image_id, []), class_of)
            labeled.add(
                LabeledImage(file_name.stem, found, image["width"], image["height"], detections)
            )
    if labeled is None:
        raise MissingInputError(f"{path}: no COCO annotation files")
    return labeled


def _detections(annotations: list[dict[str, Any]], class_of: dict[int, int]) -> sv.Detections:
    if not annotations:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=sv.xywh_to_xyxy(np.array([a["bbox"] for a in annotations], np.float64)).astype(
            np.float32
        ),
        class_id=np.array([class_of[a["category_id"]] for a in annotations], dtype=int),
        confidence=np.array([a.get("score", 1.0) for a in annotations], dtype=np.float32),
        data={CROWD: np.array([int(a.get("iscrowd", 0)) for a in annotations], dtype=bool)},
    )


def write_coco_file(
    path: Path, images: Iterable[LabeledImage], names: list[str], masks: bool = False
) -> Path:
    """One COCO file whose images are named by their full paths; masks as exact RLE."""
    builder = CocoBuilder(names)
    stats = PolygonStats()
    for image in images:
        detections = image.detections
        kind = "rle" if masks and detections.mask is not None else None
        builder.add(image.key, image.width, image.height, detections, kind, 0.0, 0.0, stats)
    builder.write(Path(path))
    return Path(path)


def read_coco_file(
    path: Path, names: Sequence[str], size_of: SizeOf | None = None
) -> list[LabeledImage]:
    """Every image of one COCO file, keyed by its `file_name`, with masks where the
    annotations have segmentations (polygons, or RLE compressed or not). A category not in
    `names`, and any value that is not what COCO says, is a ValueError naming the file,
    the image and the field. With `size_of`, masks are drawn only for images whose stored
    frame has the size the file gives (the others come without labels: not theirs)."""
    text = read_user_text(Path(path), MAX_ANNOTATION_BYTES)
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise UsageError(f"{path}: not a readable COCO file ({e})") from None
    try:
        return _coco_images(data, names, size_of)
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None


def _coco_images(data: Any, names: Sequence[str], size_of: SizeOf | None) -> list[LabeledImage]:
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise UsageError("not a COCO file: no list of `images`")
    categories = {}
    for number_, category in enumerate(_entries(data, "categories"), 1):
        if "id" not in category or "name" not in category:
            raise UsageError(f"category {number_} lacks `id` or `name`")
        categories[category["id"]] = str(category["name"])
    class_of = {n: i for i, n in enumerate(names)}
    for name in categories.values():
        if name not in class_of:
            raise UsageError(unknown_class(name, names))
    annotations: dict[Any, list[dict[str, Any]]] = {}
    for annotation in _entries(data, "annotations"):
        if "image_id" not in annotation:
            raise UsageError(f"annotation {annotation.get('id', '?')} lacks `image_id`")
        annotations.setdefault(annotation["image_id"], []).append(annotation)
    entries = _entries(data, "images")
    ids = Counter(entry.get("id") for entry in entries)
    images = []
    for entry in entries:
        for key in ("id", "file_name", "width", "height"):
            if key not in entry:
                raise UsageError(
                    f"image {entry.get('file_name', entry.get('id', '?'))!r} lacks `{key}`"
                )
        key = str(entry["file_name"])
        try:
            width, height, same = canvas(key, entry["width"], entry["height"], size_of)
        except ValueError as e:
            raise UsageError(f"image {key!r}: {e}") from None
        if ids[entry["id"]] > 1:  # whose annotations are they? neither image gets them
            note = f"image id {entry['id']} is given to {ids[entry['id']]} images: left out"
            empty = human_detections([], [])
            images.append(LabeledImage(key, None, 0, 0, empty, [f"{key}: {note}"], False))
            continue
        found = annotations.get(entry["id"], []) if same else []
        try:
            detections, notes = _coco_detections(found, categories, class_of, width, height)
        except ValueError as e:
            raise UsageError(f"image {key!r}: {e}") from None
        images.append(LabeledImage(key, Path(key), width, height, detections, notes))
    return images


def _entries(data: dict[str, Any], name: str) -> list[dict[str, Any]]:
    entries = data.get(name, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise UsageError(f"`{name}` is not a list of objects")
    return entries


def _coco_detections(
    found: list[dict[str, Any]],
    categories: dict[Any, str],
    class_of: dict[str, int],
    width: int,
    height: int,
) -> tuple[sv.Detections, list[str]]:
    boxes: list[list[float]] = []
    classes: list[int] = []
    shapes: list[np.ndarray | None] = []
    notes: list[str] = []
    for annotation in found:
        where = f"annotation {annotation.get('id', '?')}"
        category = annotation.get("category_id")
        if category not in categories:
            raise UsageError(f"{where}: category_id {category!r} is not one of the categories")
        bbox = annotation.get("bbox")
        if not isinstance(bbox, list) or len(bbox) != 4:
            raise UsageError(f"{where}: bbox is {bbox!r}, not [x, y, width, height]")
        x, y, w, h = (finite(v, f"{where} bbox") for v in bbox)
        box = check_box([x, y, x + w, y + h], width, height, f"{where} bbox")
        segmentation = annotation.get("segmentation")
        shape = None
        if segmentation:
            shape = _segmentation_mask(segmentation, height, width, where)
            if not shape.any():
                notes.append(f"{where}: its segmentation covers no pixel: left out")
                continue
        boxes.append(box)
        classes.append(class_of[categories[category]])
        shapes.append(shape)
    if any(s is None for s in shapes):
        shapes = [None] * len(shapes)  # boxes for all when one has no segmentation
    return shapes_to_detections(boxes, classes, shapes, width, height), notes


def _segmentation_mask(segmentation: Any, height: int, width: int, where: str) -> np.ndarray:
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size != [height, width]:
            raise UsageError(
                f"{where}: its RLE is of size {size!r}, not the image's [{height}, {width}]"
            )
        if isinstance(counts, list):  # uncompressed RLE (crowd regions)
            return uncompressed_rle_mask(counts, height, width, where)
        if not isinstance(counts, str):
            raise UsageError(f"{where}: its RLE counts are neither a string nor a list")
        try:
            decoded: np.ndarray = decode_masks([segmentation], height, width)[0]
            return decoded
        except (ValueError, TypeError, UnicodeEncodeError):
            raise UsageError(f"{where}: its RLE counts cannot be decoded") from None
    if not isinstance(segmentation, list):
        raise UsageError(f"{where}: segmentation is neither polygons nor RLE")
    parts = [polygon_points(p, width, height, f"{where} segmentation") for p in segmentation]
    if not any(len(p) >= 3 for p in parts):
        return np.zeros((height, width), bool)
    return polygons_to_mask(parts, height, width)


def uncompressed_rle_mask(counts: list[Any], height: int, width: int, where: str) -> np.ndarray:
    """COCO's uncompressed RLE: alternating run lengths of 0 and 1, column by column."""
    lengths = [whole(c, f"{where} RLE count") for c in counts]
    if sum(lengths) != height * width:
        raise UsageError(f"{where}: its RLE covers {sum(lengths)} pixels, not {height}x{width}")
    flat = np.repeat(np.arange(len(lengths)) % 2 == 1, lengths)
    mask: np.ndarray = flat.reshape(width, height).T.copy()
    return mask


class CocoDatasetWriter(DatasetWriter):
    """`annotations/<split>.json` per split, written once its images are all added."""

    def __init__(self, root: Path, names: Sequence[str], options: WriteOptions) -> None:
        super().__init__(root, names, options)
        self.builders: dict[str, CocoBuilder] = {}

    def add(self, image: LabeledImage, split: str) -> None:
        builder = self.builders.setdefault(split, CocoBuilder(self.names))
        name = self.relative(image).as_posix()
        options = self.options
        builder.add(
            name, image.width, image.height, image.detections, options.masks,
            options.min_fragment_area, options.tolerance, self.stats,
        )  # fmt: skip
        self.per_split[split] += 1

    def finish(self) -> None:
        for split, builder in self.builders.items():
            builder.write(self.root / "annotations" / f"{split}.json")


def _write_handoff(
    folder: Path, images: list[LabeledImage], names: Sequence[str], options: HandoffOptions
) -> Path:
    return write_coco_file(Path(folder) / "annotations.json", images, list(names), options.masks)


def _read_handoff(path: Path, names: Sequence[str], size_of: SizeOf) -> list[LabeledImage]:
    return [i for f in annotation_files(path, ".json") for i in read_coco_file(f, names, size_of)]


COCO = Format(
    LabelFormat.COCO,
    dataset_writer=CocoDatasetWriter,
    write_handoff=_write_handoff,
    read_handoff=_read_handoff,
    read_dataset=read_coco,
)
