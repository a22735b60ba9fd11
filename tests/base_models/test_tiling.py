"""Tiled labeling: tile geometry and the merge as tables; a tiny teacher through the
store; YOLO11n on mosaics of real COCO images."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import supervision as sv
from PIL import Image

from distil.base_models import load_base_model
from distil.base_models.tiling import TiledModel, cut_by_window, merge_tiles, tile_windows
from distil.labeling import label_images
from distil.ontologies import Ontology
from distil.settings import LabelSettings, SettingsError
from distil.store import LabelStore
from tests.conftest import COCO128, YOLO11N, needs_shared

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("width", "height", "tile", "overlap", "lefts", "tops"),
    [
        (1000, 500, 500, 0.2, [0, 250, 500], [0]),
        (2560, 1920, 640, 0.2, [0, 480, 960, 1440, 1920], [0, 427, 853, 1280]),
        (640, 480, 640, 0.2, [0], [0]),  # no larger than a tile: one window
        (700, 300, 640, 0.0, [0, 60], [0]),
    ],
)
def test_tile_windows_cover_the_image_with_the_overlap(width, height, tile, overlap, lefts, tops):
    windows = tile_windows(width, height, tile, overlap)
    assert sorted(set(windows[:, 0].tolist())) == lefts
    assert sorted(set(windows[:, 1].tolist())) == tops
    assert windows[:, 2].max() == width and windows[:, 3].max() == height
    assert len(windows) == len(lefts) * len(tops)


def detections(boxes, classes, scores=None):
    boxes = np.array(boxes, np.float32).reshape(-1, 4)
    scores = np.array(scores or [0.9] * len(boxes), np.float32)
    return sv.Detections(
        xyxy=boxes,
        confidence=scores,
        class_id=np.array(classes, np.int64),
        data={"prompt_id": np.array(classes, np.int64), "text_score": scores},
    )


# Image 1000x500 with tiles [0, 500) and [400, 900) (in x) over the whole height.
WINDOWS = [np.array([0, 0, 500, 500]), np.array([400, 0, 900, 500])]
NONE = detections([], [])


@pytest.mark.parametrize(
    ("whole", "tiles", "expected"),
    [
        # seen whole in both tiles: one box
        (NONE, [detections([[420, 10, 480, 60]], [0]), detections([[421, 10, 481, 60]], [0])],
         [[420, 10, 480, 60]]),
        # whole in the second tile, cut by the first tile's right edge: the whole box
        (NONE, [detections([[460, 10, 499, 60]], [0]), detections([[460, 10, 530, 60]], [0])],
         [[460, 10, 530, 60]]),
        # larger than the overlap, missed by the whole-image pass: pieces merged
        (NONE, [detections([[300, 10, 499, 60]], [0]), detections([[401, 10, 600, 60]], [0])],
         [[300, 10, 600, 60]]),
        # larger than a tile, found by the whole-image pass: its pieces go
        (detections([[100, 100, 800, 400]], [1]),
         [detections([[100, 100, 499, 400]], [1]), detections([[401, 100, 800, 400]], [1])],
         [[100, 100, 800, 400]]),
        # two objects of two classes side by side across the edge stay two
        (NONE, [detections([[300, 10, 499, 60]], [0]), detections([[401, 80, 600, 120]], [1])],
         [[300, 10, 499, 60], [401, 80, 600, 120]]),
    ],
)  # fmt: skip
def test_merge_tiles_gives_one_box_per_object(whole, tiles, expected):
    cut = [cut_by_window(t.xyxy, w, 1000, 500) for t, w in zip(tiles, WINDOWS, strict=True)]
    merged = merge_tiles(whole, tiles, cut)
    assert sorted(merged.xyxy.tolist()) == sorted(expected)


def test_merged_pieces_keep_the_union_of_their_masks():
    masks = np.zeros((2, 500, 1000), bool)
    masks[0, 10:60, 300:499] = True
    masks[1, 10:60, 401:600] = True
    pieces = [detections([[300, 10, 499, 60]], [0]), detections([[401, 10, 600, 60]], [0])]
    for piece, mask in zip(pieces, masks, strict=True):
        piece.mask = mask[None]
    cut = [cut_by_window(t.xyxy, w, 1000, 500) for t, w in zip(pieces, WINDOWS, strict=True)]
    merged = merge_tiles(NONE, pieces, cut)
    assert len(merged) == 1 and (merged.mask[0] == masks.any(axis=0)).all()


def test_tile_option_is_checked():
    assert LabelSettings(tile="auto").tile_size is None
    assert LabelSettings(tile=640).tile_size == 640 and LabelSettings(tile="640").tile == "640"
    with pytest.raises(SettingsError, match="tile"):
        LabelSettings.build(tile="big")
    with pytest.raises(SettingsError, match="64 to"):
        LabelSettings.build(tile=16)


ONTOLOGY = Ontology.from_dict(
    {"classes": {"square": "red square", "disc": "green disc"}, "box_threshold": 0.2}
)


def test_tiled_labels_are_another_store_with_masks_on_the_whole_image(
    tiny_grounding_dino, tiny_sam, tmp_path
):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 255, (300, 420, 3), np.uint8)).save(images / f"{i}.png")
    teacher = load_base_model(tiny_grounding_dino, tiny_sam, device="cpu")
    tiled = TiledModel(teacher, tile=160, overlap=0.2, batch=4)
    assert len(tiled.windows(420, 300)) == 4 * 3
    summary = label_images(images, ONTOLOGY, tiled, tmp_path / "run")
    assert summary.labeled == 2
    with LabelStore.open(tmp_path / "run") as store:
        assert store.provenance.tiling["tile"] == 160
        frames = list(store.frames(with_masks=True))
    assert sum(len(f.detections) for f in frames) > 0
    for frame in frames:
        d = frame.detections
        assert d.mask is not None and d.mask.shape == (len(d), 300, 420)
    again = label_images(images, ONTOLOGY, tiled, tmp_path / "run")
    assert again.labeled == 0 and again.already_labeled == 2
    # Without tiles the labels differ: the store refuses to mix them.
    with pytest.raises(Exception, match="tiling"):
        label_images(images, ONTOLOGY, teacher, tmp_path / "run")


def test_auto_tiles_only_images_twice_the_input_size(tiny_grounding_dino):
    teacher = load_base_model(tiny_grounding_dino, "none", device="cpu")
    auto = TiledModel(teacher, tile=None, overlap=0.2, batch=4)
    size = teacher.input_size()
    assert len(auto.windows(2 * size - 1, size)) == 0
    assert len(auto.windows(2 * size, size)) == 3


@needs_shared
def test_tiles_find_the_small_objects_of_mosaics(tmp_path):
    """4x4 mosaics of coco128 images (2560x1920) labeled by YOLO11n: tiled recall comes
    within 5 points of the single images', untiled recall is far lower."""
    command = [
        sys.executable, str(ROOT / "benchmarks" / "tiling_recall.py"), "--coco", str(COCO128),
        "--detector", str(YOLO11N), "--mosaics", "2", "--device", "cpu",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, check=True)
    table = json.loads(result.stdout)
    single = table["single_images"]["recall"]
    assert table["mosaics_tiled"]["recall"] >= single - 0.05, table
    assert table["mosaics_untiled"]["recall"] <= single - 0.2, table
