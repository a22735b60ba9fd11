"""Video labeling speed and memory: `--track --detect-every K` vs per-frame detection +
segmentation, on the same clip, models and frames.

    python benchmarks/video_speed.py --models full --device cuda --frames 300
    python benchmarks/video_speed.py --models full --device cuda --mode rss --seconds 300
    python benchmarks/video_speed.py --models DIR   # DIR/grounding-dino-tiny, DIR/sam2.1-hiera-tiny

`--models full` builds random-weight models with the real architectures (Grounding DINO
tiny, SAM 2.1 hiera-tiny): compute is the real models', and the number of boxes per frame,
the one thing random weights change, is fixed: the `--boxes` most confident ones.
`--models tiny` uses the test suite's tiny models (plumbing only).
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

from benchmarks.full_size_models import TopBoxes  # noqa: E402


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


class CountingPropagator:
    """Counts the objects SAM 2 carries per propagated frame (its cost scales with them).
    With random weights SAM 2's masks are arbitrary, often empty, and an empty seed is no
    object; so there each box seeds its track as a filled box (SAM 2 still runs)."""

    def __init__(self, propagator, box_seeds: bool) -> None:
        self.propagator, self.box_seeds = propagator, box_seeds
        self.frames = self.objects = 0

    def __getattr__(self, name: str):
        return getattr(self.propagator, name)

    def propagate(self, pixels):
        ids, masks, present = self.propagator.propagate(pixels)
        self.frames += 1
        self.objects += len(ids)
        return ids, masks, present

    def segment_boxes(self, boxes):
        masks = self.propagator.segment_boxes(boxes)
        if self.box_seeds:
            masks[:] = False
            for mask, (left, top, right, bottom) in zip(masks, boxes.astype(int), strict=True):
                mask[top : bottom + 1, left : right + 1] = True
        return masks


def ontology_for(random_weights: bool):
    """Prompts for the shapes; random weights take every box (TopBoxes picks)."""
    from distil.ontologies import Ontology

    classes = {"square": ["red square", "square"], "circle": ["circle", "green circle"]}
    if not random_weights:
        return Ontology.from_dict({"classes": classes})
    return Ontology.from_dict({"classes": classes, "box_threshold": 0.0, "text_threshold": 0.0})


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
    parser.add_argument("--boxes", type=int, default=8, help="boxes per frame (random weights)")
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()

    import torch

    from distil.base_models import load_base_model
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.labeling import label_images
    from distil.labeling.tracking import VideoTracker
    from distil.settings import LabelSettings
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
    sampling = {"every": args.every, "max_frames": args.frames}
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
            batch=args.batch_size,
            tracker=tracker,
            store_threshold=0.0 if random_weights else LabelSettings().store_threshold,
            **sampling,
        )
        frames = summary.video_frames
        out = {
            "frames": frames,
            "seconds": round(summary.elapsed_s, 2),
            "frames_per_s": float(f"{frames / summary.elapsed_s:.3g}"),
            "stage_s": {k: round(v, 2) for k, v in summary.stage_s.items()},
            "instances": sum(summary.detections_per_class.values()),
            "tracks": summary.tracks,
        }
        if torch.cuda.is_available():
            out["gpu_peak_mb"] = round(torch.cuda.max_memory_allocated() / 2**20)
        return out

    def teacher(segmenter: str):
        model = load_base_model(detector, segmenter, device=args.device)
        if random_weights:
            model.detector = TopBoxes(model.detector, args.boxes)
        return model

    ontology = ontology_for(random_weights)
    tracker_model = teacher("none")
    propagator = CountingPropagator(Sam2VideoPropagator(sam2, device=args.device), random_weights)
    tracker = VideoTracker(propagator, args.detect_every)
    if args.mode == "rss":
        result["tracking"] = run("track", tracker_model, tracker)
        result["peak_rss_mb"] = round(peak_rss_mb())
    else:
        warm = {"max_frames": 2}  # a keyframe and one propagated frame
        label_images(clip.parent, ontology, tracker_model, work / "warm-t", tracker=tracker, **warm)
        propagator.frames = propagator.objects = 0
        result["tracking"] = run("track", tracker_model, tracker)
        result["tracking"]["objects_per_propagated_frame"] = round(
            propagator.objects / max(propagator.frames, 1), 2
        )
        per_frame = teacher(sam2)
        label_images(clip.parent, ontology, per_frame, work / "warm-f", **warm)
        result["per_frame"] = run("per-frame", per_frame, None)
        per_frame_s = result["per_frame"]["seconds"] / result["per_frame"]["frames"]
        tracking_s = result["tracking"]["seconds"] / result["tracking"]["frames"]
        result["speedup"] = round(per_frame_s / tracking_s, 2)
        result["peak_rss_mb"] = round(peak_rss_mb())
    print(json.dumps(result, indent=2))
    if os.environ.get("OUT"):
        (Path(os.environ["OUT"]) / f"video_speed_{args.mode}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    main()
