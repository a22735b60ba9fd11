"""Files a labeling tool exports are checked before anything is stored, in bounded time
and memory: each hostile file below is refused with its exit code and a line naming the
file, the image and the field, or reported image by image, and nothing of it is stored.
Canvases come from the stored frame, never from the file."""

from __future__ import annotations

import io
import json
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.detections import FrameIdentity, empty_detections
from distil.review import importing
from distil.sources import read_file
from distil.store import LabelStore, StoreBatch, StoredFrame
from tests.conftest import shapes_image
from tests.store.test_locking import SETTINGS

runner = CliRunner()
W, H = 64, 48  # the stored frame


@pytest.fixture
def store(tmp_path) -> Path:
    folder = tmp_path / "run"
    image = tmp_path / "a.png"
    Image.fromarray(shapes_image(0, (H, W))).save(image)
    with LabelStore.create(folder, {**SETTINGS, "segmenter": {"model": "s"}}) as labels:
        labels.set_ontology({"classes": {"car": "car"}})
        identity = FrameIdentity(image, tmp_path, read_file(image)[1])
        labels.write_batch(StoreBatch([StoredFrame(identity, W, H, empty_detections())]))
    return folder


def ls(result=None, width=W, height=H, annotations=None, tasks=1) -> str:
    region = {"type": "rectanglelabels", "original_width": width, "original_height": height,
              "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rectanglelabels": ["car"]}}  # fmt: skip
    annotation = {"result": [region] if result is None else result}
    task = {"data": {"image": "/data/local-files/?d=a.png"},
            "annotations": [annotation] if annotations is None else annotations}  # fmt: skip
    return json.dumps([task] * tasks)


def cvat(shape='<box label="car" xtl="1" ytl="2" xbr="30" ybr="40"/>', width=W, height=H) -> str:
    return (f'<annotations><image id="0" name="a.png" width="{width}" height="{height}">'
            f"{shape}</image></annotations>")  # fmt: skip


def coco(annotation=None, image=None, images=None, category=1) -> str:
    entry = {"id": 1, "file_name": "a.png", "width": W, "height": H} if image is None else image
    found = {"id": 1, "image_id": 1, "category_id": category, "bbox": [1, 2, 20, 20]}
    return json.dumps({
        "images": [entry] if images is None else images,
        "annotations": [found if annotation is None else {**found, **annotation}],
        "categories": [{"id": 1, "name": "car"}],
    })  # fmt: skip


def voc(xmin="1", width=str(W)) -> str:
    return (f"<annotation><filename>a.png</filename><size><width>{width}</width><height>{H}"
            f"</height></size><object><name>car</name><bndbox><xmin>{xmin}</xmin><ymin>1"
            "</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object></annotation>")  # fmt: skip


def rle(size: list[int]) -> dict:
    return {"segmentation": {"size": size, "counts": "PQ1"}}


# (case, format, file name, content, exit code, what the output says)
CASES = [
    ("inverted CVAT box", "cvat", "a.xml",
     cvat('<box label="car" xtl="30" ytl="2" xbr="1" ybr="40"/>'), 2,
     "a.xml: image 'a.png': box (xtl, ytl, xbr, ybr) (30, 2, 1, 40) is inverted or empty"),
    ("CVAT box of zero width", "cvat", "a.xml",
     cvat('<box label="car" xtl="5" ytl="2" xbr="5" ybr="40"/>'), 2, "is inverted or empty"),
    ("CVAT box outside the image", "cvat", "a.xml",
     cvat('<box label="car" xtl="500" ytl="2" xbr="600" ybr="40"/>'), 2,
     "lies outside the 64x48 image"),
    ("infinity in CVAT", "cvat", "a.xml",
     cvat('<box label="car" xtl="inf" ytl="2" xbr="30" ybr="40"/>'), 2,
     "box (xtl, ytl, xbr, ybr) x1 is 'inf', not a finite number"),
    ("NaN in a CVAT polygon", "cvat", "a.xml",
     cvat('<polygon label="car" points="1,1;nan,5;9,9"/>'), 2, "not a finite number"),
    ("CVAT image size 100000", "cvat", "a.xml",
     cvat('<mask label="car" rle="0, 5" left="0" top="0" width="5" height="1"/>', 100000), 0,
     "1 images of another size than the stored frame"),
    ("CVAT negative size", "cvat", "a.xml", cvat(width=-64), 2,
     "image 'a.png': width is '-64'; it must be at least 1"),
    ("CVAT polygon at 3e9", "cvat", "a.xml",
     cvat('<polygon label="car" points="1,1;3e9,5;9,9"/>'), 2,
     "polygon points: point (3e+09, 5) lies far outside the 64x48 image"),
    ("one-point CVAT polygon", "cvat", "a.xml",  # the frame's other objects are stored
     cvat('<polygon label="car" points="1,1"/><polygon label="car" points="1,1;9,1;9,9"/>'),
     0, "1 left out: a.png: a car polygon of 1 points: left out"),
    ("infinity in Label Studio", "label-studio", "a.json",
     ls([{"type": "rectanglelabels", "original_width": W, "original_height": H, "value": {
         "x": "Infinity", "y": 1, "width": 5, "height": 5, "rectanglelabels": ["car"]}}]), 2,
     "value.x is 'Infinity', not a finite number"),
    ("Label Studio original_width 200000", "label-studio", "a.json", ls(width=200000), 0,
     "1 images of another size than the stored frame"),
    ("Label Studio annotations: yes", "label-studio", "a.json", ls(annotations="yes"), 2,
     "task 1: `annotations` is 'yes', not a list of objects"),
    ("Label Studio result: {}", "label-studio", "a.json", ls(result={}), 2,
     "`result` is '{}', not a list of objects"),
    ("two Label Studio tasks for one image", "label-studio", "a.json", ls(tasks=2), 0,
     "1 images labeled twice in the file (neither stored): /a.png: 2 entries label it"),
    ("dangling COCO category_id", "coco", "a.json", coco(category=77), 2,
     "image 'a.png': annotation 1: category_id 77 is not one of the categories"),
    ("COCO image without width", "coco", "a.json",
     coco(image={"id": 1, "file_name": "a.png", "height": H}), 2,
     "image 'a.png' lacks `width`"),
    ("COCO RLE 1000x1000 on a 64x48 frame", "coco", "a.json", coco(rle([1000, 1000])), 2,
     "annotation 1: its RLE is of size [1000, 1000], not the image's [48, 64]"),
    ("COCO RLE 100000x100000", "coco", "a.json", coco(rle([100000, 100000])), 2,
     "its RLE is of size [100000, 100000]"),
    ("COCO polygon at 3e9", "coco", "a.json",
     coco({"segmentation": [[1, 1, 3e9, 5, 9, 9]]}), 2, "lies far outside the 64x48 image"),
    ("COCO empty polygon", "coco", "a.json", coco({"segmentation": [[1, 1, 2, 2]]}), 0,
     "1 left out: annotation 1: its segmentation covers no pixel"),  # the frame: no objects
    ("duplicate COCO image ids", "coco", "a.json", coco(images=[
        {"id": 1, "file_name": "a.png", "width": W, "height": H},
        {"id": 1, "file_name": "b.png", "width": W, "height": H}]), 0,
     "2 left out: a.png: image id 1 is given to 2 images"),
    ("COCO bbox of negative width", "coco", "a.json", coco({"bbox": [30, 2, -20, 20]}), 2,
     "bbox (30, 2, 10, 22) is inverted or empty"),
    ("infinity in VOC", "voc", "a.xml", voc(xmin="inf"), 2, "<xmin> is 'inf', not a finite"),
    ("VOC width infinity", "voc", "a.xml", voc(width="inf"), 2,
     "<size><width> is 'inf', not a finite number"),
]  # fmt: skip


# Cases whose frame is stored, without what was left out (and said so).
STORED = {"one-point CVAT polygon", "COCO empty polygon"}


def human_count(store: Path) -> int:
    with LabelStore.open(store) as labels:
        return len(labels.reviewed_hashes())


@pytest.mark.parametrize(
    ("case", "format", "name", "content", "code", "says"), CASES, ids=[c[0] for c in CASES]
)
def test_a_hostile_import_file(store, tmp_path, case, format, name, content, code, says):
    path = tmp_path / "export" / name
    path.parent.mkdir()
    path.write_text(content)
    start = time.perf_counter()
    result = runner.invoke(app, ["review", "import", str(store), str(path), "-f", format])
    assert result.exit_code == code, result.output
    assert says in " ".join(result.output.split()), result.output
    assert "Error" not in result.output  # no raw exception name
    assert human_count(store) == (case in STORED)
    assert time.perf_counter() - start < 5


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("-1 0.5 0.5 0.1 0.1", "class id is '-1'; it must be at least 0"),
        ("1.9 0.5 0.5 0.1 0.1", "class id is '1.9', not a whole number"),
        ("0 inf 0.5 0.1 0.1", "a coordinate is 'inf', not a finite number"),
        ("0 0.5 0.5 -0.1 0.1", "a box of negative width or height"),
    ],
)
def test_a_hostile_yolo_line(store, tmp_path, line, says):
    folder = tmp_path / "yolo"
    (folder / "labels").mkdir(parents=True)
    (folder / "classes.txt").write_text("car\ntruck\n")
    (folder / "labels" / "a.txt").write_text(line + "\n")
    result = runner.invoke(app, ["review", "import", str(store), str(folder), "-f", "yolo"])
    assert result.exit_code == 2, result.output
    assert f"a.txt:1: {says}" in " ".join(result.output.split())
    assert human_count(store) == 0


def test_data_yaml_names_with_mixed_keys(store, tmp_path):
    folder = tmp_path / "yolo"
    (folder / "labels").mkdir(parents=True)
    (folder / "data.yaml").write_text("names: {0: car, b: truck}\n")
    (folder / "labels" / "a.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    result = runner.invoke(app, ["review", "import", str(store), str(folder), "-f", "yolo"])
    assert result.exit_code == 2, result.output
    assert "data.yaml: names: a class id is 'b', not a number" in result.output


def test_an_uncompressed_coco_rle_imports_to_the_pixel(store, tmp_path):
    mask = np.zeros((H, W), bool)
    mask[5:20, 10:30] = True
    flat = mask.T.ravel()  # COCO counts column by column
    changes = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1], True])
    counts = np.diff(changes).tolist()
    counts = counts if not flat[0] else [0, *counts]
    segmentation = {"size": [H, W], "counts": counts}
    path = tmp_path / "a.json"
    path.write_text(coco({"segmentation": segmentation, "bbox": [10, 5, 20, 15]}))
    result = runner.invoke(app, ["review", "import", str(store), str(path), "-f", "coco"])
    assert result.exit_code == 0, result.output
    with LabelStore.open(store) as labels:
        (human,) = labels.human_labels(with_masks=True)
    assert (human.detections.mask[0] == mask).all()


def test_a_zip_over_the_member_cap_is_refused_before_unpacking(store, tmp_path, monkeypatch):
    monkeypatch.setattr(importing, "MAX_MEMBERS", 3)
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for i in range(4):
            bundle.writestr(f"labels/{i}.txt", "0 0.5 0.5 0.1 0.1\n")
    result = runner.invoke(app, ["review", "import", str(store), str(archive), "-f", "yolo"])
    assert result.exit_code == 2, result.output
    assert "4 annotation files, over the 3 a zip may hold" in result.output


def test_a_damaged_zip_is_one_line(store, tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("annotations.xml", cvat() * 50)
    damaged = bytearray(data.getvalue())
    damaged[60:90] = b"\0" * 30  # inside the compressed member
    (tmp_path / "export.zip").write_bytes(bytes(damaged))
    result = runner.invoke(app, ["review", "import", str(store), str(tmp_path / "export.zip"),
                                 "-f", "cvat"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "export.zip: 'annotations.xml' cannot be unpacked" in result.output
    (tmp_path / "truncated.zip").write_bytes(bytes(damaged[:40]))
    result = runner.invoke(app, ["review", "import", str(store), str(tmp_path / "truncated.zip"),
                                 "-f", "cvat"])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "truncated.zip: not a readable zip file" in result.output


def test_a_killed_import_leaves_nothing_the_next_one_does_not_clean(store, tmp_path):
    import subprocess
    import tempfile

    dead = subprocess.Popen(["true"])
    dead.wait()
    left = Path(tempfile.gettempdir()) / f"distil-import-{dead.pid}-abc"
    (left / "labels").mkdir(parents=True)
    (left / "labels" / "0.txt").write_text("left by a SIGKILL")
    mine = Path(tempfile.gettempdir()) / f"distil-import-{os.getpid()}-mine"
    mine.mkdir()
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("labels/a.txt", "0 0.5 0.5 0.1 0.1\n")
        bundle.writestr("classes.txt", "car\n")
    result = runner.invoke(app, ["review", "import", str(store), str(archive), "-f", "yolo"])
    assert result.exit_code == 0, result.output
    assert not left.exists() and mine.exists()  # a running process's folder is kept
    mine.rmdir()


def test_the_imported_file_is_recorded_resolved(store, tmp_path, monkeypatch):
    (tmp_path / "review").mkdir()
    (tmp_path / "review" / "a.json").write_text(coco())
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["review", "import", str(store), "review/a.json", "-f", "coco",
                                 "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["file"] == str(tmp_path / "review" / "a.json")
