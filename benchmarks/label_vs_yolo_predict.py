"""Whole-process wall time: `distil label` (boxes only) vs Ultralytics' own
`yolo predict ... save_txt=True`, with the real YOLO11n teacher on the same 128 COCO images,
as paired runs (one of each, alternating); prints the medians and their ratio as JSON.

    python benchmarks/label_vs_yolo_predict.py --runs 3
    python benchmarks/label_vs_yolo_predict.py --runs 3 --busy 2   # two busy-loop processes
    python benchmarks/label_vs_yolo_predict.py --threads 2          # distil --threads 2

`--busy N` starts N processes that spin on the CPU for the whole measurement, as other jobs
on a shared CI runner do; `--threads` passes distil's --threads (default: its own sizing,
the batch split across the cores, one torch thread each).

Both start from nothing (a new process, a new output folder). distil keeps its square
letterbox (its labels do not depend on the batch); `yolo predict` uses its rectangular one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SHARED = Path(__file__).resolve().parents[2] / "shared"
IMAGES = SHARED / "data/coco128-train/images"
WEIGHTS = SHARED / "weights/yolo11n-coco.pt"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--busy", type=int, default=0, help="busy-loop processes beside")
    parser.add_argument("--threads", type=int, default=None, help="distil --threads")
    args = parser.parse_args()
    spin = [sys.executable, "-c", "while True: pass"]
    busy = [subprocess.Popen(spin) for _ in range(args.busy)]
    try:
        result = measure(args)
    finally:
        for process in busy:
            process.kill()
            process.wait()
    print(json.dumps(result, indent=2))


def measure(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="distil-vs-yolo-"))
    names = yaml.safe_load((IMAGES.parent / "data.yaml").read_text())["names"]
    names = list(names.values()) if isinstance(names, dict) else names
    ontology = work / "coco80.yaml"
    ontology.write_text(yaml.safe_dump({"classes": {n: n for n in names}}))
    distil_s, yolo_s = [], []
    for run in range(args.runs):
        out = work / f"distil{run}"
        distil_s.append(
            timed(
                [sys.executable, "-m", "distil", "label", str(IMAGES), "-O", str(ontology),
                 "--detector", str(WEIGHTS), "--segmenter", "none", "--device", args.device,
                 "--out", str(out), "-q",
                 *(["--threads", str(args.threads)] if args.threads else [])]
            )
        )  # fmt: skip
        yolo = shutil.which("yolo") or "yolo"
        yolo_s.append(
            timed(
                [yolo, "predict", f"model={WEIGHTS}", f"source={IMAGES}", "save_txt=True",
                 f"device={args.device}", f"project={work}", f"name=yolo{run}", "verbose=False"]
            )
        )  # fmt: skip
    result = {
        "images": len(list(IMAGES.glob("*.jpg"))),
        "runs": args.runs,
        "busy_processes": args.busy,
        "distil_threads": args.threads or "auto",
        "distil_label_s": [round(s, 2) for s in distil_s],
        "yolo_predict_s": [round(s, 2) for s in yolo_s],
        "distil_median_s": round(statistics.median(distil_s), 2),
        "yolo_median_s": round(statistics.median(yolo_s), 2),
        "ratio": round(statistics.median(distil_s) / statistics.median(yolo_s), 3),
    }
    shutil.rmtree(work)
    return result


if __name__ == "__main__":
    main()
