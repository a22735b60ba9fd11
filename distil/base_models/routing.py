"""Per-class teacher routing: each detector labels the classes the ontology gives it.

An ontology class may name its `teacher` (COCO classes from a local YOLO checkpoint, the
rest from Grounding DINO or SAM 3). Each detector is loaded once and sees only its own
classes' prompts; its class and prompt ids are mapped back to the whole ontology and the
detections of every detector are merged per image. The segmenter adds masks to the boxes of
detectors that make none (a SAM 3 route keeps its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import supervision as sv

from distil.base_models.core import (
    BaseModel,
    Detector,
    Segmenter,
    detect_counting_faint,
    makes_masks,
    with_faint,
)
from distil.detections import empty_detections
from distil.utils.profiling import profile

if TYPE_CHECKING:
    from distil.ontologies import Ontology


@dataclass(frozen=True)
class Route:
    """One detector and the classes it labels.

    `class_ids` and `prompt_ids` give each of `ontology`'s classes and prompts its id in
    the whole ontology."""

    spec: str
    detector: Detector
    ontology: Ontology
    class_ids: np.ndarray
    prompt_ids: np.ndarray

    @classmethod
    def of(cls, spec: str, detector: Detector, ontology: Ontology, class_ids: tuple[int, ...]):
        """The route of `detector` over the classes `class_ids` of `ontology`."""
        owners = ontology.prompt_class_ids
        # In the subset's order: class by class, each class's prompts in order.
        prompt_ids = [p for c in class_ids for p, owner in enumerate(owners) if owner == c]
        return cls(
            spec,
            detector,
            ontology.subset(class_ids),
            np.asarray(class_ids, dtype=np.int64),
            np.asarray(prompt_ids, dtype=np.int64),
        )

    def to_whole(self, detections: sv.Detections) -> sv.Detections:
        """The route's class and prompt ids as the whole ontology's (in place)."""
        if len(detections):
            detections.class_id = self.class_ids[detections.class_id]
            detections.data["prompt_id"] = self.prompt_ids[detections.data["prompt_id"]]
        return detections


class RoutedModel(BaseModel):
    """Several detectors, one per group of classes, merged; one optional segmenter."""

    def __init__(self, routes: list[Route], segmenter: Segmenter | None = None) -> None:
        self.routes = routes
        self.segmenter = segmenter

    def describe(self) -> dict[str, Any]:
        return {
            # The run's --detector when it labels any class.
            "detector": self.routes[0].detector.describe(),
            "segmenter": self.segmenter.describe() if self.segmenter else None,
            "routes": {
                c.name: route.detector.describe()
                for route in self.routes
                for c in route.ontology.classes
            },
        }

    def input_size(self) -> int:
        """The smallest of its detectors' (the one that needs tiles first)."""
        return min(route.detector.input_size() for route in self.routes)

    def compile(self) -> None:
        for route in self.routes:
            route.detector.compile()
        if self.segmenter is not None:
            self.segmenter.compile()

    def prepare(self, images: list[np.ndarray], ontology: Ontology) -> Any:
        return (
            [route.detector.prepare(images, route.ontology) for route in self.routes],
            self.segmenter.prepare(images) if self.segmenter else None,
        )

    def _detect(
        self, images: list[np.ndarray], min_confidence: float, inputs: list[Any]
    ) -> tuple[list[list[sv.Detections]], list[int | None]]:
        """Per route, per image: its detections in the whole ontology's ids; and per image
        its faint candidates summed over the routes that count them (None: none does)."""
        by_route, faint_by_route = [], []
        for route, prepared in zip(self.routes, inputs, strict=True):
            found, faint = detect_counting_faint(
                route.detector, images, route.ontology, min_confidence, prepared
            )
            by_route.append([route.to_whole(d) for d in found])
            faint_by_route.append(faint)
        faint = [
            None if all(n is None for n in counts) else sum(n or 0 for n in counts)
            for counts in zip(*faint_by_route, strict=True)
        ]
        return by_route, faint

    def boxes(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
    ) -> list[sv.Detections]:
        by_route, _ = self._detect(images, min_confidence, [None] * len(self.routes))
        return [merge(list(parts)) for parts in zip(*by_route, strict=True)]

    def predict(
        self,
        images: list[np.ndarray],
        ontology: Ontology,
        min_confidence: float,
        prepared: Any = None,
    ) -> list[sv.Detections]:
        if prepared is None:
            prepared = self.prepare(images, ontology)
        detector_inputs, segmenter_inputs = prepared
        with profile("detect"):
            by_route, faint = self._detect(images, min_confidence, detector_inputs)
        masked = [makes_masks(route.detector) for route in self.routes]
        per_image = [list(parts) for parts in zip(*by_route, strict=True)]
        if self.segmenter is not None:
            # The boxes of every detector without masks, segmented in one call per batch.
            boxes = [
                merge([d for d, own in zip(parts, masked, strict=True) if not own])
                for parts in per_image
            ]
            with profile("segment"):
                boxes = self.segmenter.segment(images, boxes, segmenter_inputs)
            per_image = [
                [segmented] + [d for d, own in zip(parts, masked, strict=True) if own]
                for segmented, parts in zip(boxes, per_image, strict=True)
            ]
        return with_faint([merge(parts) for parts in per_image], faint)


def merge(parts: list[sv.Detections]) -> sv.Detections:
    """One image's detections from several detectors as one (empty ones add nothing)."""
    found = [d for d in parts if len(d)]
    if len(found) > 1:
        return sv.Detections.merge(found)
    return found[0] if found else (parts[0] if parts else empty_detections())
