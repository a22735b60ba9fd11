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
