"""One format registry: every registered format writes and reads the same drawn labels
back (boxes, and masks where the format holds them), `distil export`, `distil review`
and `distil review import` offer the same formats, and a whole dataset exported for a
labeling tool comes back through `review import` onto the frames it came from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from distil.datasets.formats.registry import (
    FORMATS,
    HandoffOptions,
    WriteOptions,
    get_format,
)
from distil.datasets.labeled import LabeledImage
from distil.settings import LabelFormat
from tests.datasets.test_review_formats import IMAGES, MASKED, NAMES, H, W
from tests.review.test_round import TEACHER, invoke, make_store

# The formats whose hand-off files keep masks (YOLO and VOC hand-offs are boxes).
KEEP_MASKS = {LabelFormat.COCO, LabelFormat.LABEL_STUDIO, LabelFormat.CVAT}


def size_of(key: str) -> tuple[int, int]:
    return W, H


def by_name(images: list[LabeledImage]) -> dict[str, LabeledImage]:
    return {Path(i.key).name: i for i in images}


@pytest.mark.parametrize("format", list(LabelFormat))
@pytest.mark.parametrize("masked", [False, True], ids=["boxes", "masks"])
def test_every_format_reads_back_what_it_wrote(tmp_path, format, masked):
    drawn = MASKED if masked else IMAGES
    handoff = get_format(format)
    written = handoff.write_handoff(tmp_path, drawn, NAMES, HandoffOptions(masks=masked))
    assert written.exists()
    if format is LabelFormat.LABEL_STUDIO:  # what the tool exports: the labels as annotations
        tasks = json.loads(written.read_text())
        for task in tasks:
            task["annotations"] = [{"id": 1, "result": task.pop("predictions")[0]["result"]}]
        written.write_text(json.dumps(tasks))
    read = by_name(handoff.read_handoff(tmp_path, NAMES, size_of))
    for image in drawn:
        back = read[Path(image.key).name].detections
        assert back.class_id.tolist() == image.detections.class_id.tolist()
        assert np.allclose(back.xyxy, image.detections.xyxy, atol=0.51)  # VOC: whole pixels
        if masked and format in KEEP_MASKS:
            assert back.mask is not None
            overlap = (back.mask & image.detections.mask).sum() / image.detections.mask.sum()
            assert overlap > 0.95


def test_export_review_and_import_offer_every_registered_format():
    assert set(FORMATS) == set(LabelFormat)
    for command in (["export"], ["review", "rank"], ["review", "import"]):
        shown = invoke(*command, "--help").output
        choices = re.search(r"--format <([^>]+)>", shown)
        assert choices, shown
        assert set(choices.group(1).split("|")) == {f.value for f in LabelFormat}, command


def test_an_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match="Did you mean 'cvat'"):
        get_format("cvta")


@pytest.mark.parametrize(
    ("format", "files"),
    [
        (LabelFormat.YOLO, ["data.yaml", "labels/train"]),
        (LabelFormat.COCO, ["annotations/train.json"]),
        (LabelFormat.VOC, ["Annotations/train"]),
        (LabelFormat.LABEL_STUDIO, ["label_studio/train.json", "label_studio/label_config.xml"]),
        (LabelFormat.CVAT, ["cvat/train.xml"]),
    ],
)
def test_a_whole_dataset_exports_in_every_format(tmp_path, format, files):
    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    out = tmp_path / "dataset"
    result = invoke("export", store, "--to", out, "--format", format.value, "--split", "1,0")
    assert result.exit_code == 0, result.output
    for file in files:
        assert (out / file).exists(), sorted(p.relative_to(out) for p in out.rglob("*"))
    assert len(list((out / "images" / "train").rglob("*.jpg"))) == len(TEACHER)
    card = json.loads((out / "dataset_card.json").read_text())
    assert card["export"]["format"] == format.value


@pytest.mark.parametrize(
    ("format", "tasks"),
    [(LabelFormat.LABEL_STUDIO, "label_studio/train.json"), (LabelFormat.CVAT, "cvat/train.xml")],
)
def test_a_dataset_checked_in_a_labeling_tool_imports_onto_its_frames(tmp_path, format, tasks):
    """5,000 frames to check in CVAT need no review round: export them all, correct them
    there, and import the tool's file; unchanged labels are stored as unchanged."""
    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    out = tmp_path / "dataset"
    exported = invoke("export", store, "--to", out, "--format", format.value, "--split", "1,0")
    assert exported.exit_code == 0, exported.output
    if format is LabelFormat.LABEL_STUDIO:  # an export of the tasks, as Label Studio gives
        data = json.loads((out / tasks).read_text())
        for task in data:
            task["annotations"] = [{"id": 1, "result": task.pop("predictions")[0]["result"]}]
        (out / tasks).write_text(json.dumps(data))
        first = data[0]["data"]["image"]
        assert first.startswith("/data/local-files/?d=images/train/")
    result = invoke("review", "import", store, out / tasks, "--format", format.value, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["matched"] == len(TEACHER) and not summary["unmatched"]
    assert summary["labels_changed"] == 0


def test_dataset_writers_stream_with_one_options_type(tmp_path):
    """A writer from the registry takes images one at a time, per split."""
    writer = get_format(LabelFormat.COCO).dataset_writer(tmp_path, NAMES, WriteOptions())
    for number, image in enumerate(IMAGES):
        writer.add(LabeledImage(image.key, Path(f"{number}.jpg"), W, H, image.detections), "val")
    writer.finish()
    written = json.loads((tmp_path / "annotations" / "val.json").read_text())
    assert [i["file_name"] for i in written["images"]] == ["0.jpg", "1.jpg", "2.jpg"]
    assert writer.per_split == {"val": 3}


def test_detections_carry_class_names_for_supervision_tools(tmp_path):
    """Frames from the store and images of a dataset read back carry
    `data["class_name"]`, as supervision's readers give them, so its tools use them."""
    import supervision as sv

    from distil.datasets.readers import read_dataset
    from distil.store import LabelStore

    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    with LabelStore.open(store) as opened:
        frame = next(f for f in opened.frames() if len(f.detections) == 2)
    assert frame.detections.data["class_name"].tolist() == ["car", "dog"]
    out = tmp_path / "dataset"
    assert invoke("export", store, "--to", out).exit_code == 0
    read = read_dataset(out)
    image = next(i for i in read.images.values() if len(i.detections))
    named = image.detections.data["class_name"].tolist()
    assert named == [read.names[i] for i in image.detections.class_id]
    scene = np.zeros((image.height, image.width, 3), np.uint8)
    drawn = sv.LabelAnnotator().annotate(scene.copy(), image.detections)  # names as labels
    assert drawn.any()
