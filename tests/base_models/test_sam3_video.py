"""SAM 3's video model as a whole tracker, on a tiny random-weight checkpoint."""

import numpy as np
import pytest
import torch

from distil.base_models import check_tracker_model
from distil.base_models.sam3_video import Sam3Video
from tests.synthetic import moving_shapes_frame

PROMPTS = ["red square", "green disc", "red square"]  # a repeated prompt maps to its first


@pytest.fixture(scope="module")
def video(tiny_sam3_video) -> Sam3Video:
    return Sam3Video(tiny_sam3_video, device="cpu")


def reference_run(path: str, frames: int) -> list[dict]:
    """transformers' own streaming loop, keeping every frame's state."""
    from transformers import Sam3VideoModel, Sam3VideoProcessor

    model = Sam3VideoModel.from_pretrained(path).eval()
    processor = Sam3VideoProcessor.from_pretrained(path)
    session = processor.init_video_session(inference_device="cpu", dtype=torch.float32)
    processor.add_text_prompt(session, ["red square", "green disc"])
    outputs = []
    for index in range(frames):
        inputs = processor(images=moving_shapes_frame(index), return_tensors="pt")
        with torch.inference_mode():
            out = model(inference_session=session, frame=inputs.pixel_values[0])
        outputs.append(processor.postprocess_outputs(session, out, inputs.original_sizes))
    return outputs


def test_streamed_objects_equal_transformers_loop_with_bounded_state(video, tiny_sam3_video):
    frames = video.memory_frames + 8
    expected = reference_run(tiny_sam3_video, frames)
    video.start(120, 160, PROMPTS)
    shown = 0
    for index in range(frames):
        found = video.step(video.prepare(moving_shapes_frame(index)))
        want = expected[index]
        assert found.ids == want["object_ids"].tolist()
        np.testing.assert_allclose(found.scores, want["scores"].numpy(), atol=1e-6)
        assert (found.masks == want["masks"].numpy()).all()
        texts = {obj: text for text, ids in want["prompt_to_obj_ids"].items() for obj in ids}
        assert [PROMPTS[p] for p in found.prompt_ids] == [texts[o] for o in found.ids]
        assert set(found.prompt_ids.tolist()) <= {0, 1}
        assert set(found.ids) <= found.alive
        shown += len(found.ids)
    assert shown > 0
    session = video.session
    kept = [i for i, pixels in session.processed_frames.items() if pixels is not None]
    assert kept == [frames - 1]
    oldest = frames - 1 - video.memory_frames
    for outputs in session.output_dict_per_obj.values():
        assert min(outputs["non_cond_frame_outputs"], default=oldest) >= oldest
        assert len(outputs["cond_frame_outputs"]) <= video.max_cond_frames + video.memory_frames
    assert min(session.obj_id_to_tracker_score_frame_wise) >= oldest


def test_sam3_video_is_a_tracker_model(tiny_sam3_video):
    check_tracker_model(tiny_sam3_video)


def test_sam3s_tracker_segments_boxes_as_a_segmenter(tiny_sam3_video):
    """SAM 3's full checkpoint as `--segmenter`: its tracker, not its detector, loads."""
    import supervision as sv

    from distil.base_models.registry import load_segmenter

    segmenter = load_segmenter(tiny_sam3_video, device="cpu")
    assert segmenter.family == "sam3_tracker"
    image = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    boxes = sv.Detections(xyxy=np.array([[10, 20, 40, 60], [70, 10, 110, 40]], np.float32))
    (found,) = segmenter.segment([image], [boxes])
    assert found.mask.shape == (2, 90, 120) and found.mask.dtype == bool


def test_objects_in_passes_give_the_objects_of_one_pass(tiny_sam3_video):
    """--max-objects-per-pass 1: SAM 3's tracker encodes one object's memory at a time,
    and the objects equal transformers' own loop, which encodes them in one batch."""
    video = Sam3Video(tiny_sam3_video, device="cpu", max_objects_per_pass=1)
    largest = [0]

    def count(module, args):  # the memory encoder's input: (features, masks)
        largest[0] = max(largest[0], args[1].shape[0])

    video.model.tracker_model.memory_encoder.register_forward_pre_hook(count)
    frames = 6
    expected = reference_run(tiny_sam3_video, frames)
    video.start(120, 160, PROMPTS)
    most = 0
    for index in range(frames):
        found = video.step(video.prepare(moving_shapes_frame(index)))
        assert found.ids == expected[index]["object_ids"].tolist()
        assert (found.masks == expected[index]["masks"].numpy()).all()
        most = max(most, len(found.ids))
    assert most > 1 and largest[0] == 1
