"""What a training dataset is: its data.yaml and whether it holds boxes or polygons."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

from distil.datasets.card import DatasetCard
from distil.datasets.formats.yolo import DATA_YAML
from distil.target_models.core import StudentTask
from distil.utils.yaml import load_yaml


def find_data_yaml(dataset: Path) -> Path:
    """`dataset` itself when it is a YAML file, else its data.yaml; fails with the fix."""
    dataset = Path(dataset)
    if dataset.is_file() and dataset.suffix in (".yaml", ".yml"):
        return dataset
    if (dataset / DATA_YAML).is_file():
        return dataset / DATA_YAML
    if not dataset.exists():
        raise FileNotFoundError(f"dataset not found: {dataset}")
    if (dataset / "annotations").is_dir():
        raise ValueError(
            f"{dataset} is a COCO dataset; students train on YOLO datasets: "
            "export it again with `distil export ... --format yolo`"
        )
    raise FileNotFoundError(
        f"{dataset} has no {DATA_YAML}; pass a YOLO dataset folder "
        "(as written by `distil export`) or its data.yaml"
    )


def dataset_task(data_yaml: Path) -> StudentTask:
    """detect or segment: from the distil dataset card, else from the label files."""
    root = data_yaml.parent
    card = DatasetCard.read(root)
    if card is not None:
        return StudentTask(card.export.task.value)
    data = load_yaml(data_yaml) or {}
    base = Path(data.get("path") or root)
    if not base.is_absolute():
        base = root / base
    for label in islice((base / "labels").rglob("*.txt"), 200):
        for line in label.read_text().splitlines():
            if line.strip():
                return StudentTask.SEGMENT if len(line.split()) > 5 else StudentTask.DETECT
    return StudentTask.DETECT
