"""How often tracked objects change id: CLEAR MOT counts (id switches, misses, false
positives, MOTA) of `--track` against ground-truth tracks. Prints one JSON object.

    # a drawn clip whose true tracks are known: squares and discs bouncing and crossing
    python benchmarks/video_id_switches.py --models DIR --device cuda --frames 300
    # your own clip: label with --track, export, then score the MOT file against the truth
    python benchmarks/video_id_switches.py --tracks ds/tracks/walk.txt --truth gt/walk.txt

DIR holds `grounding-dino-tiny` and `sam2.1-hiera-tiny` (real weights); `--models tiny`
runs the test suite's random-weight models (plumbing only). Ground truth is MOT rows
(`frame,id,left,top,width,height[,consider,...]`, 1-based frames of the source video).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def track_synthetic(args: argparse.Namespace, work: Path) -> Path:
    """Label the drawn clip with --track and export it; returns its MOT file."""
    from distil.base_models import load_base_model
    from distil.base_models.sam2_video import Sam2VideoPropagator
    from distil.datasets import export_dataset
    from distil.labeling import label_images
    from distil.labeling.tracking import VideoTracker
    from distil.ontologies import Ontology
    from tests.synthetic import bouncing_frame, make_video

    width, height = (int(v) for v in args.size.split("x"))
    make_video(work / "clips" / "shapes.mp4", args.frames, 30, width, height, draw=bouncing_frame)
    if args.models == "tiny":
        from tests.tiny_models import build_grounding_dino, build_sam2_video

        detector = str(build_grounding_dino(work / "gd"))
        sam2 = str(build_sam2_video(work / "sam2v"))
    else:
        detector = str(Path(args.models) / "grounding-dino-tiny")
        sam2 = str(Path(args.models) / "sam2.1-hiera-tiny")
    ontology = Ontology.from_dict({"classes": {"square": "red square", "circle": "green circle"}})
    teacher = load_base_model(detector, "none", device=args.device)
    tracker = VideoTracker(Sam2VideoPropagator(sam2, device=args.device), args.detect_every)
    label_images(work / "clips", ontology, teacher, work / "run", tracker=tracker)
    export_dataset(work / "run", work / "ds")
    return work / "ds" / "tracks" / "shapes.txt"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", help="weights folder, or tiny (drawn clip mode)")
    parser.add_argument("--tracks", type=Path, help="MOT file written by distil export")
    parser.add_argument("--truth", type=Path, help="ground-truth MOT file for --tracks")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--detect-every", type=int, default=15)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iou", type=float, default=0.5)
    args = parser.parse_args()
    if bool(args.models) == bool(args.tracks and args.truth):
        parser.error("give either --models, or --tracks and --truth")

    from distil.datasets import read_mot
    from distil.evaluation import clear_mot
    from tests.synthetic import BOUNCING_SHAPES, bouncing_truth

    result: dict = {"iou": args.iou}
    if args.models:
        work = Path(tempfile.mkdtemp(prefix="distil-id-switches-"))
        tracks = track_synthetic(args, work)
        width, height = (int(v) for v in args.size.split("x"))
        truth = bouncing_truth(args.frames, width, height)
        result.update(
            clip={"frames": args.frames, "size": args.size, "shapes": len(BOUNCING_SHAPES)},
            models=args.models,
            detect_every=args.detect_every,
        )
    else:
        tracks, truth = args.tracks, read_mot(args.truth)
        result.update(tracks=str(args.tracks), truth=str(args.truth))
    predicted = read_mot(tracks) if tracks.exists() else np.zeros((0, 6))
    result.update(clear_mot(truth, predicted, args.iou).to_dict())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
