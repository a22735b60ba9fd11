"""OWLv2 through transformers: every text query at once; query embeddings cached per run."""

from __future__ import annotations

from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import query_detections
from distil.base_models.hf import TransformersDetector, tokenize_prompts
from distil.ontologies import Ontology

DEFAULT_OWLV2 = "google/owlv2-base-patch16-ensemble"


class Owlv2Detector(TransformersDetector):
    """Open-vocabulary detector (`google/owlv2-base-patch16-ensemble` by default)."""

    family = "owlv2"
    default_model = DEFAULT_OWLV2

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queries: dict[tuple[str, ...], torch.Tensor] = {}

    @torch.inference_mode()
    def query_embeddings(self, ontology: Ontology) -> torch.Tensor:
        """Text embeddings of every prompt, computed once per ontology."""
        key = ontology.prompts
        if key not in self._queries:
            tokenizer = self.processor.tokenizer
            max_length = self.model.config.text_config.max_position_embeddings
            text = tokenize_prompts(tokenizer, key, max_length, "OWLv2").to(self.device)
            features = self.model.owlv2.get_text_features(
                input_ids=text["input_ids"], attention_mask=text["attention_mask"]
            )
            self._queries[key] = getattr(features, "pooler_output", features)
        return self._queries[key]

    def compile(self) -> None:
        self.model.owlv2.vision_model.compile(dynamic=True)

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
        feature_map, _ = self.model.image_embedder(pixel_values=pixel_values)
        batch, rows, cols, dim = feature_map.shape
        image_feats = feature_map.reshape(batch, rows * cols, dim)
        queries = self.query_embeddings(ontology).to(image_feats.dtype)
        query_embeds = queries[None].expand(batch, -1, -1)
        query_mask = torch.ones(query_embeds.shape[:2], dtype=torch.bool, device=self.device)
        logits, _ = self.model.class_predictor(image_feats, query_embeds, query_mask)
        boxes = self.model.box_predictor(image_feats, feature_map).float().cpu().numpy()
        probs = logits.float().sigmoid().cpu().numpy()
        results = []
        for i, image in enumerate(images):
            height, width = image.shape[:2]
            side = max(height, width)  # OWLv2 pads to a square before resizing
            results.append(
                query_detections(
                    probs[i], boxes[i], (side, side), (width, height), min_confidence, ontology
                )
            )
        return results
