"""Export-time selection of stored detections: thresholds, classes, areas, then NMS."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import supervision as sv

from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.settings import DatasetSettings, default
from distil.utils.boxes import class_aware_nms
from distil.utils.suggest import did_you_mean

DEFAULT_NMS_IOU = default(DatasetSettings, "nms_iou")


def select_detections(
    detections: sv.Detections,
    ontology: Ontology,
    nms_iou: float = DEFAULT_NMS_IOU,
    class_ids: Collection[int] | None = None,
) -> sv.Detections:
    """Keep what passes the per-class box and text thresholds, the class filter and the
    per-class min/max area (mask area when there is a mask), then run class-aware NMS so
    that synonyms finding one object leave one box.

    Thresholds come first, as in Ultralytics, so NMS results match a teacher run at the
    export threshold.
    """
    if len(detections) == 0:
        return detections
    return detections[select_indices(detections, ontology, nms_iou, class_ids)]


def select_indices(
    detections: sv.Detections,
    ontology: Ontology,
    nms_iou: float = DEFAULT_NMS_IOU,
    class_ids: Collection[int] | None = None,
) -> np.ndarray:
    """Which of `detections` `select_detections` keeps, in stored order."""
    if len(detections) == 0:
        return np.zeros(0, dtype=np.int64)
    class_id = detections.class_id
    limits = ontology.limits
    keep = (detections.confidence >= limits.box_threshold[class_id]) & (
        detections.data["text_score"] >= limits.text_threshold[class_id]
    )
    if class_ids is not None:
        keep &= np.isin(class_id, list(class_ids))
    if detections.mask is not None:
        areas = detections.mask.reshape(len(detections), -1).sum(axis=1).astype(np.float64)
    else:
        areas = detections.box_area
    keep &= (areas >= limits.min_area[class_id]) & (areas <= limits.max_area[class_id])
    index = np.flatnonzero(keep)
    kept = class_aware_nms(
        detections.xyxy[index], detections.confidence[index], class_id[index], nms_iou
    )
    # NMS returns highest score first; keep the stored order for stable label files.
    return index[np.sort(kept)]


def class_ids(ontology: Ontology, names: list[str] | None) -> set[int] | None:
    """The ids of the classes `names` (a `--classes` value); None for all. An unknown name
    is a ValueError listing the classes."""
    if not names:
        return None
    known = ontology.class_names
    for name in names:
        if name not in known:
            raise UsageError(
                f"--classes: unknown class '{name}'.{did_you_mean(name, known)} "
                f"Classes: {', '.join(known)}"
            )
    return {known.index(n) for n in names}
