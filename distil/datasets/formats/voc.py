"""Pascal VOC XML: one file per image, with the image's size and its boxes by class name.

VOC boxes are 1-based pixel indices with inclusive corners, so a box covering pixel
columns [x1, x2) (distil's xyxy) is written `xmin = x1 + 1, xmax = x2`, and read back the
other way. Files come from other tools, so they are parsed with `defusedxml` (no entity
expansion, no external entities).

>>> text = voc_xml("a.jpg", 640, 480, detections, ["car", "person"])  # doctest: +SKIP
>>> read_voc_text(text, ["car", "person"]).detections.xyxy  # doctest: +SKIP
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import supervision as sv

from distil.datasets.formats.registry import DatasetWriter, Format, HandoffOptions
from distil.datasets.labeled import (
    LabeledImage,
    SizeOf,
    check_box,
    finite,
    unknown_class,
    whole,
)
from distil.datasets.naming import unique_stems
from distil.detections import class_ids, empty_detections, human_detections
from distil.errors import UsageError
from distil.settings import LabelFormat
from distil.utils.files import MAX_ANNOTATION_BYTES, atomic_write_text, read_user_text


@dataclass
class VocAnnotation:
    """One VOC file: the image it names, its size and its boxes (class ids in `names`)."""

    filename: str
    width: int
    height: int
    detections: sv.Detections
    path: str = ""


def voc_xml(
    filename: str,
    width: int,
    height: int,
    detections: sv.Detections,
    names: Sequence[str],
    path: str | None = None,
) -> str:
    """The VOC XML of one image's boxes; `names[class_id]` is each box's class name, and
    `path` the image's full path (as LabelImg writes it)."""
    root = ET.Element("annotation")
    ET.SubElement(root, "filename").text = filename
    if path:
        ET.SubElement(root, "path").text = path
    size = ET.SubElement(root, "size")
    for tag, value in (("width", width), ("height", height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    for (x1, y1, x2, y2), class_id in zip(detections.xyxy, class_ids(detections), strict=True):
        item = ET.SubElement(root, "object")
        ET.SubElement(item, "name").text = names[int(class_id)]
        ET.SubElement(item, "pose").text = "Unspecified"
        ET.SubElement(item, "truncated").text = "0"
        ET.SubElement(item, "difficult").text = "0"
        box = ET.SubElement(item, "bndbox")
        for tag, value in zip(
            ("xmin", "ymin", "xmax", "ymax"), voc_pixels(x1, y1, x2, y2), strict=True
        ):
            ET.SubElement(box, tag).text = str(value)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


def write_voc(
    path: Path,
    filename: str,
    width: int,
    height: int,
    detections: sv.Detections,
    names: Sequence[str],
    image_path: str | None = None,
) -> None:
    atomic_write_text(Path(path), voc_xml(filename, width, height, detections, names, image_path))


def write_voc_folder(
    folder: Path, images: Iterable[LabeledImage], names: Sequence[str]
) -> list[Path]:
    """One `<stem>.xml` per image in `folder` (a clashing stem gets a number), each naming
    the image's full path; returns the files."""
    images = list(images)
    written = []
    for image, stem in zip(images, unique_stems([i.key for i in images]), strict=True):
        file = Path(folder) / f"{stem}.xml"
        write_voc(
            file, Path(image.key).name, image.width, image.height, image.detections, names,
            image.key,
        )  # fmt: skip
        written.append(file)
    return written


def read_voc_folder(folder: Path, names: Sequence[str]) -> list[LabeledImage]:
    """Every VOC file in `folder` (or the one file given), keyed by the image path it
    names, else its file name."""
    folder = Path(folder)
    files = [folder] if folder.is_file() else sorted(folder.rglob("*.xml"))
    images = []
    for file in files:
        annotation = read_voc(file, names)
        key = annotation.path or annotation.filename or file.with_suffix(".jpg").name
        images.append(
            LabeledImage(key, Path(key), annotation.width, annotation.height, annotation.detections)
        )
    return images


def read_voc(path: Path, names: Sequence[str]) -> VocAnnotation:
    """One VOC file; a class not in `names` is a ValueError that lists the known ones."""
    text = read_user_text(Path(path), MAX_ANNOTATION_BYTES)
    try:
        return read_voc_text(text, names)
    except ValueError as e:
        raise UsageError(f"{path}: {e}") from None


def read_voc_text(text: str, names: Sequence[str]) -> VocAnnotation:
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        root = fromstring(text)
    except (ET.ParseError, DefusedXmlException) as e:
        raise UsageError(f"not a readable VOC XML file ({e})") from None
    class_of = {name: index for index, name in enumerate(names)}
    size = root.find("size")
    width = whole(_text(size, "width"), "<size><width>", 1) if size is not None else 0
    height = whole(_text(size, "height"), "<size><height>", 1) if size is not None else 0
    boxes, classes = [], []
    for item in root.iter("object"):
        name = (item.findtext("name") or "").strip()
        if name not in class_of:
            raise UsageError(unknown_class(name, names))
        box = item.find("bndbox")
        if box is None:
            raise UsageError(f"object {name!r} has no bndbox")
        xmin, ymin, xmax, ymax = (
            finite(_text(box, tag), f"<{tag}>") for tag in ("xmin", "ymin", "xmax", "ymax")
        )
        pixel_box = [xmin - 1, ymin - 1, xmax, ymax]
        boxes.append(
            check_box(pixel_box, width or math.inf, height or math.inf, f"object {name!r}")
        )
        classes.append(class_of[name])
    detections = empty_detections()
    if boxes:
        detections = human_detections(np.asarray(boxes), np.asarray(classes))
    return VocAnnotation(
        root.findtext("filename") or "",
        width,
        height,
        detections,
        (root.findtext("path") or "").strip(),
    )


def _text(element: ET.Element, tag: str) -> str | None:
    return element.findtext(tag)


def voc_pixels(x1: float, y1: float, x2: float, y2: float) -> tuple[int, int, int, int]:
    """A box as VOC's 1-based, inclusive whole pixels, as VOC readers expect integers; a
    box keeps at least one pixel.

    >>> voc_pixels(10.4, 0.0, 20.6, 5.2)
    (11, 1, 21, 5)
    """
    xmin, ymin = round(x1) + 1, round(y1) + 1
    return xmin, ymin, max(xmin, round(x2)), max(ymin, round(y2))


class VocDatasetWriter(DatasetWriter):
    """`Annotations/<split>/<image>.xml` per image, as LabelImg and CVAT read them."""

    def add(self, image: LabeledImage, split: str) -> None:
        relative = self.relative(image)
        write_voc(
            (self.root / "Annotations" / split / relative).with_suffix(".xml"),
            relative.name, image.width, image.height, image.detections, self.names,
        )  # fmt: skip
        self.per_split[split] += 1


def _write_handoff(
    folder: Path, images: list[LabeledImage], names: Sequence[str], options: HandoffOptions
) -> Path:
    write_voc_folder(Path(folder) / "Annotations", images, names)
    return Path(folder) / "Annotations"


def _read_handoff(path: Path, names: Sequence[str], size_of: SizeOf) -> list[LabeledImage]:
    return read_voc_folder(path, names)


VOC = Format(
    LabelFormat.VOC,
    dataset_writer=VocDatasetWriter,
    write_handoff=_write_handoff,
    read_handoff=_read_handoff,
)
