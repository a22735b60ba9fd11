"""How many CPU cores this process may use, and torch's threads sized from them.

A 2-core CI runner shared with other jobs is the case to get right: torch's default of one
intra-op thread per core, beside distil's own reader and writer threads, oversubscribes
the cores, and every parallel region then waits for its slowest thread (measured: 2.5x
slower labeling under load). distil gives torch the cores less one for its own threads.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

logger = logging.getLogger(__name__)


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
    """torch's intra-op threads: `requested`, else the cores less one (distil's reader and
    writer threads need one), at least 1.

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
