"""Video frames labeled like images: sampling, identity, bad videos, resume, export."""

import pytest

from distil.base_models import load_base_model
from distil.datasets import export_dataset
from distil.labeling import label_images
from distil.ontologies import Ontology
from distil.settings import DatasetSettings
from distil.store import LabelStore
from tests.synthetic import make_video

ONTOLOGY = Ontology.from_dict({"classes": {"square": "red square", "disc": "green disc"}})


@pytest.fixture(scope="module")
def teacher(tiny_grounding_dino):
    return load_base_model(tiny_grounding_dino, "none", device="cpu")


@pytest.fixture
def mixed(tmp_path, image_folder):
    """Eight images, a good clip, a truncated clip and a file that is no video."""
    make_video(image_folder / "clips" / "good.MP4", frames=20)
    whole = make_video(tmp_path / "long.mkv", frames=100)
    (image_folder / "clips" / "cut.mkv").write_bytes(
        whole.read_bytes()[: whole.stat().st_size // 2]
    )
    (image_folder / "clips" / "junk.avi").write_bytes(b"RIFF not really a video" * 50)
    return image_folder


def test_images_and_sampled_frames_in_one_run(teacher, mixed, tmp_path):
    summary = label_images(mixed, ONTOLOGY, teacher, tmp_path / "run", every=5, batch=4)
    cut_frames = summary.video_frames - 4
    assert summary.videos == 3 and 0 < cut_frames < 20
    assert summary.labeled == 8 + summary.video_frames
    assert [(s.path.name, s.reason.split(" (")[0]) for s in summary.skipped] == [
        ("junk.avi", "not a readable video")
    ]
    assert [s.path.name for s in summary.video_problems] == ["cut.mkv"]
    assert summary.video_problems[0].reason.startswith("truncated")
    with LabelStore.open(tmp_path / "run") as store:
        frames = [f.identity for f in store.frames() if f.identity.frame_index is not None]
    good = [im.frame_index for im in frames if im.path.name == "good.MP4"]
    assert good == [0, 5, 10, 15]
    assert {im.timestamp for im in frames if im.path.name == "good.MP4"} == {0.0, 0.5, 1.0, 1.5}

    # a denser sampling later labels only the new frames
    again = label_images(mixed, ONTOLOGY, teacher, tmp_path / "run", every=5, max_frames=2)
    assert again.labeled == 0 and again.already_labeled == 8 + 2 + 2
    denser = label_images(
        mixed / "clips" / "good.MP4", ONTOLOGY, teacher, tmp_path / "run",
        every=2,
    )  # fmt: skip
    assert denser.labeled == 8 and denser.already_labeled == 2  # 0 and 10 were labeled


def test_exported_frames_are_jpegs_beside_their_video_name(teacher, mixed, tmp_path):
    label_images(mixed / "clips" / "good.MP4", ONTOLOGY, teacher, tmp_path / "run",
                 fps=2)  # fmt: skip
    summary = export_dataset(tmp_path / "run", tmp_path / "ds", DatasetSettings(split=(1.0, 0, 0)))
    names = sorted(p.name for p in (tmp_path / "ds" / "images" / "train").iterdir())
    assert names == [f"good_{i:06d}.jpg" for i in (0, 5, 10, 15)]
    assert summary.tracked_videos == 0 and not (tmp_path / "ds" / "tracks").exists()
