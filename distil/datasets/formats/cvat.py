"""CVAT for images 1.1 XML: one file for a task's images, with boxes, polygons and masks
(CVAT's brush tool) by label name; what CVAT imports as annotations and exports after
review.

CVAT matches an `<image>` to a task's frame by name, the file's path as uploaded, and
failing that by its `id`, the frame number. So each image is named by its file name (with
as many parent folders as tell two alike names apart) and numbered in name order, the
order a task sorts its files in by default; reading back, the name finds the stored frame.
Files come from other tools, so they are parsed with `defusedxml`.

>>> write_cvat(Path("review/annotations.xml"), images, ["car", "person"])  # doctest: +SKIP
>>> # -> [LabeledImage, ...]
>>> read_cvat(Path("review/annotations.xml"), ["car", "person"])  # doctest: +SKIP
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

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
from distil.datasets.naming import distinct_names
from distil.datasets.polygons import mask_to_polygon
from distil.detections import class_ids
from distil.errors import UsageError
from distil.settings import LabelFormat
from distil.utils.files import MAX_ANNOTATION_BYTES, atomic_write_text, read_user_text

VERSION = "1.1"


def cvat_xml(
    images: Iterable[LabeledImage],
    names: Sequence[str],
    tolerance: float = 0.0,
    brush: bool = False,
) -> str:
    """The XML for `images`; masks are polygons, or `<mask>` elements with `brush`."""
    images = list(images)
    task_names = distinct_names([image.key for image in images])
    nodes = [
        (name, _image_node(image, names, tolerance, brush))
        for name, image in zip(task_names, images, strict=True)
    ]
    return _document(nodes, names)


def _image_node(
    image: LabeledImage, names: Sequence[str], tolerance: float, brush: bool
) -> ET.Element:
    """An `<image>` with the image's shapes; its id and name are given by `_document`."""
    node = ET.Element("image", width=str(image.width), height=str(image.height))
    _add_shapes(node, image, names, tolerance, brush)
    return node


def _document(nodes: list[tuple[str, ET.Element]], names: Sequence[str]) -> str:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = VERSION
    labels = ET.SubElement(ET.SubElement(ET.SubElement(root, "meta"), "task"), "labels")
    for name in names:
        ET.SubElement(ET.SubElement(labels, "label"), "name").text = name
    # CVAT matches an <image> to a task frame by its name, the path as uploaded, and where
    # none matches, by its id, the frame number: with the default (lexicographical)
    # sorting of the task's files, the frame number is the name's rank.
    for number, (name, node) in enumerate(sorted(nodes, key=lambda pair: pair[0])):
        node.attrib = {"id": str(number), "name": name, **node.attrib}  # CVAT's order
        root.append(node)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _add_shapes(
    node: ET.Element, image: LabeledImage, names: Sequence[str], tolerance: float, brush: bool
) -> None:
    detections = image.detections
    for i, ((x1, y1, x2, y2), class_id) in enumerate(
        zip(detections.xyxy.tolist(), class_ids(detections).tolist(), strict=True)
    ):
        common = {"label": names[int(class_id)], "occluded": "0", "source": "auto", "z_order": "0"}
        if detections.mask is not None and brush and detections.mask[i].any():
            ET.SubElement(node, "mask", {**common, **encode_cvat_mask(detections.mask[i])})
            continue
        if detections.mask is not None:
            outline = mask_to_polygon(detections.mask[i], 0.0, tolerance).polygon
            if len(outline):
                points = ";".join(f"{x:.2f},{y:.2f}" for x, y in outline.tolist())
                ET.SubElement(node, "polygon", {**common, "points": points})
                continue
        corners = {"xtl": x1, "ytl": y1, "xbr": x2, "ybr": y2}
        ET.SubElement(node, "box", {**common, **{k: f"{v:.2f}" for k, v in corners.items()}})


def write_cvat(
    path: Path,
    images: Iterable[LabeledImage],
    names: Sequence[str],
    tolerance: float = 0.0,
    brush: bool = False,
) -> Path:
    atomic_write_text(Path(path), cvat_xml(images, names, tolerance, brush))
    return Path(path)


def encode_cvat_mask(mask: np.ndarray) -> dict[str, str]:
    """A non-empty mask as a CVAT `<mask>`'s attributes: the run lengths of its box's
    pixels, row by row, starting with a run of background.

    >>> encode_cvat_mask(np.pad(np.eye(2, dtype=bool), 1))
    {'rle': '0, 1, 2, 1', 'left': '1', 'top': '1', 'width': '2', 'height': '2'}
    """
    box = mask_box(mask)
    if box is None:
        raise ValueError("an empty mask has no CVAT encoding")  # callers skip empty masks
    x1, y1, x2, y2 = (int(v) for v in box)
    pixels = mask[y1:y2, x1:x2].ravel()
    lengths = runs(pixels)[1].tolist()
    if pixels[0]:
        lengths.insert(0, 0)
    return {
        "rle": ", ".join(map(str, lengths)),
        "left": str(x1),
        "top": str(y1),
        "width": str(x2 - x1),
        "height": str(y2 - y1),
    }


def decode_cvat_mask(attributes: dict[str, str], width: int, height: int) -> np.ndarray:
    """A CVAT `<mask>`'s attributes as an image-sized mask (height x width, bool)."""
    try:
        lengths = [int(v) for v in attributes.get("rle", "").split(",")]
        left, top, box_width, box_height = (
            int(float(attributes[k])) for k in ("left", "top", "width", "height")
        )
    except (KeyError, ValueError, OverflowError):
        raise UsageError("a mask lacks its rle, left, top, width or height") from None
    if min(lengths) < 0 or sum(lengths) != box_width * box_height:
        raise UsageError(f"a mask's rle covers {sum(lengths)} pixels, not {box_width}x{box_height}")
    if left < 0 or top < 0 or left + box_width > width or top + box_height > height:
        raise UsageError("a mask lies outside its image")
    pixels = np.repeat(np.arange(len(lengths)) % 2 == 1, lengths)
    mask = np.zeros((height, width), bool)
    mask[top : top + box_height, left : left + box_width] = pixels.reshape(box_height, box_width)
    return mask


def read_cvat(
    path: Path, names: Sequence[str], size_of: SizeOf | None = None
) -> list[LabeledImage]:
    """Every `<image>` of a CVAT for images 1.1 file, keyed by its name. A label not in
    `names`, and any value that is not what CVAT writes, is a ValueError naming the file,
    the image and the field; masks are read from polygons and masks. With `size_of`,
    masks are drawn only at the stored frame's size (see `labeled.canvas`)."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    text = read_user_text(Path(path), MAX_ANNOTATION_BYTES)
    try:
        root = fromstring(text)
    except (ET.ParseError, DefusedXmlException) as e:
        raise UsageError(f"{path}: not a readable CVAT XML file ({e})") from None
    images = []
    for node in root.iter("image"):
        name = node.get("name") or ""
        try:
            images.append(_cvat_image(node, name, names, size_of))
        except ValueError as e:
            raise UsageError(f"{path}: image {name!r}: {e}") from None
    return images


def _cvat_image(
    node: ET.Element, name: str, names: Sequence[str], size_of: SizeOf | None
) -> LabeledImage:
    class_of = {n: i for i, n in enumerate(names)}
    width, height, same = canvas(name, node.get("width"), node.get("height"), size_of)
    boxes: list[list[float]] = []
    classes: list[int] = []
    shapes: list[np.ndarray | None] = []
    notes: list[str] = []
    for shape in node if same else []:  # another image's shapes are not drawn
        if shape.tag not in ("box", "polygon", "mask"):
            if shape.tag in ("polyline", "points", "ellipse", "cuboid"):
                raise UsageError(f"a {shape.tag} cannot be stored; use boxes, polygons or masks")
            continue
        label = shape.get("label", "")
        if label not in class_of:
            raise UsageError(unknown_class(label, names))
        if shape.tag == "box":
            if finite(shape.get("rotation", 0) or 0, "rotation"):
                raise UsageError("rotated boxes cannot be stored")
            box = [shape.get(k) for k in ("xtl", "ytl", "xbr", "ybr")]
            boxes.append(check_box(box, width, height, "box (xtl, ytl, xbr, ybr)"))
            shapes.append(None)
        elif shape.tag == "polygon":
            pairs = [pair.split(",") for pair in shape.get("points", "").split(";") if pair]
            if any(len(pair) != 2 for pair in pairs):
                raise UsageError(f"polygon points {shape.get('points', '')[:40]!r} are not x,y;...")
            values = [[finite(v, "polygon point") for v in pair] for pair in pairs]
            points = polygon_points(values, width, height, "polygon points")
            if len(points) < 3:
                notes.append(f"{name}: a {label} polygon of {len(points)} points: left out")
                continue
            boxes.append(polygon_box(points))
            shapes.append(points)
        else:
            mask = decode_cvat_mask(dict(shape.attrib), width, height)
            mask_corners = mask_box(mask)
            if mask_corners is None:
                continue  # an erased brush stroke labels nothing
            boxes.append(mask_corners)
            shapes.append(mask)
        classes.append(class_of[label])
    detections = shapes_to_detections(boxes, classes, shapes, width, height)
    return LabeledImage(name, Path(name), width, height, detections, notes)


class CvatDatasetWriter(DatasetWriter):
    """`cvat/<split>.xml` per split (CVAT for images 1.1): a task of that split's images,
    uploaded from `images/<split>/`, finds its labels by image name."""

    def __init__(self, root: Path, names: Sequence[str], options: WriteOptions) -> None:
        super().__init__(root, names, options)
        self.nodes: dict[str, list[tuple[str, ET.Element]]] = {}

    def add(self, image: LabeledImage, split: str) -> None:
        name = self.relative(image).as_posix()
        node = _image_node(image, self.names, self.options.tolerance, brush=False)
        self.nodes.setdefault(split, []).append((name, node))
        self.per_split[split] += 1

    def finish(self) -> None:
        for split, nodes in self.nodes.items():
            atomic_write_text(self.root / "cvat" / f"{split}.xml", _document(nodes, self.names))


def _write_handoff(
    folder: Path, images: list[LabeledImage], names: Sequence[str], options: HandoffOptions
) -> Path:
    return write_cvat(Path(folder) / "annotations.xml", images, names, brush=options.brush)


def _read_handoff(path: Path, names: Sequence[str], size_of: SizeOf) -> list[LabeledImage]:
    return [i for f in annotation_files(path, ".xml") for i in read_cvat(f, names, size_of)]


CVAT = Format(
    LabelFormat.CVAT,
    dataset_writer=CvatDatasetWriter,
    write_handoff=_write_handoff,
    read_handoff=_read_handoff,
)
