"""What made a store's labels, typed: the teacher's models, the prompts, the stored
threshold, per-class teachers and tracking. The store's fingerprint is taken over it, so
a store labeled by other models or prompts is never mixed with this one.

>>> made = LabelProvenance.model_validate({
...     "detector": {"family": "owlv2", "model": "google/owlv2-base"}, "segmenter": None,
...     "prompts": [["car", ["car"]]], "store_threshold": 0.1})
>>> made.teacher_of("car").model, made.has_masks
('google/owlv2-base', False)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class ModelRecord(BaseModel):
    """One model as a store records it (what its `describe()` gave: family, checkpoint,
    revision, dtype, ...)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    family: str = ""
    model: str = ""
    revision: str | None = None
    masks: bool = False  # a detector that makes its own masks (SAM 3) keeps them


class LabelProvenance(BaseModel):
    """The teacher and settings behind a store's labels."""

    model_config = ConfigDict(extra="allow", frozen=True)

    # Defaults only for stores written by hand or by tools that recorded less; a label
    # run records all of them.
    detector: ModelRecord = ModelRecord()
    segmenter: ModelRecord | None = None
    prompts: list[tuple[str, list[str]]] = []
    store_threshold: float = 0.0
    routes: dict[str, ModelRecord] | None = None  # class name -> its own detector
    tracking: dict[str, Any] | None = None  # the video tracker, when videos were tracked
    tiling: dict[str, Any] | None = None  # --tile: tile size, overlap and merge settings

    def record(self) -> dict[str, Any]:
        """The dict the store keeps and fingerprints: only what was given, so a store
        written before a field existed keeps its fingerprint."""
        return self.model_dump(exclude_unset=True, mode="json")

    def teacher_of(self, class_name: str) -> ModelRecord:
        """The detector that labeled `class_name`: its own, or the store's."""
        return (self.routes or {}).get(class_name, self.detector)

    @property
    def has_masks(self) -> bool:
        """Whether the labels hold masks: a segmenter, a mask tracker (SAM 2, SAM 3; a box
        tracker adds none), or a detector's own."""
        detectors = [self.detector, *(self.routes or {}).values()]
        mask_tracker = self.tracking is not None and "box_tracker" not in self.tracking
        return bool(self.segmenter or mask_tracker or any(d.masks for d in detectors))

    @property
    def class_names(self) -> list[str]:
        return [name for name, _ in self.prompts]


def changed_keys(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys of two stores' settings that differ (to say why they are not one job).

    >>> changed_keys({"prompts": 1, "detector": 2}, {"prompts": 3, "detector": 2})
    ['prompts']
    """
    keys = sorted(set(old) | set(new))
    changed = [k for k in keys if old.get(k) != new.get(k)]
    return changed or ["settings"]
