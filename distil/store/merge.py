"""Merging stores of one job (shards, or machines) into one: `absorb` into an open
store, `merge_stores` into a new one."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from distil.errors import UsageError
from distil.store.errors import StoreError, database_error
from distil.store.provenance import changed_keys

if TYPE_CHECKING:
    from distil.store.store import LabelStore


# Tables `absorb` copies, and whether their rows belong to one fingerprint.
_MERGED_TABLES = {
    "sources": False,
    "predictions": True,
    "skipped": False,
    "tracks": True,
    "videos": True,
    "human_labels": False,
}


def absorb(store: LabelStore, folders: Sequence[Path]) -> dict[str, int]:
    """Copy the labels of the stores in `folders` (the same job: same models, prompts
    and threshold) into `store`, all in one transaction: a store that fails leaves
    it as it was. What several hold is kept once. Returns the frames each added."""
    added: dict[str, int] = {}
    before = store.count()[1]
    try:
        with store._transaction():
            for folder in folders:
                with type(store).open(folder) as other:
                    _check_same_job(store, other, folder)
                    for table, own in _MERGED_TABLES.items():
                        _copy_table(store, other, table, own)
                after = store.count()[1]
                added[str(folder)] = after - before
                before = after
            # A file one shard could not read may have been labeled by another.
            store._db.execute("DELETE FROM skipped WHERE path IN (SELECT path FROM sources)")
    except sqlite3.Error as e:
        raise database_error(store.path, e) from None
    return added


def _check_same_job(store: LabelStore, other: LabelStore, folder: Path) -> None:
    if other.fingerprint != store.fingerprint:
        changed = ", ".join(changed_keys(store.settings, other.settings))
        raise StoreError(f"{folder} was labeled with different {changed}: not one job")
    writer = other.writer()
    if writer:
        raise StoreError(f"{folder} is being written by {writer}; wait for it")
    other.check_integrity()


def _copy_table(store: LabelStore, other: LabelStore, table: str, own: bool) -> None:
    columns = [row[1] for row in store._db.execute(f"PRAGMA main.table_info({table})")]
    where = " WHERE fingerprint = ?" if own else ""
    try:
        rows = other._db.execute(
            f"SELECT {', '.join(columns)} FROM {table}{where}",
            (store.fingerprint,) if own else (),
        )
    except sqlite3.Error as e:
        raise database_error(other.path, e) from None
    store._db.executemany(
        f"INSERT OR IGNORE INTO {table} ({', '.join(columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})",
        rows,
    )


def merge_stores(out: Path, folders: list[Path]) -> dict[str, Any]:
    """One store in `out` holding the labels of the stores in `folders` (shards of one
    job, or the same job run on several machines); rerunnable.

    >>> merge_stores(Path("runs/label/all"), [Path("shard1"), Path("shard2")])  # doctest: +SKIP
    {'out': 'runs/label/all', 'frames': 128, 'added': {'shard1': 64, 'shard2': 64}}
    """
    if not folders:
        raise UsageError("give at least one label store to merge")
    others = [f for f in folders if Path(f).resolve() != Path(out).resolve()]
    from distil.store.store import _SIDE_FILES, STORE_FILE, LabelStore

    with LabelStore.open(folders[0]) as first:
        settings, ontology, fingerprint = first.settings, first.ontology_dict, first.fingerprint
    for folder in others:  # every store checked before anything is written
        with LabelStore.open(folder) as other:
            if other.fingerprint != fingerprint:
                changed = ", ".join(changed_keys(settings, other.settings))
                raise StoreError(f"{folder} was labeled with different {changed}: not one job")
            other.check_integrity()
    created = not os.path.lexists(Path(out) / STORE_FILE)
    try:
        with LabelStore.create(out, settings) as store:
            store.set_ontology(ontology)
            added = absorb(store, others)
            frames = store.count()[1]
    except BaseException:
        if created:  # distil made it for this merge: nothing of it is kept
            for suffix in ("", *_SIDE_FILES):
                Path(f"{Path(out) / STORE_FILE}{suffix}").unlink(missing_ok=True)
        raise
    return {"out": str(out), "frames": frames, "added": added}
