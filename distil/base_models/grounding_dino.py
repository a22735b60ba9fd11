"""Grounding DINO through transformers: every prompt in one caption, one forward per batch.

Boxes get their class from token scores: each prompt owns the caption tokens inside its
characters; a box goes to the prompt whose tokens match it best on average (a phrase-level
match, so "person" and "person in hi-vis vest" are told apart), and its confidence is the
best single-token score inside that prompt, as in the original box threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import make_detections
from distil.base_models.hf import TransformersDetector
from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.settings import DEFAULT_DETECTOR


@dataclass(frozen=True)
class Caption:
    """One caption text and, per phrase, its ontology prompt index and token positions."""

    text: str
    prompt_ids: tuple[int, ...]
    token_spans: tuple[tuple[int, ...], ...]


def build_captions(prompts: Sequence[str], tokenizer: Any, max_tokens: int) -> list[Caption]:
    """Join prompts into 'a. b. c.' captions, starting a new one only at the token limit.

    >>> # build_captions(["cat", "dog"], tokenizer, 256)[0].text == "cat. dog."
    """
    lengths = [
        len(tokenizer(p.lower(), add_special_tokens=False)["input_ids"]) + 1 for p in prompts
    ]
    groups: list[list[int]] = []
    used = max_tokens  # forces a first group
    for index, length in enumerate(lengths):
        if length + 2 > max_tokens:
            raise UsageError(
                f"prompt '{prompts[index]}' is {length - 1} tokens long; the detector reads at "
                f"most {max_tokens - 3} tokens per prompt. Shorten it."
            )
        if used + length > max_tokens:
            groups.append([])
            used = 2  # [CLS] and [SEP]
        groups[-1].append(index)
        used += length
    return [_caption([prompts[i] for i in group], tuple(group), tokenizer) for group in groups]


def _caption(phrases: list[str], prompt_ids: tuple[int, ...], tokenizer: Any) -> Caption:
    text, char_spans = "", []
    for phrase in phrases:
        start = len(text)
        text += phrase.lower()
        char_spans.append((start, len(text)))
        text += ". "
    text = text.rstrip()
    encoding = tokenizer(text, return_offsets_mapping=True)
    offsets = encoding["offset_mapping"]
    spans = []
    for phrase, (start, end) in zip(phrases, char_spans, strict=True):
        tokens = tuple(t for t, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end)
        if not tokens:
            raise UsageError(f"prompt '{phrase}' produced no tokens")
        spans.append(tokens)
    return Caption(text, prompt_ids, tuple(spans))


def assign_prompts(
    token_probs: np.ndarray, caption: Caption
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map each box to one prompt from its token probabilities (boxes x tokens).

    Returns (prompt_id, confidence, text_score) per box: the prompt with the highest mean
    token probability, the highest token probability inside that prompt, and that mean.
    """
    num_boxes = token_probs.shape[0]
    means = np.stack([token_probs[:, list(s)].mean(axis=1) for s in caption.token_spans], 1)
    maxes = np.stack([token_probs[:, list(s)].max(axis=1) for s in caption.token_spans], 1)
    best = means.argmax(axis=1)
    rows = np.arange(num_boxes)
    return np.asarray(caption.prompt_ids)[best], maxes[rows, best], means[rows, best]


class GroundingDinoDetector(TransformersDetector):
    """Open-vocabulary detector (`IDEA-Research/grounding-dino-tiny` by default)."""

    family = "grounding-dino"
    default_model = DEFAULT_DETECTOR

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_tokens = int(self.model.config.max_text_len)
        self._captions: dict[tuple[str, ...], list[tuple[Caption, dict]]] = {}

    def captions(self, ontology: Ontology) -> list[tuple[Caption, dict]]:
        """Captions and their tokenized text, built once per ontology."""
        key = ontology.prompts
        if key not in self._captions:
            tokenizer = self.processor.tokenizer
            self._captions[key] = [
                (caption, tokenizer([caption.text], return_tensors="pt"))
                for caption in build_captions(key, tokenizer, self.max_tokens)
            ]
        return self._captions[key]

    def compile(self) -> None:
        self.model.compile(dynamic=True)

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        self.captions(ontology)
        return super().prepare(images, ontology)

    @torch.inference_mode()
    def detect(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        pixels = prepared if prepared is not None else self.prepare(images, ontology)
        pixel_values = pixels["pixel_values"].to(self.device, self.dtype, non_blocking=True)
        pixel_mask = pixels["pixel_mask"].to(self.device, non_blocking=True)
        batch = len(images)
        found: list[list[tuple[np.ndarray, ...]]] = [[] for _ in images]
        for caption, text in self.captions(ontology):
            text_inputs = {k: v.expand(batch, -1).to(self.device) for k, v in text.items()}
            outputs = self.model(pixel_values=pixel_values, pixel_mask=pixel_mask, **text_inputs)
            num_tokens = text_inputs["input_ids"].shape[1]
            probs = outputs.logits.float().sigmoid()[..., :num_tokens].cpu().numpy()
            boxes = outputs.pred_boxes.float().cpu().numpy()
            for i, image in enumerate(images):
                prompt_id, confidence, text_score = assign_prompts(probs[i], caption)
                keep = confidence >= min_confidence
                height, width = image.shape[:2]
                xyxy = sv.xcycwh_to_xyxy(boxes[i][keep]) * np.array([width, height, width, height])
                found[i].append(
                    (
                        sv.clip_boxes(xyxy, (width, height)),
                        confidence[keep],
                        prompt_id[keep],
                        text_score[keep],
                    )
                )
        return [
            make_detections(
                *(np.concatenate(part) for part in zip(*parts, strict=True)), ontology=ontology
            )
            for parts in found
        ]


class MMGroundingDinoDetector(GroundingDinoDetector):
    """MM Grounding DINO (`openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det`)
    and LLMDet (`iSEE-Laboratory/llmdet_tiny`): Grounding DINO's interface and caption
    scheme with other training, so every prompt still goes in one caption per forward."""

    family = "mm-grounding-dino"
    default_model = "openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det"
