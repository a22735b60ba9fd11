"""Video labeling speed and memory: `--track --detect-every K` vs per-frame detection +
segmentation, on the same clip, models and frames.

    python benchmarks/video_speed.py --models full --device cuda --frames 300
    python benchmarks/video_speed.py --models full --device cuda --mode rss --seconds 300
    python benchmarks/video_speed.py --models DIR   # DIR/grounding-dino-tiny, DIR/sam2.1-hiera-tiny

`--models full` builds random-weight models with the real architectures (Grounding DINO
tiny, SAM 2.1 hiera-tiny): compute is the real models', and the number of boxes per
keyframe, the one thing random weights change, is fixed by calibrating the box threshold
(`--boxes`). `--models tiny` uses the test suite's tiny models (plumbing only).
The clip is drawn moving shapes encoded with PyAV. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scene(index: int, width: int, height: int) -> np.ndarray:
    """Eight shapes drifting across a textured background."""
    import cv2

    rng = np.random.default_rng(7)
    image = np.full((height, width, 3), 50, np.uint8)
    image[::16] = 70
    for k in range(8):
        color = tuple(int(c) for c in rng.integers(60, 255, 3))
        x = int((rng.integers(0, width) + index * (k + 1)) % (width - 80))
        y = int((rng.integers(0, height) + index * (k % 3)) % (height - 80))
        if k % 2:
            cv2.rectangle(image, (x, y), (x + 60, y + 50), color, -1)
        else:
            cv2.circle(image, (x + 35, y + 35), 30, color, -1)
    return image


def models(kind: str, work: Path) -> tuple[str, str]:
    if kind == "tiny":
        from tests.tiny_models import build_grounding_dino, build_sam2_video

        return str(build_grounding_dino(work / "gd")), str(build_sam2_video(work / "sam2v"))
    if kind == "full":
        from benchmarks.full_size_models import build_grounding_dino_tiny, build_sam21_tiny

        return (
            str(build_grounding_dino_tiny(work / "gd")),
            str(build_sam21_tiny(work / "sam21")),
        )
    root = Path(kind)
    return str(root / "grounding-dino-tiny"), str(root / "sam2.1-hiera-tiny")


def calibrated_ontology(model, clip: Path, boxes: int):
    """Prompts for the shapes; with random weights, a box threshold that lets `boxes`
    boxes through on the first frame (real weights: the default thresholds)."""
    from distil.ontologies import Ontology
    from distil.sources import iter_video

    classes = {"square": ["red square", "square"], "circle": ["circle", "green circle"]}
    ontology = Ontology.from_dict({"classes": classes, "text_threshold": 0.0})
    if boxes <= 0:
        return Ontology.from_dict({"classes": classes})
    first = next(iter_video(clip)).rgb()
    found = model.detector.detect([first], ontology, 0.0)[0]
    scores = np.sort(found.confidence)[::-1]
    threshold = float(scores[min(boxes, len(scores)) - 1]) if len(scores) else 0.0
    return Ontology.from_dict(
        {"classes": classes, "box_threshold": threshold, "text_threshold": 0.0}
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default="full", help="full, tiny, or a weights folder")
    parser.add_argument("--mode", choices=["compare", "rss"], default="compare")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seconds", type=float, default=20.0, help="clip length")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--frames", type=int, default=300, help="frames labeled per mode")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--detect-every", type=int, default=15)
    parser.add_argument("--boxes", type=int, default=8, help="boxes per keyframe (random weights)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    import torch

    from distil.base_models import load_base_model
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling import label_images
    from distil.labeling.tracking import VideoTracker
    from distil.sources import FrameSampling
    from tests.synthetic import make_video

    work = Path(tempfile.mkdtemp(prefix="distil-video-bench-"))
    width, height = (int(v) for v in args.size.split("x"))
    clip = make_video(
        work / "clips" / "clip.mp4",
        frames=round(args.seconds * args.fps),
        fps=args.fps,
        width=width,
        height=height,
        draw=scene,
    )
    detector, sam2 = models(args.models, work)
    random_weights = args.models in ("full", "tiny")
    sampling = FrameSampling(every=args.every, max_frames=args.frames)
    result: dict = {
        "models": args.models,
        "random_weights": random_weights,
        "device": str(torch.cuda.get_device_name(0)) if torch.cuda.is_available() else "cpu",
        "clip": {"seconds": args.seconds, "fps": args.fps, "size": args.size},
        "every": args.every,
        "detect_every": args.detect_every,
    }

    def run(name: str, model, tracker) -> dict:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        summary = label_images(
            clip.parent,
            ontology,
            model,
            work / name,
            batch_size=args.batch_size,
            sampling=sampling,
            tracker=tracker,
        )
        frames = summary.video_frames
        out = {
            "frames": frames,
            "seconds": round(summary.elapsed_s, 2),
            "frames_per_s": round(frames / summary.elapsed_s, 2),
            "stage_s": {k: round(v, 2) for k, v in summary.stage_s.items()},
            "instances": sum(summary.detections_per_class.values()),
            "tracks": summary.tracks,
        }
        if torch.cuda.is_available():
            out["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        return out

    tracker_model = load_base_model(detector, "none", device=args.device)
    ontology = calibrated_ontology(tracker_model, clip, args.boxes if random_weights else 0)
    result["box_threshold"] = ontology.class_box_threshold(0)
    tracker = VideoTracker(Sam2VideoPropagator(sam2, device=args.device), args.detect_every)
    if args.mode == "rss":
        result["tracking"] = run("track", tracker_model, tracker)
        result["peak_rss_mb"] = round(peak_rss_mb())
    else:
        warm = FrameSampling(max_frames=2)  # a keyframe and one propagated frame
        label_images(
            clip.parent, ontology, tracker_model, work / "warm-t", sampling=warm, tracker=tracker
        )
        result["tracking"] = run("track", tracker_model, tracker)
        per_frame = load_base_model(detector, sam2, device=args.device)
        label_images(clip.parent, ontology, per_frame, work / "warm-f", sampling=warm)
        result["per_frame"] = run("per-frame", per_frame, None)
        result["speedup"] = round(
            result["tracking"]["frames_per_s"] / result["per_frame"]["frames_per_s"], 2
        )
        result["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(result, indent=2))
    if os.environ.get("OUT"):
        (Path(os.environ["OUT"]) / f"video_speed_{args.mode}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
