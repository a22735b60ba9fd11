"""Students side by side: seconds per epoch, ONNX Runtime latency, the candidates table and
what INT8 costs, on COCO128 auto-labels.

Labels ../shared/data/coco128-train with the YOLO11n teacher through distil, exports an
80/20 split, and runs `distil train`'s candidates comparison on it: YOLO11n from the
pretrained file in ../shared, YOLO26n and the RF-DETR Nano architecture with random
weights (no hub here; the timing does not depend on the weights). For each it reports
seconds per epoch (training plus the per-epoch validation), then ONNX Runtime latency at
the training size (from the table) and at 640; last the INT8 export of the YOLO11n
student (mAP change on the validation frames and speed-up). Prints JSON.

    python benchmarks/students.py --epochs 2 --imgsz 320
    python benchmarks/students.py --busy 2      # beside two busy-loop processes
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def rf_detr_nano(path: Path, names: list[str]) -> Path:
    """RF-DETR Nano's architecture (Roboflow's configuration) with random weights."""
    from transformers import RfDetrConfig, RfDetrForObjectDetection

    backbone = {
        "model_type": "rf_detr_dinov2", "hidden_size": 384, "num_hidden_layers": 12,
        "num_attention_heads": 6, "patch_size": 16, "num_windows": 2, "image_size": 384,
        "out_indices": [3, 6, 9, 12],
    }  # fmt: skip
    config = RfDetrConfig(
        backbone_config=backbone, d_model=256, decoder_layers=2, decoder_n_points=2,
        decoder_self_attention_heads=8, decoder_cross_attention_heads=16, num_queries=300,
        group_detr=13, id2label=dict(enumerate(names)),
        label2id={n: i for i, n in enumerate(names)},
    )  # fmt: skip
    RfDetrForObjectDetection(config).save_pretrained(path)
    return path


def auto_labeled(data: Path, teacher: Path, work: Path) -> tuple[Path, float]:
    import yaml

    from distil import Ontology
    from distil.base_models import GroundedModel
    from distil.base_models.ultralytics_yolo import UltralyticsDetector
    from distil.datasets import export_dataset
    from distil.labeling import label_images

    names = yaml.safe_load((data / "data.yaml").read_text())["names"]
    ontology = Ontology.from_dict({"classes": {n: n for n in names.values()}})
    start = time.perf_counter()
    label_images(data / "images", ontology, GroundedModel(UltralyticsDetector(str(teacher))),
                 work / "label", store_threshold=0.01)  # fmt: skip
    export_dataset(work / "label", work / "dataset", box_threshold=0.25, split=(0.8, 0.2, 0.0))
    return work / "dataset", time.perf_counter() - start


def measure(args: argparse.Namespace, work: Path) -> dict:
    import yaml

    from distil.evaluation.candidates import compare_candidates
    from distil.evaluation.quantization import int8_cost
    from distil.settings import TrainSettings
    from distil.target_models import export_student, onnx_latency

    dataset, label_s = auto_labeled(args.data, args.teacher, work)
    names = list(yaml.safe_load((dataset / "data.yaml").read_text())["names"].values())
    models = [str(args.teacher), "yolo26n", str(rf_detr_nano(work / "rf-detr-nano", names))]
    epochs: list[list[float]] = []

    def progress(status) -> None:
        if status.epoch_done:
            if status.epoch == 1:
                epochs.append([])
            epochs[-1].append(status.epoch_s)

    settings = TrainSettings(
        model=",".join(models), epochs=args.epochs, imgsz=args.imgsz, batch=args.batch,
        workers=2, device=args.device, patience=args.epochs,
    )  # fmt: skip
    table = compare_candidates(dataset, settings, work / "runs", "candidates", progress)
    students = {}
    for row, seconds in zip(table.rows, epochs, strict=True):
        name = {models[0]: "yolo11n (pretrained)", models[2]: "rf-detr-nano (random)"}.get(
            row.model, f"{row.model} (random)"
        )
        latency = {args.imgsz: {"p50_ms": row.latency_p50_ms, "p90_ms": row.latency_p90_ms}}
        for size in args.latency_sizes:
            if size != args.imgsz:
                exported = export_student(Path(row.best), "onnx", size)
                timed = onnx_latency(Path(exported.path), size, runs=args.runs)
                latency[size] = {"p50_ms": timed.p50_ms, "p90_ms": timed.p90_ms}
        students[name] = {
            "s_per_epoch": seconds, "map50_95": row.map50_95, "map50": row.map50,
            "onnx_latency_ms": latency, "parameters": row.parameters, "file_mb": row.file_mb,
            "licence": row.licence, "error": row.error,
        }  # fmt: skip
    int8 = int8_cost(
        export_student(Path(table.rows[0].best), "onnx", args.imgsz, int8=True),
        latency_runs=args.runs,
    ).int8
    return {
        "images": 128, "label_s": round(label_s, 1), "imgsz": args.imgsz,
        "epochs": args.epochs, "batch": args.batch, "busy_processes": args.busy,
        "students": students, "chosen_by_map50_95": table.chosen, "int8_yolo11n": int8,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED / "data/coco128-train")
    parser.add_argument("--teacher", type=Path, default=SHARED / "weights/yolo11n-coco.pt")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--latency-sizes", type=int, nargs="+", default=[320, 640])
    parser.add_argument("--runs", type=int, default=30, help="timed ONNX runs per size")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--busy", type=int, default=0, help="busy-loop processes beside")
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="distil-students-"))
    shutil.rmtree(work, ignore_errors=True)
    spin = [sys.executable, "-c", "while True: pass"]
    busy = [subprocess.Popen(spin) for _ in range(args.busy)]
    try:
        result = measure(args, work)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
