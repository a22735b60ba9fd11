from __future__ import annotations

import numpy as np
import pytest
from transformers import AutoProcessor

from distil.base_models.grounding_dino import (
    Caption,
    GroundingDinoDetector,
    MMGroundingDinoDetector,
    assign_prompts,
    build_captions,
)
from distil.ontologies import Ontology
from tests.conftest import shapes_image


@pytest.fixture(scope="module")
def tokenizer(tiny_grounding_dino):
    return AutoProcessor.from_pretrained(tiny_grounding_dino).tokenizer


def test_prompts_join_into_one_caption_with_exact_token_spans(tokenizer):
    captions = build_captions(["cat", "Person in hi-vis vest", "car"], tokenizer, 256)
    assert len(captions) == 1
    caption = captions[0]
    assert caption.text == "cat. person in hi-vis vest. car."
    ids = tokenizer(caption.text)["input_ids"]
    words = [tokenizer.convert_ids_to_tokens(ids[t]) for t in caption.token_spans[1]]
    assert words == ["person", "in", "hi", "-", "vis", "vest"]
    assert [tokenizer.convert_ids_to_tokens(ids[t]) for t in caption.token_spans[0]] == ["cat"]
    assert caption.prompt_ids == (0, 1, 2)


def test_captions_split_only_at_the_token_limit(tokenizer):
    prompts = ["cat", "dog", "red car", "blue truck", "forklift"]
    # cat.=2 dog.=2 "red car."=3 "blue truck."=3 forklift.=2 tokens, plus [CLS] [SEP].
    assert len(build_captions(prompts, tokenizer, 14)) == 1
    captions = build_captions(prompts, tokenizer, 9)
    assert [c.text for c in captions] == ["cat. dog. red car.", "blue truck. forklift."]
    assert [c.prompt_ids for c in captions] == [(0, 1, 2), (3, 4)]
    for caption in captions:
        assert len(tokenizer(caption.text)["input_ids"]) <= 9
    with pytest.raises(ValueError, match="prompt 'person in hi-vis vest' is 6 tokens"):
        build_captions(["person in hi-vis vest"], tokenizer, 6)


def test_assign_prompts_with_crafted_token_scores():
    # Caption "person. worker. person in vest." tokens: 0 [CLS], 1 person, 2 ., 3 worker,
    # 4 ., 5 person, 6 in, 7 vest, 8 ., 9 [SEP]. Prompts 0,1 -> class 0; prompt 2 -> class 1.
    caption = Caption("person. worker. person in vest.", (0, 1, 2), ((1,), (3,), (5, 6, 7)))
    probs = np.zeros((4, 10))
    probs[0, [1, 5]] = 0.9  # plain person: "person" alone beats the multi-word phrase
    probs[1, [5, 6, 7]] = [0.8, 0.7, 0.9]  # whole phrase matches
    probs[2, 3] = 0.6  # synonym "worker"
    probs[3, [1, 5, 6, 7]] = [0.95, 0.9, 0.6, 0.9]  # person in vest, phrase mean 0.8 < 0.95
    prompt_id, confidence, text_score = assign_prompts(probs, caption)
    assert prompt_id.tolist() == [0, 2, 1, 0]
    np.testing.assert_allclose(confidence, [0.9, 0.9, 0.6, 0.95])
    np.testing.assert_allclose(text_score, [0.9, 0.8, 0.6, 0.95])


def test_prompts_split_across_captions_keep_their_ids(tokenizer):
    captions = build_captions(["cat", "dog", "red car"], tokenizer, 6)
    assert [c.prompt_ids for c in captions] == [(0, 1), (2,)]
    probs = np.zeros((1, 8))
    probs[0, list(captions[1].token_spans[0])] = 0.7
    prompt_id, confidence, _ = assign_prompts(probs, captions[1])
    assert prompt_id.tolist() == [2] and confidence.tolist() == [0.7]


def test_tiny_model_detects_all_prompts_in_one_forward_per_batch(tiny_grounding_dino):
    detector = GroundingDinoDetector(tiny_grounding_dino, device="cpu")
    onto = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})
    calls = []
    detector.model.register_forward_hook(lambda *_: calls.append(1))
    images = [shapes_image(1, (96, 128)), shapes_image(2, (80, 64)), shapes_image(3)]
    results = detector.detect(images, onto, min_confidence=0.0)
    assert len(calls) == 1
    assert [len(r) for r in results] == [30, 30, 30]  # every query kept at threshold 0
    for image, result in zip(images, results, strict=True):
        height, width = image.shape[:2]
        assert set(result.class_id.tolist()) <= {0, 1}
        assert ((result.data["prompt_id"] >= 0) & (result.data["prompt_id"] < 3)).all()
        assert (result.xyxy[:, [0, 2]] <= width).all() and (result.xyxy[:, [1, 3]] <= height).all()
        assert (result.confidence >= result.data["text_score"] - 1e-6).all()
    high = detector.detect(images, onto, min_confidence=0.99)
    assert all((r.confidence >= 0.99).all() for r in high)
    assert detector.describe()["revision"].startswith("local:")


def test_mm_grounding_dino_is_recognised_from_its_config_and_labels(tmp_path):
    """MM Grounding DINO / LLMDet: found by `model_type`, every prompt in one forward,
    through the CLI as with a real checkpoint."""
    from distil.base_models.registry import family_of
    from tests.conftest import label_shapes_through_cli
    from tests.tiny_models import build_mm_grounding_dino

    folder = str(build_mm_grounding_dino(tmp_path / "mm_grounding_dino"))
    assert family_of(folder) == "mm-grounding-dino"
    detector = MMGroundingDinoDetector(folder, device="cpu")
    onto = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})
    calls = []
    detector.model.register_forward_hook(lambda *_: calls.append(1))
    results = detector.detect([shapes_image(1), shapes_image(2)], onto, min_confidence=0.0)
    assert len(calls) == 1 and [len(r) for r in results] == [30, 30]
    assert set(np.concatenate([r.class_id for r in results]).tolist()) <= {0, 1}

    run = label_shapes_through_cli(
        tmp_path, onto.to_dict(), "--detector", folder, "--segmenter", "none"
    )
    from distil.store import LabelStore

    with LabelStore.open(run) as store:
        assert store.settings["detector"]["family"] == "mm-grounding-dino"
