"""The review app's latency as the page sees it, through a real uvicorn server on
localhost: click-to-mask (the first click on a frame, encoding included, and each later
click, decoder only) and "next" to the next frame shown (its labels and image), with
prefetch on and off, for random-weight segmenters of real size (SAM ViT-B, SAM 2.1
hiera-tiny, and with `--models sam3-tracker` SAM 3's tracker). Compute depends on the
architecture and input size, not on weight values.

    python benchmarks/review_app_latency.py --frames 4 --clicks 5
    python benchmarks/review_app_latency.py --device cuda

Prints one JSON object (milliseconds; medians over the frames and clicks).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.full_size_models import build_sam21_tiny, write_images  # noqa: E402


def build_sam_base(path: Path) -> Path:
    """facebook/sam-vit-base's architecture (transformers' SAM defaults) at 1024 px."""
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    SamModel(SamConfig()).save_pretrained(path)
    SamProcessor(image_processor=SamImageProcessor()).save_pretrained(path)
    return path


def build_sam3_tracker(path: Path) -> Path:
    """SAM 3's tracker as `facebook/sam3` holds it (transformers' defaults, 1008 px)."""
    from transformers import (
        Sam3ImageProcessor,
        Sam3TrackerConfig,
        Sam3TrackerModel,
        Sam3TrackerProcessor,
    )

    Sam3TrackerModel(Sam3TrackerConfig()).save_pretrained(path)
    Sam3TrackerProcessor(image_processor=Sam3ImageProcessor()).save_pretrained(path)
    return path


def make_store(folder: Path, images: Path) -> Path:
    """A store of the images with three boxes each, as a label run leaves it."""
    import supervision as sv

    from distil.detections import FrameIdentity
    from distil.sources import read_file
    from distil.store import LabelStore, StoreBatch, StoredFrame

    settings = {"detector": {"family": "bench"}, "segmenter": None,
                "prompts": [["car", ["car"]]], "store_threshold": 0.1}  # fmt: skip
    with LabelStore.create(folder, settings) as store:
        store.set_ontology({"box_threshold": 0.5, "classes": {"car": "car"}})
        batch = StoreBatch()
        for path in sorted(images.glob("*.jpg")):
            _, digest, stamp = read_file(path)
            boxes = np.array([[40, 40, 300, 260], [400, 100, 700, 400], [800, 300, 1200, 700]])
            detections = sv.Detections(
                xyxy=boxes.astype(np.float32), confidence=np.array([0.9, 0.55, 0.3], np.float32),
                class_id=np.zeros(3, np.int64),
                data={"prompt_id": np.zeros(3, np.int64), "text_score": np.ones(3, np.float32)},
            )  # fmt: skip
            identity = FrameIdentity(path, images, digest, stamp=stamp)
            batch.frames.append(StoredFrame(identity, 1280, 720, detections))
        store.write_batch(batch)
    return folder


def start(session) -> tuple[str, str, object]:
    import uvicorn

    from distil.review.app.server import create_app, new_token

    token = new_token()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(create_app(session, token), log_level="warning"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", token, server


def measure(store: Path, segmenter, prefetch: bool, frames: int, clicks: int, think: float):
    import httpx

    from distil.review.app.session import ReviewSession
    from distil.settings import ReviewServeSettings

    session = ReviewSession(store, ReviewServeSettings(prefetch=prefetch), segmenter=segmenter)
    base, token, server = start(session)
    headers = {"x-distil-token": token}
    shown, first_click, later_clicks = [], [], []
    with httpx.Client(base_url=base, headers=headers, timeout=600) as http:
        frame_id = None
        for _ in range(frames):
            started = time.perf_counter()
            frame_id = http.post("/api/claim", json={"client": "b", "after": frame_id}).json()[
                "frame"
            ]
            http.get(f"/api/frames/{frame_id}").raise_for_status()
            http.get(f"/api/frames/{frame_id}/image").raise_for_status()
            shown.append(time.perf_counter() - started)
            for click in range(clicks + 1):
                points = [[200 + 40 * i, 150 + 10 * i, 1] for i in range(click + 1)]
                started = time.perf_counter()
                answer = http.post(
                    f"/api/frames/{frame_id}/prompt", json={"client": "b", "points": points}
                )
                answer.raise_for_status()
                (later_clicks if click else first_click).append(time.perf_counter() - started)
            time.sleep(think)  # the person at work: prefetch runs meanwhile
    server.should_exit = True
    ms = lambda values: round(1000 * statistics.median(values), 1)  # noqa: E731
    return {
        "next_to_shown_ms": ms(shown),
        "first_click_ms": ms(first_click),
        "later_click_ms": ms(later_clicks),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--clicks", type=int, default=5)
    parser.add_argument("--think", type=float, default=None, help="seconds on each frame")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", default="sam-vit-base,sam2.1-hiera-tiny")
    args = parser.parse_args()
    from distil.base_models.sam import Sam2Segmenter, Sam3TrackerSegmenter, SamSegmenter

    work = Path(tempfile.mkdtemp(prefix="distil-review-latency-"))
    images = work / "images"
    write_images(images, args.frames + 1, 1280, 720)
    store = make_store(work / "label", images)
    builders = {
        "sam-vit-base": (build_sam_base, SamSegmenter),
        "sam2.1-hiera-tiny": (build_sam21_tiny, Sam2Segmenter),
        "sam3-tracker": (build_sam3_tracker, Sam3TrackerSegmenter),
    }
    result: dict = {"device": args.device, "frames": args.frames, "clicks": args.clicks}
    for name in args.models.split(","):
        build, kind = builders[name]
        segmenter = kind(str(build(work / name)), device=args.device, half=False)
        embedding = segmenter.embed(np.zeros((720, 1280, 3), np.uint8))  # warm up
        started = time.perf_counter()
        segmenter.embed(np.zeros((720, 1280, 3), np.uint8))
        encode_s = time.perf_counter() - started
        segmenter.prompt(embedding, [(10, 10)], [1])
        think = args.think if args.think is not None else 1.5 * encode_s + 0.5
        result[name] = {
            "encode_ms": round(1000 * encode_s, 1),
            "think_s": round(think, 2),
            "prefetch_on": measure(store, segmenter, True, args.frames, args.clicks, think),
            "prefetch_off": measure(store, segmenter, False, args.frames, args.clicks, think),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
