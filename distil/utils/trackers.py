"""Box trackers from Ultralytics (ByteTrack, BoT-SORT) with their own YAML settings: boxes
in, track ids out, one frame at a time. Used by `--tracker bytetrack|botsort` when
labeling and by `distil predict --track`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from distil.settings import BOX_TRACKERS


def tracker_config(name: str) -> dict[str, Any]:
    """The settings Ultralytics ships for tracker `name` (its `cfg/trackers/<name>.yaml`).

    >>> tracker_config("bytetrack")["tracker_type"]
    'bytetrack'
    """
    import ultralytics
    from ultralytics.utils import YAML

    if name not in {t.value for t in BOX_TRACKERS}:
        raise ValueError(f"{name!r} is not a box tracker")
    path = Path(ultralytics.__file__).parent / "cfg" / "trackers" / f"{name}.yaml"
    return dict(YAML.load(path))


class BoxTracker:
    """One clip's tracks: `update` takes a frame's boxes and returns which of them are
    tracked, with their track ids (the tracker's own, from 1 per clip).

    >>> tracker = BoxTracker("bytetrack")  # doctest: +SKIP
    >>> ids, kept = tracker.update(xyxy, confidence, class_id, bgr)  # doctest: +SKIP
    """

    def __init__(self, name: str) -> None:
        from ultralytics.trackers import BOTSORT, BYTETracker
        from ultralytics.utils import IterableSimpleNamespace

        self.name = name
        self.config = tracker_config(name)
        args = IterableSimpleNamespace(**self.config)
        args.device = "cpu"  # for a ReID encoder; `with_reid` is off in the shipped settings
        self._tracker = (BOTSORT if name == "botsort" else BYTETracker)(args=args)

    def describe(self) -> dict[str, Any]:
        """What changes the tracks: the tracker and its settings."""
        return {"tracker": self.name, **self.config}

    def reset(self) -> None:
        """Forget every track (a new clip); ids start again from 1."""
        self._tracker.reset()

    def update(
        self, xyxy: np.ndarray, confidence: np.ndarray, class_id: np.ndarray, bgr: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(track id, detection index) of every box tracked on this frame; `bgr` is the
        frame (BoT-SORT estimates camera motion from it)."""
        from ultralytics.engine.results import Boxes

        data = np.column_stack(
            [np.asarray(xyxy, np.float32).reshape(-1, 4), confidence, class_id]
        ).astype(np.float32)
        rows = self._tracker.update(Boxes(data, bgr.shape[:2]), bgr)
        rows = np.asarray(rows, dtype=np.float64).reshape(-1, 8)
        return rows[:, 4].astype(np.int64), rows[:, 7].astype(np.int64)

    def alive(self) -> set[int]:
        """Ids of the tracks the tracker still holds: seen now, or lost but re-findable."""
        tracker = self._tracker
        return {t.track_id for t in [*tracker.tracked_stracks, *tracker.lost_stracks]}
