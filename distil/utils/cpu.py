"""How many CPU cores this process may use, and torch's threads sized from them.

A 2-core CI runner shared with other jobs is the case to get right: torch's default of one
intra-op thread per core, beside distil's own reader and writer threads, oversubscribes
the cores, and every parallel region then waits for its slowest thread (measured: 2.5x
slower labeling under load). distil gives torch the cores less one for its own threads.

A model that can run parts of a batch side by side (the YOLO teacher) does better still:
one thread per core, each running its part with one intra-op thread, so no thread waits
for another (measured on 2 busy cores: 101-114 ms an image, against 154-204 ms for one
intra-op region of one or two threads).
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

logger = logging.getLogger(__name__)
Part = TypeVar("Part")
Result = TypeVar("Result")
# The cores the stages of this process run models on (set by use_threads).
_model_cores: int | None = None


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity, capped by a cgroup CPU quota
    (containers, CI runners); at least 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def cgroup_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs the cgroup quota allows (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`), or
    None when there is no quota."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def model_threads(requested: int | None = None, cores: int | None = None) -> int:
    """torch's intra-op threads for a model run as one region (a batch not split):
    `requested`, else the cores less one (distil's reader and writer threads need one),
    at least 1.

    >>> model_threads(cores=2), model_threads(cores=16), model_threads(4, cores=2)
    (1, 15, 4)
    """
    if requested:
        return requested
    return max(1, (cores or available_cores()) - 1)


def use_threads(requested: int | None = None, share: int | None = None) -> int:
    """Size torch's (and OpenCV's) threads for this process (`share`: the cores it may
    use, when it is one of several workers); returns torch's count. Ultralytics' own
    sizing (which counts every core of the machine) is set to the same."""
    import cv2
    import torch

    global _model_cores
    _model_cores = requested or share or available_cores()
    threads = model_threads(requested, share)
    torch.set_num_threads(threads)
    cv2.setNumThreads(1)  # resizes run in distil's reader thread, beside the model
    try:
        from ultralytics.utils import torch_utils
    except ImportError:  # pragma: no cover - a dependency
        pass
    else:
        torch_utils.NUM_THREADS = threads  # its select_device resets torch's threads to it
    logger.debug("torch uses %d CPU threads (%d cores available)", threads, available_cores())
    return threads


def batch_workers() -> int:
    """Threads a batch may be split across (one core each): `--threads`, else the cores
    this process (or this worker's share) may use."""
    return _model_cores or available_cores()


class SplitBatches:
    """Runs a function on the parts of a batch in parallel threads, each with one torch
    intra-op thread, so a part never waits for a slower thread of another part.

    >>> split = SplitBatches(2)
    >>> split.map(lambda part: part * 2, [1, 2])
    [2, 4]
    """

    def __init__(self, workers: int) -> None:
        import torch

        self.workers = workers
        ready = threading.Barrier(workers + 1)
        main_threads = torch.get_num_threads()

        def one_thread() -> None:
            # torch keeps a thread's count per thread (OpenMP), set from the last one set
            # when the thread first asks: ask, set 1, then give the main thread its own.
            torch.get_num_threads()
            torch.set_num_threads(1)
            ready.wait()

        self.pool = ThreadPoolExecutor(workers, thread_name_prefix="distil-model")
        for _ in range(workers):
            self.pool.submit(one_thread)
        ready.wait()
        torch.set_num_threads(main_threads)

    def map(self, function: Callable[[Part], Result], parts: Sequence[Part]) -> list[Result]:
        return list(self.pool.map(function, parts))
