"""MOT-style track files: one text file per tracked video, one row per box.

Rows are MOTChallenge ground-truth columns: `frame,id,left,top,width,height,conf,class,
visibility`, with `frame` the 1-based frame number in the source video (sampled frames keep
their own numbers), `class` the dataset's 0-based class id and visibility -1 (unknown).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import supervision as sv

from distil.detections import class_ids, scores
from distil.errors import UsageError
from distil.utils.files import atomic_write_text


def mot_rows(frame_index: int, detections: sv.Detections) -> list[str]:
    """The rows of one frame's tracked detections (untracked ones have no row)."""
    if detections.tracker_id is None:
        return []
    rows = []
    for (x1, y1, x2, y2), track, confidence, class_id in zip(
        detections.xyxy, detections.tracker_id, scores(detections), class_ids(detections),
        strict=True,
    ):  # fmt: skip
        rows.append(
            f"{frame_index + 1},{int(track)},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},"
            f"{float(confidence):.4f},{int(class_id)},-1"
        )
    return rows


def write_mot(path: Path, rows: list[str]) -> None:
    """Write rows sorted by frame then track id, as MOT tools expect."""
    rows = sorted(rows, key=lambda r: tuple(int(v) for v in r.split(",", 2)[:2]))
    atomic_write_text(Path(path), "\n".join(rows) + ("\n" if rows else ""))


def read_mot(path: Path) -> np.ndarray:
    """A MOT file's rows as floats (n, columns); MOTChallenge ground truth and distil's own
    track files alike. Ground-truth rows marked not to be evaluated (conf 0 in a column-7
    file) are dropped.

    >>> # frame, id, left, top, width, height
    >>> read_mot(Path("tracks/walk.txt"))[:, :6]  # doctest: +SKIP
    """
    text = Path(path).read_text()
    rows = [line.split(",") for line in text.splitlines() if line.strip()]
    try:
        table = np.array([[float(v) for v in row[:9]] for row in rows], dtype=np.float64)
    except ValueError as e:
        raise UsageError(f"{path}: not a MOT file of comma-separated numbers ({e})") from None
    if len(table) == 0:
        return np.zeros((0, 6))
    if table.ndim != 2 or table.shape[1] < 6:
        raise UsageError(f"{path}: MOT rows need at least 6 columns (frame, id, box)")
    if table.shape[1] >= 7:
        table = table[table[:, 6] != 0]
    return table
