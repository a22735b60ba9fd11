from __future__ import annotations

import numpy as np
import pytest
import torch

from distil.base_models.omdet_turbo import OmDetTurboDetector, task_text
from distil.ontologies import Ontology
from tests.conftest import label_shapes_through_cli, shapes_image

ONTO = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})


@pytest.fixture(scope="module")
def detector(tiny_omdet_turbo) -> OmDetTurboDetector:
    return OmDetTurboDetector(tiny_omdet_turbo, device="cpu")


def test_one_forward_gives_the_processor_pipeline_result(detector):
    """Text tokenized once per ontology, every prompt in one forward: the same scores and
    boxes as transformers' own processor and forward."""
    images = [shapes_image(1, (96, 128)), shapes_image(2, (80, 64))]
    calls = []
    hook = detector.model.register_forward_hook(lambda *_: calls.append(1))
    results = detector.detect(images, ONTO, min_confidence=0.0)
    hook.remove()
    assert len(calls) == 1 and len(detector._text) == 1
    prompts = list(ONTO.prompts)
    inputs = detector.processor(
        images=images, text=[prompts] * 2, task=[task_text(ONTO.prompts)] * 2, return_tensors="pt"
    )
    with torch.inference_mode():
        reference = detector.model(**inputs)
    probs = reference.decoder_class_logits.sigmoid().numpy()
    for i, (image, result) in enumerate(zip(images, results, strict=True)):
        np.testing.assert_allclose(result.confidence, probs[i].max(axis=1), atol=1e-5)
        np.testing.assert_array_equal(result.data["prompt_id"], probs[i].argmax(axis=1))
        height, width = image.shape[:2]
        cx, _, w, _ = reference.decoder_coord_logits[i].numpy().T
        np.testing.assert_allclose(
            result.xyxy[:, 0], ((cx - w / 2) * width).clip(0, width), atol=1e-3
        )


def test_crafted_logits_map_prompts_to_classes(detector, monkeypatch):
    forward = detector.model.forward

    def crafted(*args, **kwargs):
        outputs = forward(*args, **kwargs)
        logits = torch.full_like(outputs.decoder_class_logits, -10.0)
        logits[:, 0, 1] = 2.0  # query 0: "dog" -> animal
        logits[:, 1, 2] = 1.0  # query 1: "red car" -> car
        logits[:, 2, 0] = -1.0  # query 2: "cat", below the threshold
        outputs.decoder_class_logits = logits
        return outputs

    monkeypatch.setattr(detector.model, "forward", crafted)
    (result,) = detector.detect([shapes_image(3)], ONTO, min_confidence=0.5)
    assert result.data["prompt_id"].tolist() == [1, 2]
    assert result.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(result.confidence, torch.sigmoid(torch.tensor([2.0, 1.0])))


def test_omdet_turbo_labels_through_the_cli(tiny_omdet_turbo, tmp_path):
    from distil.base_models.registry import family_of
    from distil.store import LabelStore

    assert family_of(tiny_omdet_turbo) == "omdet-turbo"
    options = ("--detector", tiny_omdet_turbo, "--segmenter", "none")
    run = label_shapes_through_cli(tmp_path, ONTO.to_dict(), *options)
    with LabelStore.open(run) as store:
        assert store.settings["detector"]["family"] == "omdet-turbo"
