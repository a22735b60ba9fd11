"""SAM 3's video model through transformers: text prompts in, tracked instance masks out.

One session per video holds every ontology prompt. Each streamed frame runs SAM 3's
detector for every prompt on shared vision features, and its tracker carries what was
found; objects keep their ids from frame to frame. After each frame, state that the model
can no longer read is dropped, so memory stays bounded on long videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from distil.base_models.hf import describe_model, load_pretrained
from distil.base_models.sam2_video import cap_objects_per_pass, open_session
from distil.settings import TrackingSettings, default
from distil.utils.device import default_dtype, resolve_device


@dataclass
class VideoObjects:
    """SAM 3's objects on one frame: session object ids, ontology prompt indices,
    detection scores and masks (n, H, W) bool; `alive` lists every object the session
    still tracks, shown on this frame or not."""

    ids: list[int]
    prompt_ids: np.ndarray
    scores: np.ndarray
    masks: np.ndarray
    alive: set[int]


class Sam3Video:
    """SAM 3 as a whole video tracker (`facebook/sam3`, or a local `sam3_video` folder).

    >>> video = Sam3Video("facebook/sam3", device="cuda")  # doctest: +SKIP
    >>> video.start(height, width, ["forklift", "person in hi-vis vest"])  # doctest: +SKIP
    >>> objects = video.step(video.prepare(first_rgb))  # doctest: +SKIP
    """

    family = "sam3_video"

    def __init__(
        self,
        model: str,
        device: str = "auto",
        half: bool = True,
        revision: str | None = None,
        offload_state: bool = False,
        max_objects_per_pass: int = default(TrackingSettings, "max_objects_per_pass"),
    ) -> None:
        from transformers import Sam3VideoModel, Sam3VideoProcessor

        self.name = model
        self.device = resolve_device(device)
        self.dtype = default_dtype(self.device, half)
        self.offload_state = offload_state
        self.model, self.processor, self.revision = load_pretrained(
            Sam3VideoModel, model, self.device, self.dtype, revision, Sam3VideoProcessor
        )
        cap_objects_per_pass(self.model.tracker_model, max_objects_per_pass)
        tracker = self.model.config.tracker_config
        # Frames back that the tracker reads: mask memories and object pointers.
        self.memory_frames = max(tracker.num_maskmem, tracker.max_object_pointers_in_encoder)
        self.max_cond_frames = tracker.max_cond_frame_num
        self.session: Any = None
        self.prompt_index: dict[str, int] = {}
        self.size: tuple[int, int] = (0, 0)
        self.position = -1

    def describe(self) -> dict[str, Any]:
        return describe_model(self.family, self.name, self.revision, self.dtype)

    def start(self, height: int, width: int, prompts: list[str]) -> None:
        """Begin a new video of frames `height` x `width`, looking for `prompts`."""
        self.session = open_session(
            self.processor, self.device, self.dtype, self.offload_state, height, width
        )
        self.processor.add_text_prompt(self.session, list(dict.fromkeys(prompts)))
        # The session keeps one id per distinct text; the first ontology prompt with it wins.
        self.prompt_index = {}
        for index, prompt in enumerate(prompts):
            self.prompt_index.setdefault(prompt, index)
        self.size = (height, width)
        self.position = -1

    def prepare(self, image: np.ndarray) -> torch.Tensor:
        """CPU preprocessing of one RGB frame (resize + normalise)."""
        return self.processor(images=image, return_tensors="pt").pixel_values[0]

    @torch.inference_mode()
    def step(self, pixels: torch.Tensor) -> VideoObjects:
        """Detect and track on the next frame."""
        self.position += 1
        session = self.session
        out = self.model(inference_session=session, frame=pixels, frame_idx=self.position)
        result = self.processor.postprocess_outputs(session, out, original_sizes=[self.size])
        ids = result["object_ids"].tolist()
        prompts = [session.prompts[session.obj_id_to_prompt_id[i]] for i in ids]
        objects = VideoObjects(
            ids=ids,
            prompt_ids=np.array([self.prompt_index[p] for p in prompts], dtype=np.int64),
            scores=result["scores"].float().cpu().numpy().astype(np.float32),
            masks=result["masks"].cpu().numpy().astype(bool),
            alive=set(session.obj_ids),
        )
        self._forget(self.position)
        return objects

    def _forget(self, frame: int) -> None:
        """Drop what the next frames cannot read: the previous frame's pixels, per-frame
        records and memories older than the tracker's window, and conditioning frames
        beyond the newest `max_cond_frame_num` (the ones SAM 2's memory selection picks;
        transformers would also read their object pointers, SAM 2's own code does not)."""
        session = self.session
        oldest = frame - self.memory_frames
        # Pixels go, keys stay: transformers counts the frames seen by this dict's length.
        if frame > 0:
            session.processed_frames[frame - 1] = None
        for per_frame in (session.obj_id_to_tracker_score_frame_wise, session.suppressed_obj_ids):
            for index in [i for i in per_frame if i < oldest]:
                del per_frame[index]
        for outputs in session.output_dict_per_obj.values():
            recent = outputs["non_cond_frame_outputs"]
            for index in [i for i in recent if i < oldest]:
                del recent[index]
            conditioning = outputs["cond_frame_outputs"]
            if self.max_cond_frames > 0:
                kept = sorted(conditioning)[-self.max_cond_frames :]
                for index in [i for i in conditioning if i not in kept and i < oldest]:
                    del conditioning[index]
