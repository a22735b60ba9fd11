import numpy as np
import supervision as sv
from PIL import Image

from distil.detections import FrameIdentity, empty_detections
from distil.reports import annotate, render_preview
from distil.store import LabelStore, StoreBatch, StoredFrame


def test_annotate_draws_on_a_copy():
    image = np.full((50, 80, 3), 128, np.uint8)
    mask = np.zeros((1, 50, 80), bool)
    mask[0, 10:30, 10:40] = True
    detections = sv.Detections(
        xyxy=np.array([[10, 10, 40, 30]], float),
        mask=mask,
        confidence=np.array([0.9]),
        class_id=np.array([0]),
    )
    drawn = annotate(image, detections, ["car"])
    assert (image == 128).all() and (drawn != 128).any()


def test_preview_grid_png(tmp_path):
    (tmp_path / "images").mkdir()
    with LabelStore.create(tmp_path / "run", {"prompts": [["car", ["car"]]]}) as store:
        store.set_ontology({"classes": {"car": "car"}})
        frames = []
        for i in range(5):
            path = tmp_path / "images" / f"{i}.png"
            Image.new("RGB", (64, 48), (i * 40, 0, 0)).save(path)
            identity = FrameIdentity(path, tmp_path / "images", f"h{i}")
            frames.append(StoredFrame(identity, 64, 48, empty_detections()))
        store.write_batch(StoreBatch(frames))
    path, shown = render_preview(tmp_path / "run", num=4, columns=2, cell=100)
    assert shown == 4 and path == tmp_path / "run" / "preview.png"
    assert Image.open(path).size == (204, 204)


def test_video_labels_scale_with_the_frame_so_a_small_crowd_stays_visible():
    from distil.reports.video import annotate_tracks

    def painted(width: int, height: int) -> float:
        rng = np.random.default_rng(0)
        x, y = rng.uniform(0, 0.9, 30) * width, rng.uniform(0.1, 0.9, 30) * height
        xyxy = np.stack([x, y, x + 0.05 * width, y + 0.15 * height], 1).astype(np.float32)
        crowd = sv.Detections(
            xyxy=xyxy, class_id=np.zeros(30, int), confidence=np.full(30, 0.9),
            tracker_id=np.arange(30),
        )  # fmt: skip
        drawn = annotate_tracks(np.zeros((height, width, 3), np.uint8), crowd, ["person"])
        return float(drawn.any(axis=2).mean())

    small, large = painted(640, 360), painted(1920, 1080)
    assert small < 0.2  # labels and boxes cover a fifth of the frame at most (was 46%)
    assert small < 1.5 * large
