"""The store's errors: SQLite's, said in one line that names the store."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from distil.errors import UsageError

F = TypeVar("F", bound=Callable[..., Any])


class StoreError(UsageError):
    """The store is missing, unreadable, locked by another writer, or was made with other
    models or prompts."""


def database_error(path: Path, error: sqlite3.Error) -> StoreError:
    """A SQLite error as one line that names the store and says what to do."""
    text = str(error)
    if "not a database" in text:
        return StoreError(f"{path} is not a SQLite database (damaged, or not a label store)")
    if "malformed" in text:
        return StoreError(
            f"{path} is damaged (database disk image is malformed); label into another --out"
        )
    if "full" in text:
        return StoreError(
            f"{path}: the disk is full; free some space and rerun (labels stored so far are kept)"
        )
    if "readonly" in text or "read-only" in text:
        return StoreError(f"{path} cannot be written (read-only file or folder)")
    if "disk I/O" in text:
        return StoreError(f"{path}: disk I/O error while using the store ({text})")
    if "unable to open" in text:
        return StoreError(f"{path} cannot be opened ({text})")
    return StoreError(f"{path}: {text}")


def sqlite_errors(method: F) -> F:
    """A store method whose SQLite errors become `StoreError`s naming the store."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as e:
            raise database_error(self.path, e) from None

    return wrapper  # type: ignore[return-value]
