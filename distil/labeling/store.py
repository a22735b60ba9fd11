"""The label store: raw teacher predictions per image in SQLite inside the output folder.

Keyed by image content hash and a fingerprint of (models, revisions, prompts, settings).
Each batch is one transaction, so a killed run loses at most the batch in flight, and a
rerun skips every image already stored. A store refuses to mix fingerprints.

A video frame is a source like an image: its key is `<video path>#<frame index>`, its hash
comes from the video's id and the index. Tracked objects carry a track id; a track's class
lives in `tracks`, so every frame of a track reads back with the track's one class.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv

from distil.base_models.core import empty_detections
from distil.utils.rle import decode_masks, encode_masks

STORE_FILE = "labels.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS predictions (
    fingerprint TEXT NOT NULL, hash TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, detections TEXT NOT NULL, labeled_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, hash));
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, hash TEXT NOT NULL,
    frame_index INTEGER, video_id TEXT, timestamp REAL, file TEXT);
CREATE TABLE IF NOT EXISTS skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tracks (
    fingerprint TEXT NOT NULL, video_id TEXT NOT NULL, track_id INTEGER NOT NULL,
    class_id INTEGER NOT NULL, prompt_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY (fingerprint, video_id, track_id));
CREATE TABLE IF NOT EXISTS videos (
    fingerprint TEXT NOT NULL, video_id TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (fingerprint, video_id));
"""
# Columns added after the first release; older stores gain them on open.
_ADDED_COLUMNS = {"sources": {"timestamp": "REAL", "file": "TEXT"}}


class StoreError(Exception):
    """The store is missing, unreadable, or was made with other models or prompts."""


def fingerprint_of(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def source_key(path: Path, frame_index: int | None) -> str:
    """Unique per source: the image path, or `<video path>#<frame index>`."""
    return str(path) if frame_index is None else f"{path}#{frame_index}"


@dataclass(frozen=True)
class SourceRecord:
    """Where a stored frame came from: an image file, or frame `frame_index` of a video."""

    path: Path
    root: Path
    hash: str
    frame_index: int | None = None
    video_id: str | None = None
    timestamp: float | None = None

    @property
    def key(self) -> str:
        return source_key(self.path, self.frame_index)


@dataclass
class StoredImage:
    """One labeled source: an image, or a video frame (`frame_index` set), and its raw
    detections. `path` is the file: the image, or the video the frame comes from."""

    path: Path
    root: Path
    hash: str
    width: int
    height: int
    detections: sv.Detections
    frame_index: int | None = None
    video_id: str | None = None
    timestamp: float | None = None

    @property
    def key(self) -> str:
        return source_key(self.path, self.frame_index)

    @property
    def relative_path(self) -> Path:
        """Where it goes in a dataset: the image's path under its input folder; a video
        frame becomes `<video name>_<frame index>.jpg` beside where the video was."""
        if self.root == self.path:
            relative = Path(self.path.name)
        else:
            try:
                relative = self.path.relative_to(self.root)
            except ValueError:
                relative = Path(self.path.name)
        if self.frame_index is None:
            return relative
        return relative.with_name(f"{relative.stem}_{self.frame_index:06d}.jpg")


def detections_to_json(detections: sv.Detections) -> str:
    record: dict[str, Any] = {
        "xyxy": np.round(detections.xyxy.astype(np.float64), 3).tolist(),
        "confidence": np.round(detections.confidence.astype(np.float64), 5).tolist(),
        "class_id": detections.class_id.astype(int).tolist(),
        "prompt_id": np.asarray(detections.data["prompt_id"]).astype(int).tolist(),
        "text_score": np.round(np.asarray(detections.data["text_score"], np.float64), 5).tolist(),
    }
    if detections.tracker_id is not None:
        record["tracker_id"] = detections.tracker_id.astype(int).tolist()
    if detections.mask is not None:
        record["masks"] = encode_masks(detections.mask)
    return json.dumps(record, separators=(",", ":"))


def detections_from_json(text: str, height: int, width: int) -> sv.Detections:
    record = json.loads(text)
    if not record["xyxy"]:
        detections = empty_detections()
        if "masks" in record:
            detections.mask = np.zeros((0, height, width), dtype=bool)
        return detections
    return sv.Detections(
        xyxy=np.asarray(record["xyxy"], dtype=np.float32),
        confidence=np.asarray(record["confidence"], dtype=np.float32),
        class_id=np.asarray(record["class_id"], dtype=np.int64),
        mask=decode_masks(record["masks"], height, width) if "masks" in record else None,
        tracker_id=np.asarray(record["tracker_id"], dtype=np.int64)
        if "tracker_id" in record
        else None,
        data={
            "prompt_id": np.asarray(record["prompt_id"], dtype=np.int64),
            "text_score": np.asarray(record["text_score"], dtype=np.float32),
        },
    )


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


class LabelStore:
    """Open (or create) the store in `folder`.

    >>> store = LabelStore.create(Path("runs/label/exp"), settings)   # for labeling
    >>> store = LabelStore.open(Path("runs/label/exp"))               # for export
    """

    def __init__(self, folder: Path, connection: sqlite3.Connection) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE
        self._db = connection
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        self.fingerprint = self.get_meta("fingerprint")

    def _add_missing_columns(self) -> None:
        for table, columns in _ADDED_COLUMNS.items():
            present = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, kind in columns.items():
                if name not in present:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")

    @classmethod
    def create(cls, folder: Path, settings: dict[str, Any], overwrite: bool = False) -> LabelStore:
        """Open for labeling with `settings`; a store made with other settings is an error."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / STORE_FILE
        if overwrite:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        store = cls(folder, _connect(path))
        fingerprint = fingerprint_of(settings)
        if store.fingerprint is None:
            store._set_meta(
                {
                    "fingerprint": fingerprint,
                    "settings": json.dumps(settings),
                    "schema_version": str(SCHEMA_VERSION),
                    "created": str(time.time()),
                }
            )
            store.fingerprint = fingerprint
        elif store.fingerprint != fingerprint:
            changed = _changed_keys(store.settings, settings)
            store.close()
            raise StoreError(
                f"{folder} holds labels made with different {', '.join(changed)}. Mixing them "
                "would corrupt the dataset: use another --out, or --overwrite to start over."
            )
        return store

    @classmethod
    def open(cls, folder: Path) -> LabelStore:
        path = Path(folder) / STORE_FILE
        if not path.is_file():
            raise StoreError(
                f"no label store in {folder} (expected {STORE_FILE}); run `distil label` first"
            )
        store = cls(Path(folder), _connect(path))
        if store.fingerprint is None:
            raise StoreError(f"{path} is empty: no labeling run has started there")
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, values: dict[str, str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads(self.get_meta("settings") or "{}")

    def _transaction(self):
        db = self._db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return _Tx()

    def set_ontology(self, ontology_dict: dict[str, Any]) -> None:
        """The latest ontology (thresholds included); export uses it unless given another."""
        self._set_meta({"ontology": json.dumps(ontology_dict)})

    @property
    def ontology_dict(self) -> dict[str, Any]:
        return json.loads(self.get_meta("ontology") or "{}")

    def has_masks(self) -> bool:
        settings = self.settings
        return bool(settings.get("segmenter") or settings.get("tracking"))

    def sources(self) -> list[tuple[str, str]]:
        """(key, group) of every labeled source, in order. Frames of one video share their
        video id as group; an image's group is its content hash (duplicates stay together)."""
        return self._db.execute(
            "SELECT s.path, COALESCE(s.video_id, s.hash) FROM sources s JOIN predictions p "
            f"ON p.hash = s.hash AND p.fingerprint = ? ORDER BY {_SOURCE_ORDER}",
            (self.fingerprint,),
        ).fetchall()

    def has(self, digest: str) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM predictions WHERE fingerprint = ? AND hash = ?",
                (self.fingerprint, digest),
            ).fetchone()
            is not None
        )

    def reader(self) -> LabelStore:
        """A second connection for another thread (SQLite connections are per thread)."""
        return LabelStore(self.folder, _connect(self.path))

    def write_batch(
        self,
        images: list[tuple[SourceRecord, int, int]],
        detections: list[sv.Detections],
        sources: list[SourceRecord] = (),
        skipped: list[tuple[Path, str]] = (),
        tracks: dict[int, tuple[int, int, float]] | None = None,
        video_state: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Store one batch atomically: (source, width, height) per labeled frame and its
        detections, extra sources whose content is already labeled, skipped files, and for
        tracking the (class id, prompt id, confidence) of each track plus the tracker's
        resume state."""
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (self.fingerprint, source.hash, w, h, detections_to_json(d), now)
                    for (source, w, h), d in zip(images, detections, strict=True)
                ],
            )
            rows = [
                (
                    s.key,
                    str(s.root),
                    s.hash,
                    s.frame_index,
                    s.video_id,
                    s.timestamp,
                    str(s.path),
                )
                for s in [source for source, _, _ in images] + list(sources)
            ]
            self._db.executemany("INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?)", rows)
            self._db.executemany("DELETE FROM skipped WHERE path = ?", [(r[0],) for r in rows])
            self._db.executemany(
                "INSERT OR REPLACE INTO skipped VALUES (?, ?)",
                [(str(p), reason) for p, reason in skipped],
            )
            if video_state is not None:
                video, state = video_state
                self._db.executemany(
                    "INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (self.fingerprint, video, track, *values)
                        for track, values in (tracks or {}).items()
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO videos VALUES (?, ?, ?)",
                    (self.fingerprint, video, json.dumps(state)),
                )

    def video_state(self, video: str) -> dict[str, Any] | None:
        """The tracker's state after the last stored window of `video`, if any."""
        row = self._db.execute(
            "SELECT state FROM videos WHERE fingerprint = ? AND video_id = ?",
            (self.fingerprint, video),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def track_classes(self) -> dict[tuple[str, int], tuple[int, int, float]]:
        """(video id, track id) -> (class id, prompt id, confidence) of every stored track."""
        rows = self._db.execute(
            "SELECT video_id, track_id, class_id, prompt_id, confidence FROM tracks "
            "WHERE fingerprint = ?",
            (self.fingerprint,),
        )
        return {(v, t): (c, p, s) for v, t, c, p, s in rows}

    def videos(self) -> list[str]:
        """Paths of the videos with labeled frames."""
        rows = self._db.execute(
            "SELECT DISTINCT s.file FROM sources s JOIN predictions p ON p.hash = s.hash "
            "AND p.fingerprint = ? WHERE s.frame_index IS NOT NULL ORDER BY s.file",
            (self.fingerprint,),
        )
        return [r[0] for r in rows]

    def skipped(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()

    def count(self) -> tuple[int, int]:
        """(source paths, of which labeled)."""
        total, labeled = self._db.execute(
            "SELECT COUNT(*), COUNT(p.hash) FROM sources s LEFT JOIN predictions p "
            "ON p.hash = s.hash AND p.fingerprint = ?",
            (self.fingerprint,),
        ).fetchone()
        return int(total), int(labeled)

    def images(
        self, with_masks: bool = True, paths: list[str] | None = None, video: Path | None = None
    ) -> Iterator[StoredImage]:
        """Labeled sources (all, those keyed `paths`, or the frames of `video`) one at a
        time, in path order with video frames in frame order."""
        query = (
            "SELECT COALESCE(s.file, s.path), s.root, s.hash, p.width, p.height, p.detections, "
            "s.frame_index, s.video_id, s.timestamp FROM sources s "
            "JOIN predictions p ON p.hash = s.hash AND p.fingerprint = ?"
        )
        params: list[Any] = [self.fingerprint]
        if paths is not None:
            query += f" WHERE s.path IN ({','.join('?' * len(paths))})"
            params += list(paths)
        elif video is not None:
            query += " WHERE s.file = ? AND s.frame_index IS NOT NULL"
            params.append(str(video))
        tracks = self.track_classes()
        cursor = self._db.execute(f"{query} ORDER BY {_SOURCE_ORDER}", params)
        for path, root, digest, width, height, blob, index, video, timestamp in cursor:
            if not with_masks:
                record = json.loads(blob)
                record.pop("masks", None)
                blob = json.dumps(record)
            detections = detections_from_json(blob, height, width)
            if detections.tracker_id is not None and len(detections):
                _apply_track_classes(detections, tracks, video)
            yield StoredImage(
                Path(path),
                Path(root),
                digest,
                width,
                height,
                detections,
                index,
                video,
                timestamp,
            )


# Frames of one video together and in order, so export decodes each video once.
_SOURCE_ORDER = "COALESCE(s.file, s.path), s.frame_index, s.path"


def _apply_track_classes(detections: sv.Detections, tracks, video: str | None) -> None:
    """Every frame of a track reads back with the track's final class and confidence."""
    for i, track in enumerate(detections.tracker_id.tolist()):
        if (video, track) in tracks:
            class_id, prompt_id, confidence = tracks[(video, track)]
            detections.class_id[i] = class_id
            detections.data["prompt_id"][i] = prompt_id
            detections.confidence[i] = confidence


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return changed or ["settings"]
