"""Labelers: the batch labeler for images and frames, its engines (worker processes per
device, Ray Data) and the video tracker.

Names are imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["LabelSummary", "label_images", "label_provenance"],
        "engine": ["label"],
        "teacher": ["Teacher", "check_teacher", "load_teacher", "model_warnings"],
        "workers": ["WorkerError", "label_on_devices"],
        "tracking": ["TrackedVideo", "VideoTracker"],
        "tracks": ["TrackBook"],
    },
)
