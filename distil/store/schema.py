"""The store's tables, its schema version, and the migrations that bring an older store up.

Version 1 (distil 0.1.0) kept each frame's boxes and masks in one JSON column. Version 2
keeps masks in their own column, so reading boxes never parses masks. Version 3 records
each source file's size and modification time when it was labeled, so export notices a
file replaced since. Version 4 adds the review: human labels per content hash with their
provenance, and the review rounds handed out. Version 5 stores every local source by its
absolute path, so a store works from any working directory; sources an older release
stored relative to the working directory are made absolute. Version 6 records who made a
frame's human labels (`reviewer`) and what they did to the teacher's (`edits`: boxes added,
deleted, relabeled, moved, and seconds spent), for `distil review serve` and its stats.
The version lives in SQLite's
`user_version`; a store of version 1 says so in its `meta` table.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

from distil.errors import UsageError

SCHEMA_VERSION = 6

logger = logging.getLogger(__name__)

TABLES = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE predictions (
    fingerprint TEXT NOT NULL, hash TEXT NOT NULL, width INTEGER NOT NULL,
    height INTEGER NOT NULL, boxes TEXT NOT NULL, masks TEXT, labeled_at REAL NOT NULL,
    PRIMARY KEY (fingerprint, hash));
CREATE TABLE sources (
    path TEXT PRIMARY KEY, root TEXT NOT NULL, hash TEXT NOT NULL,
    frame_index INTEGER, video_id TEXT, timestamp REAL, file TEXT,
    size INTEGER, mtime_ns INTEGER);
CREATE TABLE skipped (path TEXT PRIMARY KEY, reason TEXT NOT NULL);
CREATE TABLE tracks (
    fingerprint TEXT NOT NULL, video_id TEXT NOT NULL, track_id INTEGER NOT NULL,
    class_id INTEGER NOT NULL, prompt_id INTEGER NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY (fingerprint, video_id, track_id));
CREATE TABLE videos (
    fingerprint TEXT NOT NULL, video_id TEXT NOT NULL, state TEXT NOT NULL,
    PRIMARY KEY (fingerprint, video_id));
CREATE TABLE human_labels (
    hash TEXT PRIMARY KEY, width INTEGER NOT NULL, height INTEGER NOT NULL,
    boxes TEXT NOT NULL, masks TEXT, changed INTEGER NOT NULL, round INTEGER NOT NULL,
    file TEXT NOT NULL, format TEXT NOT NULL, imported_at REAL NOT NULL, reviewer TEXT,
    edits TEXT);
CREATE TABLE review_rounds (
    round INTEGER PRIMARY KEY, created REAL NOT NULL, folder TEXT NOT NULL,
    format TEXT NOT NULL, ranking TEXT NOT NULL, frames TEXT NOT NULL, student TEXT,
    student_score REAL);
"""


class SchemaError(UsageError):
    """The database is not a distil store this version can read."""


STATEMENTS = {s.split()[2]: s.strip() for s in TABLES.split(";") if s.strip()}


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def stored_version(db: sqlite3.Connection) -> int | None:
    """The schema version of an existing store; None for an empty database. A database
    with other tables is not a distil store: `SchemaError`, and nothing is changed."""
    tables = _tables(db)
    if not tables:
        return None
    if not {"meta", "predictions", "sources"} <= tables:
        shown = ", ".join(sorted(tables)[:5])
        raise SchemaError(
            f"this SQLite database is not a distil label store (its tables: {shown}); "
            "distil leaves it as it is"
        )
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version:
        return int(version)
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        return 1
    if not str(row[0]).isdigit():
        raise SchemaError(f"its schema version {str(row[0])[:20]!r} is not a number (tampered?)")
    return int(row[0])


def _from_1(db: sqlite3.Connection) -> None:
    """Masks move out of the detections JSON into their own column; stores older than the
    video release also gain the `timestamp` and `file` columns of `sources`."""
    present = {row[1] for row in db.execute("PRAGMA table_info(sources)")}
    for name, kind in (("timestamp", "REAL"), ("file", "TEXT")):
        if name not in present:
            db.execute(f"ALTER TABLE sources ADD COLUMN {name} {kind}")
    for table in ("tracks", "videos", "skipped"):
        if table not in _tables(db):
            db.execute(STATEMENTS[table])
    db.execute("ALTER TABLE predictions RENAME TO predictions_v1")
    db.execute(STATEMENTS["predictions"])
    db.execute(
        "INSERT INTO predictions SELECT fingerprint, hash, width, height, "
        "json_remove(detections, '$.masks'), json_extract(detections, '$.masks'), labeled_at "
        "FROM predictions_v1"
    )
    db.execute("DROP TABLE predictions_v1")


def _from_2(db: sqlite3.Connection) -> None:
    """Sources gain the file's size and mtime; labels made before have neither, so export
    checks those files by content hash."""
    db.execute("ALTER TABLE sources ADD COLUMN size INTEGER")
    db.execute("ALTER TABLE sources ADD COLUMN mtime_ns INTEGER")


def _from_3(db: sqlite3.Connection) -> None:
    """The review's tables; a store labeled before has no human labels yet."""
    for table in ("human_labels", "review_rounds"):
        db.execute(STATEMENTS[table])


def _is_relative(path: str) -> bool:
    return "://" not in path and not os.path.isabs(path)


_BASE_SAMPLES = 20  # relative sources looked up to find the folder they were relative to


def _base_folder(db: sqlite3.Connection, samples: list[str]) -> str | None:
    """The folder relative paths were given from: of the working directory, the store's
    folder and each folder above it, the one where most `samples` exist (None: nowhere)."""
    store_file = next(row[2] for row in db.execute("PRAGMA database_list") if row[1] == "main")
    candidates = [os.getcwd()]
    if store_file:
        folder = Path(store_file).absolute().parent
        candidates += [str(folder), *map(str, folder.parents)]
    hits = {
        base: sum(os.path.exists(os.path.join(base, s)) for s in samples) for base in candidates
    }
    best = max(candidates, key=lambda base: hits[base])  # the first of equals: cwd first
    return best if hits[best] else None


def _from_4(db: sqlite3.Connection) -> None:
    """Local sources stored relative to the working directory of the run that labeled them
    become absolute, found from the folder where they exist. Review rounds name frames by
    key, so their keys change with them. Sources found nowhere stay as they are."""
    rows = db.execute("SELECT path, root, file, frame_index FROM sources").fetchall()
    relative = [row for row in rows if _is_relative(row[2] or row[0])]
    if not relative:
        return
    base = _base_folder(db, [row[2] or row[0] for row in relative[:_BASE_SAMPLES]])
    if base is None:
        logger.warning(
            "the store's %d sources were given as relative paths and none is found from "
            "here: they stay relative to the folder they were labeled from",
            len(relative),
        )
        return

    def absolute(path: str) -> str:
        return os.path.normpath(os.path.join(base, path)) if _is_relative(path) else path

    keys = {}
    for path, root, file, frame_index in relative:
        new_file = absolute(file or path)
        new_key = new_file if frame_index is None else f"{new_file}#{frame_index}"
        keys[path] = new_key
        db.execute(
            "UPDATE OR REPLACE sources SET path = ?, root = ?, file = ? WHERE path = ?",
            (new_key, absolute(root), new_file if file else None, path),
        )
    for (path,) in db.execute("SELECT path FROM skipped").fetchall():
        if _is_relative(path):
            db.execute(
                "UPDATE OR REPLACE skipped SET path = ? WHERE path = ?", (absolute(path), path)
            )
    for number, frames in db.execute("SELECT round, frames FROM review_rounds").fetchall():
        moved = [keys.get(key, key) for key in json.loads(frames)]
        db.execute(
            "UPDATE review_rounds SET frames = ? WHERE round = ?", (json.dumps(moved), number)
        )
    logger.info("made the store's %d relative source paths absolute (from %s)", len(keys), base)


def _from_5(db: sqlite3.Connection) -> None:
    """Human labels gain their reviewer and edits; those imported before have neither (a
    store migrated from before the review has the columns from `_from_3` already)."""
    present = {row[1] for row in db.execute("PRAGMA table_info(human_labels)")}
    for name in ("reviewer", "edits"):
        if name not in present:
            db.execute(f"ALTER TABLE human_labels ADD COLUMN {name} TEXT")


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _from_1,
    2: _from_2,
    3: _from_3,
    4: _from_4,
    5: _from_5,
}


def prepare(db: sqlite3.Connection, writable: bool, create: bool = False) -> int | None:
    """Create the tables of a new store (`create`), or migrate an older one in one
    transaction.

    Returns the version the store has now (None: an empty database not to be created). A
    store newer than this release, an old one that cannot be written, or a database that
    is not a distil store is a `SchemaError`."""
    version = stored_version(db)
    if version == SCHEMA_VERSION or (version is None and not create):
        return version
    if version is not None and version > SCHEMA_VERSION:
        raise SchemaError(
            f"this store has schema version {version}; this distil reads up to "
            f"{SCHEMA_VERSION}: upgrade distil"
        )
    if not writable:
        raise SchemaError(
            f"this store has schema version {version or 0} and must be upgraded to "
            f"{SCHEMA_VERSION}, but it cannot be written: open it once where it is writable"
        )
    db.execute("BEGIN IMMEDIATE")
    try:
        version = stored_version(db)  # another process may have prepared it meanwhile
        if version == SCHEMA_VERSION or (version is None and not create):
            db.execute("COMMIT")
            return version
        if version is None:
            for statement in STATEMENTS.values():
                db.execute(statement)
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        else:
            for step in range(version, SCHEMA_VERSION):
                MIGRATIONS[step](db)
            db.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
