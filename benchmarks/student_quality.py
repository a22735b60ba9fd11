"""Auto-labels vs human labels as training data for the same student.

Splits COCO128 (../shared/data/coco128-train) into train and held-out images, labels the
train images with a real teacher through distil, trains the same student on the
auto-labels and on the human labels (same images, same settings), and evaluates the
auto-labels and both students on the held-out human labels. Prints JSON.

    python benchmarks/student_quality.py --epochs 10 --imgsz 320
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import yaml

from distil import Ontology
from distil.base_models import GroundedModel
from distil.base_models.ultralytics_yolo import UltralyticsDetector
from distil.datasets import export_dataset
from distil.evaluation import evaluate_path
from distil.labeling import label_images
from distil.target_models import YoloStudent

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def human_dataset(root: Path, images: list[Path], labels: Path, names: list[str]) -> Path:
    for image in images:
        (root / "images/train").mkdir(parents=True, exist_ok=True)
        (root / "labels/train").mkdir(parents=True, exist_ok=True)
        (root / "images/train" / image.name).symlink_to(image)
        label = labels / f"{image.stem}.txt"
        (root / "labels/train" / label.name).write_text(label.read_text() if label.exists() else "")
    data = {
        "path": str(root),
        "train": "images/train",
        "val": "images/train",
        "names": dict(enumerate(names)),
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=SHARED / "data/coco128-train")
    parser.add_argument("--teacher", type=Path, default=SHARED / "weights/yolo11n-coco.pt")
    parser.add_argument(
        "--student",
        default=None,
        help="Student start: a .pt (default: the teacher file, i.e. "
        "pretrained) or a model name such as yolo11n (random weights).",
    )
    parser.add_argument("--held-out", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--imgsz", type=int, default=320)
    parser.add_argument("--box-threshold", type=float, default=0.25)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="distil-quality-"))
    shutil.rmtree(work, ignore_errors=True)
    data = yaml.safe_load((args.data / "data.yaml").read_text())
    names = [data["names"][k] for k in sorted(data["names"])]
    images = sorted((args.data / "images").glob("*.jpg"))
    train, held = images[: -args.held_out], images[-args.held_out :]
    held_out = human_dataset(work / "held_out", held, args.data / "labels", names)
    human = human_dataset(work / "human", train, args.data / "labels", names)
    train_dir = work / "train_images"
    train_dir.mkdir(parents=True)
    for image in train:
        (train_dir / image.name).symlink_to(image)

    ontology = Ontology.from_dict({"classes": {n: n for n in names}})
    teacher = GroundedModel(UltralyticsDetector(str(args.teacher)))
    start = time.perf_counter()
    labeled = label_images(train_dir, ontology, teacher, work / "label", store_threshold=0.01)
    export_dataset(
        work / "label",
        work / "auto",
        box_threshold=args.box_threshold,
        split=(1.0, 0.0, 0.0),
    )
    label_s = time.perf_counter() - start

    result = {
        "train_images": len(train),
        "held_out_images": len(held),
        "teacher": str(args.teacher),
        "label_images_per_s": labeled.images_per_s,
        "label_s": round(label_s, 1),
        "epochs": args.epochs,
        "imgsz": args.imgsz,
    }
    auto_on_train = evaluate_path(work / "auto", human)
    result["auto_labels_vs_human_on_train_images"] = {
        k: getattr(auto_on_train, k) for k in ("map50_95", "map50", "precision", "recall")
    }
    student = str(args.student or args.teacher)
    for name, dataset in (("auto", work / "auto"), ("human", human)):
        start = time.perf_counter()
        trained = YoloStudent().train(
            dataset,
            model=student,
            project=work / "runs",
            name=name,
            epochs=args.epochs,
            imgsz=args.imgsz,
            batch=16,
            workers=2,
            seed=0,
            plots=False,
        )
        report = evaluate_path(Path(trained.best), held_out, imgsz=args.imgsz)
        result[f"student_on_{name}_labels"] = {
            "train_s": round(time.perf_counter() - start, 1),
            "pretrained": trained.pretrained,
            **{k: getattr(report, k) for k in ("map50_95", "map50", "precision", "recall")},
        }
    teacher_report = evaluate_path(args.teacher, held_out, imgsz=args.imgsz)
    result["teacher_on_held_out"] = {
        k: getattr(teacher_report, k) for k in ("map50_95", "map50", "precision", "recall")
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
