"""Tracking through video with tiny Grounding DINO + tiny SAM 2 video models."""

from collections import defaultdict

import pytest

from distil.base_models import load_base_model
from distil.base_models.sam2_video import Sam2VideoPropagator
from distil.datasets import export_dataset
from distil.labeling import label_images
from distil.labeling.tracking import VideoTracker
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from distil.store import LabelStore
from tests.conftest import stop_after
from tests.synthetic import make_video

ONTOLOGY = Ontology.from_dict(
    {"classes": {"square": "red square", "disc": "green disc"}, "box_threshold": 0.0}
)


@pytest.fixture(scope="module")
def teacher(tiny_grounding_dino):
    return load_base_model(tiny_grounding_dino, "none", device="cpu")


@pytest.fixture(scope="module")
def tracker(tiny_sam2_video):
    return VideoTracker(Sam2VideoPropagator(tiny_sam2_video, device="cpu"), detect_every=4)


@pytest.fixture
def clips(tmp_path):
    make_video(tmp_path / "clips" / "a.mp4", frames=14)
    make_video(tmp_path / "clips" / "b.mkv", frames=9)
    return tmp_path / "clips"


def ontology_with_few_boxes(teacher, clips) -> Ontology:
    """Random weights score every query; keep the top 3 of the first frame so the tiny run
    tracks a handful of objects."""
    from distil.sources import iter_video

    first = next(iter_video(clips / "a.mp4")).rgb()
    scores = sorted(teacher.detector.detect([first], ONTOLOGY, 0.0)[0].confidence)[::-1]
    return ONTOLOGY.with_defaults(box_threshold=float(scores[2]), text_threshold=0.0)


def stored(out):
    with LabelStore.open(out) as store:
        return {f.identity.key: f for f in store.frames()}


def test_tracking_labels_every_frame_with_one_class_per_track(teacher, tracker, clips, tmp_path):
    ontology = ontology_with_few_boxes(teacher, clips)
    summary = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert summary.videos == 2 and summary.video_frames == summary.labeled == 23
    images = stored(tmp_path / "run")
    assert sorted(images) == sorted(
        [f"{clips / 'a.mp4'}#{i}" for i in range(14)] + [f"{clips / 'b.mkv'}#{i}" for i in range(9)]
    )
    keyframe = images[f"{clips / 'a.mp4'}#0"].detections
    assert len(keyframe) >= 1 and keyframe.mask is not None
    assert keyframe.tracker_id.tolist() == sorted(keyframe.tracker_id.tolist())
    classes = defaultdict(set)
    ids_per_video = defaultdict(set)
    for image in images.values():
        d = image.detections
        if not len(d):
            continue
        assert d.mask.shape == (len(d), 120, 160) and d.tracker_id is not None
        for track, class_id, confidence in zip(d.tracker_id, d.class_id, d.confidence, strict=True):
            video = image.identity.video_id
            classes[(video, track)].add((int(class_id), round(float(confidence), 5)))
            ids_per_video[video].add(int(track))
    assert all(len(v) == 1 for v in classes.values())  # one class, one score per track
    assert summary.tracks == sum(max(ids) for ids in ids_per_video.values())

    again = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert again.labeled == 0 and again.already_labeled == 23 and again.tracks == summary.tracks


def test_killed_tracking_run_resumes_at_its_window(teacher, tracker, clips, tmp_path):
    ontology = ontology_with_few_boxes(teacher, clips)

    with pytest.raises(KeyboardInterrupt):
        label_images(
            clips, ontology, teacher, tmp_path / "run", tracker=tracker, progress=stop_after(10)
        )
    before = stored(tmp_path / "run")
    # windows are [0-3], [4-7], [8-11]: frame 9 was in flight, so 8 frames were kept
    assert sorted(int(k.rsplit("#", 1)[1]) for k in before) == list(range(8))
    summary = label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    assert summary.labeled == 23 - 8 and summary.already_labeled == 8
    after = stored(tmp_path / "run")
    assert len(after) == 23
    for key, image in before.items():  # nothing stored before the kill was redone
        assert image.detections.xyxy.tolist() == after[key].detections.xyxy.tolist()


def test_frames_of_a_video_share_a_split_and_tracks_are_exported_mot_style(
    teacher, tracker, clips, tmp_path
):
    ontology = ontology_with_few_boxes(teacher, clips)
    label_images(clips, ontology, teacher, tmp_path / "run", tracker=tracker)
    summary = export_dataset(
        tmp_path / "run",
        tmp_path / "ds",
        DatasetSettings(split=(0.5, 0.5, 0.0), seed=3, box_threshold=0.0, text_threshold=0.0),
    )
    assert summary.images == 23 and summary.tracked_videos == 2
    splits = {p.stem: p.parent.name for p in (tmp_path / "ds" / "images").rglob("*.jpg")}
    assert {splits[f"a_{i:06d}"] for i in range(14)} in ({"train"}, {"val"})
    assert {splits[f"b_{i:06d}"] for i in range(9)} in ({"train"}, {"val"})
    assert len(set(splits.values())) == 2  # two videos, two splits
    label_rows = sum(
        len(p.read_text().splitlines()) for p in (tmp_path / "ds" / "labels").rglob("*.txt")
    )
    mot = (tmp_path / "ds" / "tracks" / "a.txt").read_text().splitlines()
    mot += (tmp_path / "ds" / "tracks" / "b.txt").read_text().splitlines()
    assert len(mot) == label_rows
    frame, track, left, top, width, height, conf, class_id, visibility = mot[0].split(",")
    assert int(frame) >= 1 and int(track) >= 1 and visibility == "-1"
    assert int(class_id) in (0, 1) and float(width) > 0 and float(height) > 0


def test_sampling_applies_to_tracked_frames(teacher, tracker, clips, tmp_path):
    ontology = ontology_with_few_boxes(teacher, clips)
    summary = label_images(
        clips / "a.mp4", ontology, teacher, tmp_path / "run", tracker=tracker,
        every=3,
    )  # fmt: skip
    assert summary.video_frames == 5
    indexes = [f.identity.frame_index for f in stored(tmp_path / "run").values()]
    assert sorted(indexes) == [0, 3, 6, 9, 12]
