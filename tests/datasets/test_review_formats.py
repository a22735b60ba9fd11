"""Hand-off formats: write -> read gives the same labels (boxes to 0.01 px, masks to the
pixel where a polygon can carry them), for every review format; unknown classes are
refused with the known ones listed."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from distil.datasets.formats import (
    cvat_xml,
    decode_brush,
    decode_cvat_mask,
    encode_brush,
    label_studio_tasks,
    labeling_config,
    read_coco_file,
    read_cvat,
    read_label_studio,
    read_voc_folder,
    read_yolo_folder,
    write_coco_file,
    write_cvat,
    write_label_studio,
    write_voc_folder,
    write_yolo_folder,
)
from distil.datasets.labeled import LabeledImage
from distil.detections import human_detections

NAMES = ["car", "person in hi-vis vest", "dog"]
W, H = 64, 48


def image(key: str, boxes, classes, masks: bool = False) -> LabeledImage:
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    mask = None
    if masks:
        mask = np.zeros((len(boxes), H, W), bool)
        for m, (x0, y0, x1, y1) in zip(mask, boxes.astype(int), strict=True):
            m[y0:y1, x0:x1] = True
            m[y0 : y0 + 3, x0 : x0 + 3] = False  # a notch: not a plain rectangle
    return LabeledImage(key, Path(key), W, H, human_detections(boxes, np.array(classes), mask))


IMAGES = [
    image("/data/a/one.jpg", [[2, 3, 30, 40], [10.5, 0, 63, 47.25]], [0, 1]),
    image("/data/b/two.jpg", [[0, 0, 64, 48]], [2]),
    image("/data/b/empty.jpg", [], []),
]
MASKED = [
    image("/data/a/one.jpg", [[2, 3, 30, 40], [40, 8, 60, 30]], [0, 2], masks=True),
    image("/data/b/two.jpg", [[5, 5, 20, 20]], [1], masks=True),
]


def write_read(
    format: str, folder: Path, images: list[LabeledImage], brush: bool = False
) -> list[LabeledImage]:
    sizes = {i.key: (i.width, i.height) for i in images}
    if format == "label-studio":
        masks = images[0].detections.mask is not None
        write_label_studio(folder, images, NAMES, masks=masks, brush=brush)
        return read_label_studio(folder / "tasks.json", NAMES, source="predictions")
    if format == "cvat":
        return read_cvat(write_cvat(folder / "annotations.xml", images, NAMES, brush=brush), NAMES)
    if format == "voc":
        write_voc_folder(folder, images, NAMES)
        return read_voc_folder(folder, NAMES)
    if format == "yolo":
        write_yolo_folder(folder, images, NAMES)
        return read_yolo_folder(folder, NAMES, sizes.get)
    masks = images[0].detections.mask is not None
    return read_coco_file(write_coco_file(folder / "c.json", images, NAMES, masks), NAMES)


@pytest.mark.parametrize("format", ["label-studio", "cvat", "voc", "yolo", "coco"])
def test_boxes_round_trip(tmp_path, format):
    read = {Path(i.key).stem: i for i in write_read(format, tmp_path, IMAGES)}
    assert sorted(read) == ["empty", "one", "two"]
    for original in IMAGES:
        got = read[Path(original.key).stem]
        # CVAT names images by file name, as a task names uploaded files
        assert got.key == (Path(original.key).name if format == "cvat" else original.key)
        expected = original.detections.xyxy
        if format == "voc":  # VOC holds whole pixels
            expected = np.round(expected)
        np.testing.assert_allclose(got.detections.xyxy, expected, atol=0.01)
        assert got.detections.class_id.tolist() == original.detections.class_id.tolist()


@pytest.mark.parametrize("format", ["label-studio", "cvat", "coco"])
def test_masks_round_trip(tmp_path, format):
    read = {Path(i.key).name: i for i in write_read(format, tmp_path, MASKED)}
    for original in MASKED:
        got = read[Path(original.key).name].detections
        np.testing.assert_array_equal(got.mask, original.detections.mask)
        np.testing.assert_allclose(got.xyxy, original.detections.xyxy, atol=0.01)


@pytest.mark.parametrize("format", ["label-studio", "cvat"])
def test_brush_masks_round_trip_exactly(tmp_path, format):
    """A hole and a lone pixel, which a polygon cannot carry, survive as brush masks."""
    holed = [image("/data/a/one.jpg", [[2, 3, 30, 40], [40, 8, 60, 30]], [0, 2], masks=True)]
    holed[0].detections.mask[0, 10:15, 10:15] = False
    holed[0].detections.mask[1, 47, 63] = True
    holed[0].detections.xyxy[1] = [40, 8, 64, 48]
    (got,) = write_read(format, tmp_path, holed, brush=True)
    np.testing.assert_array_equal(got.detections.mask, holed[0].detections.mask)
    np.testing.assert_allclose(got.detections.xyxy, holed[0].detections.xyxy)
    written = tmp_path / ("tasks.json" if format == "label-studio" else "annotations.xml")
    text = written.read_text()
    assert ("brushlabels" in text or "<mask " in text) and "polygon" not in text


def test_label_studio_brush_code_is_read_as_label_studio_writes_it():
    """Bits written by hand from the rle-pack layout: a 2x1 RGBA image, the first pixel
    painted (a literal run of four 255s), the second not (a repeated run of 0s)."""
    bits = (
        f"{8:032b}" "00111" "0010" "0011" "0111" "1111"  # 8 values, 8-bit words, run sizes
        "0" "00" "011" + "11111111" * 4  # literal run of 4
        + "1" "00" "011" "00000000"  # repeated run of 4
    )  # fmt: skip
    bits += "0" * (-len(bits) % 8)
    rle = list(int(bits, 2).to_bytes(len(bits) // 8, "big"))
    assert decode_brush(rle, 2, 1).tolist() == [[True, False]]
    # the header of a 3332x2527 mask, as in a real Label Studio export
    assert encode_brush(np.zeros((2527, 3332), bool))[:6] == [2, 1, 233, 240, 57, 27]


@pytest.mark.parametrize(
    ("rle", "error"),
    [
        (encode_brush(np.ones((2, 3), bool)), "24 values, not 16 for a 2x2 image"),
        (encode_brush(np.ones((2, 2), bool))[:-1], "ends early"),
        (["x"], "not a list of bytes"),
    ],
)
def test_a_brush_code_for_another_image_is_refused(rle, error):
    with pytest.raises(ValueError, match=error):
        decode_brush(rle, 2, 2)


def test_cvat_masks_are_read_as_cvat_writes_them():
    """CVAT's export: run lengths over the mask's box, row by row, background first."""
    attributes = {"rle": "1, 2, 1, 2", "left": "1", "top": "2", "width": "3", "height": "2"}
    mask = decode_cvat_mask(attributes, 5, 4)
    assert np.argwhere(mask).tolist() == [[2, 2], [2, 3], [3, 2], [3, 3]]
    with pytest.raises(ValueError, match="covers 7 pixels, not 3x2"):
        decode_cvat_mask({**attributes, "rle": "1, 3, 3"}, 5, 4)
    with pytest.raises(ValueError, match="outside its image"):
        decode_cvat_mask({**attributes, "left": "3"}, 5, 4)


def test_label_studio_interface_offers_polygons_and_brushes_for_masks():
    assert "BrushLabels" in labeling_config(NAMES, masks=True)
    assert "Brush" not in labeling_config(NAMES, masks=False)


def test_cvat_names_and_numbers_images_as_a_task_does():
    """CVAT matches by the uploaded file's path, else by frame number: names are file
    names (with parent folders where two clash), numbered in name order."""
    images = [image(key, [], []) for key in ("/d/x/b.jpg", "/d/y/b.jpg", "/d/a.jpg")]
    root = ET.fromstring(cvat_xml(images, NAMES))
    assert [(i.get("id"), i.get("name")) for i in root.iter("image")] == [
        ("0", "a.jpg"), ("1", "x/b.jpg"), ("2", "y/b.jpg")
    ]  # fmt: skip


def test_label_studio_tasks_are_ready_to_import():
    (task,) = label_studio_tasks(IMAGES[:1], NAMES, scores={"/data/a/one.jpg": 2.5})
    assert task["data"] == {"image": "/data/local-files/?d=data/a/one.jpg",
                            "distil_path": "/data/a/one.jpg"}  # fmt: skip
    (prediction,) = task["predictions"]
    assert prediction["score"] == 2.5
    first = prediction["result"][0]
    assert first["type"] == "rectanglelabels" and first["value"]["rectanglelabels"] == ["car"]
    assert first["value"]["x"] == pytest.approx(2 / W * 100)
    assert (first["original_width"], first["original_height"]) == (W, H)


def test_label_studio_export_uses_the_newest_kept_annotation(tmp_path):
    task = label_studio_tasks(IMAGES[:1], NAMES)[0]
    result = task.pop("predictions")[0]["result"]
    task["annotations"] = [
        {"id": 1, "updated_at": "2026-11-02T10:00:00Z", "result": result[:1]},
        {"id": 2, "updated_at": "2026-11-03T10:00:00Z", "result": result},
        {"id": 3, "updated_at": "2026-11-04T10:00:00Z", "result": [], "was_cancelled": True},
    ]
    unlabeled = {"data": {"image": "/data/local-files/?d=x.jpg"}, "annotations": []}
    (tmp_path / "export.json").write_text(json.dumps([task, unlabeled]))
    (read,) = read_label_studio(tmp_path / "export.json", NAMES)
    assert len(read.detections) == 2


def test_label_studio_json_min_is_refused_with_what_to_export(tmp_path):
    json_min = [{"id": 1, "image": "x.jpg", "label": [{"x": 1, "rectanglelabels": ["car"]}]}]
    (tmp_path / "min.json").write_text(json.dumps(json_min))
    with pytest.raises(ValueError, match="task 1 has no `data`.*export the project as JSON"):
        read_label_studio(tmp_path / "min.json", NAMES)


def test_a_label_studio_region_without_its_image_size_is_refused_naming_it(tmp_path):
    region = {"type": "rectanglelabels", "value": {"x": 1, "y": 1, "width": 5, "height": 5,
                                                   "rectanglelabels": ["car"]}}  # fmt: skip
    task = {"id": 7, "data": {"image": "x.jpg"}, "annotations": [{"result": [region]}]}
    (tmp_path / "export.json").write_text(json.dumps([task]))
    with pytest.raises(ValueError, match=r"task 7: a region lacks 'original_width'"):
        read_label_studio(tmp_path / "export.json", NAMES)


@pytest.mark.parametrize("format", ["label-studio", "cvat", "voc", "yolo", "coco"])
def test_an_unknown_class_is_refused_with_the_known_ones(tmp_path, format):
    write_read(format, tmp_path, IMAGES)
    with pytest.raises(ValueError, match=r"unknown class 'person in hi-vis vest'.*car, dog"):
        _read_with(format, tmp_path, ["car", "dog"])


def _read_with(format: str, folder: Path, names: list[str]) -> None:
    if format == "label-studio":
        read_label_studio(folder / "tasks.json", names, source="predictions")
    elif format == "cvat":
        read_cvat(folder / "annotations.xml", names)
    elif format == "voc":
        read_voc_folder(folder, names)
    elif format == "yolo":
        read_yolo_folder(folder, names, lambda key: (W, H))
    else:
        read_coco_file(folder / "c.json", names)
