"""Dataset formats, one module each with read and write: YOLO, COCO, MOT, Pascal VOC."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "coco": ["CocoBuilder", "load_coco", "read_coco"],
        "mot": ["mot_rows", "read_mot", "write_mot"],
        "voc": ["VocAnnotation", "read_voc", "read_voc_text", "voc_xml", "write_voc"],
        "yolo": [
            "DATA_YAML",
            "label_file_for",
            "read_yolo",
            "read_yolo_labels",
            "write_data_yaml",
            "yolo_box_lines",
            "yolo_polygon_lines",
        ],
    },
)
