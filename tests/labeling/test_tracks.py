import numpy as np
import pytest
from supervision import mask_iou_batch as mask_iou

from distil.labeling.tracks import TrackBook

H, W = 40, 60


def box_mask(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
    mask = np.zeros((H, W), dtype=bool)
    mask[y1:y2, x1:x2] = True
    return mask


def masks(*boxes) -> np.ndarray:
    return np.array([box_mask(*b) for b in boxes]).reshape(-1, H, W)


def keyframe(book: TrackBook, predicted: dict, detections: list[tuple]):
    """detections: (box, class_id, confidence)."""
    live = list(book.live)
    track_masks = np.array([predicted[t] for t in live]).reshape(-1, H, W)
    return book.update(
        live,
        track_masks,
        masks(*[d[0] for d in detections]),
        np.array([d[1] for d in detections], dtype=np.int64),
        np.array([d[1] for d in detections], dtype=np.int64),  # prompt id = class id here
        np.array([d[2] for d in detections], dtype=np.float32),
    )


def test_mask_iou_exact():
    a = masks((0, 0, 10, 10), (20, 20, 30, 30))
    b = masks((5, 0, 15, 10))
    assert mask_iou(a, b)[:, 0].tolist() == pytest.approx([50 / 150, 0.0])
    assert mask_iou(a, masks()).shape == (2, 0)


def test_birth_then_continue_keeps_ids():
    book = TrackBook(match_iou=0.3, max_lost=1)
    first = keyframe(book, {}, [((0, 0, 10, 10), 0, 0.9), ((30, 10, 50, 30), 1, 0.8)])
    assert first.assigned == {0: 1, 1: 2} and not first.ended
    # objects moved a little; propagation followed them; detections come in another order
    predicted = {1: box_mask(2, 0, 12, 10), 2: box_mask(31, 10, 51, 30)}
    second = keyframe(book, predicted, [((32, 10, 52, 30), 1, 0.7), ((3, 0, 13, 10), 0, 0.95)])
    assert second.assigned == {0: 2, 1: 1}
    assert sorted(book.live) == [1, 2] and book.next_id == 3


def test_unmatched_detection_starts_a_new_track_and_low_overlap_does_not_continue():
    book = TrackBook(match_iou=0.5)
    keyframe(book, {}, [((0, 0, 10, 10), 0, 0.9)])
    # the detection overlaps track 1 by IoU 1/3 < 0.5: a new object, and track 1 coasts
    update = keyframe(book, {1: box_mask(0, 0, 10, 10)}, [((5, 0, 15, 10), 0, 0.9)])
    assert update.assigned == {0: 2} and update.coasting == [1]


def test_track_ends_after_max_lost_keyframes_or_when_its_mask_vanishes():
    book = TrackBook(max_lost=1)
    keyframe(book, {}, [((0, 0, 10, 10), 0, 0.9), ((30, 10, 50, 30), 1, 0.8)])
    kept = {1: box_mask(0, 0, 10, 10), 2: np.zeros((H, W), bool)}  # 2 left the frame
    update = keyframe(book, kept, [])
    assert update.coasting == [1] and update.ended == [2]
    update = keyframe(book, {1: box_mask(0, 0, 10, 10)}, [])  # second miss in a row
    assert update.ended == [1] and not book.live and book.ended == {1, 2}


def test_one_class_per_track_by_confidence_vote():
    book = TrackBook()
    keyframe(book, {}, [((0, 0, 10, 10), 0, 0.4)])  # first seen as class 0, unsure
    here = {1: box_mask(0, 0, 10, 10)}
    keyframe(book, here, [((0, 0, 10, 10), 1, 0.9)])
    keyframe(book, here, [((0, 0, 10, 10), 1, 0.8)])
    track = book.live[1]
    assert track.class_id == 1 and track.prompt_id == 1
    assert track.confidence == pytest.approx((0.9 + 0.8) / 3)
    assert book.classes() == {1: (1, 1, pytest.approx(1.7 / 3))}


def test_state_round_trips_through_json():
    import json

    book = TrackBook(match_iou=0.4, max_lost=2)
    keyframe(book, {}, [((0, 0, 10, 10), 0, 0.9), ((30, 10, 50, 30), 1, 0.8)])
    keyframe(book, {1: box_mask(0, 0, 10, 10), 2: np.zeros((H, W), bool)}, [])
    again = TrackBook.from_dict(json.loads(json.dumps(book.to_dict())))
    assert again.to_dict() == book.to_dict()
    assert again.classes() == book.classes()


def test_live_tracks_must_all_be_given():
    book = TrackBook()
    keyframe(book, {}, [((0, 0, 10, 10), 0, 0.9)])
    with pytest.raises(ValueError, match="every live track"):
        book.update([], masks(), masks(), np.zeros(0), np.zeros(0), np.zeros(0))
