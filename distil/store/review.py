"""The review's tables in the store: human labels per frame, with their provenance, and
the review rounds handed out. `LabelStore` has these methods."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from distil.store import codec
from distil.store.errors import sqlite_errors

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    import supervision as sv


@dataclass
class HumanLabels:
    """A reviewer's labels of one frame (by content hash), with where they came from:
    `changed` counts the teacher's exported boxes the reviewer added, removed or moved."""

    hash: str
    width: int
    height: int
    detections: sv.Detections
    changed: int
    round: int
    file: str
    format: str
    imported_at: float = 0.0
    reviewer: str | None = None
    edits: dict[str, float] | None = None  # the review app's counts (see review/app)


@dataclass
class ReviewRound:
    """Frames handed to a reviewer in one round (a task file), most likely wrong first."""

    round: int
    created: float
    folder: str
    format: str
    ranking: str
    frames: list[str]
    student: str | None = None
    student_score: float | None = None


class ReviewTables:
    """`LabelStore`'s review methods (it gives `_db`, `_transaction` and `_rows`)."""

    _db: sqlite3.Connection
    if TYPE_CHECKING:  # what LabelStore defines, declared for the type checker

        def _transaction(self) -> AbstractContextManager[None]: ...

        def _rows(self, query: str, parameters: Sequence[Any] = ()) -> Iterator[sqlite3.Row]: ...

    @sqlite_errors
    def write_human_labels(
        self, labels: Sequence[HumanLabels], review_round: ReviewRound | None = None
    ) -> int:
        """Store a reviewer's labels in one transaction (with the record of their
        `review_round`, when given); a frame's earlier human labels are replaced, unless
        they are the same labels (then nothing changes, not even their provenance).
        Returns the frames whose labels were new or different."""
        written = 0
        with self._transaction():
            if review_round is not None:
                self._put_round(review_round)
            for item in labels:
                boxes, masks = (
                    codec.encode_boxes(item.detections),
                    codec.encode_masks_column(item.detections),
                )
                row = self._db.execute(
                    "SELECT boxes, masks FROM human_labels WHERE hash = ?", (item.hash,)
                ).fetchone()
                if row == (boxes, masks):
                    continue
                edits = None if item.edits is None else json.dumps(item.edits)
                self._db.execute(
                    "INSERT OR REPLACE INTO human_labels VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        item.hash, item.width, item.height, boxes, masks, item.changed,
                        item.round, item.file, item.format, item.imported_at or time.time(),
                        item.reviewer, edits,
                    ),
                )  # fmt: skip
                written += 1
        return written

    @sqlite_errors
    def human_labels(self, with_masks: bool = False) -> Iterator[HumanLabels]:
        """Every frame's human labels, in the order they were imported."""
        masks = "masks" if with_masks else "NULL AS masks"
        rows = self._rows(
            f"SELECT hash, width, height, boxes, {masks}, changed, round, file, format, "
            "imported_at, reviewer, edits FROM human_labels ORDER BY imported_at, hash"
        )
        for row in rows:
            height, width = row["height"], row["width"]
            yield HumanLabels(
                row["hash"], width, height, codec.decode(row["boxes"], row["masks"], height, width),
                row["changed"], row["round"], row["file"], row["format"], row["imported_at"],
                row["reviewer"], json.loads(row["edits"]) if row["edits"] else None,
            )  # fmt: skip

    @sqlite_errors
    def reviewed_hashes(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT hash FROM human_labels")}

    @sqlite_errors
    def returned_rounds(self) -> set[int]:
        """The review rounds from which corrections have been imported."""
        return {r for (r,) in self._db.execute("SELECT DISTINCT round FROM human_labels")}

    @sqlite_errors
    def add_review_round(self, item: ReviewRound) -> int:
        """Record a round handed out; `item.round` 0 takes the next number. Returns it."""
        with self._transaction():
            return self._put_round(item)

    def _put_round(self, item: ReviewRound) -> int:
        number = item.round or self.next_round()
        self._db.execute(
            "INSERT OR REPLACE INTO review_rounds VALUES (?,?,?,?,?,?,?,?)",
            (
                number, item.created or time.time(), item.folder, item.format, item.ranking,
                json.dumps(item.frames), item.student, item.student_score,
            ),
        )  # fmt: skip
        return number

    @sqlite_errors
    def next_round(self) -> int:
        """The number the next review round takes."""
        query = "SELECT COALESCE(MAX(round), 0) FROM review_rounds"
        return 1 + int(self._db.execute(query).fetchone()[0])

    @sqlite_errors
    def review_rounds(self) -> list[ReviewRound]:
        rows = self._rows("SELECT * FROM review_rounds ORDER BY round")
        return [ReviewRound(**{**dict(row), "frames": json.loads(row["frames"])}) for row in rows]
