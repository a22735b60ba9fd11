"""One writer per store: an advisory lock on `labels.sqlite.lock` beside the database.

Shards of one job (`--shard i/N`) may write one store together: each holds the main lock
shared, so no unsharded writer can start while they run, and its own
`labels.sqlite.lock.shard-i-of-N` exclusively, so a shard cannot run twice. SQLite's own
locking puts their transactions one after another.

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
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from distil.errors import UsageError
from distil.utils.files import open_no_follow

logger = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"
# One `distil review serve` per store: two servers would each hand out the same frames.
SERVE_SUFFIX = ".serve.lock"


class StoreLockedError(UsageError):
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

    >>> with StoreLock(Path("runs/label/exp/labels.sqlite")):  # doctest: +SKIP
    ...     ...  # write
    """

    def __init__(
        self, database: Path, shard: tuple[int, int] | None = None, suffix: str = LOCK_SUFFIX
    ) -> None:
        self.path = Path(f"{database}{suffix}")
        self.shard = shard
        self._fd: int | None = None
        self._shard_fd: int | None = None

    def acquire(self) -> None:
        if self.shard is None:
            self._fd = _take(self.path, fcntl.LOCK_EX, "")
            return
        self._fd = _take(self.path, fcntl.LOCK_SH, "", record=False)
        try:
            index, count = self.shard
            self._shard_fd = _take(
                _shard_path(self.path, index, count), fcntl.LOCK_EX, f" (shard {index}/{count})"
            )
        except BaseException:
            self.release()
            raise

    def alone(self) -> bool:
        """Whether no other shard writes the store now, asked as a writer closes (it may
        then tidy up); always true for an unsharded writer. A shard's shared lock may be
        lost when the answer is no, so release next."""
        if self._fd is None or self.shard is None:
            return self._fd is not None
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def release(self) -> None:
        for fd in (self._shard_fd, self._fd):
            if fd is None:
                continue
            if fd == self._shard_fd or self.shard is None:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)  # an empty lock file: nobody holds it
            os.close(fd)  # closing releases the flock
        self._fd = self._shard_fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def serve_lock(database: Path) -> Iterator[StoreLock]:
    """Held by `distil review serve` while it serves the store at `database`; a second
    server is refused, naming the first (people share one server instead, with --host)."""
    lock = StoreLock(database, suffix=SERVE_SUFFIX)
    try:
        lock.acquire()
    except StoreLockedError:
        holder = _holder(lock.path) or "another process"
        raise StoreLockedError(
            f"{Path(database).parent} is already open in distil review serve ({holder}); "
            "open that server's address instead (started with --host, it serves other "
            "people too), or stop it first"
        ) from None
    try:
        yield lock
    finally:
        lock.release()


def writer_of(database: Path) -> LockHolder | None:
    """Who is writing the store at `database` now (a shard writer, if shards are), or
    None. Works on read-only stores."""
    path = Path(f"{database}{LOCK_SUFFIX}")
    for candidate in (path, *_shard_files(path)):
        holder = _holder(candidate)
        if holder is not None:
            return holder
    return None


def _holder(path: Path) -> LockHolder | None:
    try:
        fd = open_no_follow(path, os.O_RDONLY)
    except (OSError, UsageError):
        return None  # no lock file (or a link, which no writer takes): nobody writes
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return LockHolder.parse(_read(fd)) or LockHolder(0, "", "")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _shard_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.shard-*"))


def _shard_path(path: Path, index: int, count: int) -> Path:
    return Path(f"{path}.shard-{index}-of-{count}")


def _take(path: Path, mode: int, what: str, record: bool = True) -> int:
    """Open the lock file at `path` and lock it in `mode` without waiting for a writer,
    writing who holds it (`record`), or raise `StoreLockedError`. A lock file that is a
    link, or not a file of its own, is refused: releasing the lock empties it."""
    fd = open_no_follow(path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK)
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink > 1:
        os.close(fd)
        kind = "is not a regular file" if not stat.S_ISREG(info.st_mode) else "has other hard links"
        raise UsageError(f"{path} {kind}: it is not a lock file distil made; remove it and rerun")
    if not _try_lock(fd, mode):
        holder = LockHolder.parse(_read(fd))
        os.close(fd)
        if holder is None and mode == fcntl.LOCK_EX:
            holder = next(filter(None, map(_holder, _shard_files(path))), None)
            who = f"shards of a label run ({holder})" if holder else "another process"
        else:
            who = str(holder) if holder else "another process"
        raise StoreLockedError(
            f"{path.parent}{what} is being written by {who}; wait for that run to finish "
            "(or stop it), or label into another --out"
        ) from None
    if not record:  # held shared: a record left by a killed writer is stale
        if _read(fd):
            os.ftruncate(fd, 0)
    else:
        previous = LockHolder.parse(_read(fd))
        if previous is not None:
            # The kernel freed the lock, so its holder is gone without cleaning up.
            logger.info("took over the store lock left by %s (no longer running)", previous)
        me = LockHolder(os.getpid(), socket.gethostname(), _now())
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
    return fd


def _try_lock(fd: int, mode: int = fcntl.LOCK_EX, tries: int = 5) -> bool:
    """Take the lock without waiting for a writer; a reader's `writer_of` holds it shared
    for microseconds, so a few quick retries tell the two apart."""
    for attempt in range(tries):
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
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
