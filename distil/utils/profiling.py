"""Where labeling time goes, without threading a `timings` argument through every call.

>>> timings = Timings()
>>> with timings.active(), profile("detect"):
...     pass
>>> sorted(timings)
['detect']

Code deep inside (a teacher's `predict`) calls `profile(stage)`; it adds to whatever
`Timings` the caller made active in this thread, and costs nothing when none is.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_ACTIVE: ContextVar[Timings | None] = ContextVar("distil_timings", default=None)


class Timings(dict[str, float]):
    """Seconds per stage."""

    def add(self, stage: str, seconds: float) -> None:
        self[stage] = self.get(stage, 0.0) + seconds

    @contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start)

    @contextmanager
    def active(self) -> Iterator[Timings]:
        token = _ACTIVE.set(self)
        try:
            yield self
        finally:
            _ACTIVE.reset(token)


@contextmanager
def profile(stage: str) -> Iterator[None]:
    """Add the time of the block to the active `Timings`, if any."""
    timings = _ACTIVE.get()
    if timings is None:
        yield
        return
    with timings.measure(stage):
        yield
