"""Tracking with a box tracker (Ultralytics' ByteTrack / BoT-SORT) after any detector: the
plumbing with tiny random-weight models, the tracks with YOLO11n on real COCO cut-outs."""

import json
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from distil.base_models import load_base_model
from distil.datasets import export_dataset
from distil.labeling import label_images
from distil.labeling.tracking import BoxVideoTracker
from distil.labeling.tracks import TrackBook
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from distil.store import LabelStore
from tests.conftest import COCO128, YOLO11N, needs_shared, stop_after
from tests.synthetic import make_video

ROOT = Path(__file__).resolve().parents[2]
ONTOLOGY = Ontology.from_dict(
    {"classes": {"square": "red square", "disc": "green disc"}, "box_threshold": 0.0}
)


@pytest.fixture(scope="module")
def teacher(tiny_grounding_dino):
    return load_base_model(tiny_grounding_dino, "none", device="cpu")


@pytest.fixture
def clips(tmp_path):
    make_video(tmp_path / "clips" / "a.mp4", frames=14)
    make_video(tmp_path / "clips" / "b.mkv", frames=9)
    return tmp_path / "clips"


def few_boxes(teacher, clips) -> Ontology:
    """Random weights score every query; keep the top 3 of the first frame."""
    from distil.sources import iter_video

    first = next(iter_video(clips / "a.mp4")).rgb()
    scores = sorted(teacher.detector.detect([first], ONTOLOGY, 0.0)[0].confidence)[::-1]
    return ONTOLOGY.with_defaults(box_threshold=float(scores[2]), text_threshold=0.0)


def stored(out):
    with LabelStore.open(out) as store:
        return {f.identity.key: f.detections for f in store.frames(with_masks=True)}


@pytest.mark.parametrize("name", ["bytetrack", "botsort"])
def test_box_tracks_are_stored_with_one_class_each(teacher, clips, tmp_path, name):
    ontology = few_boxes(teacher, clips)
    tracker = BoxVideoTracker(name, store_every=4, batch=3)
    summary = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert summary.videos == 2 and summary.video_frames == summary.labeled == 23
    frames = stored(tmp_path / "run")
    assert len(frames) == 23
    classes, ids = defaultdict(set), defaultdict(set)
    for key, d in frames.items():
        if not len(d):
            continue
        assert d.tracker_id is not None and len(set(d.tracker_id.tolist())) == len(d)
        video = key.split("#")[0]
        for track, class_id in zip(d.tracker_id, d.class_id, strict=True):
            classes[(video, int(track))].add(int(class_id))
            ids[video].add(int(track))
    assert sum(len(v) for v in ids.values()) > 0
    # A track's class is voted, and every frame of the track reads back with it.
    assert all(len(v) == 1 for v in classes.values())
    assert summary.tracks == sum(max(v) for v in ids.values())
    again = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert again.labeled == 0 and again.tracks == summary.tracks


def test_the_segmenter_masks_tracked_boxes(tiny_grounding_dino, tiny_sam, clips, tmp_path):
    teacher = load_base_model(tiny_grounding_dino, tiny_sam, device="cpu")
    ontology = few_boxes(teacher, clips)
    tracker = BoxVideoTracker("bytetrack", store_every=4, batch=4)
    label_images(clips / "a.mp4", ontology, teacher, tmp_path / "run", tracker=tracker)
    frames = [d for d in stored(tmp_path / "run").values() if len(d)]
    assert frames
    for d in frames:
        assert d.mask is not None and d.mask.shape == (len(d), 120, 160)


def test_a_killed_box_tracking_run_resumes_and_exports_mot(teacher, clips, tmp_path):
    ontology = few_boxes(teacher, clips)
    tracker = BoxVideoTracker("bytetrack", store_every=4, batch=2)
    with pytest.raises(KeyboardInterrupt):
        label_images(
            clips, ontology, teacher, tmp_path / "run", tracker=tracker, progress=stop_after(10)
        )
    before = stored(tmp_path / "run")
    assert sorted(int(k.rsplit("#", 1)[1]) for k in before) == list(range(8))
    summary = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert summary.labeled == 23 - 8 and summary.already_labeled == 8
    after = stored(tmp_path / "run")
    for key, d in before.items():
        assert d.xyxy.tolist() == after[key].xyxy.tolist()
    export = export_dataset(
        tmp_path / "run", tmp_path / "ds", DatasetSettings(box_threshold=0.0, text_threshold=0.0)
    )
    assert export.tracked_videos == 2
    mot = (tmp_path / "ds" / "tracks" / "a.txt").read_text().splitlines()
    labels = (tmp_path / "ds" / "labels").rglob("a_*.txt")
    assert len(mot) == sum(len(p.read_text().splitlines()) for p in labels) > 0


def test_resumed_tracks_continue_the_stored_boxes_they_overlap():
    tracker = BoxVideoTracker("bytetrack")
    tracker._start(100, 200, ONTOLOGY)
    book = TrackBook()
    for _ in range(7):  # tracks 1-7 stored earlier; 3 and 5 were on the last stored frame
        book.observe(book.new_track(), 0, 0, 0.9)
    found = sv.Detections(
        xyxy=np.array([[102, 50, 130, 80], [10, 10, 40, 40], [150, 5, 190, 30]], np.float32),
        confidence=np.array([0.9, 0.8, 0.7], np.float32),
        class_id=np.array([1, 0, 0]),
        data={"prompt_id": np.array([1, 0, 0]), "text_score": np.ones(3, np.float32)},
    )
    carried = {3: np.array([12, 10, 42, 40]), 5: np.array([100, 50, 130, 80])}
    followed = tracker._follow(found, np.zeros((100, 200, 3), np.uint8), book, carried)
    by_box = dict(
        zip(map(tuple, followed.xyxy.tolist()), followed.tracker_id.tolist(), strict=True)
    )
    assert by_box[(102, 50, 130, 80)] == 5 and by_box[(10, 10, 40, 40)] == 3
    assert by_box[(150, 5, 190, 30)] == 8  # a new object: a new track
    assert set(book.live) == {3, 5, 8}  # tracks the restarted tracker cannot continue end


@needs_shared
def test_bytetrack_follows_real_objects_found_by_yolo(tmp_path):
    """COCO cut-outs moving, crossing and occluding each other, tracked with YOLO11n."""
    command = [
        sys.executable, str(ROOT / "benchmarks" / "video_id_switches.py"), "--clip", "crops",
        "--coco", str(COCO128), "--detector", str(YOLO11N), "--tracker", "bytetrack",
        "--frames", "90", "--device", "cpu",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=True)
    score = json.loads(result.stdout)
    assert score["truth_tracks"] == 5
    assert score["mota"] >= 0.55 and score["id_switches"] <= 6, score
