"""Segment Anything (SAM), SAM 2 / 2.1, EdgeTAM and SAM 3's tracker through transformers,
prompted with boxes.

Each image of a batch is encoded once (the whole batch in one encoder call); the mask
decoder then takes all of an image's boxes in one call. For a person's clicks (the review
app), `embed` encodes one image once and `prompt` runs only the mask decoder per prompt.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import supervision as sv
import torch

from distil.base_models.core import Segmenter
from distil.base_models.hf import describe_model, load_pretrained, pinned
from distil.settings import DEFAULT_SEGMENTER
from distil.utils.device import default_dtype, resolve_device

DEFAULT_SAM = "facebook/sam-vit-base"

# Bounds memory when a low store threshold or a dense scene leaves hundreds of boxes on one
# image: the mask decoder holds tens of MB per box (SAM 2.1: its upscaled features, then
# the mask as floats at image size), so a frame with 500 boxes runs in one chunk's memory.
MAX_BOXES_PER_CALL = 16


@dataclass
class EmbeddedImage:
    """One image encoded for prompts: the processor's inputs, the encoder's output and the
    image's (height, width)."""

    inputs: Any
    embedding: Any
    size: tuple[int, int]


class _BoxPromptedSegmenter(Segmenter):
    def __init__(
        self,
        model_class: Any,
        model: str,
        device: str,
        half: bool,
        revision: str | None,
        processor_class: Any = None,
    ) -> None:
        self.name = model
        self.device = resolve_device(device)
        self.dtype = default_dtype(self.device, half)
        self.model, self.processor, self.revision = load_pretrained(
            model_class, model, self.device, self.dtype, revision, processor_class
        )

    def describe(self) -> dict[str, Any]:
        return describe_model(self.family, self.name, self.revision, self.dtype)

    def compile(self) -> None:
        self.model.vision_encoder.compile(dynamic=True)

    def prepare(self, images: list[np.ndarray]) -> Any:
        features = self.processor.image_processor(images=images, return_tensors="pt")
        return pinned(features, self.device)

    @abstractmethod
    def _input_size(self, inputs: Any, index: int) -> tuple[float, float]:
        """(height, width) of image `index` as the model sees it, before padding."""

    @abstractmethod
    def _image_embedding(self, embeddings: Any, index: int) -> Any:
        """The encoder output of image `index`, batch dimension kept."""

    @abstractmethod
    def _masks(self, low_res: torch.Tensor, inputs: Any, index: int) -> torch.Tensor:
        """Low-resolution mask logits -> boolean masks (boxes, H, W) at image size."""

    @torch.inference_mode()
    def segment(
        self,
        images: list[np.ndarray],
        detections: list[sv.Detections],
        prepared: Any = None,
    ) -> list[sv.Detections]:
        if all(len(d) == 0 for d in detections):
            return detections
        inputs = prepared if prepared is not None else self.prepare(images)
        embeddings = self.model.get_image_embeddings(
            inputs["pixel_values"].to(self.device, self.dtype, non_blocking=True)
        )
        results = []
        for index, (image, found) in enumerate(zip(images, detections, strict=True)):
            height, width = image.shape[:2]
            if len(found) == 0:
                found.mask = np.zeros((0, height, width), dtype=bool)
                results.append(found)
                continue
            input_h, input_w = self._input_size(inputs, index)
            scale = np.array([input_w / width, input_h / height] * 2, dtype=np.float32)
            boxes = torch.as_tensor(found.xyxy * scale, device=self.device, dtype=self.dtype)
            embedding = self._image_embedding(embeddings, index)
            found.mask = np.zeros((len(found), height, width), dtype=bool)
            for start in range(0, len(boxes), MAX_BOXES_PER_CALL):
                out = self.model(
                    image_embeddings=embedding,
                    input_boxes=boxes[None, start : start + MAX_BOXES_PER_CALL],
                    multimask_output=False,
                )
                chunk = self._masks(out.pred_masks.float().cpu(), inputs, index)
                found.mask[start : start + len(chunk)] = chunk.numpy()
            results.append(found)
        return results

    @torch.inference_mode()
    def embed(self, image: np.ndarray) -> EmbeddedImage:
        """Encode one RGB image for `prompt` (the costly part, once per image)."""
        inputs = self.prepare([image])
        embeddings = self.model.get_image_embeddings(
            inputs["pixel_values"].to(self.device, self.dtype, non_blocking=True)
        )
        return EmbeddedImage(inputs, self._image_embedding(embeddings, 0), image.shape[:2])

    @torch.inference_mode()
    def prompt(
        self,
        embedded: EmbeddedImage,
        points: Sequence[tuple[float, float]] = (),
        labels: Sequence[int] = (),
        box: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, float]:
        """One object's mask (H, W booleans) and the model's IoU estimate for it, from
        clicks in image pixels (`labels`: 1 on the object, 0 off it) and/or a box. Only
        the mask decoder runs. A single click is ambiguous (a part or the whole?): as in
        SAM's demo, the best of its three masks is taken."""
        if not points and box is None:
            raise ValueError("a prompt needs a point or a box")
        height, width = embedded.size
        input_h, input_w = self._input_size(embedded.inputs, 0)
        scale = np.array([input_w / width, input_h / height], dtype=np.float32)
        prompts: dict[str, torch.Tensor] = {}
        if points:
            xy = np.asarray(points, dtype=np.float32).reshape(1, 1, -1, 2) * scale
            prompts["input_points"] = torch.as_tensor(xy, device=self.device, dtype=self.dtype)
            prompts["input_labels"] = torch.as_tensor(
                np.asarray(labels, dtype=np.int64).reshape(1, 1, -1), device=self.device
            )
        if box is not None:
            xyxy = np.asarray(box, dtype=np.float32).reshape(1, 1, 4) * np.tile(scale, 2)
            prompts["input_boxes"] = torch.as_tensor(xyxy, device=self.device, dtype=self.dtype)
        out = self.model(
            image_embeddings=embedded.embedding,
            multimask_output=len(points) == 1 and box is None,
            **prompts,
        )
        scores = out.iou_scores[0, 0].float()
        best = int(scores.argmax())
        low_res = out.pred_masks[:, :, best : best + 1].float().cpu()
        mask = self._masks(low_res, embedded.inputs, 0)[0]
        return mask.numpy().astype(bool), float(scores[best])


class SamSegmenter(_BoxPromptedSegmenter):
    """SAM (`facebook/sam-vit-base` by default)."""

    family = "sam"

    def __init__(
        self,
        model: str = DEFAULT_SAM,
        device: str = "auto",
        half: bool = True,
        revision: str | None = None,
    ) -> None:
        from transformers import SamModel

        super().__init__(SamModel, model, device, half, revision)

    def _input_size(self, inputs, index):
        height, width = inputs["reshaped_input_sizes"][index].tolist()
        return float(height), float(width)

    def _image_embedding(self, embeddings, index):
        return embeddings[index : index + 1]

    def _masks(self, low_res: torch.Tensor, inputs: Any, index: int) -> torch.Tensor:
        masks = self.processor.post_process_masks(
            low_res,
            inputs["original_sizes"][index : index + 1],
            inputs["reshaped_input_sizes"][index : index + 1],
        )
        return masks[0][:, 0]


class Sam2Segmenter(_BoxPromptedSegmenter):
    """SAM 2 / 2.1 image predictor (`facebook/sam2.1-hiera-tiny` by default)."""

    family = "sam2"
    model_class = "Sam2Model"
    processor_class = "Sam2Processor"

    def __init__(
        self,
        model: str = DEFAULT_SEGMENTER,
        device: str = "auto",
        half: bool = True,
        revision: str | None = None,
    ) -> None:
        import transformers

        model_class = getattr(transformers, self.model_class)
        processor_class = getattr(transformers, self.processor_class)
        super().__init__(model_class, model, device, half, revision, processor_class)

    def _input_size(self, inputs, index):
        height, width = inputs["pixel_values"].shape[-2:]
        return float(height), float(width)

    def _image_embedding(self, embeddings, index):
        return [level[index : index + 1] for level in embeddings]

    def _masks(self, low_res: torch.Tensor, inputs: Any, index: int) -> torch.Tensor:
        masks = self.processor.post_process_masks(
            low_res, inputs["original_sizes"][index : index + 1]
        )
        return masks[0][:, 0]


class EdgeTamSegmenter(Sam2Segmenter):
    """EdgeTAM (`yonigozlan/EdgeTAM-hf`): SAM 2's interface with a RepViT image encoder,
    several times lighter, for CPUs and edge devices."""

    family = "edgetam"
    model_class = "EdgeTamModel"


class Sam3TrackerSegmenter(Sam2Segmenter):
    """SAM 3's tracker (`facebook/sam3`, its video checkpoint): SAM 2's prompt interface on
    SAM 3's image encoder. The detector and video memory in the same checkpoint are not
    loaded."""

    family = "sam3_tracker"
    model_class = "Sam3TrackerModel"
    processor_class = "Sam3TrackerProcessor"
