from __future__ import annotations

import numpy as np
import torch

from distil.base_models.core import assign_queries
from distil.base_models.owlv2 import Owlv2Detector
from distil.ontologies import Ontology
from tests.conftest import shapes_image


def test_assign_queries_picks_best_query():
    probs = np.array([[0.1, 0.8, 0.3], [0.5, 0.2, 0.6]])
    best, confidence = assign_queries(probs)
    assert best.tolist() == [1, 2] and confidence.tolist() == [0.8, 0.6]


def test_cached_queries_give_the_full_forward_result(tiny_owlv2):
    detector = Owlv2Detector(tiny_owlv2, device="cpu")
    onto = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})
    images = [shapes_image(1, (96, 128)), shapes_image(2, (80, 64))]
    results = detector.detect(images, onto, min_confidence=0.0)

    processor = detector.processor
    inputs = processor(
        text=[list(onto.prompts)] * 2,
        images=images,
        return_tensors="pt",
        padding="max_length",
        truncation=True,
        max_length=16,
    )
    with torch.no_grad():
        reference = detector.model(**inputs)
    ref_probs = reference.logits.sigmoid().numpy()
    for i, (image, result) in enumerate(zip(images, results, strict=True)):
        assert len(result) == ref_probs.shape[1]
        np.testing.assert_allclose(result.confidence, ref_probs[i].max(axis=1), atol=1e-5)
        np.testing.assert_array_equal(result.data["prompt_id"], ref_probs[i].argmax(axis=1))
        np.testing.assert_array_equal(
            result.class_id, np.array(onto.prompt_class_ids)[ref_probs[i].argmax(1)]
        )
        side = max(image.shape[:2])
        boxes = reference.pred_boxes[i].numpy()
        x0 = ((boxes[:, 0] - boxes[:, 2] / 2) * side).clip(0, image.shape[1])
        np.testing.assert_allclose(result.xyxy[:, 0], x0, atol=1e-3)
    # text embeddings are computed once per ontology
    assert len(detector._queries) == 1


def test_compiled_teacher_gives_the_eager_result(tiny_owlv2):
    """`--compile` (torch.compile of the vision model, dynamic shapes): the same boxes."""
    from distil.labeling import load_teacher
    from distil.settings import LabelSettings

    ontology = Ontology.from_dict({"box_threshold": 0.0, "classes": {"car": "car", "cat": "cat"}})
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", device="cpu")
    eager = load_teacher(settings, ontology).model
    compiled = load_teacher(settings.model_copy(update={"compile": True}), ontology).model
    images = [shapes_image(i, (64 + 8 * i, 80)) for i in range(5)]
    for batch in (images[:3], images[3:]):  # two batch sizes, several image sizes
        for a, b in zip(
            eager.predict(batch, ontology, 0.1), compiled.predict(batch, ontology, 0.1), strict=True
        ):
            np.testing.assert_array_equal(a.class_id, b.class_id)
            np.testing.assert_allclose(a.xyxy, b.xyxy, atol=1e-2)
            np.testing.assert_allclose(a.confidence, b.confidence, atol=1e-4)
