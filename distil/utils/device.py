"""Pick the compute device and precision."""

from __future__ import annotations

import functools
import logging

import torch

from distil.errors import UsageError

logger = logging.getLogger(__name__)


def gpu_indices(device: str, flag: str = "--device") -> list[int] | None:
    """The GPU numbers `device` names, as Ultralytics reads them ('0', '0,1', 'cuda:1'),
    each checked to exist; None for cpu, mps and auto.

    >>> gpu_indices("cpu") is None
    True
    """
    device = device.strip().lower()
    if device in ("auto", "cpu", "mps"):
        return None
    text = device.removeprefix("cuda").removeprefix(":") or "0"
    indices = [int(part) for part in text.split(",")]
    if not torch.cuda.is_available():
        raise UsageError(f"{flag} {device}: no CUDA GPU on this machine; use {flag} cpu")
    count = torch.cuda.device_count()
    missing = [i for i in indices if i >= count]
    if missing:
        raise UsageError(
            f"{flag} {device}: GPU {missing[0]} does not exist; this machine has "
            f"{count} (0..{count - 1})"
        )
    return indices


def resolve_device(device: str = "auto") -> torch.device:
    """One device: 'auto' picks cuda > mps > cpu; anything else must be available, or it
    is a ValueError naming --device."""
    device = device.strip().lower()
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available on this machine")
    indices = gpu_indices(device)
    if indices is None:
        return torch.device(device)
    if len(indices) > 1:
        raise UsageError(f"--device {device}: this command runs on one device; give one GPU")
    return torch.device("cuda", indices[0])


def default_dtype(device: torch.device, half: bool = True) -> torch.dtype:
    """Half precision on GPUs (bf16 where supported), float32 on CPU."""
    if not half or device.type == "cpu":
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def ultralytics_device(device: str, purpose: str = "training") -> str:
    """distil's device names -> Ultralytics' ('0', '0,1', 'cpu', 'mps'); several GPUs
    (training only) stay a list; auto never hides a GPU."""
    indices = gpu_indices(device)
    if indices and len(indices) > 1:
        return ",".join(map(str, indices))
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return str(resolved.index or 0)
    if device == "auto" and resolved.type == "cpu":
        _warn_cpu(purpose)
    return resolved.type


@functools.cache
def _warn_cpu(purpose: str) -> None:
    """Once per purpose and process: a `distil run` predicts in several stages."""
    logger.warning("no GPU found: %s on CPU, which is slow", purpose)
