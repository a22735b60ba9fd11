"""OmDet-Turbo through transformers: every prompt in one forward, a real-time grounded detector.

The prompts go in twice: each as a class (its text embedding is matched against the box
queries) and all together as the task "Detect a, b, c." that conditions the decoder. Both
are tokenized once per ontology; the model caches their text embeddings (an LRU keyed by the
tokens), so the text encoder runs once per run. A box goes to its best-scoring prompt.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import query_detections
from distil.base_models.hf import TransformersDetector
from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

DEFAULT_OMDET_TURBO = "omlab/omdet-turbo-swin-tiny-hf"


def task_text(prompts: tuple[str, ...]) -> str:
    """The task description OmDet-Turbo was trained with.

    >>> task_text(("cat", "red car"))
    'Detect cat, red car.'
    """
    return f"Detect {', '.join(prompts)}."


class OmDetTurboDetector(TransformersDetector):
    """OmDet-Turbo (`omlab/omdet-turbo-swin-tiny-hf` by default)."""

    family = "omdet-turbo"
    default_model = DEFAULT_OMDET_TURBO

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_tokens = int(self.model.config.text_config.max_position_embeddings)
        self._text: dict[tuple[str, ...], dict[str, torch.Tensor]] = {}

    def text_inputs(self, ontology: Ontology) -> dict[str, torch.Tensor]:
        """Tokenized classes and task for one image, built once per ontology."""
        key = ontology.prompts
        if key not in self._text:
            tokenizer = self.processor.tokenizer
            task = task_text(key)
            if len(tokenizer(task)["input_ids"]) > self.max_tokens:
                logger.warning(
                    "the %d prompts make a task text longer than OmDet-Turbo's %d tokens; "
                    "its end is cut (every prompt is still scored as a class)",
                    len(key),
                    self.max_tokens,
                )
            kwargs = dict(
                padding="max_length",
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            )
            classes = tokenizer(list(key), **kwargs)
            tasks = tokenizer([task], **kwargs)
            self._text[key] = {
                "classes_input_ids": classes["input_ids"].to(self.device),
                "classes_attention_mask": classes["attention_mask"].to(self.device),
                "tasks_input_ids": tasks["input_ids"].to(self.device),
                "tasks_attention_mask": tasks["attention_mask"].to(self.device),
            }
        return self._text[key]

    def compile(self) -> None:
        self.model.vision_backbone.compile(dynamic=True)

    @torch.inference_mode()
    def detect(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        inputs = prepared if prepared is not None else self.prepare(images, ontology)
        pixel_values = inputs["pixel_values"].to(self.device, self.dtype, non_blocking=True)
        text = self.text_inputs(ontology)
        batch, num_prompts = len(images), len(ontology.prompts)
        outputs = self.model(
            pixel_values=pixel_values,
            classes_input_ids=text["classes_input_ids"].repeat(batch, 1),
            classes_attention_mask=text["classes_attention_mask"].repeat(batch, 1),
            tasks_input_ids=text["tasks_input_ids"].expand(batch, -1),
            tasks_attention_mask=text["tasks_attention_mask"].expand(batch, -1),
            classes_structure=torch.full((batch,), num_prompts, dtype=torch.long),
        )
        probs = outputs.decoder_class_logits.float().sigmoid().cpu().numpy()
        boxes = outputs.decoder_coord_logits.float().cpu().numpy()
        results = []
        for i, image in enumerate(images):
            height, width = image.shape[:2]
            size = (width, height)
            results.append(
                query_detections(probs[i], boxes[i], size, size, min_confidence, ontology)
            )
        return results
