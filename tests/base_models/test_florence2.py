from __future__ import annotations

import numpy as np
import pytest
import torch

from distil.base_models.florence2 import (
    Florence2Detector,
    TokenTrace,
    bins_to_xyxy,
    parse_boxes,
)
from distil.ontologies import Ontology
from tests.conftest import label_shapes_through_cli, shapes_image
from tests.tiny_models import FLORENCE2_BOX

ONTO = Ontology.from_dict(
    {"classes": {"square": ["red square", "box"], "disc": "green disc"}, "box_threshold": 0.0}
)
# A made-up vocabulary: 0 <s>, 1 <pad>, 2 </s> (special), 10-19 text, 100-1099 bins 0-999.
LOCATIONS = np.arange(100, 1100)
SPECIAL = {0, 1, 2}
END = 2


def loc(k: int) -> int:
    return 100 + k


@pytest.mark.parametrize(
    ("tokens", "token_prob", "location_prob", "bins", "confidence", "text_score"),
    [
        pytest.param(  # phrase, then two boxes: each box's own location mass, one phrase
            [0, 11, 12, loc(1), loc(2), loc(3), loc(4), loc(5), loc(6), loc(7), loc(8), 2],
            [1, 0.5, 0.2, 1, 1, 1, 1, 1, 1, 1, 1, 1],
            [0, 0, 0, 0.9, 1, 1, 1, 0.6, 1, 1, 1, 0],
            [[1, 2, 3, 4], [5, 6, 7, 8]],
            [0.9, 0.6],
            [np.sqrt(0.1)] * 2,
            id="two-boxes-one-phrase",
        ),
        pytest.param(  # no phrase: text score 1; a group cut by the end token is dropped
            [loc(1), loc(2), loc(3), loc(4), loc(9), loc(9), 2, loc(1)],
            [1] * 8,
            [0.7, 1, 1, 1, 0.3, 1, 0, 1],
            [[1, 2, 3, 4]],
            [0.7],
            [1.0],
            id="no-phrase-and-a-cut-group",
        ),
        pytest.param(  # text inside a group drops it; the next phrase scores the next box
            [11, loc(1), loc(2), 13, loc(5), loc(6), loc(7), loc(8), 2],
            [0.8, 1, 1, 0.4, 1, 1, 1, 1, 1],
            [0, 0.5, 1, 0, 0.95, 1, 1, 1, 0],
            [[5, 6, 7, 8]],
            [0.95],
            [0.4],
            id="interrupted-group",
        ),
        pytest.param([2], [1.0], [0.0], [], [], [], id="nothing-found"),
    ],
)
def test_boxes_and_scores_come_from_the_token_trace(
    tokens, token_prob, location_prob, bins, confidence, text_score
):
    trace = TokenTrace(np.array(tokens), np.array(token_prob), np.array(location_prob))
    got_bins, got_confidence, got_text = parse_boxes(trace, LOCATIONS, SPECIAL, END)
    assert got_bins.reshape(-1, 4).tolist() == bins
    np.testing.assert_allclose(got_confidence, confidence, rtol=1e-6)
    np.testing.assert_allclose(got_text, text_score, rtol=1e-6)


def test_bins_become_ordered_pixel_corners():
    xyxy = bins_to_xyxy(np.array([[500, 0, 0, 999]], np.float32), width=200, height=100)
    np.testing.assert_allclose(xyxy, [[0.1, 0.05, 100.1, 99.95]], rtol=1e-5)


@pytest.fixture(scope="module")
def detector(tiny_florence2) -> Florence2Detector:
    return Florence2Detector(tiny_florence2, device="cpu")


def test_shared_vision_features_equal_one_generate_per_request(detector, tiny_florence2):
    """distil's rows (vision once per image, every prompt a row) against transformers'
    processor + generate per (image, prompt), token for token and probability for
    probability."""
    images = [shapes_image(0), shapes_image(1)]
    text = detector.text_inputs(ONTO)
    traces = detector.generate(detector.prepare(images, ONTO)["pixel_values"], **text)
    locations = torch.from_numpy(detector.location_ids)
    for i, image in enumerate(images):
        for p, prompt in enumerate(ONTO.prompts):
            inputs = detector.processor(
                text=[f"<OPEN_VOCABULARY_DETECTION>{prompt}"], images=[image], return_tensors="pt"
            )
            out = detector.model.generate(
                **inputs, max_new_tokens=64, num_beams=1, do_sample=False,
                output_scores=True, return_dict_in_generate=True,
            )  # fmt: skip
            probs = torch.stack(out.scores, dim=1)[0].float().softmax(-1)
            trace = traces[i * len(ONTO.prompts) + p]
            n = len(out.scores)
            assert trace.tokens[:n].tolist() == out.sequences[0, 1:].tolist()
            np.testing.assert_allclose(trace.token_prob[:n], probs.max(-1).values, atol=1e-5)
            np.testing.assert_allclose(
                trace.location_prob[:n], probs[:, locations].sum(-1), atol=1e-5
            )


def test_every_prompt_is_asked_and_maps_to_its_class(detector):
    (found,) = detector.detect([shapes_image(0)], ONTO, min_confidence=0.5)
    height, width = shapes_image(0).shape[:2]
    box = bins_to_xyxy(np.array([FLORENCE2_BOX], np.float32), width, height)[0]
    assert found.data["prompt_id"].tolist() == [0, 1, 2]
    assert found.class_id.tolist() == [0, 0, 1]
    np.testing.assert_allclose(found.xyxy, [box] * 3, rtol=1e-6)
    assert (found.confidence > 0.99).all() and (found.data["text_score"] == 1.0).all()


def test_florence2_labels_through_the_cli(tiny_florence2, tmp_path):
    from distil.base_models.registry import family_of
    from distil.store import LabelStore

    assert family_of(tiny_florence2) == "florence2"
    options = ("--detector", tiny_florence2, "--segmenter", "none")
    run = label_shapes_through_cli(tmp_path, ONTO.to_dict(), *options)
    with LabelStore.open(run) as store:
        assert store.settings["detector"]["family"] == "florence2"
        frames = list(store.frames())
    assert all(f.detections.class_id.tolist() == [0, 0, 1] for f in frames)
