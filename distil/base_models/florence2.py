"""Florence-2 through transformers: open-vocabulary detection by generating text.

Florence-2 answers `<OPEN_VOCABULARY_DETECTION>` with one phrase per request, so every
(image, prompt) pair is one row of a single batched `generate` call. The vision encoder
runs once per image and its features are shared by the image's rows; greedy decoding
writes "phrase<loc_x1><loc_y1><loc_x2><loc_y2>..." with coordinates in 1000 bins.

Florence-2 gives no scores, so distil derives them from the generated tokens:

- `confidence` of a box is the probability the model gave to going on with a location
  token, rather than ending or writing text, at the step where the box's first
  coordinate was written: how sure it was that one more object is there;
- `text_score` is the geometric mean of the probabilities of the phrase's tokens before
  the box (1.0 when there are none).

Per-class `box_threshold` and `text_threshold` apply to them as to any teacher's scores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import make_detections
from distil.base_models.hf import TransformersDetector
from distil.ontologies import Ontology

DEFAULT_FLORENCE2 = "florence-community/Florence-2-base"
TASK = "<OPEN_VOCABULARY_DETECTION>"
LOCATION_BINS = 1000
# Long enough for about 250 boxes of one prompt in one image; rows stop at their end token.
MAX_NEW_TOKENS = 1024


@dataclass
class TokenTrace:
    """What greedy decoding wrote for one row and how sure it was, step by step: the token,
    its probability, and the probability mass on all location tokens at that step."""

    tokens: np.ndarray  # (T,) int
    token_prob: np.ndarray  # (T,) float
    location_prob: np.ndarray  # (T,) float


def parse_boxes(
    trace: TokenTrace, location_ids: np.ndarray, special_ids: set[int], end_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bins (n, 4) as x1 y1 x2 y2, confidence (n,), text_score (n,)) of the boxes in one
    generated row, which stops at `end_id`. `location_ids[k]` is the token of bin k; a
    token that is neither a location nor in `special_ids` is phrase text. Groups of four
    location tokens are boxes; a group cut short by the end of the row, or by other
    tokens, is dropped."""
    bin_of = {int(t): k for k, t in enumerate(location_ids)}
    boxes: list[list[int]] = []
    confidence: list[float] = []
    text_score: list[float] = []
    group: list[int] = []
    phrase: list[float] = []
    phrase_score = 1.0
    for step, token in enumerate(trace.tokens.tolist()):
        if token == end_id:
            break
        if token in bin_of:
            if not group:
                first = step
                if phrase:
                    phrase_score = float(np.exp(np.mean(np.log(phrase))))
                    phrase = []
            group.append(bin_of[token])
            if len(group) == 4:
                boxes.append(group)
                confidence.append(float(trace.location_prob[first]))
                text_score.append(phrase_score)
                group = []
            continue
        group = []
        if token not in special_ids:
            phrase.append(max(float(trace.token_prob[step]), 1e-12))
    return (
        np.array(boxes, dtype=np.float32).reshape(-1, 4),
        np.array(confidence, dtype=np.float32),
        np.array(text_score, dtype=np.float32),
    )


def bins_to_xyxy(bins: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pixel boxes from Florence-2's location bins (each bin's centre), corners ordered."""
    scale = np.array([width, height, width, height], dtype=np.float32) / LOCATION_BINS
    xyxy = (bins + 0.5) * scale
    return np.concatenate(
        [np.minimum(xyxy[:, :2], xyxy[:, 2:]), np.maximum(xyxy[:, :2], xyxy[:, 2:])], axis=1
    )


class _TraceRecorder:
    """A logits processor that only watches: after every other processor (it is the last
    one), the probability of the token greedy decoding picks and the probability mass on
    location tokens, per row and step."""

    def __init__(self, location_ids: torch.Tensor) -> None:
        self.location_ids = location_ids
        self.token_prob: list[torch.Tensor] = []
        self.location_prob: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        probs = scores.float().softmax(dim=-1)
        self.token_prob.append(probs.max(dim=-1).values)
        self.location_prob.append(probs[:, self.location_ids].sum(dim=-1))
        return scores


class Florence2Detector(TransformersDetector):
    """Florence-2 (`florence-community/Florence-2-base` by default; transformers-native
    checkpoints, not the remote-code ones)."""

    family = "florence2"
    default_model = DEFAULT_FLORENCE2
    model_class = "Florence2ForConditionalGeneration"
    processor_class = "Florence2Processor"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tokenizer = self.processor.tokenizer
        names = [f"<loc_{k}>" for k in range(LOCATION_BINS)]
        self.location_ids = np.array(tokenizer.convert_tokens_to_ids(names), dtype=np.int64)
        self.special_ids = set(tokenizer.all_special_ids)
        self.end_id = int(self.model.generation_config.eos_token_id or tokenizer.eos_token_id)
        self._text: dict[tuple[str, ...], dict[str, torch.Tensor]] = {}

    def text_inputs(self, ontology: Ontology) -> dict[str, torch.Tensor]:
        """Each prompt's request, tokenized with the image placeholder, once per ontology."""
        if ontology.prompts not in self._text:
            images = [np.zeros((8, 8, 3), np.uint8)] * len(ontology.prompts)
            requests = [f"{TASK}{prompt}" for prompt in ontology.prompts]
            inputs = self.processor(text=requests, images=images, padding=True, return_tensors="pt")
            self._text[ontology.prompts] = {
                "input_ids": inputs["input_ids"].to(self.device),
                "attention_mask": inputs["attention_mask"].to(self.device),
            }
        return self._text[ontology.prompts]

    def compile(self) -> None:
        self.model.model.vision_tower.compile(dynamic=True)

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
        traces = self.generate(pixel_values, text["input_ids"], text["attention_mask"])
        num_prompts = len(ontology.prompts)
        results = []
        for i, image in enumerate(images):
            height, width = image.shape[:2]
            rows = [
                parse_boxes(
                    traces[i * num_prompts + p], self.location_ids, self.special_ids, self.end_id
                )
                for p in range(num_prompts)
            ]
            xyxy = bins_to_xyxy(np.concatenate([r[0] for r in rows]), width, height)
            confidence = np.concatenate([r[1] for r in rows])
            prompt_id = np.concatenate([np.full(len(r[0]), p) for p, r in enumerate(rows)])
            keep = (confidence >= min_confidence) & (xyxy[:, 2] > xyxy[:, 0])
            keep &= xyxy[:, 3] > xyxy[:, 1]
            text_score = np.concatenate([r[2] for r in rows])
            results.append(
                make_detections(
                    xyxy[keep], confidence[keep], prompt_id[keep], text_score[keep], ontology
                )
            )
        return results

    def generate(
        self, pixel_values: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> list[TokenTrace]:
        """Greedy decoding of every (image, prompt) row: rows are image-major."""
        from transformers import LogitsProcessorList

        model = self.model
        batch, num_prompts = len(pixel_values), len(input_ids)
        features = model.model.get_image_features(pixel_values).pooler_output
        ids = input_ids.repeat(batch, 1)
        mask = attention_mask.repeat(batch, 1)
        embeds = model.get_input_embeddings()(ids)
        placeholders = (ids == model.config.image_token_id).unsqueeze(-1)
        rows = features.repeat_interleave(num_prompts, dim=0).to(embeds.dtype)
        embeds = embeds.masked_scatter(placeholders, rows)
        encoded = model.model.language_model.encoder(inputs_embeds=embeds, attention_mask=mask)
        recorder = _TraceRecorder(torch.from_numpy(self.location_ids).to(self.device))
        sequences = model.generate(
            encoder_outputs=encoded,
            attention_mask=mask,
            max_new_tokens=MAX_NEW_TOKENS,
            num_beams=1,
            do_sample=False,
            logits_processor=LogitsProcessorList([recorder]),
        )
        generated = sequences[:, 1:].cpu().numpy()  # after the decoder's start token
        token_prob = torch.stack(recorder.token_prob, dim=1).cpu().numpy()
        location_prob = torch.stack(recorder.location_prob, dim=1).cpu().numpy()
        return [TokenTrace(generated[r], token_prob[r], location_prob[r]) for r in range(len(ids))]
