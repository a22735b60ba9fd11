"""CVAT for images 1.1 XML: one file for a task's images, with boxes and polygons by label
name; what CVAT imports as annotations and exports after review.

Each `<image>` is named by the frame's stored path, which CVAT matches to the task's
images by name (or by file name, as distil does when reading it back). Files come from
other tools, so they are parsed with `defusedxml`.

>>> write_cvat(Path("review/annotations.xml"), images, ["car", "person"])
>>> read_cvat(Path("review/annotations.xml"), ["car", "person"])  # -> [LabeledImage, ...]
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from distil.datasets.labeled import LabeledImage, polygon_box, shapes_to_detections, unknown_class
from distil.datasets.polygons import mask_to_polygon
from distil.utils.files import atomic_write_text

VERSION = "1.1"


def cvat_xml(images: Iterable[LabeledImage], names: Sequence[str], tolerance: float = 0.0) -> str:
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = VERSION
    labels = ET.SubElement(ET.SubElement(ET.SubElement(root, "meta"), "task"), "labels")
    for name in names:
        ET.SubElement(ET.SubElement(labels, "label"), "name").text = name
    for number, image in enumerate(images):
        node = ET.SubElement(
            root,
            "image",
            id=str(number),
            name=image.key,
            width=str(image.width),
            height=str(image.height),
        )
        _add_shapes(node, image, names, tolerance)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _add_shapes(node: ET.Element, image: LabeledImage, names: Sequence[str], tolerance: float):
    detections = image.detections
    for i, ((x1, y1, x2, y2), class_id) in enumerate(
        zip(detections.xyxy.tolist(), detections.class_id.tolist(), strict=True)
    ):
        common = {"label": names[int(class_id)], "occluded": "0", "source": "auto", "z_order": "0"}
        if detections.mask is not None:
            outline = mask_to_polygon(detections.mask[i], 0.0, tolerance).polygon
            if len(outline):
                points = ";".join(f"{x:.2f},{y:.2f}" for x, y in outline.tolist())
                ET.SubElement(node, "polygon", **common, points=points)
                continue
        corners = {"xtl": x1, "ytl": y1, "xbr": x2, "ybr": y2}
        ET.SubElement(node, "box", **common, **{k: f"{v:.2f}" for k, v in corners.items()})


def write_cvat(
    path: Path, images: Iterable[LabeledImage], names: Sequence[str], tolerance: float = 0.0
) -> Path:
    atomic_write_text(Path(path), cvat_xml(images, names, tolerance))
    return Path(path)


def read_cvat(path: Path, names: Sequence[str]) -> list[LabeledImage]:
    """Every `<image>` of a CVAT for images 1.1 file, keyed by its name. A label not in
    `names` is a ValueError naming them; masks are read from polygons."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ET.ParseError, DefusedXmlException) as e:
        raise ValueError(f"{path}: not a readable CVAT XML file ({e})") from None
    class_of = {n: i for i, n in enumerate(names)}
    images = []
    for node in root.iter("image"):
        name = node.get("name") or ""
        width, height = int(float(node.get("width", 0))), int(float(node.get("height", 0)))
        boxes, classes, polygons = [], [], []
        for shape in node:
            if shape.tag not in ("box", "polygon"):
                if shape.tag in ("mask", "polyline", "points", "ellipse", "cuboid"):
                    raise ValueError(
                        f"{path}: image {name!r}: a {shape.tag} cannot be stored; "
                        "use boxes or polygons"
                    )
                continue
            label = shape.get("label", "")
            if label not in class_of:
                raise ValueError(f"{path}: image {name!r}: {unknown_class(label, names)}")
            if shape.tag == "box":
                if float(shape.get("rotation", 0) or 0):
                    raise ValueError(f"{path}: image {name!r}: rotated boxes cannot be stored")
                boxes.append([float(shape.get(k, 0)) for k in ("xtl", "ytl", "xbr", "ybr")])
                polygons.append(None)
            else:
                points = np.array(
                    [
                        [float(v) for v in pair.split(",")]
                        for pair in shape.get("points", "").split(";")
                    ]
                )
                boxes.append(polygon_box(points))
                polygons.append(points)
            classes.append(class_of[label])
        try:
            detections = shapes_to_detections(boxes, classes, polygons, width, height)
        except ValueError as e:
            raise ValueError(f"{path}: image {name!r}: {e}") from None
        images.append(LabeledImage(name, Path(name), width, height, detections))
    return images
