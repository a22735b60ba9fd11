"""The label store: raw teacher predictions per frame in SQLite inside the output folder.

Keyed by content hash and a fingerprint of (models, revisions, prompts, settings). Each
batch is one transaction, so a killed run loses at most the batch in flight, and a rerun
skips every frame already stored. A store refuses to mix fingerprints.

One process writes a store at a time (`distil.store.lock`); readers open it read-only and
work on stores they cannot write. SQLite errors become `StoreError`s naming the file.

A video frame is a source like an image: its key is `<video path>#<frame index>`, its hash
comes from the video's id and the index. Tracked objects carry a track id; a track's one
class lives in `tracks` and is given to every frame of the track when read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import ValidationError

from distil.detections import (
    FileStamp,
    FrameIdentity,
    TrackClass,
    apply_track_classes,
    name_classes,
)
from distil.sources.core import SkippedFile, display_path
from distil.sources.remote import as_url, without_credentials
from distil.store import codec
from distil.store.errors import StoreError, database_error, sqlite_errors
from distil.store.lock import LOCK_SUFFIX, LockHolder, StoreLock, StoreLockedError, writer_of
from distil.store.provenance import LabelProvenance, changed_keys
from distil.store.review import ReviewTables
from distil.store.schema import SchemaError, prepare, stored_version
from distil.utils.files import mark_output, refuse_link

if TYPE_CHECKING:
    import supervision as sv

STORE_FILE = "labels.sqlite"
_SIDE_FILES = ("-wal", "-shm", "-journal")

logger = logging.getLogger(__name__)


@dataclass
class StoredFrame:
    """One labeled frame: who it is, its size and its raw detections. `encoded` holds the
    two store columns when a worker encoded them already (see `encode`)."""

    identity: FrameIdentity
    width: int
    height: int
    detections: sv.Detections
    encoded: tuple[str, str | None] | None = None
    human: sv.Detections | None = None  # a reviewer's labels: they win at export

    def encode(self) -> StoredFrame:
        """Encode the columns now and drop the masks: what a worker sends to the writer."""
        detections = self.detections
        self.encoded = (codec.encode_boxes(detections), codec.encode_masks_column(detections))
        detections.mask = None
        return self

    def columns(self) -> tuple[str, str | None]:
        if self.encoded is not None:
            return self.encoded
        return codec.encode_boxes(self.detections), codec.encode_masks_column(self.detections)


@dataclass
class VideoProgress:
    """A tracked video's state after a window: each track's class, and what resuming needs."""

    video_id: str
    state: dict[str, Any]
    tracks: dict[int, TrackClass] = field(default_factory=dict)


@dataclass
class StoreBatch:
    """A labeled batch, as every engine hands it to the one writer and the writer stores
    it in one transaction: labeled frames, frames whose content is already labeled
    (`aliases`), files that could not be read (a `partial` one is reported, not stored),
    the count of sources left to other shards, and a tracked video's progress."""

    frames: list[StoredFrame] = field(default_factory=list)
    aliases: list[FrameIdentity] = field(default_factory=list)
    skipped: list[SkippedFile] = field(default_factory=list)
    video: VideoProgress | None = None
    other_shard: int = 0

    @property
    def seen(self) -> int:
        """Sources this batch accounts for."""
        problems = sum(not p.partial for p in self.skipped)
        return len(self.frames) + len(self.aliases) + problems + self.other_shard


def stored_name(path: str) -> str:
    """A source's name as stored: a URL without its credentials."""
    return path if as_url(path) is None else without_credentials(path)


def fingerprint_of(settings: dict[str, Any]) -> str:
    blob = json.dumps(settings, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _connect(path: Path, wal: bool = False) -> sqlite3.Connection:
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    if wal:  # while labeling: readers go on while batches are written
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that cannot write. A store in a read-only folder that a killed writer
    left in WAL mode can only be opened as immutable (what the WAL held is not seen)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    connection = sqlite3.connect(uri, uri=True, timeout=60, isolation_level=None)
    try:
        connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return connection
    except sqlite3.OperationalError:
        connection.close()
        if writer_of(path) is not None or os.access(path.parent, os.W_OK):
            raise
    logger.warning("%s: opened as immutable (read-only folder, store not closed cleanly)", path)
    return sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None)


# Frames of one video together and in order, so export decodes each video once.
_SOURCE_ORDER = "COALESCE(s.file, s.path), s.frame_index, s.path"
_LOOKUP_CHUNK = 500  # paths per query (SQLite allows 999 parameters in old builds)


class LabelStore(ReviewTables):
    """Open (or create) the store in `folder`.

    >>> # for labeling
    >>> store = LabelStore.create(Path("runs/label/exp"), settings)  # doctest: +SKIP
    >>> store = LabelStore.open(Path("runs/label/exp"))               # for export  # doctest: +SKIP
    """

    def __init__(
        self,
        folder: Path,
        connection: sqlite3.Connection,
        writable: bool = True,
        create: bool = False,
        lock: StoreLock | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.path = self.folder / STORE_FILE
        self._db = connection
        self._lock = lock
        try:
            prepare(self._db, writable=writable, create=create)
            self.fingerprint = self.get_meta("fingerprint") if _has_meta(self._db) else None
        except (SchemaError, sqlite3.Error, StoreError) as e:
            self.close()
            if isinstance(e, sqlite3.Error):
                raise database_error(self.path, e) from None
            if isinstance(e, SchemaError):
                raise StoreError(f"{self.path}: {e}") from None
            raise

    @classmethod
    def create(
        cls,
        folder: Path,
        settings: LabelProvenance | dict[str, Any],
        overwrite: bool = False,
        shard: tuple[int, int] | None = None,
    ) -> LabelStore:
        """Open for labeling with `settings` (what makes the labels: a `LabelProvenance`
        or its record), holding the store's write lock until `close`.

        A store made with other settings, a store another process is writing, and a file
        that is not a distil store are errors; `overwrite` starts a distil store afresh.
        The writers of different `shard`s (i, N) of one job may write one store together."""
        if isinstance(settings, LabelProvenance):
            settings = settings.record()
        if overwrite and shard is not None:
            raise StoreError("a shard cannot start a store afresh (--overwrite): other shards")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = _refuse_links(folder / STORE_FILE)
        lock = _locked(path, shard)
        try:
            if path.exists():
                _check_is_store(path)
            mark_output(folder)
            if overwrite:
                for suffix in ("", *_SIDE_FILES):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            store = cls(folder, _connect(path, wal=True), create=True, lock=lock)
        except BaseException:
            lock.release()
            raise
        try:
            store.check_integrity()  # writing into a damaged store would spread the damage
        except BaseException:
            store.close()
            raise
        fingerprint = fingerprint_of(settings)
        if store.fingerprint is None:
            store.fingerprint = store._claim(fingerprint, settings)
        if store.fingerprint != fingerprint:
            changed = changed_keys(store.settings, settings)
            store.close()
            raise StoreError(
                f"{folder} holds labels made with different {', '.join(changed)}. Mixing them "
                "would corrupt the dataset: use another --out, or --overwrite to start over."
            )
        return store

    @classmethod
    def edit(cls, folder: Path) -> LabelStore:
        """Open an existing store to add human labels and review rounds, holding its write
        lock (a label run writing it meanwhile is refused, and the other way round)."""
        path = require_store(folder)
        lock = _locked(path)
        try:
            store = cls(Path(folder), _connect(path), lock=lock)
        except BaseException:
            lock.release()
            raise
        try:
            store.check_integrity()
        except BaseException:
            store.close()
            raise
        if store.fingerprint is None:
            store.close()
            raise StoreError(f"{path} is empty: no labeling run has started there")
        return store

    @classmethod
    def open(cls, folder: Path) -> LabelStore:
        """Open for reading. A store this user cannot write is opened read-only; one of an
        older schema is upgraded first where it can be written."""
        path = require_store(folder)
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        try:
            connection = _connect(path) if writable else _connect_readonly(path)
        except sqlite3.Error as e:
            raise database_error(path, e) from None
        store = cls(Path(folder), connection, writable=writable)
        if store.fingerprint is None:
            store.close()
            raise StoreError(f"{path} is empty: no labeling run has started there")
        return store

    def close(self) -> None:
        if self._lock is not None and self._lock.alone():
            # Back to a rollback journal: a closed store is one file, readable from a
            # read-only folder. Skipped when a reader or another shard has it open.
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA journal_mode=DELETE")
        self._db.close()
        if self._lock is not None:
            self._lock.release()

    def writer(self) -> LockHolder | None:
        """Who is writing this store now (None: nobody, or this very store object)."""
        if self._lock is not None and self._lock.held:
            return None
        return writer_of(self.path)

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reader(self) -> LabelStore:
        """A second connection for another thread (SQLite connections are per thread); it
        may write too, under this store's lock."""
        return LabelStore(self.folder, _connect(self.path))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:  # SQLite rolls back by itself on a full disk
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- settings ---------------------------------------------------------------------

    @sqlite_errors
    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @sqlite_errors
    def _set_meta(self, values: dict[str, str]) -> None:
        with self._transaction():
            self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", values.items())

    @sqlite_errors
    def _claim(self, fingerprint: str, settings: dict[str, Any]) -> str:
        """Give a new store its fingerprint, or read the one a shard writing beside this
        one gave it first."""
        with self._transaction():
            first = self.get_meta("fingerprint")
            if first is None:
                values = {
                    "fingerprint": fingerprint,
                    "settings": json.dumps(settings),
                    "created": str(time.time()),
                }
                self._db.executemany("INSERT INTO meta VALUES (?, ?)", values.items())
        return first or fingerprint

    @property
    def settings(self) -> dict[str, Any]:
        settings: dict[str, Any] = json.loads(self.get_meta("settings") or "{}")
        return settings

    def set_ontology(self, ontology_dict: dict[str, Any]) -> None:
        """The latest ontology (thresholds included); export uses it unless given another."""
        self._set_meta({"ontology": json.dumps(ontology_dict)})

    @property
    def ontology_dict(self) -> dict[str, Any]:
        ontology: dict[str, Any] = json.loads(self.get_meta("ontology") or "{}")
        return ontology

    @sqlite_errors
    def mean_faint(self) -> float | None:
        """The frames' average count of faint candidates; None when no frame has one
        (labeled by an earlier version, or by a teacher that counts none)."""
        (mean,) = self._db.execute(
            "SELECT AVG(json_extract(boxes, '$.faint')) FROM predictions WHERE fingerprint = ?",
            (self.fingerprint,),
        ).fetchone()
        return None if mean is None else float(mean)

    @property
    def provenance(self) -> LabelProvenance:
        """What made the labels, typed (the fingerprint is taken over `settings`)."""
        try:
            return LabelProvenance.model_validate(self.settings)
        except ValidationError as e:
            where = ".".join(str(p) for p in e.errors()[0]["loc"])
            raise StoreError(
                f"{self.path}: its recorded settings are not a distil store's ({where}: "
                f"{e.errors()[0]['msg']})"
            ) from None

    def has_masks(self) -> bool:
        return self.provenance.has_masks

    # -- writing ----------------------------------------------------------------------

    @sqlite_errors
    def write_batch(self, batch: StoreBatch) -> None:
        """Store one batch atomically; a URL is stored without its credentials."""
        now = time.time()
        identities = [f.identity for f in batch.frames] + list(batch.aliases)
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO predictions VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (self.fingerprint, f.identity.hash, f.width, f.height, *f.columns(), now)
                    for f in batch.frames
                ],
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO sources VALUES (?,?,?,?,?,?,?,?,?)",
                [
                    (
                        stored_name(i.key),
                        stored_name(str(i.root)),
                        i.hash,
                        i.frame_index,
                        i.video_id,
                        i.timestamp,
                        stored_name(str(i.path)),
                        *(i.stamp or (None, None)),
                    )
                    for i in identities
                ],
            )
            self._db.executemany(
                "DELETE FROM skipped WHERE path = ?", [(stored_name(i.key),) for i in identities]
            )
            self._db.executemany(
                "INSERT OR REPLACE INTO skipped VALUES (?, ?)",
                [(display_path(s.path), s.reason) for s in batch.skipped if not s.partial],
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

    @sqlite_errors
    def has(self, digest: str) -> bool:
        return (
            self._db.execute(
                "SELECT 1 FROM predictions WHERE fingerprint = ? AND hash = ?",
                (self.fingerprint, digest),
            ).fetchone()
            is not None
        )

    @sqlite_errors
    def hashes(self) -> Iterator[str]:
        """The content hashes labeled with this store's fingerprint."""
        rows = self._db.execute(
            "SELECT hash FROM predictions WHERE fingerprint = ?", (self.fingerprint,)
        )
        return (row[0] for row in rows)

    @sqlite_errors
    def image_stamps(self, paths: Iterable[str]) -> dict[str, tuple[str, str, FileStamp]]:
        """path -> (root, hash, stamp) of the labeled images among `paths` that have a
        stamp (video frames and images labeled before stamps were stored are left out)."""
        found = {}
        given = {stored_name(path): path for path in paths}
        paths = list(given)
        for start in range(0, len(paths), _LOOKUP_CHUNK):
            chunk = paths[start : start + _LOOKUP_CHUNK]
            rows = self._db.execute(
                "SELECT s.path, s.root, s.hash, s.size, s.mtime_ns FROM sources s "
                "JOIN predictions p ON p.hash = s.hash AND p.fingerprint = ? "
                f"WHERE s.frame_index IS NULL AND s.size IS NOT NULL AND s.path IN "
                f"({','.join('?' * len(chunk))})",
                (self.fingerprint, *chunk),
            )
            for path, root, digest, size, mtime_ns in rows:
                found[given[path]] = (root, digest, FileStamp(size, mtime_ns))
        return found

    @sqlite_errors
    def sources(self) -> list[tuple[str, str]]:
        """(key, group) of every labeled source, in order. Frames of one video share their
        video id as group; an image's group is its content hash (duplicates stay together)."""
        return [(key, group) for key, group, _ in self.timed_sources()]

    @sqlite_errors
    def timed_sources(self) -> list[tuple[str, str, float | None]]:
        """(key, group, seconds into its video; None for an image) of every labeled source,
        in order."""
        return self._db.execute(
            "SELECT s.path, COALESCE(s.video_id, s.hash), CASE WHEN s.frame_index IS NULL "
            "THEN NULL ELSE COALESCE(s.timestamp, s.frame_index) END FROM sources s "
            f"JOIN predictions p ON p.hash = s.hash AND p.fingerprint = ? ORDER BY {_SOURCE_ORDER}",
            (self.fingerprint,),
        ).fetchall()

    @sqlite_errors
    def video_state(self, video: str) -> dict[str, Any] | None:
        """The tracker's state after the last stored window of `video`, if any."""
        row = self._db.execute(
            "SELECT state FROM videos WHERE fingerprint = ? AND video_id = ?",
            (self.fingerprint, video),
        ).fetchone()
        return json.loads(row[0]) if row else None

    @sqlite_errors
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

    @sqlite_errors
    def videos(self) -> list[str]:
        """Paths of the videos with labeled frames."""
        rows = self._db.execute(
            "SELECT DISTINCT s.file FROM sources s JOIN predictions p ON p.hash = s.hash "
            "AND p.fingerprint = ? WHERE s.frame_index IS NOT NULL ORDER BY s.file",
            (self.fingerprint,),
        )
        return [r[0] for r in rows]

    @sqlite_errors
    def skipped(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT path, reason FROM skipped ORDER BY path").fetchall()

    @sqlite_errors
    def count(self) -> tuple[int, int]:
        """(source paths, of which labeled)."""
        total, labeled = self._db.execute(
            "SELECT COUNT(*), COUNT(p.hash) FROM sources s LEFT JOIN predictions p "
            "ON p.hash = s.hash AND p.fingerprint = ?",
            (self.fingerprint,),
        ).fetchone()
        return int(total), int(labeled)

    def check_integrity(self) -> None:
        """SQLite's quick check of every page: a damaged store is a `StoreError`."""
        try:
            rows = self._db.execute("PRAGMA quick_check").fetchall()
        except sqlite3.Error as e:
            raise database_error(self.path, e) from None
        if rows != [("ok",)]:
            raise StoreError(
                f"{self.path} is damaged ({str(rows[0][0])[:80]}); label into another --out"
            )

    @sqlite_errors
    def class_counts(self, thresholds: Sequence[float]) -> dict[int, int]:
        """Stored detections per class id over every labeled source, counting those that
        score at least `thresholds[class_id]` (before the track-class votes of videos)."""
        if not thresholds:
            return {}
        values = ",".join("(?, ?)" for _ in thresholds)
        rows = self._db.execute(
            f"WITH t(class_id, threshold) AS (VALUES {values}) "
            "SELECT c.value, COUNT(*) FROM sources s JOIN predictions p "
            "ON p.hash = s.hash AND p.fingerprint = ?, "
            "json_each(p.boxes, '$.class_id') c, json_each(p.boxes, '$.confidence') f "
            "JOIN t ON t.class_id = c.value "
            "WHERE c.key = f.key AND f.value >= t.threshold GROUP BY c.value",
            [v for item in enumerate(thresholds) for v in item] + [self.fingerprint],
        ).fetchall()
        return {int(class_id): int(n) for class_id, n in rows}

    def _rows(self, query: str, parameters: Sequence[Any] = ()) -> Iterator[sqlite3.Row]:
        """The rows of `query`, read by column name."""
        cursor = self._db.cursor()
        cursor.row_factory = sqlite3.Row
        return cursor.execute(query, parameters)

    def frames(
        self,
        with_masks: bool = True,
        keys: list[str] | None = None,
        video: Path | None = None,
        raw_masks: bool = False,
    ) -> Iterator[StoredFrame]:
        """Labeled frames (all, those with these `keys`, or the frames of `video`) one at a
        time, in path order with video frames in frame order. Without masks, the mask column
        is not even read; with `raw_masks` it is read but not decoded, and each frame's
        `encoded` holds the two stored columns."""
        masks = "p.masks" if with_masks or raw_masks else "NULL"
        human_masks = "h.masks" if with_masks else "NULL"
        query = (
            "SELECT COALESCE(s.file, s.path) AS path, s.root, s.hash, p.width, p.height, "
            f"p.boxes, {masks} AS masks, s.frame_index, s.video_id, s.timestamp, s.size, "
            f"s.mtime_ns, h.boxes AS human_boxes, {human_masks} AS human_masks FROM sources s "
            "JOIN predictions p ON p.hash = s.hash AND p.fingerprint = ? "
            "LEFT JOIN human_labels h ON h.hash = s.hash"
        )
        params: list[Any] = [self.fingerprint]
        if keys is not None:
            query += f" WHERE s.path IN ({','.join('?' * len(keys))})"
            params += list(keys)
        elif video is not None:
            query += " WHERE s.file = ? AND s.frame_index IS NOT NULL"
            params.append(str(video))
        tracks = self.track_classes()
        names = self.provenance.class_names
        try:
            for row in self._rows(f"{query} ORDER BY {_SOURCE_ORDER}", params):
                width, height = row["width"], row["height"]
                boxes, mask_rles = row["boxes"], row["masks"]
                detections = codec.decode(boxes, None if raw_masks else mask_rles, height, width)
                human = None
                if row["human_boxes"] is not None:
                    human = codec.decode(row["human_boxes"], row["human_masks"], height, width)
                video_id = row["video_id"]
                if video_id in tracks and len(detections):
                    apply_track_classes(detections, tracks[video_id])
                name_classes(detections, names)
                if human is not None:
                    name_classes(human, names)
                size = row["size"]
                stamp = FileStamp(size, row["mtime_ns"]) if size is not None else None
                identity = FrameIdentity(
                    Path(row["path"]), Path(row["root"]), row["hash"], row["frame_index"],
                    video_id, row["timestamp"], stamp,
                )  # fmt: skip
                encoded = (boxes, mask_rles) if raw_masks else None
                yield StoredFrame(identity, width, height, detections, encoded, human)
        except sqlite3.Error as e:
            raise database_error(self.path, e) from None


def _locked(path: Path, shard: tuple[int, int] | None = None) -> StoreLock:
    """The write lock of the store at `path`, taken, or a `StoreError` saying who has it."""
    lock = StoreLock(path, shard)
    try:
        lock.acquire()
    except StoreLockedError as e:
        raise StoreError(str(e)) from None
    except OSError as e:
        raise StoreError(f"{path.parent} cannot be written ({e.strerror or e})") from None
    return lock


def require_store(folder: Path) -> Path:
    """The store file in `folder`, or a `StoreError` saying there is none: checked before
    a command imports anything heavy."""
    path = _refuse_links(Path(folder) / STORE_FILE)
    if not path.is_file():
        raise StoreError(
            f"no label store in {folder} (expected {STORE_FILE}); run `distil label` first"
        )
    return path


def check_store_folder(folder: Path) -> None:
    """Refuse, before any model loads, a folder whose store files are symbolic links."""
    _refuse_links(Path(folder) / STORE_FILE)


def _refuse_links(path: Path) -> Path:
    """`path`, unless the store or a file SQLite keeps beside it is a symbolic link: SQLite
    follows links, and would write the store (or its journal) where the link points."""
    for suffix in ("", *_SIDE_FILES, LOCK_SUFFIX):
        refuse_link(Path(f"{path}{suffix}"))
    return path


def _has_meta(db: sqlite3.Connection) -> bool:
    return db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is not None


def _check_is_store(path: Path) -> None:
    """Refuse, before anything is written, a file that is not a distil store."""
    connection = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        stored_version(connection)
    except SchemaError as e:
        raise StoreError(f"{path}: {e}; label into another --out") from None
    except sqlite3.Error as e:
        raise database_error(path, e) from None
    finally:
        connection.close()
