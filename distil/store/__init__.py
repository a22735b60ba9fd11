"""The label store: schema and migrations, codec, the store itself (its review tables
and merging in their own modules), its errors and its background writer.

Names are imported on first use, so `import distil.store` costs nothing.
"""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "errors": ["StoreError"],
        "merge": ["merge_stores"],
        "review": ["HumanLabels", "ReviewRound"],
        "schema": ["SCHEMA_VERSION", "SchemaError"],
        "store": [
            "STORE_FILE",
            "LabelStore",
            "StoreBatch",
            "StoredFrame",
            "VideoProgress",
            "check_store_folder",
            "require_store",
            "fingerprint_of",
        ],
        "writer": ["StoreWriter"],
    },
)
