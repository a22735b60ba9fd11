"""One writer per store: an advisory lock on `labels.sqlite.lock` beside the database.

The lock is a kernel `flock`, so it is released the moment its holder exits, however it
exits: a lock "left" by a killed process is simply free, and the next writer takes it over
(and says whose it was). The lock file holds who has it (pid, host, since when) so a
second writer can be told. Readers never take the lock; `writer_of` tells them whether a
label run is writing while they read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"


class StoreLockedError(ValueError):
    """Another process is writing the store."""


@dataclass(frozen=True)
class LockHolder:
    pid: int
    host: str
    since: str  # ISO 8601, UTC

    def __str__(self) -> str:
        if not self.pid:  # the holder has not written its record yet
            return "another process"
        return f"pid {self.pid} on {self.host} since {self.since}"

    @classmethod
    def parse(cls, text: str) -> LockHolder | None:
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["since"]))
        except (ValueError, KeyError, TypeError):
            return None


class StoreLock:
    """The write lock of the store at `database`; `acquire()` or refuse, `release()`.

    >>> with StoreLock(Path("runs/label/exp/labels.sqlite")):
    ...     ...  # write
    """

    def __init__(self, database: Path) -> None:
        self.path = Path(f"{database}{LOCK_SUFFIX}")
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        if not _try_lock(fd):
            holder = LockHolder.parse(_read(fd))
            os.close(fd)
            who = str(holder) if holder else "another process"
            raise StoreLockedError(
                f"{self.path.parent} is being written by {who}; wait for that run to finish "
                "(or stop it), or label into another --out"
            ) from None
        previous = LockHolder.parse(_read(fd))
        if previous is not None:
            # The kernel freed the lock, so its holder is gone without cleaning up.
            logger.info("took over the store lock left by %s (no longer running)", previous)
        me = LockHolder(os.getpid(), socket.gethostname(), _now())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)  # an empty lock file: nobody holds it
        os.close(self._fd)  # closing releases the flock
        self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def writer_of(database: Path) -> LockHolder | None:
    """Who is writing the store at `database` now, or None. Works on read-only stores."""
    path = Path(f"{database}{LOCK_SUFFIX}")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None  # no lock file: nobody has ever written here with locking
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return LockHolder.parse(_read(fd)) or LockHolder(0, "", "")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _try_lock(fd: int, tries: int = 5) -> bool:
    """Take the lock without waiting for a writer; a reader's `writer_of` holds it shared
    for microseconds, so a few quick retries tell the two apart."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if attempt + 1 < tries:
                time.sleep(0.02)
    return False


def _read(fd: int) -> str:
    try:
        return os.pread(fd, 4096, 0).decode("utf-8", "replace")
    except OSError:
        return ""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
