"""Small objects in large images: recall of a teacher on single images, and on 4x4 mosaics
of the same images labeled whole and with `--tile`. Prints one JSON object.

    python benchmarks/tiling_recall.py --coco coco128 --detector yolo11n.pt --mosaics 8

`--coco` is a folder with `images/`, YOLO box labels in `labels/` and `data.yaml` (the
class names; the teacher's prompts are those names). Each image is resized to one cell
(`--cell`, 640x480) so that a mosaic is `--grid` cells a side (2560x1920 for 4x4), and its
boxes are mapped with it. Recall counts truth boxes matched by a label of their class at
IoU 0.5 or more (one-to-one), after the ontology's thresholds and NMS as export applies
them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_images(
    coco: Path, work: Path, mosaics: int, grid: int, cell: tuple[int, int]
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Single images and mosaics written under `work`; their truth per file stem as rows
    (class, x1, y1, x2, y2) in pixels."""
    import cv2

    width, height = cell
    sources = sorted((coco / "images").glob("*.jpg"))[: mosaics * grid * grid]
    (work / "singles").mkdir(parents=True)
    (work / "mosaics").mkdir()
    singles, tiled = {}, {}
    cells = []
    for path in sources:
        image = cv2.resize(cv2.imread(str(path)), (width, height), interpolation=cv2.INTER_AREA)
        label = coco / "labels" / f"{path.stem}.txt"
        rows = np.loadtxt(label, ndmin=2) if label.is_file() else np.zeros((0, 5))
        truth = np.column_stack(
            [
                rows[:, 0],
                (rows[:, 1] - rows[:, 3] / 2) * width,
                (rows[:, 2] - rows[:, 4] / 2) * height,
                (rows[:, 1] + rows[:, 3] / 2) * width,
                (rows[:, 2] + rows[:, 4] / 2) * height,
            ]
        ).reshape(-1, 5)
        cv2.imwrite(str(work / "singles" / f"{path.stem}.png"), image)
        singles[path.stem] = truth
        cells.append((image, truth))
    for m in range(len(cells) // (grid * grid)):
        mosaic = np.zeros((height * grid, width * grid, 3), np.uint8)
        truths = []
        for k in range(grid * grid):
            image, truth = cells[m * grid * grid + k]
            row, col = divmod(k, grid)
            mosaic[row * height : (row + 1) * height, col * width : (col + 1) * width] = image
            shift = np.array([0, col * width, row * height, col * width, row * height])
            truths.append(truth + shift)
        cv2.imwrite(str(work / "mosaics" / f"mosaic{m}.png"), mosaic)
        tiled[f"mosaic{m}"] = np.concatenate(truths)
    return singles, tiled


def recall(out: Path, truth: dict[str, np.ndarray], ontology) -> dict:
    """Truth boxes found at IoU 0.5 by a label of their class (recall), and labels that
    found one (precision)."""
    import supervision as sv

    from distil.datasets.filters import select_detections
    from distil.labeling.tracks import match_iou_matrix
    from distil.store import LabelStore

    found = total = labels = 0
    with LabelStore.open(out) as store:
        for frame in store.frames():
            kept = select_detections(frame.detections, ontology)
            rows = truth[frame.identity.path.stem]
            labels += len(kept)
            total += len(rows)
            for class_id in np.unique(rows[:, 0]).astype(int):
                mine = rows[rows[:, 0] == class_id, 1:]
                theirs = kept.xyxy[kept.class_id == class_id]
                if len(theirs):
                    found += len(match_iou_matrix(sv.box_iou_batch(mine, theirs), 0.5))
    return {
        "recall": round(found / max(total, 1), 4),
        "precision": round(found / max(labels, 1), 4),
        "truth_boxes": total,
        "labels": labels,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--coco", type=Path, required=True)
    parser.add_argument("--detector", required=True, help="the teacher (a YOLO .pt, an HF id)")
    parser.add_argument("--mosaics", type=int, default=8)
    parser.add_argument("--grid", type=int, default=4)
    parser.add_argument("--cell", default="640x480")
    parser.add_argument("--tile", default="auto", help="as distil label --tile")
    parser.add_argument("--overlap", type=float, default=0.2)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    import yaml

    from distil.labeling import label
    from distil.ontologies import Ontology
    from distil.settings import LabelSettings

    cell = tuple(int(v) for v in args.cell.split("x"))
    work = Path(tempfile.mkdtemp(prefix="distil-tiling-"))
    singles, mosaics = make_images(args.coco, work, args.mosaics, args.grid, cell)
    names = yaml.safe_load((args.coco / "data.yaml").read_text())["names"]
    names = names if isinstance(names, list) else [names[k] for k in sorted(names)]
    ontology = Ontology.from_dict({"classes": {name: name for name in names}})
    base = {"detector": args.detector, "segmenter": "none", "device": args.device}
    result: dict = {"detector": args.detector, "cell": args.cell, "grid": args.grid}
    runs = {
        "single_images": ("singles", singles, {}),
        "mosaics_untiled": ("mosaics", mosaics, {}),
        "mosaics_tiled": ("mosaics", mosaics, {"tile": args.tile, "tile_overlap": args.overlap}),
    }
    for name, (folder, truth, tiling) in runs.items():
        settings = LabelSettings(**base, **tiling)
        start = time.perf_counter()
        summary = label(
            work / folder, Ontology.from_dict(ontology.to_dict()), settings, work / name
        )
        seconds = time.perf_counter() - start
        result[name] = {
            **recall(work / name, truth, ontology),
            "images": summary.labeled,
            "seconds_per_image": round(seconds / max(summary.labeled, 1), 3),
        }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
