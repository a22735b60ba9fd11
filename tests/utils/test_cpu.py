"""CPU sizing: cores from affinity and cgroup quotas, torch's threads, split batches."""

from __future__ import annotations

import numpy as np
import pytest

from distil.utils.cpu import SplitBatches, cgroup_quota, model_threads


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000", "cpu/cpu.cfs_period_us": "100000"}, 2.0),
        ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
        ({"cpu.max": "garbage"}, None),
        ({}, None),
    ],
)
def test_cgroup_quota(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_quota(tmp_path) == quota


@pytest.mark.parametrize(
    ("requested", "cores", "threads"), [(None, 1, 1), (None, 2, 1), (None, 16, 15), (4, 2, 4)]
)
def test_model_threads(requested, cores, threads):
    assert model_threads(requested, cores) == threads


def test_split_batches_run_each_part_on_one_torch_thread():
    """Each part runs in its own thread with one intra-op thread; the calling thread keeps
    its own count, and the parts come back in order."""
    import torch

    torch.set_num_threads(2)
    split = SplitBatches(2)
    assert torch.get_num_threads() == 2
    assert split.map(lambda _: torch.get_num_threads(), range(4)) == [1, 1, 1, 1]
    parts = [np.full(3, i) for i in range(5)]
    assert [int(p[0]) for p in split.map(lambda p: p * 2, parts)] == [0, 2, 4, 6, 8]


def test_cores_follow_the_affinity_mask():
    """A process pinned to one core (taskset, a CI runner's cpuset) sizes for one core."""
    import subprocess
    import sys

    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from distil.utils.cpu import available_cores, batch_workers, model_threads; "
        "print(available_cores(), batch_workers(), model_threads())"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split() == ["1", "1", "1"], result.stderr
