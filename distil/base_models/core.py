"""Teacher interfaces: a detector finds classed boxes, a segmenter adds masks, a base model
chains them (`distil.labeling.label_images` runs any of them over folders).

Every teacher returns `supervision.Detections` with `xyxy`, `confidence`, `class_id` and two
data fields: `prompt_id` (which ontology prompt matched) and `text_score` (how well the whole
prompt matched; equal to `confidence` for models without token-level scores).
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from distil.detections import empty_detections
from distil.utils.profiling import profile

if TYPE_CHECKING:
    from distil.ontologies import Ontology

logger = logging.getLogger(__name__)

# A detector's candidates scored from FAINT_FLOOR up to FAINT_CEILING are counted per image
# (`metadata["faint"]`) though most are not stored: many of them mark a cluttered image
# whose objects the teacher barely sees, the label errors no stored box points at
# (review ranking, benchmarks/review_gain.py).
FAINT_FLOOR = 0.02
FAINT_CEILING = 0.1
DEFAULT_INPUT_SIZE = 800  # a detector whose image processor says no size


def make_detections(
    xyxy: np.ndarray,
    confidence: np.ndarray,
    prompt_id: np.ndarray,
    text_score: np.ndarray,
    ontology: Ontology,
) -> sv.Detections:
    """Build Detections whose class ids come from the ontology's prompt -> class mapping."""
    if len(xyxy) == 0:
        return empty_detections()
    prompt_class = np.asarray(ontology.prompt_class_ids, dtype=np.int64)
    prompt_id = np.asarray(prompt_id, dtype=np.int64)
    return sv.Detections(
        xyxy=np.asarray(xyxy, dtype=np.float32).reshape(-1, 4),
        confidence=np.asarray(confidence, dtype=np.float32),
        class_id=prompt_class[prompt_id],
        data={"prompt_id": prompt_id, "text_score": np.asarray(text_score, dtype=np.float32)},
    )


def assign_queries(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes x queries) probabilities -> (best query per box, its probability)."""
    best = probs.argmax(axis=1)
    return best, probs[np.arange(len(probs)), best]


def query_detections(
    probs: np.ndarray,
    cxcywh: np.ndarray,
    scale: tuple[float, float],
    size: tuple[int, int],
    min_confidence: float,
    ontology: Ontology,
) -> sv.Detections:
    """One image of a detector that scores every box query against every prompt: each box
    goes to its best prompt, kept from `min_confidence`; its normalized center box is
    scaled by `scale` (w, h) and clipped to the image `size` (w, h)."""
    prompt_id, confidence = assign_queries(probs)
    keep = confidence >= min_confidence
    xyxy = sv.xcycwh_to_xyxy(cxcywh[keep]) * np.array([*scale, *scale], dtype=np.float32)
    return make_detections(
        sv.clip_boxes(xyxy, size), confidence[keep], prompt_id[keep], confidence[keep], ontology
    )


def makes_masks(detector: Detector) -> bool:
    return bool(getattr(detector, "masks", False))


def detect_counting_faint(
    detector: Detector,
    images: list[np.ndarray],
    ontology: Ontology,
    min_confidence: float,
    prepared: Any = None,
) -> tuple[list[sv.Detections], list[int | None]]:
    """The detector's boxes from `min_confidence`, and per image how many of its candidates
    are faint. A detector that makes its own masks counts none (None): masks for its faint
    candidates would cost more than the count is worth."""
    if makes_masks(detector):
        return detector.detect(images, ontology, min_confidence, prepared), [None] * len(images)
    found = detector.detect(images, ontology, min(min_confidence, FAINT_FLOOR), prepared)
    faint = [
        int(((d.confidence >= FAINT_FLOOR) & (d.confidence < FAINT_CEILING)).sum()) for d in found
    ]
    return [d[d.confidence >= min_confidence] for d in found], faint


def with_faint(detections: list[sv.Detections], faint: list[int | None]) -> list[sv.Detections]:
    """`detections` carrying their image's faint count (stored with the boxes)."""
    for image, count in zip(detections, faint, strict=True):
        if count is not None:
            image.metadata["faint"] = count
    return detections


class Detector(ABC):
    """Turns a batch of RGB images plus an ontology into boxes with class ids."""

    family: str = ""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """What identifies this model's output: family, model id, revision, settings."""

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        """CPU preprocessing, run in the background reader while the model computes."""
        return None

    def compile(self) -> None:
        """`torch.compile` the heavy modules in place (the first batches compile them)."""
        logger.warning("--compile: the %s teacher has no modules to compile", self.family)

    def input_size(self) -> int:
        """The longest side, in pixels, that the detector resizes an image to (from its
        image processor's settings; `--tile auto` tiles images twice as large)."""
        processor = getattr(getattr(self, "processor", None), "image_processor", None)
        size = getattr(processor, "size", None)
        if hasattr(size, "get"):
            if size.get("longest_edge"):
                return int(size["longest_edge"])
            if size.get("height"):
                return int(max(size["height"], size.get("width") or 0))
            if size.get("shortest_edge"):
                return int(size["shortest_edge"])
        return DEFAULT_INPUT_SIZE

    @abstractmethod
    def detect(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        """One forward per batch for every prompt; boxes below `min_confidence` are dropped."""


class Segmenter(ABC):
    """Adds a mask to every box: one image encoding per image, all of its boxes in one call."""

    family: str = ""

    @abstractmethod
    def describe(self) -> dict[str, Any]: ...

    def prepare(self, images: list[np.ndarray]) -> Any:
        return None

    def compile(self) -> None:
        """`torch.compile` the heavy modules in place (the first batches compile them)."""
        logger.warning("--compile: the %s teacher has no modules to compile", self.family)

    @abstractmethod
    def segment(
        self, images: list[np.ndarray], detections: list[sv.Detections], prepared: Any = None
    ) -> list[sv.Detections]: ...


class BaseModel(ABC):
    """A teacher: implements `predict`."""

    segmenter: Segmenter | None = None  # what adds masks to its boxes, if anything

    @abstractmethod
    def describe(self) -> dict[str, Any]: ...

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        return None

    @abstractmethod
    def predict(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        """One batch: boxes (and masks) with class ids, down to `min_confidence`."""

    def boxes(
        self, images: list[np.ndarray], ontology: Ontology, min_confidence: float
    ) -> list[sv.Detections]:
        """Boxes for a video tracker, which segments them itself (or with `segment`)."""
        return self.predict(images, ontology, min_confidence)

    def input_size(self) -> int:
        """The longest side its detector resizes an image to."""
        return DEFAULT_INPUT_SIZE

    def segment(
        self, images: list[np.ndarray], detections: list[sv.Detections]
    ) -> list[sv.Detections]:
        """Masks for `boxes`' detections (tracked boxes), one call per batch; unchanged
        without a segmenter."""
        if self.segmenter is None:
            return detections
        return self.segmenter.segment(images, detections)


class GroundedModel(BaseModel):
    """A detector chained with an optional segmenter."""

    def __init__(self, detector: Detector, segmenter: Segmenter | None = None) -> None:
        self.detector = detector
        self.segmenter = segmenter

    def describe(self) -> dict[str, Any]:
        return {
            "detector": self.detector.describe(),
            "segmenter": self.segmenter.describe() if self.segmenter else None,
        }

    def compile(self) -> None:
        self.detector.compile()
        if self.segmenter is not None:
            self.segmenter.compile()

    def input_size(self) -> int:
        return self.detector.input_size()

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        return (
            self.detector.prepare(images, ontology),
            self.segmenter.prepare(images) if self.segmenter else None,
        )

    def boxes(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
    ) -> list[sv.Detections]:
        return self.detector.detect(images, ontology, min_confidence)

    def predict(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        detector_inputs, segmenter_inputs = prepared if prepared is not None else (None, None)
        with profile("detect"):
            detections, faint = detect_counting_faint(
                self.detector, images, ontology, min_confidence, detector_inputs
            )
        if self.segmenter is not None:
            with profile("segment"):
                detections = self.segmenter.segment(images, detections, segmenter_inputs)
        return with_faint(detections, faint)
