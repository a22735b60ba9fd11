"""Tracking with real Grounding DINO tiny and SAM 2.1 hiera-tiny weights, read from
$DISTIL_WEIGHTS_DIR/{grounding-dino-tiny,sam2.1-hiera-tiny}; skipped without them."""

import os
from pathlib import Path

import pytest

from distil.base_models import load_base_model
from distil.base_models.sam2_video import Sam2VideoPropagator
from distil.datasets import export_dataset, read_mot
from distil.evaluation import clear_mot
from distil.labeling import label_images
from distil.labeling.tracking import VideoTracker
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from tests.synthetic import bouncing_frame, bouncing_truth, make_video

WEIGHTS = Path(os.environ.get("DISTIL_WEIGHTS_DIR", "/nonexistent"))
DETECTOR, SAM2 = WEIGHTS / "grounding-dino-tiny", WEIGHTS / "sam2.1-hiera-tiny"

pytestmark = pytest.mark.skipif(
    not (DETECTOR / "config.json").exists() or not (SAM2 / "config.json").exists(),
    reason="real weights: set DISTIL_WEIGHTS_DIR to a folder with grounding-dino-tiny and "
    "sam2.1-hiera-tiny",
)


def test_bouncing_shapes_keep_their_ids(tmp_path):
    frames = 90
    make_video(tmp_path / "clips" / "shapes.mp4", frames, 30, 640, 480, draw=bouncing_frame)
    ontology = Ontology.from_dict({"classes": {"square": "red square", "circle": "green circle"}})
    teacher = load_base_model(str(DETECTOR), "none")
    tracker = VideoTracker(Sam2VideoPropagator(str(SAM2)), detect_every=15)
    label_images(tmp_path / "clips", ontology, teacher, tmp_path / "run", tracker=tracker)
    export_dataset(tmp_path / "run", tmp_path / "ds", DatasetSettings())
    score = clear_mot(bouncing_truth(frames), read_mot(tmp_path / "ds" / "tracks" / "shapes.txt"))
    assert score.matches >= 0.9 * score.truth_boxes, score
    assert score.id_switches == 0, score
