from distil.labeling.core import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_STORE_THRESHOLD,
    LabelSummary,
    label_images,
    store_settings,
)
from distil.labeling.store import STORE_FILE, LabelStore, SourceRecord, StoredImage, StoreError

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_STORE_THRESHOLD",
    "STORE_FILE",
    "LabelStore",
    "LabelSummary",
    "StoreError",
    "SourceRecord",
    "StoredImage",
    "label_images",
    "store_settings",
]
