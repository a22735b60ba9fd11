from distil.datasets.export import (
    ExportFormat,
    ExportOptions,
    ExportSummary,
    ExportTask,
    ImageMode,
    export_dataset,
)
from distil.datasets.filters import DEFAULT_NMS_IOU, select_detections
from distil.datasets.mot import read_mot, write_mot
from distil.datasets.polygons import PolygonResult, join_parts, mask_to_polygon
from distil.datasets.split import SPLIT_NAMES, assign_splits, parse_split

__all__ = [
    "DEFAULT_NMS_IOU",
    "SPLIT_NAMES",
    "ExportFormat",
    "ExportOptions",
    "ExportSummary",
    "ExportTask",
    "ImageMode",
    "PolygonResult",
    "assign_splits",
    "export_dataset",
    "join_parts",
    "mask_to_polygon",
    "parse_split",
    "read_mot",
    "select_detections",
    "write_mot",
]
