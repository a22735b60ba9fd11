"""A review round through the CLI on a crafted store: rank, write tasks, import the
corrections (matching, unknown classes, idempotence), human labels win at export, and
the reviewed frames judge and tune the teacher's thresholds."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.datasets.card import DatasetCard
from distil.detections import FrameIdentity
from distil.sources import read_file
from distil.store import LabelStore, StoreBatch, StoredFrame
from tests.review.test_ranking import boxes

SETTINGS = {
    "detector": {"family": "crafted", "model": "m", "revision": "r"},
    "segmenter": None,
    "prompts": [["car", ["car"]], ["dog", ["dog"]]],
    "store_threshold": 0.1,
}
ONTOLOGY = {"box_threshold": 0.5, "classes": {"car": "car", "dog": "dog"}}
# image name -> teacher boxes (x0, y0, x1, y1, score, class)
TEACHER = {
    "sure.jpg": [(5, 5, 30, 30, 0.97, 0)],
    "doubt.jpg": [(5, 5, 30, 30, 0.52, 0), (40, 10, 70, 40, 0.45, 1)],
    "sub/doubt.jpg": [(5, 5, 30, 30, 0.55, 1)],  # same file name in another folder
    "empty.jpg": [],
}


def invoke(*args) -> object:
    return CliRunner().invoke(app, [str(a) for a in args])


def ranked_paths(result) -> list[str]:
    """The paths `distil review ... --json` ranked, most doubtful first, with or without
    --to (a round holds its ranking)."""
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    return [f["path"] for f in (printed["ranking"] if "round" in printed else printed)["frames"]]


def make_store(
    label_dir: Path,
    images: Path,
    teacher: dict[str, list],
    masks: bool = False,
    size: tuple[int, int] = (80, 60),
) -> Path:
    """A store of `teacher`'s boxes on images of `size` (80x60); with `masks`, each box's
    mask fills it."""
    width, height = size
    segmenter = {"family": "crafted", "model": "s", "revision": "r"} if masks else None
    with LabelStore.create(label_dir, {**SETTINGS, "segmenter": segmenter}) as store:
        store.set_ontology(ONTOLOGY)
        batch = StoreBatch()
        for shade, (name, rows) in enumerate(teacher.items()):
            path = images / name
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                Image.new("RGB", size, (50 * shade, 90, 120)).save(path)
            _, digest, stamp = read_file(path)
            identity = FrameIdentity(path, images, digest, stamp=stamp)
            detections = boxes(*rows)
            if masks:
                detections.mask = np.zeros((len(rows), height, width), bool)
                for mask, (x0, y0, x1, y1, *_) in zip(detections.mask, rows, strict=True):
                    mask[y0:y1, x0:x1] = True
            batch.frames.append(StoredFrame(identity, width, height, detections))
        store.write_batch(batch)
    return label_dir


@pytest.fixture
def labeled(tmp_path) -> Path:
    return make_store(tmp_path / "run", tmp_path / "images", TEACHER)


def corrected_export(tasks_file: Path, corrections: dict[str, list], out: Path) -> Path:
    """What Label Studio exports after a reviewer replaced each task's pre-annotations
    with `corrections[file name]` (rectangles: x0, y0, x1, y1, class)."""
    tasks = json.loads(tasks_file.read_text())
    for number, task in enumerate(tasks, 1):
        task["id"] = number
        prediction = task.pop("predictions")[0]["result"]
        name = Path(task["data"]["distil_path"]).relative_to(tasks_file.parents[2] / "images")
        rows = corrections.get(name.as_posix(), [])
        result = []
        for i, (x0, y0, x1, y1, label) in enumerate(rows):
            value = {"x": x0 / 0.8, "y": y0 / 0.6, "width": (x1 - x0) / 0.8,
                     "height": (y1 - y0) / 0.6, "rotation": 0, "rectanglelabels": [label]}  # fmt: skip
            result.append({**prediction[0], "id": f"h{i}", "value": value} if prediction else {
                "id": f"h{i}", "type": "rectanglelabels", "from_name": "label",
                "to_name": "image", "original_width": 80, "original_height": 60,
                "value": value})  # fmt: skip
        task["annotations"] = [{"id": number, "result": result, "was_cancelled": False}]
    out.write_text(json.dumps(tasks))
    return out


def test_rank_json_lists_the_doubtful_frames_first_with_reasons(labeled):
    result = invoke("review", labeled, "--top", 2, "--json")
    assert result.exit_code == 0, result.output
    frames = json.loads(result.stdout)["frames"]
    assert [Path(f["path"]).name for f in frames] == ["doubt.jpg", "doubt.jpg"]
    assert frames[0]["score"] >= frames[1]["score"] > 0 and frames[0]["reasons"]


def test_the_whole_round(labeled, tmp_path):
    round_dir = tmp_path / "review" / "round1"
    result = invoke("review", labeled, "--top", 3, "--to", round_dir, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["round"] == 1 and summary["frames"] == 3
    tasks_file = round_dir / "tasks.json"
    assert (round_dir / "label_config.xml").is_file() and (round_dir / "ranking.json").is_file()
    # images are referenced where they are, not copied
    assert not (round_dir / "images").exists()

    corrections = {
        "doubt.jpg": [(5, 5, 30, 30, "car"), (40, 10, 70, 40, "dog"), (60, 45, 62, 47, "dog")],
        "sub/doubt.jpg": [],  # the reviewer says: nothing there
        "sure.jpg": [(5, 5, 30, 30, "car")],
    }
    export = corrected_export(tasks_file, corrections, tmp_path / "export.json")
    imported = invoke("review", "import", labeled, export, "--json")
    assert imported.exit_code == 0, imported.output
    first = json.loads(imported.stdout)
    printed = invoke("review", "import", labeled, export)  # unchanged: no next steps
    assert "0 frames (3 unchanged" in printed.output and "next:" not in printed.output
    assert (first["matched"], first["stored"], first["unchanged"]) == (3, 3, 0)
    assert first["rounds"] == [1]
    # doubt.jpg: the dog kept (teacher had it below threshold), a tiny dog added: 2 changes;
    # sub/doubt.jpg: the teacher's dog removed: 1
    assert first["labels_changed"] == 3
    again = json.loads(invoke("review", "import", labeled, export, "--json").stdout)
    assert (again["stored"], again["unchanged"]) == (0, 3)

    with LabelStore.open(labeled) as store:
        stored = {h.hash: h for h in store.human_labels()}
        assert {h.round for h in stored.values()} == {1}
        assert all(h.format == "label-studio" and h.file == str(export) for h in stored.values())

    # reviewed frames leave the ranking
    left = json.loads(invoke("review", labeled, "--json").stdout)
    assert [Path(f["path"]).name for f in left["frames"]] == ["empty.jpg"]
    assert left["reviewed"] == 3

    # human labels win: written exactly, the 2x2 dog too (below any area or threshold)
    result = invoke("export", labeled, "--to", tmp_path / "ds", "--split", "1,0", "--json")
    assert result.exit_code == 0, result.output
    labels = tmp_path / "ds" / "labels" / "train"
    doubt = [line.split() for line in (labels / "doubt.txt").read_text().splitlines()]
    assert [row[0] for row in doubt] == ["0", "1", "1"]
    assert float(doubt[2][3]) == pytest.approx(2 / 80, abs=1e-5)
    assert (labels / "sub" / "doubt.txt").read_text() == ""
    card = DatasetCard.read(tmp_path / "ds")
    assert card.reviewed_frames == 3
    assert {c.name: c.reviewed_frames for c in card.classes} == {"car": 2, "dog": 1}
    assert "3 frames carry human labels" in (tmp_path / "ds" / "README.md").read_text()

    # the reviewed frames judge the teacher and tune its thresholds
    result = invoke("eval", labeled, "--ground-truth", "reviewed", "--sweep",
                    "--out", tmp_path / "eval", "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["images"] == 3
    dog = next(c for c in report["classes"] if c["name"] == "dog")
    assert dog["ground_truth"] == 2 and dog["best_threshold"] == pytest.approx(0.45)
    swept = yaml.safe_load((tmp_path / "eval" / "ontology_swept.yaml").read_text())
    assert swept["classes"]["dog"]["box_threshold"] == pytest.approx(0.45)


def test_two_rounds_share_no_frames_until_corrections_come_back(labeled, tmp_path):
    def names(result) -> list[str]:
        return sorted(Path(path).name for path in ranked_paths(result))

    first = invoke("review", labeled, "--top", 2, "--to", tmp_path / "alice", "--json")
    assert names(first) == ["doubt.jpg", "doubt.jpg"]
    # a second reviewer gets other frames while the first round is out
    second = invoke("review", labeled, "--top", 2, "--to", tmp_path / "bob", "--json")
    assert names(second) == ["empty.jpg", "sure.jpg"]
    assert json.loads(second.stdout)["ranking"]["pending"] == 2
    printed = invoke("review", labeled, "--top", 2, "--to", tmp_path / "carol")
    assert printed.exit_code == 2
    assert "4 are in rounds whose corrections are not imported yet" in printed.output
    assert names(invoke("review", labeled, "--include-pending", "--json")) == [
        "doubt.jpg", "doubt.jpg", "empty.jpg", "sure.jpg"
    ]  # fmt: skip

    # bob's round comes back with one frame reviewed: his other frame is rankable again
    export = tmp_path / "bob.json"
    tasks = json.loads((tmp_path / "bob" / "tasks.json").read_text())
    sure = next(t for t in tasks if t["data"]["distil_path"].endswith("sure.jpg"))
    sure["annotations"] = [{"id": 1, "result": [], "was_cancelled": False}]
    export.write_text(json.dumps([sure]))
    imported = invoke("review", "import", labeled, export)
    assert imported.exit_code == 0, imported.output
    assert f"next: distil eval {labeled} --ground-truth reviewed --sweep" in imported.output
    assert names(invoke("review", labeled, "--json")) == ["empty.jpg"]
    # a round's folder is its record: not written over
    again = invoke("review", labeled, "--to", tmp_path / "bob", "-f", "voc")
    assert again.exit_code == 2 and "bob holds an earlier review round" in again.output
    # alice's round abandoned: deleting its folder gives its frames back
    shutil.rmtree(tmp_path / "alice")
    assert names(invoke("review", labeled, "--json")) == ["doubt.jpg", "doubt.jpg", "empty.jpg"]


@pytest.mark.parametrize("format", ["yolo", "cvat", "voc", "coco"])
def test_frames_of_one_video_are_handed_out_seconds_apart(tmp_path, format):
    """A 6 s clip whose frames are most doubtful around 1.5 s: a round picks frames at
    least --video-gap apart (written as JPEG for the tool), not the run around 1.5 s."""
    from distil.sources.video import frame_hash, video_id
    from tests.synthetic import make_video

    clip = make_video(tmp_path / "clips" / "walk.mp4", frames=60, fps=10, width=80, height=60)
    vid = video_id(clip)
    with LabelStore.create(tmp_path / "run", SETTINGS) as store:
        store.set_ontology(ONTOLOGY)
        batch = StoreBatch()
        for i in range(60):
            identity = FrameIdentity(clip, clip.parent, frame_hash(vid, i), i, vid, i / 10)
            doubtful = max(1, 6 - abs(15 - i))  # 6 at 1.5 s, 1 before 1.1 s and after 1.9 s
            rows = [(2 + 12 * b, 5, 12 + 12 * b, 15, 0.52, 0) for b in range(doubtful)]
            batch.frames.append(StoredFrame(identity, 80, 60, boxes(*rows)))
        store.write_batch(batch)

    def seconds(*options) -> list[float]:
        result = invoke("review", tmp_path / "run", "--top", 3, *options, "--json")
        return [int(path.rsplit("#", 1)[1]) / 10 for path in ranked_paths(result)]

    assert seconds("--video-gap", 0) == [1.5, 1.4, 1.6]  # neighbours: near-identical frames
    listed = json.loads(invoke("review", tmp_path / "run", "--top", 1, "--json").stdout)
    assert listed["frames"][0]["seconds"] == 1.5  # where to look in the video
    assert "walk.mp4#15  (1.5 s)" in invoke("review", tmp_path / "run", "--top", 1).output
    round_dir = tmp_path / "round1"
    assert seconds("--to", round_dir, "-f", format) == [1.5, 3.5, 5.5]
    assert len(list((round_dir / "images").glob("*.jpg"))) == 3
    # the written frames come back to their video frames
    source = {"cvat": round_dir / "annotations.xml", "coco": round_dir / "annotations.json"}
    result = invoke("review", "import", tmp_path / "run", source.get(format, round_dir),
                    "-f", format, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matched"] == 3


def test_classes_rank_by_their_labels_and_the_task_file_keeps_every_class(tmp_path):
    teacher = {
        "a.jpg": [(5, 5, 30, 30, 0.97, 0), (40, 10, 70, 40, 0.51, 1)],  # a doubtful dog
        "b.jpg": [(5, 5, 30, 30, 0.52, 0), (40, 10, 70, 40, 0.99, 1)],  # a doubtful car
    }
    run = make_store(tmp_path / "run", tmp_path / "images", teacher)

    def first(*options) -> str:
        return Path(ranked_paths(invoke("review", run, "--top", 1, *options, "--json"))[0]).name

    assert first("--classes", "dog") == "a.jpg" and first("--classes", "car") == "b.jpg"
    assert first("--classes", "dog", "--to", tmp_path / "r1", "-f", "yolo") == "a.jpg"
    label = (tmp_path / "r1" / "labels" / "a.txt").read_text().splitlines()
    assert sorted(line.split()[0] for line in label) == ["0", "1"]  # the car too
    typo = invoke("review", run, "--classes", "dgo")
    assert typo.exit_code == 2 and "unknown class 'dgo'. Did you mean 'dog'?" in typo.output


def test_a_round_says_what_to_do_next(labeled, tmp_path):
    result = invoke("review", labeled, "--top", 1, "--to", tmp_path / "r1", "-f", "cvat")
    assert result.exit_code == 0, result.output
    assert "upload" in result.output and "annotations.xml" in result.output
    assert f"distil review import {labeled} EXPORT.zip -f cvat" in result.output


@pytest.mark.parametrize("format", ["cvat", "voc", "yolo", "coco"])
def test_other_formats_round_trip_through_import(labeled, tmp_path, format):
    """Pre-annotations imported unchanged are the exported labels of those frames."""
    round_dir = tmp_path / format
    assert invoke("review", labeled, "--top", 4, "--to", round_dir, "-f", format).exit_code == 0
    source = {"cvat": round_dir / "annotations.xml", "coco": round_dir / "annotations.json"}
    result = invoke("review", "import", labeled, source.get(format, round_dir), "-f", format,
                    "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["matched"] == 4 and summary["labels_changed"] == 0


def test_a_name_two_frames_share_matches_the_one_handed_out(labeled, tmp_path):
    """CVAT knows the frame as doubt.jpg; of the two stored doubt.jpg, the reviewed one
    is the one the round handed out."""
    round_dir = tmp_path / "cvat"
    result = invoke("review", labeled, "--top", 1, "--to", round_dir, "-f", "cvat", "--json")
    assert result.exit_code == 0, result.output
    (handed_out,) = json.loads(result.stdout)["ranking"]["frames"]
    (image,) = ET.parse(round_dir / "annotations.xml").iter("image")
    assert (image.get("id"), image.get("name")) == ("0", "doubt.jpg")
    result = invoke("review", "import", labeled, round_dir / "annotations.xml", "-f", "cvat",
                    "--json")  # fmt: skip
    summary = json.loads(result.stdout)
    assert (summary["matched"], summary["ambiguous"]) == (1, [])
    with LabelStore.open(labeled) as store:
        (human,) = store.human_labels()
        (frame,) = store.frames(with_masks=False, keys=[handed_out["path"]])
    assert human.hash == frame.identity.hash


def test_zipped_exports_import_as_cvat_downloads_them(labeled, tmp_path):
    """CVAT hands out zip files: CVAT for images 1.1, and YOLO 1.1 (obj.names and
    obj_train_data/); only their annotation files are unpacked."""
    round_dir = tmp_path / "cvat"
    assert invoke("review", labeled, "--top", 4, "--to", round_dir, "-f", "cvat").exit_code == 0
    with zipfile.ZipFile(tmp_path / "task_1.zip", "w") as bundle:
        bundle.write(round_dir / "annotations.xml", "annotations.xml")
        bundle.writestr("images/sure.jpg", b"not unpacked")
    result = invoke("review", "import", labeled, tmp_path / "task_1.zip", "-f", "cvat", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["matched"] == 4

    with zipfile.ZipFile(tmp_path / "yolo.zip", "w") as bundle:
        bundle.writestr("obj.names", "car\ndog\n")
        bundle.writestr("obj_train_data/sure.txt", "1 0.21875 0.291667 0.3125 0.416667\n")
    result = invoke("review", "import", labeled, tmp_path / "yolo.zip", "-f", "yolo", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["matched"], summary["labels_changed"]) == (1, 2)  # car became a dog
    with LabelStore.open(labeled) as store:
        (sure,) = [h for h in store.human_labels() if h.file.endswith("yolo.zip")]
    assert sure.detections.class_id.tolist() == [1]
    np.testing.assert_allclose(sure.detections.xyxy, [[5, 5, 30, 30]], atol=1e-3)


@pytest.mark.parametrize(
    ("member", "error"),
    [
        ("../outside.xml", "points outside the archive"),
        ("task/annotations.xml", r"task\.zip/task/annotations\.xml: not a readable CVAT"),
    ],
)
def test_a_bad_zip_is_refused_naming_it(labeled, tmp_path, member, error):
    with zipfile.ZipFile(tmp_path / "task.zip", "w") as bundle:
        bundle.writestr(member, "<annotations>")
    result = invoke("review", "import", labeled, tmp_path / "task.zip", "-f", "cvat")
    assert result.exit_code != 0 and re.search(error, result.output), result.output
    assert not (tmp_path / "outside.xml").exists()


def test_an_unknown_class_fails_the_import_and_lists_the_classes(labeled, tmp_path):
    round_dir = tmp_path / "r"
    assert invoke("review", labeled, "--to", round_dir, "-f", "cvat").exit_code == 0
    xml = (round_dir / "annotations.xml").read_text().replace('label="dog"', 'label="dgo"')
    (round_dir / "annotations.xml").write_text(xml)
    result = invoke("review", "import", labeled, round_dir / "annotations.xml", "-f", "cvat")
    assert result.exit_code == 2
    assert "unknown class 'dgo'" in result.output and "car, dog" in result.output
    assert "Did you mean 'dog'" in result.output
    with LabelStore.open(labeled) as store:
        assert store.reviewed_hashes() == set()


def test_unmatched_images_are_reported_not_guessed(labeled, tmp_path):
    tasks = [
        {"data": {"image": "/data/local-files/?d=elsewhere/other.jpg"},
         "annotations": [{"result": []}]},
        {"data": {"image": "/data/local-files/?d=x/doubt.jpg"}, "annotations": [{"result": []}]},
    ]  # fmt: skip
    (tmp_path / "e.json").write_text(json.dumps(tasks))
    summary = json.loads(invoke("review", "import", labeled, tmp_path / "e.json", "--json").stdout)
    assert summary["matched"] == 0 and summary["stored"] == 0
    assert summary["unmatched"] == ["/elsewhere/other.jpg"]
    assert summary["ambiguous"] == ["/x/doubt.jpg"]


def test_eval_reviewed_without_reviews_says_what_to_do(labeled, tmp_path):
    result = invoke("eval", labeled, "--ground-truth", "reviewed", "--out", tmp_path / "e")
    assert result.exit_code == 2 and "distil review import" in result.output


def test_human_labels_round_trip_through_the_store(labeled):
    from distil.detections import human_detections
    from distil.store import HumanLabels

    with LabelStore.edit(labeled) as store:
        digest = next(iter(store.hashes()))
        mask = np.zeros((1, 60, 80), bool)
        mask[0, 10:20, 5:15] = True
        labels = human_detections(np.array([[5, 10, 15, 20]]), np.array([1]), mask)
        assert store.write_human_labels([HumanLabels(digest, 80, 60, labels, 1, 2, "f", "cvat")])
        (read,) = store.human_labels(with_masks=True)
    np.testing.assert_array_equal(read.detections.mask, mask)
    assert (read.round, read.changed, read.format) == (2, 1, "cvat")


def test_another_teachers_store_ranks_by_disagreement(labeled, tmp_path):
    other = dict(TEACHER, **{"sure.jpg": [(5, 5, 30, 30, 0.9, 0), (50, 30, 78, 58, 0.8, 1)]})
    against = make_store(tmp_path / "other", tmp_path / "images", other)
    result = invoke("review", labeled, "--against", against, "--ranking", "disagreement",
                    "--top", 1, "--json")  # fmt: skip
    assert result.exit_code == 0, result.output
    (top,) = json.loads(result.stdout)["frames"]
    assert Path(top["path"]).name == "sure.jpg"
    assert top["reasons"] == ["the other teacher finds boxes the teacher does not: dog 0.80"]


def test_disagreement_without_a_student_or_store_is_refused_before_work(labeled):
    result = invoke("review", labeled, "--ranking", "disagreement")
    assert result.exit_code == 2
    needs = "--ranking disagreement needs a student (--student) or another label folder (--against)"
    assert needs in result.output


@pytest.mark.parametrize("format", ["label-studio", "cvat"])
def test_brush_masks_go_to_the_tool_and_come_back_exactly(tmp_path, format):
    """A reviewer paints a hole into a brush mask; the import stores it and a COCO RLE
    export writes it to the pixel."""
    from pycocotools import mask as mask_utils

    from distil.datasets.formats import (
        decode_brush,
        decode_cvat_mask,
        encode_brush,
        encode_cvat_mask,
    )

    labeled = make_store(tmp_path / "run", tmp_path / "images", {"car.jpg": TEACHER["doubt.jpg"]},
                         masks=True)  # fmt: skip
    round_dir = tmp_path / "round"
    result = invoke("review", labeled, "--to", round_dir, "-f", format, "--masks", "brush")
    assert result.exit_code == 0, result.output
    if format == "label-studio":
        tasks = json.loads((round_dir / "tasks.json").read_text())
        result = tasks[0]["predictions"][0]["result"]
        assert [r["type"] for r in result] == ["brushlabels"]  # the dog is below threshold
        painted = decode_brush(result[0]["value"]["rle"], 80, 60)
        painted[10:15, 10:15] = False
        result[0]["value"]["rle"] = encode_brush(painted)
        tasks[0]["annotations"] = [{"id": 1, "result": result}]
        corrected = tmp_path / "export.json"
        corrected.write_text(json.dumps(tasks))
    else:
        tree = ET.parse(round_dir / "annotations.xml")
        (mask,) = tree.iter("mask")
        painted = decode_cvat_mask(mask.attrib, 80, 60)
        painted[10:15, 10:15] = False
        mask.attrib.update(encode_cvat_mask(painted))
        corrected = tmp_path / "annotations.xml"
        tree.write(corrected)
    imported = invoke("review", "import", labeled, corrected, "-f", format, "--json")
    assert imported.exit_code == 0, imported.output
    assert json.loads(imported.stdout)["stored"] == 1

    result = invoke("export", labeled, "--to", tmp_path / "ds", "--split", "1,0", "-f", "coco",
                    "--task", "segment", "--coco-rle")  # fmt: skip
    assert result.exit_code == 0, result.output
    coco = json.loads((tmp_path / "ds" / "annotations" / "train.json").read_text())
    (car,) = coco["annotations"]
    rle = {**car["segmentation"], "counts": car["segmentation"]["counts"].encode()}
    np.testing.assert_array_equal(mask_utils.decode(rle).astype(bool), painted)


def test_brush_masks_need_a_labeling_tool(labeled, tmp_path):
    result = invoke("review", labeled, "--to", tmp_path / "r", "-f", "yolo", "--masks", "brush")
    assert result.exit_code == 2
    assert "--masks brush is for --format label-studio and cvat, not yolo" in result.output


def test_voc_is_a_dataset_export_format(labeled, tmp_path):
    result = invoke("export", labeled, "--format", "voc", "--to", tmp_path / "voc",
                    "--split", "1,0")  # fmt: skip
    assert result.exit_code == 0, result.output
    from distil.datasets.formats import read_voc

    read = read_voc(tmp_path / "voc" / "Annotations" / "train" / "sure.xml", ["car", "dog"])
    assert read.detections.xyxy.tolist() == [[5, 5, 30, 30]] and read.filename == "sure.jpg"


def test_document_root_through_a_symlink(tmp_path):
    from distil.datasets.formats.label_studio import local_files_url

    real = tmp_path / "nas" / "photos"
    real.mkdir(parents=True)
    (real / "a.jpg").write_bytes(b"x")
    home = tmp_path / "home"
    home.mkdir()
    (home / "photos").symlink_to(real)  # the user's images, through a link
    expected = "/data/local-files/?d=photos/a.jpg"
    assert local_files_url(home / "photos" / "a.jpg", home) == expected
    (tmp_path / "root").symlink_to(tmp_path / "nas")  # the root through a link
    assert local_files_url(real / "a.jpg", tmp_path / "root") == expected
    with pytest.raises(ValueError, match="is not under it"):
        local_files_url(real / "a.jpg", home / "elsewhere")


def test_a_round_that_fails_before_it_is_recorded_can_be_retried(labeled, tmp_path, monkeypatch):
    from distil.store import LabelStore

    def fail(self, item):
        raise OSError(28, "No space left on device")

    round_dir = tmp_path / "round1"
    with monkeypatch.context() as patch:
        patch.setattr(LabelStore, "add_review_round", fail)
        result = invoke("review", labeled, "--top", 2, "--to", round_dir, "-f", "yolo")
        assert result.exit_code == 2, result.output
    assert not round_dir.exists()  # nothing of the failed round is left
    retry = invoke("review", labeled, "--top", 2, "--to", round_dir, "-f", "yolo")
    assert retry.exit_code == 0, retry.output
