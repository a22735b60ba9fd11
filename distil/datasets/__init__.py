"""Datasets: export from the store, splits, the card, and the formats (read and write).

Names are imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submodules=["formats"],
    submod_attrs={
        "card": ["CARD_FILE", "DatasetCard"],
        "export": ["ExportSummary", "export_dataset"],
        "filters": ["DEFAULT_NMS_IOU", "select_detections"],
        "formats.coco": ["read_coco"],
        "formats.mot": ["read_mot", "write_mot"],
        "formats.yolo": ["read_yolo"],
        "labeled": ["LabeledImage", "LabeledSet"],
        "naming": ["dataset_path"],
        "polygons": ["PolygonResult", "PolygonStats", "join_parts", "mask_to_polygon"],
        "readers": ["read_dataset"],
        "split": ["assign_splits"],
    },
)
