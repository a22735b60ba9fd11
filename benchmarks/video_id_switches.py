"""How often tracked objects change id: CLEAR MOT counts (id switches, misses, false
positives, MOTA) of `--track` against ground-truth tracks, and frames per second. Prints
one JSON object.

    # a drawn clip whose true tracks are known: squares and discs bouncing and crossing
    python benchmarks/video_id_switches.py --models DIR --device cuda --frames 300
    # real objects cut out of a COCO folder along their polygons, moving and occluding,
    # tracked with a YOLO checkpoint and a box tracker (or with --tracker sam2.1)
    python benchmarks/video_id_switches.py --clip crops --coco coco128 \
        --detector yolo11n.pt --tracker bytetrack
    # your own clip: label with --track, export, then score the MOT file against the truth
    python benchmarks/video_id_switches.py --tracks ds/tracks/walk.txt --truth gt/walk.txt

DIR holds `grounding-dino-tiny` and `sam2.1-hiera-tiny` (real weights); `--models tiny`
runs the test suite's random-weight models (plumbing only). `--coco` is a folder with
`images/` and YOLO polygon labels in `labels-seg/` (COCO's 91 category ids, as
Ultralytics' COCO conversion writes them). Ground truth is MOT rows
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


def make_clip(args: argparse.Namespace, work: Path) -> tuple[Path, dict, np.ndarray]:
    """The clip (a folder with one video), its ontology and its true tracks."""
    from functools import partial

    from tests.synthetic import (
        bouncing_frame,
        bouncing_truth,
        coco_crops,
        crops_frame,
        crops_truth,
        make_video,
    )

    width, height = (int(v) for v in args.size.split("x"))
    clips = work / "clips"
    if args.clip == "shapes":
        make_video(clips / "clip.mp4", args.frames, 30, width, height, draw=bouncing_frame)
        ontology = {"classes": {"square": "red square", "circle": "green circle"}}
        return clips, ontology, bouncing_truth(args.frames, width, height)[:, :6]
    import yaml

    crops = coco_crops(args.coco)
    names = yaml.safe_load((args.coco / "data.yaml").read_text())["names"]
    draw = partial(crops_frame, crops=crops)
    make_video(clips / "clip.mp4", args.frames, 30, width, height, draw=draw)
    ontology = {"classes": {names[c]: names[c] for c, _ in crops}}
    return clips, ontology, crops_truth(args.frames, width, height, crops)


def track_clip(args: argparse.Namespace, work: Path, clips: Path, ontology: dict) -> float:
    """Label the clip with --track and export it to `work/ds`; returns frames per second."""
    from distil.datasets import export_dataset
    from distil.labeling import label
    from distil.ontologies import Ontology
    from distil.settings import LabelSettings, tracker_checkpoint

    detector, tracker = args.detector, args.tracker
    if args.models == "tiny":
        from tests.tiny_models import build_grounding_dino, build_sam2_video

        detector = detector or str(build_grounding_dino(work / "gd"))
        if tracker_checkpoint(tracker) not in (None, tracker):  # a named video model
            tracker = str(build_sam2_video(work / "sam2v"))
    elif args.models:
        detector = detector or str(Path(args.models) / "grounding-dino-tiny")
        if tracker_checkpoint(tracker) not in (None, tracker):
            tracker = str(Path(args.models) / "sam2.1-hiera-tiny")
    settings = LabelSettings(
        detector=detector, segmenter="none", device=args.device, track=True,
        tracker=tracker, detect_every=args.detect_every,
    )  # fmt: skip
    summary = label(clips, Ontology.from_dict(ontology), settings, work / "run")
    export_dataset(work / "run", work / "ds")
    return summary.labeled / summary.elapsed_s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", help="weights folder, or tiny (drawn clip mode)")
    parser.add_argument("--clip", choices=["shapes", "crops"], default="shapes")
    parser.add_argument("--coco", type=Path, help="COCO-style folder (--clip crops)")
    parser.add_argument("--detector", help="the teacher's detector (default: from --models)")
    parser.add_argument("--tracker", default="sam2.1", help="as distil label --tracker")
    parser.add_argument("--tracks", type=Path, help="MOT file written by distil export")
    parser.add_argument("--truth", type=Path, help="ground-truth MOT file for --tracks")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--detect-every", type=int, default=15)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--iou", type=float, default=0.5)
    args = parser.parse_args()
    labeling = bool(args.models or args.detector)
    if labeling == bool(args.tracks and args.truth):
        parser.error("give either --models or --detector, or --tracks and --truth")
    if args.clip == "crops" and labeling and not args.coco:
        parser.error("--clip crops needs --coco")

    from distil.datasets import read_mot
    from distil.evaluation import clear_mot

    result: dict = {"iou": args.iou}
    if labeling:
        work = Path(tempfile.mkdtemp(prefix="distil-id-switches-"))
        clips, ontology, truth = make_clip(args, work)
        result["frames_per_s"] = round(track_clip(args, work, clips, ontology), 3)
        tracks = work / "ds" / "tracks" / "clip.txt"
        result.update(
            clip={"kind": args.clip, "frames": args.frames, "size": args.size,
                  "objects": len(np.unique(truth[:, 1]))},
            tracker=args.tracker, detector=args.detector or args.models,
            detect_every=args.detect_every,
        )  # fmt: skip
    else:
        tracks, truth = args.tracks, read_mot(args.truth)
        result.update(tracks=str(args.tracks), truth=str(args.truth))
    predicted = read_mot(tracks) if tracks.exists() else np.zeros((0, 6))
    result.update(clear_mot(truth, predicted, args.iou).to_dict())
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
