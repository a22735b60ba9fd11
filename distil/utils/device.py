"""Pick the compute device and precision."""

from __future__ import annotations

import logging

import torch

logger = logging.getLogger(__name__)


def resolve_device(device: str = "auto") -> torch.device:
    """'auto' picks cuda > mps > cpu; anything else must be available or it fails loudly."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device.isdigit():  # Ultralytics' style: a GPU number
        device = f"cuda:{device}"
    elif "," in device:
        raise ValueError(f"--device {device}: this command runs on one device; give one GPU")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: CUDA is not available on this machine")
    if resolved.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"--device {device}: MPS is not available on this machine")
    return resolved


def default_dtype(device: torch.device, half: bool = True) -> torch.dtype:
    """Half precision on GPUs (bf16 where supported), float32 on CPU."""
    if not half or device.type == "cpu":
        return torch.float32
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float16


def ultralytics_device(device: str, purpose: str = "training") -> str:
    """distil's device names -> Ultralytics' ('0', 'cpu', 'mps'); auto never hides a GPU."""
    resolved = resolve_device(device)
    if resolved.type == "cuda":
        return str(resolved.index or 0)
    if device == "auto" and resolved.type == "cpu":
        logger.warning("no GPU found: %s on CPU, which is slow", purpose)
    return resolved.type
