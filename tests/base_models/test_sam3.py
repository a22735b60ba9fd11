from __future__ import annotations

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from distil.base_models.sam3 import Sam3Detector, pair_indices, query_scores
from distil.ontologies import Ontology
from tests.conftest import label_shapes_through_cli, shapes_image

ONTO = Ontology.from_dict({"classes": {"animal": ["cat", "dog"], "car": "red car"}})


@pytest.mark.parametrize(
    ("images", "prompts", "start", "stop", "image_ids", "prompt_ids"),
    [
        (2, 3, 0, 16, [0, 0, 0, 1, 1, 1], [0, 1, 2, 0, 1, 2]),
        (2, 3, 2, 5, [0, 1, 1], [2, 0, 1]),
        (3, 1, 1, 3, [1, 2], [0, 0]),
    ],
)
def test_pair_indices_are_image_major(images, prompts, start, stop, image_ids, prompt_ids):
    got_images, got_prompts = pair_indices(images, prompts, start, stop)
    assert got_images.tolist() == image_ids and got_prompts.tolist() == prompt_ids


def test_query_scores_are_query_times_presence_probability():
    logits = torch.tensor([[0.0, 2.0], [-1.0, 1.0]])
    presence = torch.tensor([[0.0], [3.0]])
    confidence, present = query_scores(logits, presence)
    expected = torch.sigmoid(logits) * torch.sigmoid(presence)
    torch.testing.assert_close(confidence, expected)
    torch.testing.assert_close(present, torch.sigmoid(presence[:, 0]))


@pytest.fixture(scope="module")
def detector(tiny_sam3) -> Sam3Detector:
    return Sam3Detector(tiny_sam3, device="cpu")


def test_cached_features_give_the_per_prompt_forward_result(detector):
    """Vision features once per image and text once per run give what one full
    `Sam3Model` forward per (image, prompt) gives, post-processed by transformers."""
    images = [shapes_image(1, (96, 128)), shapes_image(2, (80, 64)), shapes_image(3, (40, 40))]
    threshold = 0.2
    results = detector.detect(images, ONTO, min_confidence=threshold)
    processor, model = detector.processor, detector.model
    for image, result in zip(images, results, strict=True):
        assert result.mask.shape[1:] == image.shape[:2]
        for prompt_id, prompt in enumerate(ONTO.prompts):
            inputs = processor(images=image, text=prompt, return_tensors="pt")
            with torch.inference_mode():
                reference = processor.post_process_instance_segmentation(
                    model(**inputs), threshold=threshold, target_sizes=[image.shape[:2]]
                )[0]
            mine = result.data["prompt_id"] == prompt_id
            assert mine.sum() == len(reference["scores"]) > 0
            np.testing.assert_allclose(result.confidence[mine], reference["scores"], atol=1e-5)
            np.testing.assert_allclose(result.xyxy[mine], reference["boxes"], atol=1e-3)
            np.testing.assert_array_equal(result.mask[mine], reference["masks"].numpy() > 0)
            assert (result.class_id[mine] == ONTO.prompt_class_ids[prompt_id]).all()
    assert len(detector._text) == 1  # text encoded once per ontology


def test_crafted_scores_map_prompts_to_classes_and_thresholds(detector, monkeypatch):
    """Exact output from crafted logits: synonyms share a class, confidence is query times
    presence probability, text_score the presence, and the threshold keeps only what passes."""
    forward = detector.model.forward
    num_queries = detector.model.config.detr_decoder_config.num_queries

    def crafted(*args, **kwargs):
        outputs = forward(*args, **kwargs)
        pairs = outputs.pred_logits.shape[0]
        logits = torch.full((pairs, num_queries), -10.0)
        # per pair (image-major, 3 prompts): query 0 scores logit 2, query 1 logit 0
        logits[:, 0], logits[:, 1] = 2.0, 0.0
        outputs.pred_logits = logits
        outputs.presence_logits = torch.tensor([[1.0], [-1.0], [3.0]] * (pairs // 3))
        return outputs

    monkeypatch.setattr(detector.model, "forward", crafted)
    image = shapes_image(4, (50, 70))
    (result,) = detector.detect([image], ONTO, min_confidence=0.4)
    sig = torch.sigmoid(torch.tensor([2.0, 0.0, 1.0, -1.0, 3.0])).tolist()
    # prompt 0 (cat): 0.881*0.731=0.644 and 0.5*0.731=0.366 -> only query 0 passes 0.4
    # prompt 1 (dog): 0.881*0.269=0.237 -> nothing; prompt 2 (red car): 0.838 and 0.476
    assert result.data["prompt_id"].tolist() == [0, 2, 2]
    assert result.class_id.tolist() == [0, 1, 1]
    np.testing.assert_allclose(
        result.confidence, [sig[0] * sig[2], sig[0] * sig[4], sig[1] * sig[4]], rtol=1e-6
    )
    np.testing.assert_allclose(result.data["text_score"], [sig[2], sig[4], sig[4]], rtol=1e-6)
    assert result.mask.shape == (3, 50, 70)


def test_sam3_is_the_whole_teacher_and_segmenter_none_keeps_boxes(tiny_sam3):
    """No segmenter loads after SAM 3 (the default SAM 2.1 id is not even looked up: the
    hub is unreachable here), and `--segmenter none` keeps boxes only."""
    from distil.base_models import load_base_model, teacher_summary, uses_segmenter
    from distil.settings import DEFAULT_SEGMENTER

    with_masks = load_base_model(tiny_sam3, DEFAULT_SEGMENTER, device="cpu")
    assert with_masks.segmenter is None and with_masks.describe()["detector"]["masks"]
    assert not uses_segmenter(tiny_sam3, DEFAULT_SEGMENTER)
    assert teacher_summary(tiny_sam3, DEFAULT_SEGMENTER).endswith("(with its own masks)")
    boxes_only = load_base_model(tiny_sam3, "none", device="cpu")
    assert not boxes_only.describe()["detector"]["masks"]
    (found,) = boxes_only.predict([shapes_image(5)], ONTO, 0.0)
    assert len(found) > 0 and found.mask is None


def test_sam3_labels_and_exports_masks_through_the_cli(tiny_sam3, tmp_path):
    from distil.base_models.registry import family_of
    from distil.cli import app
    from distil.store import LabelStore

    assert family_of(tiny_sam3) == "sam3"
    ontology = {**ONTO.to_dict(), "box_threshold": 0.2}
    run = label_shapes_through_cli(tmp_path, ontology, "--detector", tiny_sam3)
    with LabelStore.open(run) as store:
        assert store.settings["detector"]["family"] == "sam3"
        assert store.settings["segmenter"] is None and store.has_masks()
    result = CliRunner().invoke(
        app, ["export", str(run), "--to", str(tmp_path / "data"), "--task", "segment", "--json"]
    )
    assert result.exit_code == 0, result.output
    labels = list((tmp_path / "data").rglob("labels/*/*.txt"))
    assert labels and any(
        len(line.split()) > 5 for f in labels for line in f.read_text().splitlines()
    )
