"""Students (Ultralytics YOLO; RF-DETR, D-FINE, RT-DETRv2 through transformers): train,
predict, export, latency. Names load on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["StudentTask", "TargetModel"],
        "export": ["ExportResult", "check_onnx", "export_student"],
        "latency": ["Latency", "onnx_latency"],
        "predict": ["PredictSummary", "predict_student"],
        "registry": ["student_for", "student_for_run", "student_for_weights"],
        "transformers_detr": ["DetrPredictor", "DetrStudent", "export_detr"],
        "ultralytics_yolo": [
            "TrainResult",
            "TrainStatus",
            "YoloStudent",
            "check_options",
            "resolve_student",
        ],
    },
)
