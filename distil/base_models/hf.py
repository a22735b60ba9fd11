"""Loading transformers checkpoints by Hugging Face id or local folder, the same way."""

from __future__ import annotations

import hashlib
import logging
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from distil.base_models.core import Detector
from distil.errors import CheckpointError
from distil.utils.device import default_dtype, resolve_device

logger = logging.getLogger(__name__)

_WEIGHT_SUFFIXES = (".safetensors", ".bin")


def load_pretrained(
    auto_model: Any,
    name: str,
    device: torch.device,
    dtype: torch.dtype,
    revision: str | None = None,
    processor_class: Any = None,
) -> tuple[Any, Any, str]:
    """Load (model, processor, revision) through `from_pretrained`; weights only as data.

    `processor_class` pins the processor where one checkpoint serves several (SAM 2's
    image and video models share theirs)."""
    from transformers import AutoProcessor
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # distil reports loading itself; no bar per model
    # Explicitly off: left unset, transformers asks on the terminal (or waits) instead.
    kwargs: dict[str, Any] = {"trust_remote_code": False}
    if revision:
        kwargs["revision"] = revision
    try:
        processor = (processor_class or AutoProcessor).from_pretrained(name, **kwargs)
        model = auto_model.from_pretrained(name, dtype=dtype, **kwargs)
    except pickle.UnpicklingError as e:
        # torch names the first global it refused: "GLOBAL posix.system"
        refused = re.search(r"GLOBAL ([\w.]+)", str(e))
        what = f" ({refused.group(1)})" if refused else ""
        raise CheckpointError(
            f"{name}: refused: its weights hold Python objects, not only tensors{what}; "
            "distil loads weights as data only and never runs code from them (use "
            ".safetensors weights)"
        ) from None
    except OSError as e:
        if not Path(name).is_dir():
            raise
        first = str(e).splitlines()[0].split(". ")[0]
        raise CheckpointError(f"{name}: not a complete checkpoint folder ({first})") from None
    model = model.to(device).eval()
    return model, processor, model_revision(name, model.config)


def model_revision(name: str, config: Any) -> str:
    """The hub commit a model came from, or a digest of a local folder's weights."""
    path = Path(name)
    if path.is_dir():
        digest = hashlib.blake2b(digest_size=8)
        for file in sorted(path.iterdir()):
            if file.suffix in _WEIGHT_SUFFIXES or file.name == "config.json":
                digest.update(file.name.encode())
                with file.open("rb") as f:
                    for chunk in iter(lambda: f.read(1 << 22), b""):
                        digest.update(chunk)
        return f"local:{digest.hexdigest()}"
    return getattr(config, "_commit_hash", None) or "unknown"


def model_type_of(name: str) -> str:
    """The `model_type` in a checkpoint's config (reads config.json only; no weights)."""
    from transformers import AutoConfig

    return AutoConfig.from_pretrained(name, trust_remote_code=False).model_type


def describe_model(family: str, name: str, revision: str, dtype: torch.dtype) -> dict[str, Any]:
    """What identifies a transformers teacher's output, for the store fingerprint."""
    return {
        "family": family,
        "model": name,
        "revision": revision,
        "dtype": str(dtype).replace("torch.", ""),
    }


def pinned(features: Any, device: torch.device) -> Any:
    """A processor's tensors in page-locked memory when they go to a GPU, so the copy there
    (`.to(device, non_blocking=True)`) overlaps the model's work; as they are otherwise."""
    if device.type != "cuda":
        return features
    for key, value in features.items():
        if isinstance(value, torch.Tensor):
            features[key] = value.pin_memory()
    return features


def tokenize_prompts(
    tokenizer: Any, prompts: tuple[str, ...], max_length: int, model_name: str
) -> Any:
    """Every prompt padded to `max_length` tokens, as tensors; a prompt that is longer is
    cut there, with a warning naming it."""
    for prompt in prompts:
        if len(tokenizer(prompt)["input_ids"]) > max_length:
            logger.warning(
                "prompt '%s' is longer than %s's %d tokens; its end is cut",
                prompt,
                model_name,
                max_length,
            )
    return tokenizer(
        list(prompts),
        padding="max_length",
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )


class TransformersDetector(Detector):
    """A detector loaded through transformers: its device and precision, model and
    processor, description, and CPU preprocessing by its image processor.

    Subclasses name `default_model`, the transformers `model_class` and, where the
    checkpoint's own processor is not the one to use, `processor_class`."""

    default_model: str = ""
    model_class: str = "AutoModelForZeroShotObjectDetection"
    processor_class: str | None = None

    def __init__(
        self,
        model: str | None = None,
        device: str = "auto",
        half: bool = True,
        revision: str | None = None,
    ) -> None:
        import transformers

        self.name = model or self.default_model
        self.device = resolve_device(device)
        self.dtype = default_dtype(self.device, half)
        processor = getattr(transformers, self.processor_class) if self.processor_class else None
        self.model, self.processor, self.revision = load_pretrained(
            getattr(transformers, self.model_class),
            self.name,
            self.device,
            self.dtype,
            revision,
            processor,
        )

    def describe(self) -> dict[str, Any]:
        return describe_model(self.family, self.name, self.revision, self.dtype)

    def prepare(self, images: list[np.ndarray], ontology: Any) -> Any:
        features = self.processor.image_processor(images=images, return_tensors="pt")
        return pinned(features, self.device)
