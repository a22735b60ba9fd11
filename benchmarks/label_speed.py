"""Labeling speed and memory: distil's batched pipeline vs a naive loop (one detector call
per prompt, one segmenter call per box, as autodistill does), on the same images.

    python benchmarks/label_speed.py --teacher tiny --images 100
    python benchmarks/label_speed.py --teacher yolo --images 128   # real YOLO11n teacher
    python benchmarks/label_speed.py --teacher tiny --images 2000 --skip-naive  # RSS check

Prints one JSON object. Peak RSS is read from the OS (ru_maxrss) for this process.
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
    args = parser.parse_args()

    from distil.base_models import load_base_model
    from distil.labeling import label_images
    from distil.ontologies import Ontology

    work = Path(tempfile.mkdtemp(prefix="distil-bench-"))
    if args.teacher == "yolo":
        import yaml

        source = SHARED / "data/coco128-train/images"
        images = sorted(source.glob("*.jpg"))[: args.images]
        names = yaml.safe_load((source.parent / "data.yaml").read_text())["names"]
        names = list(names.values()) if isinstance(names, dict) else names
        ontology = Ontology.from_dict({"classes": {n: n for n in names}})
        model = load_base_model(str(SHARED / "weights/yolo11n-coco.pt"), "none", device="cpu")
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
        model = load_base_model(
            str(build_grounding_dino(work / "gd")), str(build_sam2(work / "sam2")), device="cpu"
        )
    rss_before = peak_rss_mb()
    summary = label_images(folder, ontology, model, work / "run", batch=args.batch_size)
    result = {
        "teacher": args.teacher,
        "images": summary.labeled,
        "batch_size": args.batch_size,
        "images_per_s": round(summary.images_per_s, 3),
        "elapsed_s": round(summary.elapsed_s, 3),
        "stage_s": {k: round(v, 3) for k, v in summary.stage_s.items()},
        "peak_rss_mb_before_labeling": round(rss_before, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    if not args.skip_naive:
        subset = sorted(folder.glob("*.jpg"))[: args.naive_images]
        seconds = naive_loop(subset, ontology, model)
        result["naive_images_per_s"] = round(len(subset) / seconds, 3)
        result["speedup_vs_naive"] = round(result["images_per_s"] / result["naive_images_per_s"], 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
