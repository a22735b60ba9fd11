"""Tracking with real weights, read from $DISTIL_WEIGHTS_DIR: Grounding DINO tiny with
SAM 2.1 hiera-tiny or EdgeTAM memory, and SAM 3's video model alone; each case skips
without its folders (saved with `save_pretrained`)."""

import os
from pathlib import Path

import pytest

from distil.base_models import load_base_model
from distil.base_models.sam2_video import Sam2VideoPropagator
from distil.base_models.sam3_video import Sam3Video
from distil.datasets import export_dataset, read_mot
from distil.evaluation import clear_mot
from distil.labeling import label_images
from distil.labeling.tracking import Sam3VideoTracker, VideoTracker
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from tests.synthetic import bouncing_frame, bouncing_truth, make_video

WEIGHTS = Path(os.environ.get("DISTIL_WEIGHTS_DIR", "/nonexistent"))


def weights(name: str) -> str:
    if not (WEIGHTS / name / "config.json").exists():
        pytest.skip(f"real weights: put {name} in $DISTIL_WEIGHTS_DIR")
    return str(WEIGHTS / name)


def tracker_for(name: str):
    if name == "sam3":
        return Sam3VideoTracker(Sam3Video(weights(name)))
    return VideoTracker(Sam2VideoPropagator(weights(name)), detect_every=15)


@pytest.mark.parametrize("tracker_name", ["sam2.1-hiera-tiny", "EdgeTAM-hf", "sam3"])
def test_bouncing_shapes_keep_their_ids(tmp_path, tracker_name):
    frames = 90
    tracker = tracker_for(tracker_name)
    make_video(tmp_path / "clips" / "shapes.mp4", frames, 30, 640, 480, draw=bouncing_frame)
    ontology = Ontology.from_dict({"classes": {"square": "red square", "circle": "green circle"}})
    teacher = load_base_model(weights("grounding-dino-tiny"), "none")
    label_images(tmp_path / "clips", ontology, teacher, tmp_path / "run", tracker=tracker)
    export_dataset(tmp_path / "run", tmp_path / "ds", DatasetSettings())
    score = clear_mot(bouncing_truth(frames), read_mot(tmp_path / "ds" / "tracks" / "shapes.txt"))
    assert score.matches >= 0.9 * score.truth_boxes, score
    assert score.id_switches == 0, score
