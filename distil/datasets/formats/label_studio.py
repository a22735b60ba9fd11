"""Label Studio: JSON tasks with pre-annotations (`predictions`) to import into a project,
and the JSON export of a project (its tasks with `annotations`) read back.

Boxes are `rectanglelabels`; masks are `polygonlabels` (outlines traced from the masks)
or, exactly, `brushlabels` (Label Studio's run-length code of an RGBA image). Both are
read back. Coordinates are percentages of the image, as Label Studio keeps them. Each
task carries the frame's stored path in `data.distil_path`, which Label Studio keeps
through export, so corrections find their frame even when the image URL was rewritten.

>>> tasks = label_studio_tasks(images, ["car", "person"])   # list of task dicts  # doctest: +SKIP
>>> # -> [LabeledImage, ...]
>>> read_label_studio(Path("export.json"), ["car", "person"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import numpy as np

from distil.datasets.formats.registry import (
    DatasetWriter,
    Format,
    HandoffOptions,
    WriteOptions,
    annotation_files,
)
from distil.datasets.labeled import (
    LabeledImage,
    SizeOf,
    canvas,
    check_box,
    finite,
    mask_box,
    polygon_box,
    polygon_points,
    runs,
    shapes_to_detections,
    unknown_class,
)
from distil.datasets.polygons import mask_to_polygon
from distil.detections import class_ids
from distil.errors import UsageError
from distil.settings import LabelFormat
from distil.utils.files import (
    MAX_ANNOTATION_BYTES,
    atomic_write_json,
    atomic_write_text,
    read_user_text,
)

logger = logging.getLogger(__name__)

IMAGE = "image"  # the <Image> tag's name and the task data key
BOXES = "label"  # the <RectangleLabels> control
POLYGONS = "polygon"  # the <PolygonLabels> control
BRUSH = "brush"  # the <BrushLabels> control
# Brush masks: the rle-pack code Label Studio uses (a 32-bit value count, 5 bits of word
# size - 1, four 4-bit run-length field sizes - 1, then runs), over the mask as an RGBA
# image with every channel 255 inside and 0 outside.
BRUSH_WORD_BITS = 8
BRUSH_RUN_BITS = (3, 4, 8, 16)
PATH_KEY = "distil_path"
LOCAL_FILES = "/data/local-files/?d="  # Label Studio's local-files storage


def local_files_url(path: Path | str, document_root: Path | None = None) -> str:
    """The URL Label Studio serves a local file under, with LOCAL_FILES_DOCUMENT_ROOT set
    to `document_root` (default: /, so any absolute path works). A file under the root
    through a symbolic link, on either side, is found under it; one that is not is a
    ValueError naming both."""
    if document_root is None:
        return LOCAL_FILES + quote(Path(path).resolve().as_posix().lstrip("/"))
    # As written (Label Studio follows links when it opens the joined path), then with
    # every link resolved on both sides.
    for file, root in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(document_root))),
        (Path(path).resolve(), Path(document_root).resolve()),
    ):
        if file.is_relative_to(root):
            return LOCAL_FILES + quote(file.relative_to(root).as_posix())
    raise UsageError(
        f"--document-root {document_root}: {path} is not under it (nor once links are "
        "resolved); give the folder Label Studio's LOCAL_FILES_DOCUMENT_ROOT names, which "
        "must hold the images"
    )


def labeling_config(names: Sequence[str], masks: bool) -> str:
    """The project's labeling interface: the classes as rectangle labels and, for masks,
    as polygon and brush labels (reviewers may outline or paint)."""
    labels = "".join(f'\n    <Label value="{_attribute(n)}"/>' for n in names)
    controls = [("RectangleLabels", BOXES)]
    if masks:
        controls += [("PolygonLabels", POLYGONS), ("BrushLabels", BRUSH)]
    body = "\n".join(
        f'  <{tag} name="{name}" toName="{IMAGE}">{labels}\n  </{tag}>' for tag, name in controls
    )
    return f'<View>\n  <Image name="{IMAGE}" value="${IMAGE}"/>\n{body}\n</View>\n'


def encode_brush(mask: np.ndarray) -> list[int]:
    """A mask (height x width, bool) as a Label Studio brush `rle` list.

    >>> decode_brush(encode_brush(np.eye(3, dtype=bool)), 3, 3).astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    """
    pixels = np.asarray(mask, bool).ravel()
    starts, lengths = runs(pixels)
    longest = 1 << BRUSH_RUN_BITS[-1]
    bits = [
        f"{len(pixels) * 4:032b}",  # four channels a pixel, all equal
        f"{BRUSH_WORD_BITS - 1:05b}",
        *(f"{size - 1:04b}" for size in BRUSH_RUN_BITS),
    ]
    for start, length in zip(starts.tolist(), (lengths * 4).tolist(), strict=True):
        word = f"{255 if pixels[start] else 0:08b}"
        while length:
            run = min(length, longest)
            size_index = next(i for i, b in enumerate(BRUSH_RUN_BITS) if run <= 1 << b)
            size = BRUSH_RUN_BITS[size_index]
            bits.append(f"1{size_index:02b}{run - 1:0{size}b}{word}")  # 1: a repeated word
            length -= run
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return list(int(text, 2).to_bytes(len(text) // 8, "big"))


def decode_brush(rle: Sequence[int], width: int, height: int) -> np.ndarray:
    """A Label Studio brush `rle` list as a mask (height x width, bool): the pixels whose
    alpha is at least half. A code that is not for an image of this size is a ValueError."""
    try:
        text = "".join(f"{byte:08b}" for byte in bytes(rle))
    except (TypeError, ValueError):
        raise UsageError("a brush mask's rle is not a list of bytes") from None
    position = 0

    def read(count: int) -> int:
        nonlocal position
        if position + count > len(text):
            raise UsageError("a brush mask's rle ends early")
        position += count
        return int(text[position - count : position], 2)

    expected = width * height * 4
    count, word_bits = read(32), read(5) + 1
    if count != expected:
        raise UsageError(
            f"a brush mask has {count} values, not {expected} for a {width}x{height} image"
        )
    if word_bits != BRUSH_WORD_BITS:
        raise UsageError(f"a brush mask has {word_bits}-bit values; Label Studio writes 8")
    run_bits = [read(4) + 1 for _ in range(4)]
    values = np.zeros(count, np.uint8)
    i = 0
    while i < count:
        repeated = read(1)
        end = min(i + 1 + read(run_bits[read(2)]), count)
        if repeated:
            values[i:end] = read(word_bits)
        else:
            values[i:end] = [read(word_bits) for _ in range(end - i)]
        i = end
    return values[3::4].reshape(height, width) >= 128


def label_studio_tasks(
    images: Iterable[LabeledImage],
    names: Sequence[str],
    urls: dict[str, str] | None = None,
    model_version: str = "distil",
    scores: dict[str, float] | None = None,
    tolerance: float = 0.0,
    brush: bool = False,
) -> list[dict[str, Any]]:
    """One task per image, its detections as a prediction; an image's URL is `urls[key]`
    (default: its local-files URL), and `scores[key]` the prediction's score (Label
    Studio sorts tasks by it). Masks are polygons, or brush masks with `brush`."""
    tasks = []
    for image in images:
        url = (urls or {}).get(image.key) or local_files_url(image.path or image.key)
        task: dict[str, Any] = {"data": {IMAGE: url, PATH_KEY: image.key}}
        task["predictions"] = [
            {
                "model_version": model_version,
                "score": round(float((scores or {}).get(image.key, 0.0)), 5),
                "result": _results(image, names, tolerance, brush),
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


def _results(
    image: LabeledImage, names: Sequence[str], tolerance: float, brush: bool
) -> list[dict[str, Any]]:
    detections, width, height = image.detections, image.width, image.height
    results = []
    scores = (
        detections.confidence if detections.confidence is not None else np.ones(len(detections))
    )
    for i, ((x1, y1, x2, y2), class_id, score) in enumerate(
        zip(detections.xyxy.tolist(), class_ids(detections).tolist(), scores.tolist(), strict=True)
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
        if detections.mask is not None and brush and detections.mask[i].any():
            rle = encode_brush(detections.mask[i])
            value: dict[str, Any] = {"format": "rle", "rle": rle, "brushlabels": [name]}
            results.append({**base, "from_name": BRUSH, "type": "brushlabels", "value": value})
            continue
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
    path: Path, names: Sequence[str], source: str = "annotations", size_of: SizeOf | None = None
) -> list[LabeledImage]:
    """The labeled tasks of a Label Studio JSON export (or of a task file written above,
    with `source="predictions"`). A task's newest annotation that was not cancelled is
    used; tasks without one are left out. Each image's key is its `distil_path`, else
    the file path its URL names. A class not in `names`, and any value that is not what
    Label Studio writes, is a ValueError naming the file, the task and the field. With
    `size_of`, masks are drawn only at the stored frame's size (see `labeled.canvas`)."""
    text = read_user_text(Path(path), MAX_ANNOTATION_BYTES)
    try:
        tasks = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as e:
        raise UsageError(f"{path}: not a readable Label Studio JSON export ({e})") from None
    if isinstance(tasks, dict):
        tasks = [tasks]
    if not isinstance(tasks, list):
        raise UsageError(f"{path}: expected a list of Label Studio tasks")
    images = []
    for position, task in enumerate(tasks, 1):
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise UsageError(
                f"{path}: task {position} has no `data`: not Label Studio's JSON export (JSON-MIN "
                "and CSV leave out what distil matches on); export the project as JSON"
            )
        where = f"{path}: task {task.get('id', position)}"
        try:
            chosen = _chosen(_objects(task.get(source, []), f"`{source}`"))
            if chosen is None:
                continue
            data = task["data"]
            key = str(data.get(PATH_KEY) or image_reference(str(data.get(IMAGE, ""))))
            results = _objects(chosen.get("result", []), "`result`")
            images.append(_image(key, results, names, size_of))
        except ValueError as e:
            raise UsageError(f"{where}: {e}") from None
        except KeyError as e:  # a region without a field Label Studio writes
            raise UsageError(
                f"{where}: a region lacks {e} (export the project as Label Studio JSON)"
            ) from None
    return images


def _objects(value: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise UsageError(f"{field} is {str(value)[:40]!r}, not a list of objects")
    return value


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


_KINDS = ("rectanglelabels", "polygonlabels", "brushlabels")


def _image(
    key: str, results: list[dict[str, Any]], names: Sequence[str], size_of: SizeOf | None
) -> LabeledImage:
    class_of = {n: i for i, n in enumerate(names)}
    regions = [r for r in results if r.get("type") in _KINDS]  # not choices, text, relations
    sizes = [(r["original_width"], r["original_height"]) for r in regions]
    if any(size != sizes[0] for size in sizes):
        raise UsageError("its regions give different original_width / original_height")
    width = height = 0
    same = True
    if sizes:
        try:
            width, height, same = canvas(key, *sizes[0], size_of)
        except ValueError as e:
            raise UsageError(f"original_width / original_height: {e}") from None
    boxes: list[list[float]] = []
    classes: list[int] = []
    shapes: list[np.ndarray | None] = []
    notes: list[str] = []
    for region in regions if same else []:  # another image's regions are not drawn
        kind = region["type"]
        value = region.get("value")
        if not isinstance(value, dict):
            raise UsageError(f"a region's `value` is {str(value)[:40]!r}, not an object")
        labels = value.get(kind) or []
        if not isinstance(labels, list) or len(labels) != 1:
            raise UsageError(f"a region has {labels!r} as labels; give each exactly one")
        if labels[0] not in class_of:
            raise UsageError(unknown_class(str(labels[0]), names))
        if kind == "rectanglelabels":
            if value.get("rotation"):
                raise UsageError("rotated boxes cannot be stored: set their rotation to 0")
            x, y, w, h = (finite(value[k], f"value.{k}") for k in ("x", "y", "width", "height"))
            x1, y1 = x * width / 100, y * height / 100
            box = [x1, y1, x1 + w * width / 100, y1 + h * height / 100]
            boxes.append(check_box(box, width, height, "a rectangle"))
            shapes.append(None)
        elif kind == "polygonlabels":
            points = polygon_points(value.get("points"), 100, 100, "value.points")
            points = points * [width / 100, height / 100]
            if len(points) < 3:
                notes.append(f"{key}: a {labels[0]} polygon of {len(points)} points: left out")
                continue
            boxes.append(polygon_box(points))
            shapes.append(points)
        else:
            if value.get("format", "rle") != "rle":
                raise UsageError(f"brush masks in format {value.get('format')!r} are not read")
            mask = decode_brush(value.get("rle") or [], width, height)
            mask_corners = mask_box(mask)
            if mask_corners is None:
                notes.append(f"{key}: an empty {labels[0]} brush mask: left out")
                continue
            boxes.append(mask_corners)
            shapes.append(mask)
        classes.append(class_of[labels[0]])
    detections = shapes_to_detections(boxes, classes, shapes, width, height)
    return LabeledImage(key, Path(key), width, height, detections, notes)


def _attribute(text: str) -> str:
    return text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


class LabelStudioDatasetWriter(DatasetWriter):
    """`label_studio/<split>.json` (one task per image, its labels as predictions) and
    `label_studio/label_config.xml`. Images are Label Studio local files under the
    dataset folder: set LOCAL_FILES_DOCUMENT_ROOT to it."""

    def __init__(self, root: Path, names: Sequence[str], options: WriteOptions) -> None:
        super().__init__(root, names, options)
        self.tasks: dict[str, list[dict[str, Any]]] = {}
        self.document_root = Path(options.final_root or root)

    def add(self, image: LabeledImage, split: str) -> None:
        relative = Path("images") / split / self.relative(image)
        url = local_files_url(self.document_root / relative, self.document_root)
        tasks = label_studio_tasks(
            [image], self.names, urls={image.key: url}, tolerance=self.options.tolerance
        )
        self.tasks.setdefault(split, []).extend(tasks)
        self.per_split[split] += 1

    def finish(self) -> None:
        folder = self.root / "label_studio"
        for split, tasks in self.tasks.items():
            atomic_write_json(folder / f"{split}.json", tasks)
        masks = self.options.masks is not None
        atomic_write_text(folder / "label_config.xml", labeling_config(self.names, masks))


def _write_handoff(
    folder: Path, images: list[LabeledImage], names: Sequence[str], options: HandoffOptions
) -> Path:
    return write_label_studio(
        folder, images, names, masks=options.masks, urls=options.urls, scores=options.scores,
        brush=options.brush,
    )  # fmt: skip


def _read_handoff(path: Path, names: Sequence[str], size_of: SizeOf) -> list[LabeledImage]:
    return [
        image
        for file in annotation_files(path, ".json")
        for image in read_label_studio(file, names, size_of=size_of)
    ]


LABEL_STUDIO = Format(
    LabelFormat.LABEL_STUDIO,
    dataset_writer=LabelStudioDatasetWriter,
    write_handoff=_write_handoff,
    read_handoff=_read_handoff,
)
