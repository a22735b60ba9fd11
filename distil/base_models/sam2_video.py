"""SAM 2 / 2.1 or EdgeTAM video memory through transformers: carry object masks from frame
to frame.

Frames are streamed one at a time. At a keyframe the caller asks for masks of new boxes
(`segment_boxes`) and then restarts the memory from one mask per track (`reseed`); between
keyframes `propagate` returns each track's mask on the next frame. Restarting at every
keyframe keeps the session to one window of frames, so memory stays bounded on long video.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch

from distil.base_models.hf import describe_model, load_pretrained
from distil.settings import DEFAULT_SEGMENTER, TrackingSettings, default
from distil.utils.device import default_dtype, resolve_device

logger = logging.getLogger(__name__)


# Video memory models by checkpoint family; EdgeTAM keeps SAM 2's interface and processor.
VIDEO_MODELS = {
    "sam2": "Sam2VideoModel",
    "sam2_video": "Sam2VideoModel",
    "edgetam": "EdgeTamVideoModel",
    "edgetam_video": "EdgeTamVideoModel",
}


def open_session(
    processor: Any,
    device: torch.device,
    dtype: torch.dtype,
    offload_state: bool,
    height: int,
    width: int,
) -> Any:
    """A streaming video session (SAM 2, EdgeTAM or SAM 3) for frames `height` x `width`;
    with `offload_state` its memory and frames stay in CPU RAM."""
    state_device = "cpu" if offload_state else device
    session = processor.init_video_session(
        inference_device=device,
        inference_state_device=state_device,
        video_storage_device=state_device,
        dtype=dtype,
    )
    session.video_height, session.video_width = height, width
    return session


def cap_objects_per_pass(model: Any, limit: int) -> None:
    """Make `model` (a SAM 2 / EdgeTAM / SAM 3 tracker video model) encode the memories of
    at most `limit` objects per forward of its memory encoder, in place.

    transformers decodes each object's mask on its own, but encodes the new memories of all
    of a frame's objects in one batch, from their full-resolution masks: with hundreds of
    objects that one call holds gigabytes. Objects are independent there (one memory each),
    so passes of `limit` objects give the same memories."""
    encode = getattr(model, "_encode_new_memory", None)
    if encode is None:
        logger.warning(
            "--max-objects-per-pass: this transformers' %s encodes memories in a way distil "
            "does not know; every object of a frame goes in one pass",
            type(model).__name__,
        )
        return

    def encode_in_passes(
        current_vision_feats: torch.Tensor,
        pred_masks_high_res: torch.Tensor,
        object_score_logits: torch.Tensor,
        is_mask_from_pts: bool,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        count = pred_masks_high_res.shape[0]
        if count <= limit:
            return encode(
                current_vision_feats, pred_masks_high_res, object_score_logits, is_mask_from_pts
            )
        per_object_features = current_vision_feats.shape[1] == count  # else one, broadcast
        features, positions = [], []
        for start in range(0, count, limit):
            part = slice(start, start + limit)
            vision = current_vision_feats[:, part] if per_object_features else current_vision_feats
            feature, position = encode(
                vision, pred_masks_high_res[part], object_score_logits[part], is_mask_from_pts
            )
            features.append(feature)
            positions.append(position)
        return torch.cat(features, dim=1), torch.cat(positions, dim=1)  # (HW, objects, C)

    model._encode_new_memory = encode_in_passes


class Sam2VideoPropagator:
    """SAM 2 video memory (`facebook/sam2.1-hiera-tiny` by default), or EdgeTAM's.

    >>> propagator = Sam2VideoPropagator(device="cuda")  # doctest: +SKIP
    >>> propagator.start(height, width)  # doctest: +SKIP
    >>> propagator.add_frame(first_rgb); masks = propagator.segment_boxes(boxes)  # doctest: +SKIP
    >>> propagator.reseed({1: masks[0]})  # doctest: +SKIP
    >>> ids, masks, present = propagator.propagate(next_rgb)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str = DEFAULT_SEGMENTER,
        device: str = "auto",
        half: bool = True,
        revision: str | None = None,
        offload_state: bool = False,
        max_objects_per_pass: int = default(TrackingSettings, "max_objects_per_pass"),
    ) -> None:
        import transformers

        from distil.base_models.registry import family_of

        class_name = VIDEO_MODELS[family_of(model)]
        model_class = getattr(transformers, class_name)
        # The name in the store fingerprint (stores from before EdgeTAM say sam2_video).
        self.family = "edgetam_video" if class_name.startswith("EdgeTam") else "sam2_video"
        self.name = model
        self.device = resolve_device(device)
        self.dtype = default_dtype(self.device, half)
        self.offload_state = offload_state
        if self.device.type == "cpu" and self.family == "sam2_video":
            logger.warning(
                "tracking on CPU is slow: SAM 2.1-tiny took about 6 s per frame plus 3.6 s "
                "per tracked object on 2 cores; with more than about 4 objects per frame, "
                "labeling frames without --track is faster there, or track boxes "
                "(--tracker bytetrack) or with EdgeTAM (--tracker edgetam)"
            )
        self.model, self.processor, self.revision = load_pretrained(
            model_class, model, self.device, self.dtype, revision, transformers.Sam2VideoProcessor
        )
        self.max_objects_per_pass = max_objects_per_pass
        cap_objects_per_pass(self.model, max_objects_per_pass)
        self.session: Any = None
        self.position = -1
        self.size: tuple[int, int] = (0, 0)
        self.track_ids: list[int] = []

    def describe(self) -> dict[str, Any]:
        return describe_model(self.family, self.name, self.revision, self.dtype)

    def start(self, height: int, width: int) -> None:
        """Begin a new clip of frames `height` x `width`."""
        self.session = open_session(
            self.processor, self.device, self.dtype, self.offload_state, height, width
        )
        self.position = -1
        self.size = (height, width)
        self.track_ids = []

    def prepare(self, image: np.ndarray) -> torch.Tensor:
        """CPU preprocessing of one RGB frame (resize + normalise)."""
        return self.processor(images=image, return_tensors="pt").pixel_values[0]

    def add_frame(self, pixels: torch.Tensor) -> None:
        """Take the next frame without running the model (no live tracks to carry)."""
        self.position += 1
        self.session.add_new_frame(pixels, frame_idx=self.position)

    @torch.inference_mode()
    def propagate(self, pixels: torch.Tensor) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Take the next frame and carry every track onto it: (track ids, masks (n, H, W)
        bool, present (n,) bool: SAM 2's object score says the object is visible)."""
        if not self.track_ids:
            self.add_frame(pixels)
            return [], np.zeros((0, *self.size), dtype=bool), np.zeros(0, dtype=bool)
        self.position += 1
        out = self.model(inference_session=self.session, frame=pixels, frame_idx=self.position)
        present = (out.object_score_logits.float().reshape(-1) > 0).cpu().numpy()
        masks = self._masks(out.pred_masks) & present[:, None, None]
        return list(out.object_ids), masks, present

    @torch.inference_mode()
    def segment_boxes(self, boxes: np.ndarray) -> np.ndarray:
        """Masks (n, H, W) for xyxy `boxes` on the current frame, without tracking them."""
        if len(boxes) == 0:
            return np.zeros((0, *self.size), dtype=bool)
        self.session.reset_tracking_data()
        self.processor.add_inputs_to_inference_session(
            self.session,
            frame_idx=self.position,
            obj_ids=list(range(len(boxes))),
            input_boxes=[np.asarray(boxes, dtype=np.float32).tolist()],
            original_size=self.size,
        )
        out = self.model(
            inference_session=self.session, frame_idx=self.position, run_mem_encoder=False
        )
        self.session.reset_tracking_data()
        self.track_ids = []
        return self._masks(out.pred_masks)

    @torch.inference_mode()
    def reseed(self, masks: dict[int, np.ndarray]) -> None:
        """Restart the memory on the current frame from one mask per track id; earlier
        frames are dropped from the session."""
        self.session.reset_tracking_data()
        kept = {t: m for t, m in masks.items() if m.any()}
        self.track_ids = list(kept)
        if kept:
            self.processor.add_inputs_to_inference_session(
                self.session,
                frame_idx=self.position,
                obj_ids=list(self.track_ids),  # transformers consumes this list
                input_masks=[torch.from_numpy(np.ascontiguousarray(m)) for m in kept.values()],
            )
            self.model(inference_session=self.session, frame_idx=self.position)
        frames = self.session.processed_frames or {}
        for index in [i for i in frames if i < self.position]:
            del frames[index]

    def _masks(self, logits: torch.Tensor) -> np.ndarray:
        """Each object's mask at the frame's size; upscaled `max_objects_per_pass` at a
        time (a float mask per object at full size is the costly part)."""
        masks = np.zeros((len(logits), *self.size), dtype=bool)
        for start in range(0, len(logits), self.max_objects_per_pass):
            part = logits[start : start + self.max_objects_per_pass]
            upscaled = self.processor.post_process_masks(
                [part.float()], original_sizes=[list(self.size)], binarize=True
            )[0]
            masks[start : start + len(part)] = upscaled[:, 0].cpu().numpy()
        return masks
