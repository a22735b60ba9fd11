from __future__ import annotations

import shutil

import pytest

from distil.base_models import ModelSpecError, family_of, load_base_model
from distil.base_models.grounding_dino import GroundingDinoDetector
from distil.base_models.owlv2 import Owlv2Detector
from distil.base_models.sam import Sam2Segmenter
from tests.conftest import YOLO11N, needs_shared


def test_family_comes_from_the_config_not_the_name(tmp_path, tiny_grounding_dino, tiny_owlv2):
    misleading = tmp_path / "owlv2-looking-name"
    shutil.copytree(tiny_grounding_dino, misleading)
    assert family_of(str(misleading)) == "grounding-dino"
    assert family_of(tiny_owlv2) == "owlv2"


def test_load_base_model_builds_the_right_classes(tiny_owlv2, tiny_grounding_dino, tiny_sam2):
    model = load_base_model(tiny_owlv2, tiny_sam2, device="cpu")
    assert isinstance(model.detector, Owlv2Detector)
    assert isinstance(model.segmenter, Sam2Segmenter)
    boxes_only = load_base_model(tiny_grounding_dino, "none", device="cpu")
    assert isinstance(boxes_only.detector, GroundingDinoDetector) and boxes_only.segmenter is None


def test_wrong_role_and_missing_models_fail_clearly(tmp_path, tiny_sam, tiny_grounding_dino):
    with pytest.raises(ModelSpecError, match="is a 'sam' model, which is not a supported detector"):
        load_base_model(tiny_sam)
    with pytest.raises(ModelSpecError, match="not a supported segmenter"):
        load_base_model(tiny_grounding_dino, tiny_grounding_dino)
    with pytest.raises(ModelSpecError, match="checkpoint file not found"):
        family_of(str(tmp_path / "missing.pt"))
    with pytest.raises(ModelSpecError, match="cannot read the config"):
        family_of(str(tmp_path))


def test_unavailable_device_fails_loudly(tiny_grounding_dino):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="--device cuda: no CUDA GPU on this machine"):
        load_base_model(tiny_grounding_dino, device="cuda")


@needs_shared
def test_ultralytics_checkpoint_is_recognised():
    assert family_of(str(YOLO11N)) == "ultralytics"
