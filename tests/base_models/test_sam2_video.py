import numpy as np
import pytest

from distil.base_models import ModelSpecError, check_tracker_model, load_segmenter
from distil.base_models.sam2_video import Sam2VideoPropagator
from tests.synthetic import moving_shapes_frame


@pytest.fixture(scope="module", params=["tiny_sam2_video", "tiny_edgetam"])
def propagator(request) -> Sam2VideoPropagator:
    """SAM 2's video memory and EdgeTAM's, through the same propagator."""
    return Sam2VideoPropagator(request.getfixturevalue(request.param), device="cpu")


def test_boxes_give_masks_and_reseeded_tracks_propagate(propagator):
    propagator.start(120, 160)
    propagator.add_frame(propagator.prepare(moving_shapes_frame(0)))
    masks = propagator.segment_boxes(np.array([[10, 30, 40, 60], [95, 10, 125, 40]], float))
    assert masks.shape == (2, 120, 160) and masks.dtype == bool
    square, disc = np.zeros((2, 120, 160), bool)
    square[30:60, 10:40] = True
    disc[10:40, 95:125] = True
    propagator.reseed({7: square, 3: disc, 9: np.zeros((120, 160), bool)})
    assert propagator.track_ids == [7, 3]  # an empty mask is not tracked
    for index in range(1, 4):
        ids, carried, present = propagator.propagate(propagator.prepare(moving_shapes_frame(index)))
        assert ids == [7, 3] and carried.shape == (2, 120, 160) and present.shape == (2,)
        assert not carried[~present].any()  # an absent object has no mask


def test_session_holds_one_window_of_frames(propagator):
    propagator.start(120, 160)
    square = np.zeros((120, 160), bool)
    square[30:60, 10:40] = True
    for index in range(30):
        pixels = propagator.prepare(moving_shapes_frame(index))
        if index % 5 == 0:
            propagator.propagate(pixels)
            propagator.reseed({1: square})
        else:
            propagator.propagate(pixels)
    frames = propagator.session.processed_frames
    assert len(frames) <= 5 and max(frames) == 29
    assert all(
        len(o["non_cond_frame_outputs"]) <= 4
        for o in propagator.session.output_dict_per_obj.values()
    )


def test_no_tracks_means_no_model_call(propagator):
    propagator.start(120, 160)
    ids, masks, present = propagator.propagate(propagator.prepare(moving_shapes_frame(0)))
    assert ids == [] and masks.shape == (0, 120, 160) and present.shape == (0,)


def test_tracker_model_must_be_sam2_or_edgetam(tiny_sam2_video, tiny_sam, tiny_sam2, tiny_edgetam):
    check_tracker_model(tiny_sam2_video)
    check_tracker_model(tiny_sam2)
    check_tracker_model(tiny_edgetam)
    with pytest.raises(ModelSpecError, match="tracking needs a box tracker"):
        check_tracker_model(tiny_sam)


def test_image_segmenter_loads_a_video_checkpoint(tiny_sam2_video):
    # facebook/sam2.1-hiera-* are video checkpoints; the image model must load them too
    segmenter = load_segmenter(tiny_sam2_video, device="cpu")
    assert segmenter.family == "sam2"


def test_edgetam_segments_boxes_and_describes_itself(tiny_edgetam):
    import supervision as sv

    segmenter = load_segmenter(tiny_edgetam, device="cpu")
    assert (
        segmenter.family == "edgetam"
        and Sam2VideoPropagator(tiny_edgetam, device="cpu").describe()["family"] == "edgetam_video"
    )
    boxes = sv.Detections(xyxy=np.array([[10, 30, 40, 60], [95, 10, 125, 40]], np.float32))
    (found,) = segmenter.segment([moving_shapes_frame(0)], [boxes])
    assert found.mask.shape == (2, 120, 160) and found.mask.dtype == bool


@pytest.mark.parametrize("checkpoint", ["tiny_sam2_video", "tiny_edgetam"])
def test_objects_in_passes_give_the_tracks_of_one_pass(checkpoint, request):
    """--max-objects-per-pass 2 with 5 boxes: memories encoded 2 at most at a time, and
    the same masks on every frame as with every object in one pass."""
    path = request.getfixturevalue(checkpoint)
    boxes = np.array([[10, 30, 40, 60], [95, 10, 125, 40], [50, 70, 80, 100],
                      [120, 80, 150, 110], [5, 5, 25, 25]], float)  # fmt: skip

    def track(limit: int) -> tuple[list[np.ndarray], int, int]:
        propagator = Sam2VideoPropagator(path, device="cpu", max_objects_per_pass=limit)
        largest = [0]

        def count(module, args):  # the memory encoder's input: (features, masks)
            largest[0] = max(largest[0], args[1].shape[0])

        propagator.model.memory_encoder.register_forward_pre_hook(count)
        propagator.start(120, 160)
        propagator.add_frame(propagator.prepare(moving_shapes_frame(0)))
        masks = propagator.segment_boxes(boxes)
        propagator.reseed(dict(enumerate(masks, start=1)))
        frames = [masks]
        for index in range(1, 4):
            frames.append(propagator.propagate(propagator.prepare(moving_shapes_frame(index)))[1])
        return frames, largest[0], len(propagator.track_ids)

    split, largest, tracks = track(2)
    whole, all_at_once, _ = track(64)
    assert tracks >= 3 and largest <= 2
    # SAM 2.1 encodes a frame's memories in one batch; EdgeTAM already one object at a time.
    assert all_at_once == (tracks if checkpoint == "tiny_sam2_video" else 1)
    for a, b in zip(split, whole, strict=True):
        assert a.shape == b.shape and (a == b).mean() > 0.999
