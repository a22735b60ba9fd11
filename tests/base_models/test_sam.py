from __future__ import annotations

import numpy as np
import pytest
import supervision as sv

from distil.base_models.sam import Sam2Segmenter, SamSegmenter
from distil.detections import empty_detections
from tests.conftest import shapes_image


@pytest.fixture(params=["sam", "sam2"])
def segmenter(request, tiny_sam, tiny_sam2):
    if request.param == "sam":
        return SamSegmenter(tiny_sam, device="cpu")
    return Sam2Segmenter(tiny_sam2, device="cpu")


def boxes(*xyxy) -> sv.Detections:
    n = len(xyxy)
    return sv.Detections(
        xyxy=np.array(xyxy, np.float32),
        confidence=np.ones(n, np.float32),
        class_id=np.zeros(n, int),
        data={"prompt_id": np.zeros(n, int), "text_score": np.ones(n)},
    )


def test_one_encoder_call_per_batch_one_decoder_call_per_image(segmenter):
    images = [shapes_image(1, (96, 128)), shapes_image(2, (80, 64)), shapes_image(3)]
    detections = [
        boxes([0, 0, 50, 40], [10, 10, 90, 90], [5, 5, 20, 20]),
        empty_detections(),
        boxes([1, 2, 30, 30]),
    ]
    encoder_calls, decoder_calls = [], []
    encoder = segmenter.model.vision_encoder
    encoder.register_forward_hook(lambda *_: encoder_calls.append(1))
    segmenter.model.mask_decoder.register_forward_hook(lambda *_: decoder_calls.append(1))
    results = segmenter.segment(images, detections)
    assert len(encoder_calls) == 1 and len(decoder_calls) == 2
    for image, result in zip(images, results, strict=True):
        assert result.mask.dtype == bool
        assert result.mask.shape == (len(result), *image.shape[:2])


def test_boxes_reach_the_model_as_the_processor_would_scale_them(segmenter):
    image = shapes_image(4, (96, 128))
    xyxy = [[10, 20, 60, 80]]
    captured = {}
    prompt_encoder = segmenter.model.prompt_encoder

    def grab(module, args, kwargs):
        captured["boxes"] = kwargs.get("input_boxes", args[2] if len(args) > 2 else None)

    prompt_encoder.register_forward_pre_hook(grab, with_kwargs=True)
    segmenter.segment([image], [boxes(*xyxy)])
    expected = segmenter.processor(images=image, input_boxes=[xyxy], return_tensors="pt")
    np.testing.assert_allclose(
        captured["boxes"].reshape(-1, 4).numpy(),
        expected["input_boxes"].reshape(-1, 4).numpy(),
        atol=1e-3,
    )


def test_many_boxes_in_chunks_give_the_masks_of_one_call(segmenter, monkeypatch):
    """A frame with many boxes is decoded a chunk at a time (bounded memory), and the
    masks are those one call for all the boxes gives."""
    import distil.base_models.sam as sam

    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 60, (40, 2))
    xyxy = np.hstack([corners, corners + rng.uniform(8, 60, (40, 2))]).clip(0, 120)
    image = shapes_image(5, (96, 128))
    (whole,) = segmenter.segment([image], [boxes(*xyxy.tolist())])
    calls = []
    segmenter.model.mask_decoder.register_forward_hook(lambda *_: calls.append(1))
    monkeypatch.setattr(sam, "MAX_BOXES_PER_CALL", 7)
    (chunked,) = segmenter.segment([image], [boxes(*xyxy.tolist())])
    assert len(calls) == 6  # 40 boxes, 7 a call
    assert np.array_equal(whole.mask, chunked.mask)
