"""SAM 3 through transformers: text prompt in, boxes, scores and instance masks out.

SAM 3 reads one text concept per row. The expensive part, the vision encoder, runs once per
image; the text encoder once per run; then every (image, prompt) pair runs the light DETR
encoder, decoder and mask head against the cached features, many pairs per forward.

A box's `confidence` is SAM 3's own score: its query probability times the presence
probability (how sure the model is that the concept is in the image at all), as in
transformers' post-processing. `text_score` is that presence probability, so a per-class
`text_threshold` drops a class from images where SAM 3 doubts the concept is present.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import make_detections
from distil.base_models.hf import TransformersDetector, tokenize_prompts
from distil.ontologies import Ontology

DEFAULT_SAM3 = "facebook/sam3"
# Sam3Processor pads every prompt to this many tokens.
TEXT_TOKENS = 32
# (image, prompt) pairs per DETR + mask-head forward: each pair carries its own copy of the
# image's FPN features and a full set of query masks, so this bounds memory.
PAIRS_PER_FORWARD = 16
# Masks upsampled to image size at once (float32 on the device).
MASKS_PER_UPSAMPLE = 32


def pair_indices(num_images: int, num_prompts: int, start: int, stop: int) -> tuple:
    """Image and prompt index of pairs `start:stop` in image-major order.

    >>> [t.tolist() for t in pair_indices(2, 3, 2, 5)]
    [[0, 1, 1], [2, 0, 1]]
    """
    pairs = torch.arange(start, min(stop, num_images * num_prompts))
    return pairs // num_prompts, pairs % num_prompts


def query_scores(
    pred_logits: torch.Tensor, presence_logits: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pairs x queries) confidences and the (pairs,) presence probabilities.

    >>> conf, presence = query_scores(torch.zeros(1, 2), torch.zeros(1, 1))
    >>> conf.tolist(), presence.tolist()
    ([[0.25, 0.25]], [0.5])
    """
    presence = presence_logits.float().sigmoid()[:, 0]
    return pred_logits.float().sigmoid() * presence[:, None], presence


class Sam3Detector(TransformersDetector):
    """SAM 3 (`facebook/sam3` by default) as a whole teacher: boxes and masks per prompt.

    `masks=False` keeps boxes only (the store then holds no masks)."""

    family = "sam3"
    default_model = DEFAULT_SAM3
    model_class = "Sam3Model"
    # Also for a `sam3_video` checkpoint, whose own processor is for video.
    processor_class = "Sam3Processor"

    def __init__(self, *args: Any, masks: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.masks = masks
        self._text: dict[tuple[str, ...], tuple[torch.Tensor, torch.Tensor]] = {}

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "masks": self.masks}

    @torch.inference_mode()
    def text_features(self, ontology: Ontology) -> tuple[torch.Tensor, torch.Tensor]:
        """(prompts x tokens x dim) text features and their attention mask, once per ontology."""
        key = ontology.prompts
        if key not in self._text:
            tokenizer = self.processor.tokenizer
            max_length = min(TEXT_TOKENS, self.model.config.text_config.max_position_embeddings)
            text = tokenize_prompts(tokenizer, key, max_length, "SAM 3").to(self.device)
            features = self.model.get_text_features(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"]
            ).pooler_output
            self._text[key] = (features, text["attention_mask"])
        return self._text[key]

    def compile(self) -> None:
        self.model.vision_encoder.compile(dynamic=True)

    @torch.inference_mode()
    def detect(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        from transformers.modeling_outputs import BaseModelOutputWithPooling
        from transformers.models.sam3.modeling_sam3 import Sam3VisionEncoderOutput

        inputs = prepared if prepared is not None else self.prepare(images, ontology)
        pixel_values = inputs["pixel_values"].to(self.device, self.dtype, non_blocking=True)
        vision = self.model.get_vision_features(pixel_values=pixel_values)
        text, text_mask = self.text_features(ontology)
        num_prompts = len(ontology.prompts)
        found: list[list[tuple]] = [[] for _ in images]
        for start in range(0, len(images) * num_prompts, PAIRS_PER_FORWARD):
            image_ids, prompt_ids = pair_indices(
                len(images), num_prompts, start, start + PAIRS_PER_FORWARD
            )
            pairs = len(image_ids)
            on_device = image_ids.to(self.device), prompt_ids.to(self.device)
            outputs = self.model(
                vision_embeds=Sam3VisionEncoderOutput(
                    fpn_hidden_states=tuple(
                        level[on_device[0]] for level in vision.fpn_hidden_states
                    ),
                    # The same for every image of a size: a view, not a copy per pair.
                    fpn_position_encoding=tuple(
                        level[:1].expand(pairs, *level.shape[1:])
                        for level in vision.fpn_position_encoding
                    ),
                ),
                text_embeds=BaseModelOutputWithPooling(pooler_output=text[on_device[1]]),
                attention_mask=text_mask[on_device[1]],
            )
            confidence, presence = query_scores(outputs.pred_logits, outputs.presence_logits)
            for row, (image_id, prompt_id) in enumerate(
                zip(image_ids.tolist(), prompt_ids.tolist(), strict=True)
            ):
                keep = confidence[row] >= min_confidence
                height, width = images[image_id].shape[:2]
                scale = torch.tensor([width, height, width, height], device=keep.device)
                xyxy = (outputs.pred_boxes[row][keep].float() * scale).cpu().numpy()
                kept = int(keep.sum())
                found[image_id].append(
                    (
                        sv.clip_boxes(xyxy, (width, height)),
                        confidence[row][keep].cpu().numpy(),
                        np.full(kept, prompt_id),
                        np.full(kept, float(presence[row])),
                        self._upsample(outputs.pred_masks[row][keep], height, width)
                        if self.masks
                        else None,
                    )
                )
        results = []
        for parts in found:
            xyxy, confidence, prompt_id, text_score, masks = zip(*parts, strict=True)
            detections = make_detections(
                np.concatenate(xyxy),
                np.concatenate(confidence),
                np.concatenate(prompt_id),
                np.concatenate(text_score),
                ontology,
            )
            if self.masks:
                detections.mask = np.concatenate(masks)
            results.append(detections)
        return results

    def _upsample(self, mask_logits: torch.Tensor, height: int, width: int) -> np.ndarray:
        """Low-resolution mask logits -> boolean masks at image size, as transformers'
        post-processing does it (sigmoid, bilinear resize, > 0.5)."""
        parts = [np.zeros((0, height, width), dtype=bool)]
        for start in range(0, len(mask_logits), MASKS_PER_UPSAMPLE):
            probs = mask_logits[start : start + MASKS_PER_UPSAMPLE].float().sigmoid()
            resized = torch.nn.functional.interpolate(
                probs[None], size=(height, width), mode="bilinear", align_corners=False
            )[0]
            parts.append((resized > 0.5).cpu().numpy())
        return np.concatenate(parts)
