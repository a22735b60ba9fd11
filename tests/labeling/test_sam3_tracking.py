"""Tracking with SAM 3's video model alone: its object ids become track ids."""

import numpy as np
import pytest

from distil.base_models import load_base_model
from distil.base_models.sam3_video import Sam3Video, VideoObjects
from distil.datasets import export_dataset
from distil.labeling import label_images
from distil.labeling.tracking import Sam3VideoTracker, follow_objects
from distil.labeling.tracks import TrackBook
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from distil.store import LabelStore
from tests.conftest import stop_after
from tests.synthetic import make_video

ONTOLOGY = Ontology.from_dict(
    {"classes": {"square": ["red square", "box"], "disc": "green disc"}, "box_threshold": 0.0}
)
PROMPT_CLASSES = ONTOLOGY.prompt_class_ids  # (0, 0, 1)


def mask(x: int, y: int, size: int = 10) -> np.ndarray:
    m = np.zeros((40, 40), bool)
    m[y : y + size, x : x + size] = True
    return m


def objects(ids, prompts, scores, masks, alive=None) -> VideoObjects:
    return VideoObjects(
        ids=ids,
        prompt_ids=np.array(prompts, np.int64),
        scores=np.array(scores, np.float32),
        masks=np.array(masks, bool).reshape(-1, 40, 40),
        alive=set(ids) if alive is None else alive,
    )


def test_object_ids_become_track_ids_and_vote_their_prompts_class():
    book, ids = TrackBook(), {}
    first = objects([5, 7], [1, 2], [0.8, 0.6], [mask(0, 0), mask(20, 20)])
    assert follow_objects(first, ids, book, PROMPT_CLASSES, {}, 0.5) == [1, 2]
    # object 5 hidden on this frame but still held by the session; object 9 is new
    second = objects([7, 9], [2, 0], [0.4, 0.9], [mask(21, 20), mask(5, 25)], alive={5, 7, 9})
    assert follow_objects(second, ids, book, PROMPT_CLASSES, {}, 0.5) == [2, 3]
    classes = book.classes()
    assert {t: (c.class_id, c.prompt_id) for t, c in classes.items()} == {
        1: (0, 1),
        2: (1, 2),
        3: (0, 0),
    }
    assert classes[2].confidence == pytest.approx(0.5)  # mean of 0.6 and 0.4
    third = objects([9], [0], [0.9], [mask(6, 25)])  # the session let 5 and 7 go
    assert follow_objects(third, ids, book, PROMPT_CLASSES, {}, 0.5) == [3]
    assert set(book.live) == {3} and book.ended == {1, 2} and ids == {9: 3}


def test_a_resumed_session_continues_the_tracks_its_objects_overlap():
    book = TrackBook()
    for _ in range(3):  # the state stored before the kill: tracks 1, 2 and 3 live
        book.observe(book.new_track(), 0, 0, 0.7)
    carried = {1: mask(0, 0), 2: mask(20, 20), 3: mask(30, 0)}
    found = objects([0, 1], [2, 0], [0.9, 0.8], [mask(21, 21), mask(0, 30)])
    ids: dict[int, int] = {}
    assert follow_objects(found, ids, book, PROMPT_CLASSES, carried, 0.5) == [2, 4]
    assert ids == {0: 2, 1: 4} and book.ended == {1, 3}


@pytest.fixture(scope="module")
def tracker(tiny_sam3_video):
    return Sam3VideoTracker(Sam3Video(tiny_sam3_video, device="cpu"), store_every=4)


@pytest.fixture(scope="module")
def teacher(tiny_grounding_dino):
    """The image teacher: unused on video frames, where SAM 3 detects on its own."""
    return load_base_model(tiny_grounding_dino, "none", device="cpu")


def stored(out):
    with LabelStore.open(out) as store:
        return {f.identity.key: f for f in store.frames(with_masks=True)}


def test_sam3_tracks_resume_and_export_mot(teacher, tracker, tmp_path):
    clips = tmp_path / "clips"
    make_video(clips / "a.mp4", frames=14)

    with pytest.raises(KeyboardInterrupt):
        label_images(clips, ONTOLOGY, teacher, tmp_path / "run", tracker=tracker,
                     progress=stop_after(6))  # fmt: skip
    before = stored(tmp_path / "run")
    assert sorted(int(k.rsplit("#", 1)[1]) for k in before) == [0, 1, 2, 3]
    summary = label_images(clips, ONTOLOGY, teacher, tmp_path / "run", tracker=tracker)
    assert summary.labeled == 10 and summary.already_labeled == 4
    after = stored(tmp_path / "run")
    shown = [after[f"{clips / 'a.mp4'}#{i}"].detections for i in range(14)]
    assert all(d.tracker_id is not None and d.mask.shape == (len(d), 120, 160) for d in shown)
    first, resumed = set(shown[3].tracker_id.tolist()), set(shown[4].tracker_id.tolist())
    assert first and first & resumed  # the tiny model's objects continue across the kill
    classes = {}
    for d in shown:
        for track, class_id in zip(d.tracker_id.tolist(), d.class_id.tolist(), strict=True):
            assert classes.setdefault(track, class_id) == class_id  # one class per track
    again = label_images(clips, ONTOLOGY, teacher, tmp_path / "run", tracker=tracker)
    assert again.labeled == 0

    settings = DatasetSettings(task="segment", box_threshold=0.0, text_threshold=0.0)
    export = export_dataset(tmp_path / "run", tmp_path / "ds", settings)
    assert export.tracked_videos == 1
    rows = (tmp_path / "ds" / "tracks" / "a.txt").read_text().splitlines()
    assert rows and {int(r.split(",")[1]) for r in rows} <= set(classes)
