"""Progress of long work: a rich bar in a terminal, plain lines in a log (CI, `| tee`).

>>> with counting("labeling", "img", quiet=False) as update:
...     update(10, 100)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from distil.cli.common import console

if TYPE_CHECKING:
    from distil.target_models import TrainStatus

LOG_EVERY_S = 30.0  # without a terminal, a count prints a line this often


def _print(text: str) -> None:
    console.print(text, markup=False, highlight=False)


def _duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    hours, m = divmod(minutes, 60)
    return f"{hours}h{m:02d}m" if hours else f"{m}m{s:02d}s" if m else f"{s}s"


@contextmanager
def counting(what: str, unit: str, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """`update(done, total)` for work counted in items (images, frames)."""
    if quiet:
        yield lambda done, total: None
    elif console.is_terminal:
        with _bar(what, f"{{task.fields[rate]}} {unit}/s") as (progress, task):
            start = time.perf_counter()

            def update(done: int, total: int) -> None:
                rate = done / max(time.perf_counter() - start, 1e-9)
                progress.update(task, completed=done, total=total, rate=f"{rate:.2f}")

            yield update
    else:
        yield from _count_lines(what, unit)


def _count_lines(what: str, unit: str) -> Iterator[Callable[[int, int], None]]:
    start = last = time.perf_counter()
    state = {"done": 0, "total": 0}

    def line() -> str:
        elapsed = time.perf_counter() - start
        rate = state["done"] / max(elapsed, 1e-9)
        left = (state["total"] - state["done"]) / rate if rate else 0.0
        eta = f", eta {_duration(left)}" if state["done"] < state["total"] else ""
        done, total = state["done"], state["total"]
        return f"{what} {done}/{total} {unit}, {rate:.2f} {unit}/s, {_duration(elapsed)}{eta}"

    def update(done: int, total: int) -> None:
        nonlocal last
        state.update(done=done, total=total)
        if time.perf_counter() - last >= LOG_EVERY_S:
            last = time.perf_counter()
            _print(line())

    yield update
    if state["done"]:
        _print(line())


@contextmanager
def training(quiet: bool) -> Iterator[Callable[[TrainStatus], None]]:
    """`update(status)` for Ultralytics training: a bar over epochs with the losses and ETA
    in a terminal, and one `epoch N/M ...` line per finished epoch in both."""
    if quiet:
        yield lambda status: None
    elif console.is_terminal:
        with _bar("training", "{task.fields[losses]}") as (progress, task):

            def update(status: TrainStatus) -> None:
                if status.epoch_done:
                    progress.console.print(status.line(), markup=False, highlight=False)
                losses = " ".join(f"{k} {v:.3f}" for k, v in status.losses.items())
                progress.update(
                    task,
                    completed=status.epoch - 1 + status.batch / max(status.batches, 1),
                    total=status.epochs,
                    description=f"epoch {status.epoch}/{status.epochs}",
                    losses=losses,
                )

            yield update
    else:
        yield lambda status: _print(status.line()) if status.epoch_done else None


@contextmanager
def _bar(what: str, detail: str):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    count = TextColumn("") if what == "training" else MofNCompleteColumn()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=24),
        count,
        TextColumn(detail, markup=False),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        yield progress, progress.add_task(what, total=None, rate="--", losses="")
