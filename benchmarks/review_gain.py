"""What review ranking buys: label errors caught by the top 10% of frames per ranking,
F1 after tuning thresholds on 10% reviewed frames, and the time to rank 10,000 frames.

The teacher is the real YOLO11n on ../shared/data/coco128-train; its human labels are
the reviewer. A frame's errors are its exported labels' false positives plus misses at
IoU 0.5 (class-aware), at the export thresholds.

    python benchmarks/review_gain.py            # prints one JSON object

Partial results go to stderr as they come.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHARED = ROOT.parent / "shared"
COCO128 = SHARED / "data" / "coco128-train"
YOLO11N = SHARED / "weights" / "yolo11n-coco.pt"
SHARE = 0.10
RANDOM_SEEDS = 50


def note(key: str, value) -> None:
    print(json.dumps({key: value}), file=sys.stderr, flush=True)


def label(work: Path) -> Path:
    from distil.base_models import GroundedModel
    from distil.base_models.ultralytics_yolo import UltralyticsDetector
    from distil.labeling import label_images
    from distil.ontologies import Ontology

    names = yaml.safe_load((COCO128 / "data.yaml").read_text())["names"]
    ontology = Ontology.from_dict({"classes": {n: n for n in names.values()}})
    teacher = GroundedModel(UltralyticsDetector(str(YOLO11N), device="cpu"))
    label_images(COCO128 / "images", ontology, teacher, work / "labels", batch_size=16)
    return work / "labels"


def true_errors(label_dir: Path, truth) -> dict[str, int]:
    """Stored key -> false positives + misses of the exported labels."""
    from distil.datasets.filters import select_detections
    from distil.ontologies import Ontology
    from distil.review import count_changes
    from distil.review.core import NMS_IOU
    from distil.store import LabelStore

    errors = {}
    with LabelStore.open(label_dir) as store:
        ontology = Ontology.from_dict(store.ontology_dict)
        for frame in store.frames(with_masks=False):
            exported = select_detections(frame.detections, ontology, NMS_IOU)
            errors[frame.identity.key] = count_changes(exported, truth[frame.identity.path.stem])
    return errors


def caught(order: list[str], errors: dict[str, int]) -> float:
    top = order[: math.ceil(SHARE * len(order))]
    return sum(errors[k] for k in top) / sum(errors.values())


def rankings(label_dir: Path, errors: dict[str, int]) -> dict:
    from distil.review import rank_store
    from distil.settings import Ranking

    result = {}
    for ranking in (Ranking.AUTO, Ranking.BOXES):
        order = [f.key for f in rank_store(label_dir, top=len(errors), ranking=ranking).frames]
        result[ranking.value] = round(caught(order, errors), 4)
        if ranking is Ranking.AUTO:
            auto_order = order
    without = without_faint(label_dir)
    order = [f.key for f in rank_store(without, top=len(errors)).frames]
    result["auto_without_faint"] = round(caught(order, errors), 4)
    keys = sorted(errors)
    shares = []
    for seed in range(RANDOM_SEEDS):
        shuffled = keys[:]
        random.Random(seed).shuffle(shuffled)
        shares.append(caught(shuffled, errors))
    result["random"] = round(sum(shares) / len(shares), 4)
    result["perfect"] = round(caught(sorted(keys, key=lambda k: -errors[k]), errors), 4)
    result["auto_vs_perfect"] = round(result["auto"] / result["perfect"], 4)
    result["boxes_vs_perfect"] = round(result["boxes"] / result["perfect"], 4)
    result["auto_without_faint_vs_perfect"] = round(
        result["auto_without_faint"] / result["perfect"], 4
    )
    result["auto_vs_perfect_90pct_interval"] = bootstrap(auto_order, errors)
    return result


def without_faint(label_dir: Path) -> Path:
    """A copy of the store as labeled before faint candidates were counted."""
    copy = label_dir.with_name(label_dir.name + "-without-faint")
    shutil.copytree(label_dir, copy)
    db = sqlite3.connect(copy / "labels.sqlite")
    db.execute("UPDATE predictions SET boxes = json_remove(boxes, '$.faint')")
    db.commit()
    db.close()
    return copy


def bootstrap(order: list[str], errors: dict[str, int], draws: int = 1000) -> list[float]:
    """5th and 95th percentile of the ranking's share of perfect over frames drawn with
    replacement: how much the figure moves with the sample of 128 frames."""
    rank = {key: i for i, key in enumerate(order)}
    keys = sorted(errors)
    ratios = []
    for seed in range(draws):
        sample = random.Random(seed).choices(keys, k=len(keys))
        top = math.ceil(SHARE * len(sample))
        best = sum(sorted((errors[k] for k in sample), reverse=True)[:top])
        ranked = sum(errors[k] for k in sorted(sample, key=rank.__getitem__)[:top])
        ratios.append(ranked / best if best else 1.0)
    ratios.sort()
    return [round(ratios[int(0.05 * draws)], 3), round(ratios[int(0.95 * draws)], 3)]


def review(label_dir: Path, keys: list[str], truth) -> None:
    """The simulated reviewer: the human labels of `keys` imported as corrections."""
    from distil.detections import human_detections
    from distil.store import HumanLabels, LabelStore

    with LabelStore.edit(label_dir) as store:
        frames = list(store.frames(with_masks=False, keys=keys))
        store.write_human_labels(
            [
                HumanLabels(
                    f.identity.hash, f.width, f.height,
                    human_detections(*_boxes(truth[f.identity.path.stem])), 0, 1,
                    "coco128 labels", "yolo",
                )
                for f in frames
            ]
        )  # fmt: skip


def _boxes(detections):
    return detections.xyxy, detections.class_id


def sweep_f1(label_dir: Path, work: Path, errors: dict[str, int], truth) -> dict:
    """F1 of the whole set at thresholds swept on 10% reviewed frames vs on all labels."""
    from distil.datasets.readers import read_dataset
    from distil.evaluation import evaluate_path
    from distil.evaluation.core import evaluate
    from distil.evaluation.predictions import label_predictions
    from distil.ontologies import Ontology

    everything = read_dataset(COCO128)

    def f1_with(ontology_file: Path | None) -> float:
        predictions = label_predictions(label_dir)
        if ontology_file is not None:
            tuned = Ontology.from_yaml(ontology_file)
            predictions.thresholds = {
                i: tuned.class_box_threshold(i) for i in range(len(tuned.classes))
            }
        return evaluate(predictions, everything).f1

    result = {"default_f1": round(f1_with(None), 4)}
    evaluate_path(label_dir, COCO128, sweep=True, sweep_out=work / "all.yaml")
    result["swept_on_all_f1"] = round(f1_with(work / "all.yaml"), 4)
    keys = sorted(errors)
    count = math.ceil(SHARE * len(keys))
    picks = {"random": [], "top_ranked": []}
    for seed in range(5):
        chosen = random.Random(seed).sample(keys, count)
        picks["random"].append(chosen)
    from distil.review import rank_store

    picks["top_ranked"].append([f.key for f in rank_store(label_dir, top=count).frames])
    for name, choices in picks.items():
        scores = []
        for chosen in choices:
            copy = work / f"reviewed-{name}"
            shutil.rmtree(copy, ignore_errors=True)
            shutil.copytree(label_dir, copy)
            review(copy, chosen, truth)
            evaluate_path(copy, "reviewed", sweep=True, sweep_out=work / f"{name}.yaml")
            scores.append(f1_with(work / f"{name}.yaml"))
        result[f"swept_on_10pct_{name}_f1"] = round(sum(scores) / len(scores), 4)
        result[f"gap_{name}"] = round(
            result["swept_on_all_f1"] - result[f"swept_on_10pct_{name}_f1"], 4
        )
    return result


def rank_time(label_dir: Path, work: Path, frames: int = 10_000) -> dict:
    """Copies of the stored frames under new hashes until the store holds `frames`."""
    from distil.review import rank_store

    big = work / "big"
    shutil.copytree(label_dir, big)
    db = sqlite3.connect(big / "labels.sqlite")
    have = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    copies = math.ceil(frames / have) - 1
    for n in range(1, copies + 1):
        db.execute(
            "INSERT INTO predictions SELECT fingerprint, hash || ?, width, height, boxes, masks, "
            "labeled_at FROM predictions WHERE hash NOT LIKE '%-%'",
            (f"-{n}",),
        )
        db.execute(
            "INSERT INTO sources SELECT path || ?, root, hash || ?, frame_index, video_id, "
            "timestamp, file, size, mtime_ns FROM sources WHERE hash NOT LIKE '%-%'",
            (f"-{n}", f"-{n}"),
        )
    db.commit()
    total = db.execute("SELECT COUNT(*) FROM predictions").fetchone()[0]
    db.close()
    start = time.perf_counter()
    rank_store(big, top=50)
    return {"frames": total, "seconds": round(time.perf_counter() - start, 3)}


def main() -> None:
    from distil.datasets.readers import read_dataset

    work = Path(tempfile.mkdtemp(prefix="review-gain-"))
    try:
        label_dir = label(work)
        truth = {k: v.detections for k, v in read_dataset(COCO128).images.items()}
        errors = true_errors(label_dir, truth)
        result = {"frames": len(errors), "errors": sum(errors.values()), "top_share": SHARE}
        result["caught_in_top"] = rankings(label_dir, errors)
        note("caught_in_top", result["caught_in_top"])
        result["sweep"] = sweep_f1(label_dir, work, errors, truth)
        note("sweep", result["sweep"])
        result["rank_10k"] = rank_time(label_dir, work)
        print(json.dumps(result, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
