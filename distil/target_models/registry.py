"""Which student class trains a `train.model`, runs a weights file, or resumes a run.

Built-in students and third-party ones are found the same way, through the
`distil.target_models` entry points; third-party ones are asked first, and Ultralytics
YOLO (which takes any other name) last::

    [project.entry-points."distil.target_models"]
    my_detector = "my_package.student:MyStudent"
"""

from __future__ import annotations

import functools
import logging
from importlib.metadata import entry_points
from pathlib import Path

from distil.target_models.core import TargetModel

logger = logging.getLogger(__name__)

GROUP = "distil.target_models"
BUILT_IN = {
    "transformers": "distil.target_models.transformers_detr:DetrStudent",
    "ultralytics": "distil.target_models.ultralytics_yolo:YoloStudent",
}


@functools.cache
def student_classes() -> tuple[type[TargetModel], ...]:
    """Third-party students first (in name order), then transformers, then Ultralytics."""
    import importlib

    found = {ep.name: ep.value for ep in entry_points(group=GROUP)}
    third_party = sorted((n, v) for n, v in found.items() if v not in BUILT_IN.values())
    classes = []
    for name, target in [*third_party, *BUILT_IN.items()]:
        module, _, attribute = target.partition(":")
        try:
            student = getattr(importlib.import_module(module), attribute)
        except (ImportError, AttributeError) as e:
            logger.warning("student %s (%s) cannot be loaded: %s", name, target, e)
            continue
        classes.append(student)
    return tuple(classes)


def student_for(model: str) -> TargetModel:
    """The student that trains `model` (a name, hub id, folder or .pt)."""
    return next(c for c in student_classes() if c.accepts(model))()


def student_for_weights(weights: Path) -> TargetModel:
    """The student that runs and exports `weights`, loaded with them."""
    return next(c for c in student_classes() if c.accepts_weights(Path(weights)))(weights)


def student_for_run(run_dir: Path) -> TargetModel:
    """The student that resumes the training run in `run_dir`."""
    return next(c for c in student_classes() if c.accepts_run(Path(run_dir)))()
