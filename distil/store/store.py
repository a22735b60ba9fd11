"""The label store: raw teacher predictions per frame in SQLite inside the output folder.

Keyed by content hash and a fingerprint of (models, revisions, prompts, settings). Each
batch is one transaction, so a killed run loses at most the batch in flight, and a rerun
skips every frame already stored. A store refuses to mix fingerprints.

A video frame is a source like an image: its key is `<video path>#<frame index>`, its hash
comes from the video's id and the index. Tracked objects carry a track id; a track's one
class lives in `tracks` and is given to every frame of the track when read.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distil.detections import FrameIdentity, TrackClass, apply_track_classes
from distil.sources.core import SkippedFile
from distil.store import codec
from distil.store.schema import SchemaError, prepare

if TYPE_CHECKING:
    import supervision as sv

STORE_FILE = "labels.sqlite"


class StoreError(ValueError):
    """The store is missing, unreadable, or was made with other models or prompts."""


@dataclass
class StoredFrame:
    """One labeled frame: who it is, its size and its raw detections."""

    identity: FrameIdentity
    width: int
    height: int
    detections: sv.Detections


@dataclass
class VideoProgress:
    """A tracked video's state after a window: each track's class, and what resuming needs."""

    video_id: str
    state: dict[str, Any]
    tracks: dict[int, TrackClass] = field(default_factory=dict)


@dataclass
class StoreBatch:
    """What one transaction stores: labeled frames, frames whose content is already labeled
    (`aliases`), files that could not be read, and a tracked video's progress."""

    frames: list[StoredFrame] = field(default_factory=list)
    aliases: list[FrameIdentity] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    video: VideoProgress | None = None


def fingerprint_of(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


# Frames of one video together and in order, so export decodes each video once.
_SOURCE_ORDER = "COALESCE(s.file, s.path), s.frame_index, s.path"


class LabelStore:
    """Open (or create) the store in `folder`.

    >>> store = LabelStore.create(Path("runs/label/exp"), settings)   # for labeling
    >>> store = LabelStore.open(Path("runs/label/exp"))               # for export
    """

    def __init__(self, folder: Path, connection: sqlite3.Connection) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE
        self._db = connection
        try:
            prepare(self._db, writable=True)
        except SchemaError as e:
            self._db.close()
            raise StoreError(f"{self.path}: {e}") from None
        self.fingerprint = self.get_meta("fingerprint")

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
            store.close()
            raise StoreError(f"{path} is empty: no labeling run has started there")
        return store

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> LabelStore:
        """A second connection for another thread (SQLite connections are per thread)."""
        return LabelStore(self.folder, _connect(self.path))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- settings ---------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, values: dict[str, str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    @property
    def settings(self) -> dict[str, Any]:
        return json.loads(self.get_meta("settings") or "{}")

    def set_ontology(self, ontology_dict: dict[str, Any]) -> None:
        """The latest ontology (thresholds included); export uses it unless given another."""
        self._set_meta({"ontology": json.dumps(ontology_dict)})

    @property
    def ontology_dict(self) -> dict[str, Any]:
        return json.loads(self.get_meta("ontology") or "{}")

    def has_masks(self) -> bool:
        settings = self.settings
        return bool(settings.get("segmenter") or settings.get("tracking"))

    # -- writing ----------------------------------------------------------------------

    def write_batch(self, batch: StoreBatch) -> None:
        """Store one batch atomically."""
        now = time.time()
        identities = [f.identity for f in batch.frames] + list(batch.aliases)
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        self.fingerprint,
                        f.identity.hash,
                        f.width,
                        f.height,
                        codec.encode_boxes(f.detections),
                        codec.encode_masks_column(f.detections),
                        now,
                    )
                    for f in batch.frames
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?)",
                [
                    (
                        i.key,
                        str(i.root),
                        i.hash,
                        i.frame_index,
                        i.video_id,
                        i.timestamp,
                        str(i.path),
                    )
                    for i in identities
                ],
            )
            self._db.executemany(
                "DELETE FROM skipped WHERE path = ?", [(i.key,) for i in identities]
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO skipped VALUES (?, ?)",
                [(str(s.path), s.reason) for s in batch.skipped],
            )
            if batch.video is not None:
                video = batch.video
                self._db.executemany(
                    "INSERT OR REPLACE INTO tracks VALUES (?, ?, ?, ?, ?, ?)",
                    [
                        (self.fingerprint, video.video_id, track, *chosen)
                        for track, chosen in video.tracks.items()
                    ],
                )
                self._db.execute(
                    "INSERT OR REPLACE INTO videos VALUES (?, ?, ?)",
                    (self.fingerprint, video.video_id, json.dumps(video.state)),
                )

    # -- reading ----------------------------------------------------------------------

    def has(self, digest: str) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM predictions WHERE fingerprint = ? AND hash = ?",
                (self.fingerprint, digest),
            ).fetchone()
            is not None
        )

    def sources(self) -> list[tuple[str, str]]:
        """(key, group) of every labeled source, in order. Frames of one video share their
        video id as group; an image's group is its content hash (duplicates stay together)."""
        return self._db.execute(
            "SELECT s.path, COALESCE(s.video_id, s.hash) FROM sources s JOIN predictions p "
            f"ON p.hash = s.hash AND p.fingerprint = ? ORDER BY {_SOURCE_ORDER}",
            (self.fingerprint,),
        ).fetchall()

    def video_state(self, video: str) -> dict[str, Any] | None:
        """The tracker's state after the last stored window of `video`, if any."""
        row = self._db.execute(
            "SELECT state FROM videos WHERE fingerprint = ? AND video_id = ?",
            (self.fingerprint, video),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def track_classes(self) -> dict[str, dict[int, TrackClass]]:
        """video id -> track id -> the track's one class, for every stored track."""
        rows = self._db.execute(
            "SELECT video_id, track_id, class_id, prompt_id, confidence FROM tracks "
            "WHERE fingerprint = ?",
            (self.fingerprint,),
        )
        classes: dict[str, dict[int, TrackClass]] = {}
        for video, track, class_id, prompt_id, confidence in rows:
            classes.setdefault(video, {})[track] = TrackClass(class_id, prompt_id, confidence)
        return classes

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

    def frames(
        self, with_masks: bool = True, keys: list[str] | None = None, video: Path | None = None
    ) -> Iterator[StoredFrame]:
        """Labeled frames (all, those with these `keys`, or the frames of `video`) one at a
        time, in path order with video frames in frame order. Without masks, the mask column
        is not even read."""
        masks = "p.masks" if with_masks else "NULL"
        query = (
            "SELECT COALESCE(s.file, s.path), s.root, s.hash, p.width, p.height, p.boxes, "
            f"{masks}, s.frame_index, s.video_id, s.timestamp FROM sources s "
            "JOIN predictions p ON p.hash = s.hash AND p.fingerprint = ?"
        )
        params: list[Any] = [self.fingerprint]
        if keys is not None:
            query += f" WHERE s.path IN ({','.join('?' * len(keys))})"
            params += list(keys)
        elif video is not None:
            query += " WHERE s.file = ? AND s.frame_index IS NOT NULL"
            params.append(str(video))
        tracks = self.track_classes()
        cursor = self._db.execute(f"{query} ORDER BY {_SOURCE_ORDER}", params)
        for path, root, digest, width, height, boxes, mask_rles, index, video_id, time_s in cursor:
            detections = codec.decode(boxes, mask_rles, height, width)
            if video_id in tracks and len(detections):
                apply_track_classes(detections, tracks[video_id])
            identity = FrameIdentity(Path(path), Path(root), digest, index, video_id, time_s)
            yield StoredFrame(identity, width, height, detections)


def _changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return changed or ["settings"]
