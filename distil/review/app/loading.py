"""The review app's session with its segmenter: `--segmenter`, else the store's own."""

from __future__ import annotations

import logging
from pathlib import Path

from distil.errors import UsageError
from distil.settings import ReviewServeSettings
from distil.store import LabelStore
from distil.store.provenance import LabelProvenance

logger = logging.getLogger(__name__)


def check_app_installed() -> None:
    """The app's web stack is an extra: say how to install it, before anything else."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError(f"the review app needs {' and '.join(missing)}: pip install 'distil[app]'")


def open_session(label_dir: Path, settings: ReviewServeSettings):
    """Check the models' names, rank the queue, then load the models."""
    from distil.base_models.registry import (
        VIDEO_DETECTORS,
        family_of,
        load_detector,
        load_segmenter,
        resolve,
    )
    from distil.base_models.sam2_video import VIDEO_MODELS
    from distil.review.app.session import ReviewSession

    with LabelStore.open(label_dir) as store:
        provenance = store.provenance
    text = text_model_spec(provenance, settings)
    spec = segmenter_spec(provenance, settings)
    # SAM 3's full checkpoint holds its tracker, which answers clicks as SAM 2's would.
    tracker_too = text is not None and family_of(text) in VIDEO_DETECTORS
    if spec is None and settings.segmenter is None and tracker_too:
        spec = text
    if spec is not None:
        resolve(spec, "segmenter")  # a wrong name is said before the ranking's work
    session = ReviewSession(label_dir, settings)
    if spec is not None:
        segmenter = load_segmenter(spec, device=settings.device)
        if not hasattr(segmenter, "prompt"):
            raise UsageError(
                f"--segmenter {spec}: {type(segmenter).__name__} takes no clicks; use SAM, "
                "SAM 2.1, EdgeTAM or SAM 3 (or none)"
            )
        session.segmenter = segmenter
        if family_of(spec) in VIDEO_MODELS:  # its video memory propagates through videos
            session.video_model = spec
    if text is not None:
        session.text_model = load_detector(text, device=settings.device)
    return session


def segmenter_spec(provenance: LabelProvenance, settings: ReviewServeSettings) -> str | None:
    """The segmenter to answer clicks: `settings.segmenter` ('none': none), else the one
    the store was labeled with (None when it had none)."""
    if settings.segmenter is not None:
        return None if settings.segmenter.lower() == "none" else settings.segmenter
    stored = provenance.segmenter
    return stored.model if stored is not None else None


def text_model_spec(provenance: LabelProvenance, settings: ReviewServeSettings) -> str | None:
    """The SAM 3 model for typed phrases: `settings.text_model` ('none': none), else the
    store's teacher when it is SAM 3."""
    from distil.base_models.registry import SEGMENTING_DETECTORS, family_of

    if settings.text_model is not None:
        if settings.text_model.lower() == "none":
            return None
        if family_of(settings.text_model) not in SEGMENTING_DETECTORS:
            raise UsageError(f"--text-model {settings.text_model}: not a SAM 3 checkpoint")
        return settings.text_model
    detector = provenance.detector
    return detector.model if detector.family == "sam3" else None
