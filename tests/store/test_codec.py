from __future__ import annotations

from pathlib import Path

import numpy as np
import supervision as sv

from distil.detections import FrameIdentity, empty_detections
from distil.store import LabelStore, StoreBatch, StoredFrame
from tests.store.test_locking import SETTINGS


def counted(detections: sv.Detections, faint: int | None) -> sv.Detections:
    if faint is not None:
        detections.metadata["faint"] = faint
    return detections


def test_a_frame_s_faint_count_is_stored_with_its_boxes(tmp_path):
    car = sv.Detections(
        xyxy=np.array([[1, 2, 30, 40]], np.float32),
        confidence=np.array([0.9], np.float32),
        class_id=np.array([0]),
        data={"prompt_id": np.array([0]), "text_score": np.array([0.9], np.float32)},
    )
    written = {"a": counted(car, 3), "b": counted(empty_detections(), 9), "c": empty_detections()}
    with LabelStore.create(tmp_path, SETTINGS) as store:
        assert store.mean_faint() is None  # nothing counted yet
        frames = [
            StoredFrame(FrameIdentity(Path(k), Path("."), k), 64, 48, d) for k, d in written.items()
        ]
        store.write_batch(StoreBatch(frames))
        read = {f.identity.hash: f.detections for f in store.frames()}
        assert store.mean_faint() == 6.0  # the frames that have a count
    assert [read[k].metadata.get("faint") for k in "abc"] == [3, 9, None]
    np.testing.assert_array_equal(read["a"].xyxy, car.xyxy)
