"""COCO datasets: instances JSON, one file per split, written and read."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.labeled import CROWD, LabeledImage, LabeledSet, unknown_class
from distil.datasets.polygons import PolygonStats, mask_to_polygon, polygons_to_mask
from distil.detections import human_detections
from distil.utils.files import atomic_write_json
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
        rles = encode_masks(detections.mask) if masks == "rle" else None
        xywh = sv.xyxy_to_xywh(detections.xyxy)
        for i, ((x, y, w, h), cls, score) in enumerate(
            zip(xywh, detections.class_id, detections.confidence, strict=True)
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
            if masks == "rle":
                annotation["segmentation"] = rles[i]
                annotation["area"] = float(detections.mask[i].sum())
            elif masks == "polygon":
                result = mask_to_polygon(detections.mask[i], min_fragment_area, tolerance)
                if not result.parts:
                    stats.empty_masks += 1
                    continue
                stats.record(result)
                annotation["segmentation"] = [
                    np.round(p, 2).reshape(-1).tolist() for p in result.parts
                ]
                annotation["area"] = float(detections.mask[i].sum())
            self.annotations.append(annotation)

    def write(self, path: Path) -> None:
        atomic_write_json(
            path,
            {"images": self.images, "annotations": self.annotations, "categories": self.categories},
        )


def load_coco(file: Path):
    """A pycocotools `COCO` index of `file`, without its progress prints on stdout."""
    from pycocotools.coco import COCO

    coco = COCO()
    coco.dataset = json.loads(Path(file).read_text())
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


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
        coco = load_coco(file)
        categories = coco.loadCats(sorted(coco.getCatIds()))
        names = [c["name"] for c in categories]
        if labeled is None:
            labeled = LabeledSet(names)
        elif labeled.names != names:
            raise ValueError(f"{file}: categories differ from the other annotation files")
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
        raise FileNotFoundError(f"{path}: no COCO annotation files")
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


def read_coco_file(path: Path, names: Sequence[str]) -> list[LabeledImage]:
    """Every image of one COCO file, keyed by its `file_name`, with masks where the
    annotations have segmentations (polygons or RLE). A category not in `names` is a
    ValueError naming them."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        categories = {c["id"]: c["name"] for c in data.get("categories", [])}
        annotations: dict[Any, list[dict[str, Any]]] = {}
        for annotation in data.get("annotations", []):
            annotations.setdefault(annotation["image_id"], []).append(annotation)
        entries = data["images"]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise ValueError(f"{path}: not a readable COCO file ({e})") from None
    class_of = {n: i for i, n in enumerate(names)}
    for name in categories.values():
        if name not in class_of:
            raise ValueError(f"{path}: {unknown_class(name, names)}")
    images = []
    for entry in entries:
        width, height = int(entry["width"]), int(entry["height"])
        found = annotations.get(entry["id"], [])
        boxes = sv.xywh_to_xyxy(np.array([a["bbox"] for a in found], np.float64).reshape(-1, 4))
        classes = np.array([class_of[categories[a["category_id"]]] for a in found], np.int64)
        mask = None
        if found and all(a.get("segmentation") for a in found):
            mask = np.stack([_segmentation_mask(a["segmentation"], height, width) for a in found])
        detections = human_detections(boxes, classes, mask)
        key = str(entry["file_name"])
        images.append(LabeledImage(key, Path(key), width, height, detections))
    return images


def _segmentation_mask(segmentation: Any, height: int, width: int) -> np.ndarray:
    if isinstance(segmentation, dict):
        return decode_masks([segmentation], height, width)[0]
    parts = [np.asarray(p, np.float64).reshape(-1, 2) for p in segmentation]
    return polygons_to_mask(parts, height, width)
