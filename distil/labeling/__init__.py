"""Labelers: the batch labeler for images and frames, and the video tracker.

Names are imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["LabelSummary", "label_images", "store_settings"],
        "teacher": ["Teacher", "load_teacher"],
        "tracking": ["TrackedVideo", "VideoTracker"],
        "tracks": ["TrackBook"],
    },
)
