"""Dataset formats, one module each with read and write: YOLO, COCO, Pascal VOC, MOT, and
the labeling tools' Label Studio and CVAT."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "coco": ["CocoBuilder", "load_coco", "read_coco", "read_coco_file", "write_coco_file"],
        "cvat": ["cvat_xml", "decode_cvat_mask", "encode_cvat_mask", "read_cvat", "write_cvat"],
        "label_studio": [
            "decode_brush",
            "encode_brush",
            "label_studio_tasks",
            "labeling_config",
            "local_files_url",
            "read_label_studio",
            "write_label_studio",
        ],
        "mot": ["mot_rows", "read_mot", "write_mot"],
        "voc": [
            "VocAnnotation",
            "read_voc",
            "read_voc_folder",
            "read_voc_text",
            "voc_xml",
            "write_voc",
            "write_voc_folder",
        ],
        "yolo": [
            "DATA_YAML",
            "label_file_for",
            "read_yolo",
            "read_yolo_folder",
            "read_yolo_labels",
            "write_data_yaml",
            "write_yolo_folder",
            "yolo_box_lines",
            "yolo_polygon_lines",
        ],
    },
)
