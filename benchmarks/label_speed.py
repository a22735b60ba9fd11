"""Labeling speed and memory: distil's pipeline vs the teacher's forward passes alone
(`--bare`), and vs a naive loop (one detector call per prompt, one segmenter call per box,
as autodistill does), on the same images.

    python benchmarks/label_speed.py --teacher tiny --images 100 --bare
    python benchmarks/label_speed.py --teacher yolo --images 128 --bare  # real YOLO11n
    python benchmarks/label_speed.py --teacher tiny --images 10000 --skip-naive  # RSS check
    python benchmarks/label_speed.py --teacher yolo --engine ray --skip-naive
    python benchmarks/label_speed.py --teacher yolo --devices cpu,cpu --skip-naive

`--bare` decodes and preprocesses every batch first, then times `predict` alone on them;
`pipeline_vs_bare` is the pipeline's images/s divided by that. Prints one JSON object.
Peak RSS is read from the OS (ru_maxrss) for this process (not Ray's or the workers').
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_images(folder: Path, count: int) -> None:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
        Image.fromarray(image).save(folder / f"{i:05d}.jpg", quality=85)


def naive_loop(images: list[Path], ontology, model) -> float:
    """One detector call per prompt per image, one segmenter call per box."""
    from distil.sources import load_frame

    start = time.perf_counter()
    for path in images:
        image = load_frame(path).image
        for prompt in ontology.prompts:
            single = type(ontology).from_dict({"classes": {prompt: prompt}})
            found = model.detector.detect([image], single, 0.1)[0]
            if model.segmenter is None:
                continue
            for box in range(len(found)):
                model.segmenter.segment([image], [found[box : box + 1]])
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--teacher", choices=["tiny", "yolo"], default="tiny")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--naive-images", type=int, default=20)
    parser.add_argument("--skip-naive", action="store_true")
    parser.add_argument("--bare", action="store_true", help="also time forward passes alone")
    parser.add_argument("--engine", choices=["local", "ray"], default="local")
    parser.add_argument("--devices", help="several devices: cpu,cpu or 0,1")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from distil.base_models import load_base_model
    from distil.labeling import label
    from distil.ontologies import Ontology
    from distil.settings import LabelSettings

    work = Path(tempfile.mkdtemp(prefix="distil-bench-"))
    if args.teacher == "yolo":
        import yaml

        source = SHARED / "data/coco128-train/images"
        images = sorted(source.glob("*.jpg"))[: args.images]
        names = yaml.safe_load((source.parent / "data.yaml").read_text())["names"]
        names = list(names.values()) if isinstance(names, dict) else names
        ontology = Ontology.from_dict({"classes": {n: n for n in names}})
        detector, segmenter = str(SHARED / "weights/yolo11n-coco.pt"), "none"
        folder = work / "images"
        folder.mkdir()
        for image in images:
            (folder / image.name).symlink_to(image)
    else:
        from tests.tiny_models import build_grounding_dino, build_sam2

        folder = work / "images"
        make_images(folder, args.images)
        ontology = Ontology.from_dict(
            {
                "classes": {
                    "animal": ["cat", "dog"],
                    "car": "red car",
                    "person": "person in hi-vis vest",
                }
            }
        )
        detector = str(build_grounding_dino(work / "gd"))
        segmenter = str(build_sam2(work / "sam2"))
    settings = LabelSettings(
        detector=detector,
        segmenter=segmenter,
        batch=args.batch_size,
        engine=args.engine,
        device="auto" if args.devices or args.engine == "ray" else args.device,
        devices=args.devices,
    )
    rss_before = peak_rss_mb()
    ticks: list[tuple[float, int]] = []  # (time, images done) at each progress call
    summary = label(
        folder, ontology, settings, work / "run",
        progress=lambda done, total: ticks.append((time.perf_counter(), done)),
    )  # fmt: skip
    result = {
        "teacher": args.teacher,
        "engine": args.engine,
        "devices": args.devices or args.device,
        "images": summary.labeled,
        "batch_size": args.batch_size,
        "images_per_s": round(summary.images_per_s, 3),
        "elapsed_s": round(summary.elapsed_s, 3),
        # From the first batch done to the last: without start-up (workers, Ray, models).
        "steady_images_per_s": round(
            (ticks[-1][1] - ticks[0][1]) / max(ticks[-1][0] - ticks[0][0], 1e-9), 3
        )
        if len(ticks) > 1
        else None,
        "stage_s": {k: round(v, 3) for k, v in summary.stage_s.items()},
        "peak_rss_mb_before_labeling": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    model = None
    if args.bare or not args.skip_naive:
        model = load_base_model(detector, segmenter, device=args.device)
    if args.bare:
        from benchmarks.full_size_models import bare_images_per_s

        bare = bare_images_per_s(folder, ontology, model, args.batch_size, min_confidence=0.1)
        result["bare_images_per_s"] = round(bare, 3)
        result["pipeline_vs_bare"] = round(summary.images_per_s / bare, 3)
    if not args.skip_naive:
        subset = sorted(folder.glob("*.jpg"))[: args.naive_images]
        seconds = naive_loop(subset, ontology, model)
        result["naive_images_per_s"] = round(len(subset) / seconds, 3)
        result["speedup_vs_naive"] = round(result["images_per_s"] / result["naive_images_per_s"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
