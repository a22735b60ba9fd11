"""The label store: schema and migrations, codec, the store itself and its
background writer.

Names are imported on first use, so `import distil.store` costs nothing.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "schema": ["SCHEMA_VERSION", "SchemaError"],
        "store": [
            "STORE_FILE",
            "HumanLabels",
            "LabelStore",
            "ReviewRound",
            "StoreBatch",
            "StoreError",
            "StoredFrame",
            "VideoProgress",
            "check_store_folder",
            "require_store",
            "fingerprint_of",
            "merge_stores",
        ],
        "writer": ["StoreWriter"],
    },
)
