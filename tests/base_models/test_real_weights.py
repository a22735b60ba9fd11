"""Every teacher family with its real weights, read from $DISTIL_WEIGHTS_DIR/<name>
(a `save_pretrained` folder, or a `.pt` for Ultralytics); each case skips without its
weights. A drawn frame of two red squares and two green circles on a grey grid: the
teacher must find each shape's box with the right class."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from distil.base_models import load_base_model
from distil.ontologies import Ontology
from tests.synthetic import bouncing_boxes, bouncing_frame

WEIGHTS = Path(os.environ.get("DISTIL_WEIGHTS_DIR", "/nonexistent"))
ONTOLOGY = Ontology.from_dict(
    {"classes": {"square": "red square", "circle": "green circle"}, "box_threshold": 0.2,
     "text_threshold": 0.0}
)  # fmt: skip
# name under $DISTIL_WEIGHTS_DIR -> segmenter ("none": boxes only)
DETECTORS = {
    "grounding-dino-tiny": "none",
    "mm_grounding_dino_tiny_o365v1_goldg_v3det": "none",
    "llmdet_tiny": "none",
    "owlv2-base-patch16-ensemble": "none",
    "omdet-turbo-swin-tiny-hf": "none",
    "Florence-2-base": "none",
    "sam3": "none",
    "yolov8s-worldv2.pt": "none",
    "yoloe-11s-seg.pt": "none",
}
SEGMENTERS = ["sam-vit-base", "sam2.1-hiera-tiny", "EdgeTAM-hf"]


def weights(name: str) -> str:
    path = WEIGHTS / name
    if not (path.is_file() or (path / "config.json").exists()):
        pytest.skip(f"real weights: put {name} in $DISTIL_WEIGHTS_DIR")
    return str(path)


def truth(index: int = 0) -> sv.Detections:
    boxes = bouncing_boxes(index, 640, 480)
    return sv.Detections(
        xyxy=np.array([[x, y, x + s, y + s] for _, _, x, y, s in boxes], np.float32),
        class_id=np.array([ONTOLOGY.class_names.index(c) for _, c, *_ in boxes]),
    )


def assert_finds_every_shape(found: sv.Detections, expected: sv.Detections) -> None:
    iou = (
        sv.box_iou_batch(expected.xyxy, found.xyxy) if len(found) else np.zeros((len(expected), 0))
    )
    for i, class_id in enumerate(expected.class_id):
        same_class = found.class_id == class_id
        assert same_class.any() and iou[i, same_class].max() >= 0.5, (i, found)


@pytest.mark.parametrize("name", DETECTORS)
def test_teacher_finds_the_drawn_shapes(name):
    model = load_base_model(weights(name), DETECTORS[name], ontology=ONTOLOGY)
    (found,) = model.predict([bouncing_frame(0)], ONTOLOGY, ONTOLOGY.box_threshold)
    assert_finds_every_shape(found, truth())


@pytest.mark.parametrize("name", SEGMENTERS)
def test_segmenter_masks_fill_the_shapes(name):
    detector = weights("grounding-dino-tiny")
    model = load_base_model(detector, weights(name), ontology=ONTOLOGY)
    (found,) = model.predict([bouncing_frame(0)], ONTOLOGY, ONTOLOGY.box_threshold)
    assert_finds_every_shape(found, truth())
    boxes = sv.mask_to_xyxy(found.mask)
    assert (np.diag(sv.box_iou_batch(boxes, found.xyxy)) >= 0.8).all()
