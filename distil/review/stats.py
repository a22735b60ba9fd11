"""What reviewers did, per review round: frames reviewed, boxes added, deleted,
relabeled and moved, masks made with clicks, and the time spent (the review app records
each frame's edits; an imported round has only the labels it changed).

>>> [r.to_dict() for r in review_stats(Path("runs/label/exp"))]  # doctest: +SKIP
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distil.store import LabelStore

EDITS = ("added", "deleted", "relabeled", "moved", "masks")


@dataclass
class RoundStats:
    round: int  # 0: labels imported outside any round
    kind: str  # the round's format: a labeling tool, a dataset format, or "app"
    handed_out: int | None  # frames handed out (None: no record, e.g. outside any round)
    reviewed: int = 0
    changed: int = 0  # labels the reviewers changed (as `review import` counts them)
    edits: dict[str, int] = field(default_factory=dict)  # app rounds: per kind of edit
    seconds_total: float | None = None  # app rounds: time spent on the saved frames
    seconds_median: float | None = None
    reviewers: list[str] = field(default_factory=list)
    student_score: float | None = None  # mAP50 of the student the round was ranked with

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def review_stats(label_dir: Path) -> list[RoundStats]:
    """One entry per round (and one for labels outside any round), in round order."""
    with LabelStore.open(label_dir) as store:
        rounds = {r.round: r for r in store.review_rounds()}
        humans = list(store.human_labels())
    numbers = sorted(set(rounds) | {h.round for h in humans})
    stats = []
    for number in numbers:
        handed = rounds.get(number)
        reviewed = [h for h in humans if h.round == number]
        kinds = {h.format for h in reviewed}
        kind = handed.format if handed else (kinds.pop() if len(kinds) == 1 else "imported")
        entry = RoundStats(
            number,
            kind,
            len(handed.frames) if handed else None,
            len(reviewed),
            sum(h.changed for h in reviewed),
            reviewers=sorted({h.reviewer for h in reviewed if h.reviewer}),
            student_score=handed.student_score if handed else None,
        )
        recorded = [h.edits for h in reviewed if h.edits]
        if recorded:
            entry.edits = {k: int(sum(e.get(k, 0) for e in recorded)) for k in EDITS}
            seconds = [float(e.get("seconds", 0.0)) for e in recorded]
            entry.seconds_total = round(sum(seconds), 1)
            entry.seconds_median = round(statistics.median(seconds), 1)
        stats.append(entry)
    return stats
