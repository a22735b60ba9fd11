"""Label Studio: JSON tasks with pre-annotations (`predictions`) to import into a project,
and the JSON export of a project (its tasks with `annotations`) read back.

Boxes are `rectanglelabels`, masks `polygonlabels` (outlines traced from the masks);
coordinates are percentages of the image, as Label Studio keeps them. Each task carries
the frame's stored path in `data.distil_path`, which Label Studio keeps through export,
so corrections find their frame even when the image URL was rewritten.

>>> tasks = label_studio_tasks(images, ["car", "person"])   # list of task dicts
>>> read_label_studio(Path("export.json"), ["car", "person"])  # -> [LabeledImage, ...]
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from distil.datasets.labeled import LabeledImage, polygon_box, shapes_to_detections, unknown_class
from distil.datasets.polygons import mask_to_polygon
from distil.utils.files import atomic_write_json, atomic_write_text

logger = logging.getLogger(__name__)

IMAGE = "image"  # the <Image> tag's name and the task data key
BOXES = "label"  # the <RectangleLabels> control
POLYGONS = "polygon"  # the <PolygonLabels> control
PATH_KEY = "distil_path"
LOCAL_FILES = "/data/local-files/?d="  # Label Studio's local-files storage


def local_files_url(path: Path | str, document_root: Path | None = None) -> str:
    """The URL Label Studio serves a local file under, with LOCAL_FILES_DOCUMENT_ROOT set
    to `document_root` (default: /, so any absolute path works)."""
    path = Path(path).resolve()
    relative = path.relative_to(document_root.resolve()) if document_root else path
    return LOCAL_FILES + quote(relative.as_posix().lstrip("/"))


def labeling_config(names: Sequence[str], masks: bool) -> str:
    """The project's labeling interface: the classes as rectangle (and polygon) labels."""
    labels = "".join(f'\n    <Label value="{_attribute(n)}"/>' for n in names)
    controls = f'  <RectangleLabels name="{BOXES}" toName="{IMAGE}">{labels}\n  </RectangleLabels>'
    if masks:
        controls += (
            f'\n  <PolygonLabels name="{POLYGONS}" toName="{IMAGE}">{labels}\n  </PolygonLabels>'
        )
    return f'<View>\n  <Image name="{IMAGE}" value="${IMAGE}"/>\n{controls}\n</View>\n'


def label_studio_tasks(
    images: Iterable[LabeledImage],
    names: Sequence[str],
    urls: dict[str, str] | None = None,
    model_version: str = "distil",
    scores: dict[str, float] | None = None,
    tolerance: float = 0.0,
) -> list[dict[str, Any]]:
    """One task per image, its detections as a prediction; an image's URL is `urls[key]`
    (default: its local-files URL), and `scores[key]` the prediction's score (Label
    Studio sorts tasks by it)."""
    tasks = []
    for image in images:
        url = (urls or {}).get(image.key) or local_files_url(image.path or image.key)
        task: dict[str, Any] = {"data": {IMAGE: url, PATH_KEY: image.key}}
        task["predictions"] = [
            {
                "model_version": model_version,
                "score": round(float((scores or {}).get(image.key, 0.0)), 5),
                "result": _results(image, names, tolerance),
            }
        ]
        tasks.append(task)
    return tasks


def write_label_studio(
    folder: Path,
    images: Iterable[LabeledImage],
    names: Sequence[str],
    masks: bool = False,
    **options: Any,
) -> Path:
    """`tasks.json` and `label_config.xml` (paste it into the project's labeling
    interface) in `folder`; returns the task file."""
    path = Path(folder) / "tasks.json"
    atomic_write_json(path, label_studio_tasks(images, names, **options))
    atomic_write_text(Path(folder) / "label_config.xml", labeling_config(names, masks))
    return path


def _results(image: LabeledImage, names: Sequence[str], tolerance: float) -> list[dict[str, Any]]:
    detections, width, height = image.detections, image.width, image.height
    results = []
    scores = (
        detections.confidence if detections.confidence is not None else np.ones(len(detections))
    )
    for i, ((x1, y1, x2, y2), class_id, score) in enumerate(
        zip(detections.xyxy.tolist(), detections.class_id.tolist(), scores.tolist(), strict=True)
    ):
        base = {
            "id": f"r{i}",
            "to_name": IMAGE,
            "original_width": width,
            "original_height": height,
            "image_rotation": 0,
            "score": round(float(score), 5),
        }
        name = names[int(class_id)]
        if detections.mask is not None:
            outline = mask_to_polygon(detections.mask[i], 0.0, tolerance).polygon
            if len(outline):
                points = (outline / [width / 100, height / 100]).tolist()
                value = {"points": points, "closed": True, "polygonlabels": [name]}
                results.append(
                    {**base, "from_name": POLYGONS, "type": "polygonlabels", "value": value}
                )
                continue
        value = {
            "x": x1 / width * 100,
            "y": y1 / height * 100,
            "width": (x2 - x1) / width * 100,
            "height": (y2 - y1) / height * 100,
            "rotation": 0,
            "rectanglelabels": [name],
        }
        results.append({**base, "from_name": BOXES, "type": "rectanglelabels", "value": value})
    return results


def read_label_studio(
    path: Path, names: Sequence[str], source: str = "annotations"
) -> list[LabeledImage]:
    """The labeled tasks of a Label Studio JSON export (or of a task file written above,
    with `source="predictions"`). A task's newest annotation that was not cancelled is
    used; tasks without one are left out. Each image's key is its `distil_path`, else
    the file path its URL names. A class not in `names` is a ValueError naming them."""
    try:
        tasks = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable Label Studio JSON export ({e})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise ValueError(f"{path}: expected a list of Label Studio tasks")
    images = []
    for number, task in enumerate(tasks, 1):
        chosen = _chosen(task.get(source) or [])
        if chosen is None:
            continue
        data = task.get("data") or {}
        key = data.get(PATH_KEY) or image_reference(str(data.get(IMAGE, "")))
        try:
            images.append(_image(key, chosen.get("result") or [], names))
        except ValueError as e:
            raise ValueError(f"{path}: task {task.get('id', number)}: {e}") from None
    return images


def image_reference(url: str) -> str:
    """The file a Label Studio image URL names: a local-files path, or the URL's end."""
    if LOCAL_FILES in url:
        return "/" + unquote(url.split(LOCAL_FILES, 1)[1]).lstrip("/")
    return unquote(url)


def _chosen(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    kept = [e for e in entries if not e.get("was_cancelled")]
    if not kept:
        return None
    return max(enumerate(kept), key=lambda item: (str(item[1].get("updated_at", "")), item[0]))[1]


def _image(key: str, results: list[dict[str, Any]], names: Sequence[str]) -> LabeledImage:
    class_of = {n: i for i, n in enumerate(names)}
    width = height = 0
    boxes, classes, polygons = [], [], []
    for result in results:
        kind = result.get("type")
        value = result.get("value") or {}
        if kind not in ("rectanglelabels", "polygonlabels"):
            if kind == "brushlabels":
                raise ValueError("brush masks are not read: draw masks as polygons")
            continue  # choices, text areas, relations: not labels of an object
        width, height = int(result["original_width"]), int(result["original_height"])
        labels = value.get(kind) or []
        if len(labels) != 1:
            raise ValueError(f"a region has {len(labels)} labels; give each exactly one")
        if labels[0] not in class_of:
            raise ValueError(unknown_class(labels[0], names))
        if kind == "rectanglelabels":
            if value.get("rotation"):
                raise ValueError("rotated boxes cannot be stored: set their rotation to 0")
            x1, y1 = value["x"] * width / 100, value["y"] * height / 100
            x2, y2 = x1 + value["width"] * width / 100, y1 + value["height"] * height / 100
            boxes.append([x1, y1, x2, y2])
            polygons.append(None)
        else:
            points = np.asarray(value["points"], np.float64) * [width / 100, height / 100]
            boxes.append(polygon_box(points))
            polygons.append(points)
        classes.append(class_of[labels[0]])
    detections = shapes_to_detections(boxes, classes, polygons, width, height)
    return LabeledImage(key, Path(key), width, height, detections)


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
