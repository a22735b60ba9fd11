"""YOLO-World and YOLOE take the ontology's prompts as their classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from distil.base_models.ultralytics_yolo import UltralyticsDetector
from distil.ontologies import Ontology
from distil.utils.ultralytics import load_yolo
from tests.conftest import shapes_image

ONTO = Ontology.from_dict({"classes": {"square": ["red square", "box"], "disc": "green disc"}})
REORDERED = Ontology.from_dict({"classes": {"disc": "green disc", "square": ["box", "red square"]}})
# Precomputed text embeddings (what the text encoder would give): no encoder download.
EMBEDDINGS = {
    prompt: torch.randn(512, generator=torch.Generator().manual_seed(i))
    for i, prompt in enumerate(ONTO.prompts)
}
MIN_CONFIDENCE = 0.0  # random weights score low: keep every box Ultralytics keeps


@pytest.fixture(scope="module", params=["tiny_yolo_world", "tiny_yoloe"])
def checkpoint(request) -> str:
    return request.getfixturevalue(request.param)


@pytest.mark.parametrize("onto", [ONTO, REORDERED], ids=["ontology", "reordered"])
def test_detections_equal_ultralytics_predict_with_the_prompts_as_classes(checkpoint, onto):
    detector = UltralyticsDetector(checkpoint, device="cpu", text_embeddings=EMBEDDINGS)
    assert detector.open_vocabulary and detector.check_ontology(onto) == [0, 1, 2]
    image = shapes_image(2)
    (found,) = detector.detect([image], onto, MIN_CONFIDENCE)

    reference = load_yolo(checkpoint)
    embeddings = torch.stack([EMBEDDINGS[p] for p in onto.prompts])[None]
    if type(reference.model).__name__ == "WorldModel":
        reference.model.txt_feats = embeddings
        reference.model.model[-1].nc = len(onto.prompts)
    else:
        reference.set_classes(list(onto.prompts), embeddings)
    (expected,) = reference.predict(
        np.ascontiguousarray(image[..., ::-1]), conf=MIN_CONFIDENCE, imgsz=640, rect=False,
        device="cpu", verbose=False,
    )  # fmt: skip
    assert len(found) == len(expected.boxes) > 0
    np.testing.assert_allclose(found.xyxy, expected.boxes.xyxy.numpy(), atol=1e-3)
    np.testing.assert_allclose(found.confidence, expected.boxes.conf.numpy(), atol=1e-6)
    prompts = expected.boxes.cls.numpy().astype(int)
    assert found.data["prompt_id"].tolist() == prompts.tolist()
    assert found.class_id.tolist() == [onto.prompt_class_ids[p] for p in prompts]


def test_text_encoder_problems_name_the_fix(tiny_yolo_world, monkeypatch):
    detector = UltralyticsDetector(tiny_yolo_world, device="cpu")

    def no_encoder(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'clip'")

    monkeypatch.setattr(detector.yolo.model, "get_text_pe", no_encoder)
    with pytest.raises(ValueError, match="text encoder.*text_embeddings"):
        detector.check_ontology(ONTO)
    assert detector.describe()["text_embeddings"] == "text encoder"
    given = UltralyticsDetector(tiny_yolo_world, device="cpu", text_embeddings=EMBEDDINGS)
    assert given.describe()["text_embeddings"].startswith("given:")
