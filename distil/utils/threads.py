"""Overlap reading with compute: iterate a generator in a background thread."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def prefetch(items: Iterable[T], depth: int, name: str = "distil-reader") -> Iterator[T]:
    """Yield `items`, produced by a background thread up to `depth` ahead.

    The producer's errors re-raise in the consumer; when the consumer stops early the
    producer is stopped too. A generator passed here runs wholly in the thread, so it may
    hold per-thread resources such as an SQLite connection.
    """
    out: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def produce() -> None:
        iterator = iter(items)
        try:
            for item in iterator:
                if stop.is_set():
                    return
                out.put(item)
            out.put(finished)
        except BaseException as e:  # surfaced in the consumer
            out.put(e)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:  # a generator's cleanup runs in its own thread
                close()

    thread = threading.Thread(target=produce, name=name, daemon=True)
    thread.start()
    try:
        while (item := out.get()) is not finished:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                out.get_nowait()
            except queue.Empty:
                thread.join(0.05)
