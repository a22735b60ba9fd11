import numpy as np
import supervision as sv
from PIL import Image

from distil.labeling import LabelStore, SourceRecord
from distil.reports import annotate, render_preview


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
    from distil.base_models import empty_detections

    (tmp_path / "images").mkdir()
    with LabelStore.create(tmp_path / "run", {"prompts": [["car", ["car"]]]}) as store:
        store.set_ontology({"classes": {"car": "car"}})
        rows = []
        for i in range(5):
            path = tmp_path / "images" / f"{i}.png"
            Image.new("RGB", (64, 48), (i * 40, 0, 0)).save(path)
            rows.append((SourceRecord(path, tmp_path / "images", f"h{i}"), 64, 48))
        store.write_batch(rows, [empty_detections() for _ in rows])
    path, shown = render_preview(tmp_path / "run", num=4, columns=2, cell=100)
    assert shown == 4 and path == tmp_path / "run" / "preview.png"
    assert Image.open(path).size == (204, 204)
