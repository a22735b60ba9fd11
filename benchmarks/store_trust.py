"""What the store's safety costs: the write lock (per run and per batch) and export's check
that each source is unchanged since labeling.

    python benchmarks/store_trust.py --batches 200 --batch-size 8

Prints one JSON object. `lock_per_batch_ms` is the write time per batch with the lock held
minus without it (the lock is taken once per run, so this should be noise around 0);
`acquire_release_ms` the cost of taking and giving back the lock once; `freshness_per_image_us`
export's stat-and-compare per unchanged image, `rehash_per_image_us` the hash it falls back
to when a file's stamp differs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import supervision as sv
from PIL import Image

from distil.detections import FrameIdentity
from distil.sources import SourceCheck, read_file
from distil.store import LabelStore, StoreBatch, StoredFrame
from distil.store.lock import StoreLock
from distil.store.store import _connect

SETTINGS = {"prompts": [["car", ["car"]]], "detector": "bench", "store_threshold": 0.1}


def batches(count: int, size: int, prefix: str) -> list[StoreBatch]:
    rng = np.random.default_rng(0)
    out = []
    for b in range(count):
        frames = []
        for i in range(size):
            boxes = rng.uniform(0, 600, (5, 4)).astype(np.float32)
            boxes[:, 2:] += boxes[:, :2]
            detections = sv.Detections(
                xyxy=boxes,
                confidence=rng.uniform(0, 1, 5),
                class_id=np.zeros(5, int),
                data={"prompt_id": np.zeros(5, int), "text_score": rng.uniform(0, 1, 5)},
            )
            key = f"{prefix}{b}_{i}"
            frames.append(
                StoredFrame(FrameIdentity(Path(key), Path("."), key), 640, 640, detections)
            )
        out.append(StoreBatch(frames))
    return out


def write_seconds(store: LabelStore, work: list[StoreBatch]) -> list[float]:
    seconds = []
    for batch in work:
        start = time.perf_counter()
        store.write_batch(batch)
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        locked = LabelStore.create(folder / "locked", SETTINGS)
        with_lock = write_seconds(locked, batches(args.batches, args.batch_size, "a"))
        locked.close()
        LabelStore.create(folder / "bare", SETTINGS).close()
        bare = LabelStore(folder / "bare", _connect(folder / "bare" / "labels.sqlite", wal=True))
        without_lock = write_seconds(bare, batches(args.batches, args.batch_size, "b"))
        bare.close()

        cycles = []
        for _ in range(200):
            start = time.perf_counter()
            with StoreLock(folder / "locked" / "labels.sqlite"):
                pass
            cycles.append(time.perf_counter() - start)

        images = folder / "images"
        images.mkdir()
        identities = []
        for i in range(args.images):
            path = images / f"{i}.jpg"
            Image.fromarray(np.full((480, 640, 3), i % 255, np.uint8)).save(path, quality=90)
            _, digest, stamp = read_file(path)
            identities.append(FrameIdentity(path, images, digest, stamp=stamp))
        start = time.perf_counter()
        assert all(SourceCheck().problem(i) is None for i in identities)
        fresh = (time.perf_counter() - start) / len(identities)
        for identity in identities:
            os.utime(identity.path, ns=(1, 1))  # same bytes, other stamp: hashed
        start = time.perf_counter()
        assert all(SourceCheck().problem(i) is None for i in identities)
        rehash = (time.perf_counter() - start) / len(identities)

    median = statistics.median
    print(
        json.dumps(
            {
                "batches": args.batches,
                "batch_size": args.batch_size,
                "write_batch_ms_with_lock": round(median(with_lock) * 1e3, 3),
                "write_batch_ms_without_lock": round(median(without_lock) * 1e3, 3),
                "lock_per_batch_ms": round((median(with_lock) - median(without_lock)) * 1e3, 3),
                "acquire_release_ms": round(median(cycles) * 1e3, 3),
                "freshness_per_image_us": round(fresh * 1e6, 1),
                "rehash_per_image_us": round(rehash * 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
