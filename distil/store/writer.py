"""The one writer of a label run: batches go into the store from a background thread, so
encoding masks and SQLite commits overlap the model's next batch."""

from __future__ import annotations

import queue
import threading
from types import TracebackType

from distil.store.store import LabelStore, StoreBatch
from distil.utils.profiling import Timings

_QUEUED = 8  # batches waiting at most; the model waits for the writer beyond this
_PER_TRANSACTION = 16  # queued batches committed together


class StoreWriter:
    """Write `StoreBatch`es into `store` in order, in a thread with its own connection.

    Leaving the block writes everything queued (also when the block raised, so a stopped
    run keeps what it labeled), then re-raises the writer's error, if any.

    >>> with StoreWriter(store) as writer:  # doctest: +SKIP
    ...     writer.put(batch)
    """

    def __init__(self, store: LabelStore) -> None:
        self.timings = Timings()
        self._store = store
        self._queue: queue.Queue[StoreBatch | None] = queue.Queue(maxsize=_QUEUED)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="distil-writer", daemon=True)

    def __enter__(self) -> StoreWriter:
        self._thread.start()
        return self

    def put(self, batch: StoreBatch) -> None:
        if batch.video is not None:  # batches are joined, and a video's state is not
            raise ValueError("a tracked video's windows are written to the store directly")
        self._raise()
        while True:  # a writer that failed stops taking batches: do not wait forever
            try:
                self._queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                self._raise()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        while self._thread.is_alive():
            try:
                self._queue.put(None, timeout=0.5)
                break
            except queue.Full:
                continue
        self._thread.join()
        if kind is None:
            self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        store = self._store.reader()  # this thread's connection
        try:
            done = False
            while not done:
                batches = [self._queue.get()]
                while len(batches) < _PER_TRANSACTION and batches[-1] is not None:
                    try:
                        batches.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                done = batches[-1] is None
                ready = [b for b in batches if b is not None]
                if ready:
                    with self.timings.measure("store"):
                        store.write_batch(_joined(ready))
        except BaseException as e:  # raised in the labeling thread
            self._error = e
        finally:
            store.close()


def _joined(batches: list[StoreBatch]) -> StoreBatch:
    if len(batches) == 1:
        return batches[0]
    joined = StoreBatch()
    for batch in batches:
        joined.frames += batch.frames
        joined.aliases += batch.aliases
        joined.skipped += batch.skipped
    return joined
