"""Peak memory on dense scenes: a frame with 10, 100 or 500 boxes, masked by SAM 2.1 with
the hiera-tiny architecture (random weights: memory depends on the architecture and the
box count, not on weight values). Each count runs in a fresh process, so its peak RSS is
its own. Prints one JSON object.

    python benchmarks/dense_memory.py                       # the image segmenter
    python benchmarks/dense_memory.py --boxes 100 --chunk 100  # all boxes in one call
    python benchmarks/dense_memory.py --video --boxes 4,16  # SAM 2.1's video memory too

The image segmenter decodes and upscales the boxes in chunks (`MAX_BOXES_PER_CALL`). With
`--video`, the boxes are also segmented, seeded and carried one frame by SAM 2.1's video
model, `--max-objects-per-pass` objects' memories encoded per pass (`--passes` compares
values); on a CPU that costs seconds per object, so keep the counts small there.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _boxes(count: int, width: int, height: int) -> np.ndarray:
    """`count` boxes 24 to 96 pixels wide, placed at random (seeded)."""
    rng = np.random.default_rng(0)
    size = rng.uniform(24, 96, (count, 2))
    corner = rng.uniform(0, 1, (count, 2)) * ([width, height] - size)
    return np.column_stack([corner, corner + size]).astype(np.float32)


def measure(
    model: Path, count: int, size: tuple[int, int], video: bool, passes: int, chunk: int | None
) -> dict:
    """In this process: peak RSS (MiB) after loading, and after masking `count` boxes."""
    import supervision as sv
    import torch

    from distil.base_models import load_segmenter, sam
    from distil.base_models.sam2_video import Sam2VideoPropagator

    if chunk is not None:  # compare: boxes per decoder call other than distil's
        sam.MAX_BOXES_PER_CALL = chunk

    torch.set_num_threads(max(1, torch.get_num_threads()))
    width, height = size
    image = np.random.default_rng(1).integers(0, 255, (height, width, 3), np.uint8)
    boxes = _boxes(count, width, height)
    if video:
        propagator = Sam2VideoPropagator(str(model), device="cpu", max_objects_per_pass=passes)
        loaded = _peak_mib()
        start = time.perf_counter()
        propagator.start(height, width)
        propagator.add_frame(propagator.prepare(image))
        masks = propagator.segment_boxes(boxes)
        propagator.reseed({i + 1: m for i, m in enumerate(masks)})
        ids, _, _ = propagator.propagate(propagator.prepare(image))
        tracked = len(ids)
    else:
        segmenter = load_segmenter(str(model), device="cpu")
        loaded = _peak_mib()
        detections = sv.Detections(xyxy=boxes, class_id=np.zeros(count, np.int64))
        start = time.perf_counter()
        masks = segmenter.segment([image], [detections])[0].mask
        tracked = None
    seconds = time.perf_counter() - start
    peak = _peak_mib()
    result = {
        "boxes": count,
        "peak_rss_mib": round(peak),
        "above_loaded_mib": round(peak - loaded),
        "masks_mib": round(masks.nbytes / 2**20, 1),  # the output itself: n x H x W bool
        "working_mib": round(peak - loaded - masks.nbytes / 2**20),  # above load, not output
        "seconds": round(seconds, 2),
    }
    if video:
        result.update(max_objects_per_pass=passes, tracked=tracked)
    else:
        result["boxes_per_call"] = sam.MAX_BOXES_PER_CALL
    return result


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boxes", default="10,100,500")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--video", action="store_true")
    parser.add_argument("--passes", default="64", help="--max-objects-per-pass values")
    parser.add_argument("--model", type=Path, help="a SAM 2.1 folder (default: built)")
    parser.add_argument("--chunk", type=int, help="boxes per segmenter call (default: distil's)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    if args.one is not None:
        passes = int(args.passes)
        print(json.dumps(measure(args.model, args.one, size, args.video, passes, args.chunk)))
        return
    model = args.model
    if model is None:
        from benchmarks.full_size_models import build_sam21_tiny

        model = build_sam21_tiny(Path(tempfile.mkdtemp(prefix="distil-sam21-")) / "sam2.1")
    rows = []
    for passes in args.passes.split(",") if args.video else ["64"]:
        for count in (int(v) for v in args.boxes.split(",")):
            command = [sys.executable, __file__, "--one", str(count), "--model", str(model),
                       "--size", args.size, "--passes", passes]  # fmt: skip
            command += ["--video"] if args.video else []
            command += ["--chunk", str(args.chunk)] if args.chunk else []
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    mode = "video" if args.video else "image"
    print(json.dumps({"model": "sam2.1-hiera-tiny (random)", "mode": mode, "size": args.size,
                      "runs": rows}, indent=2))  # fmt: skip


if __name__ == "__main__":
    main()
