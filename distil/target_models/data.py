"""What a training dataset is: its data.yaml and whether it holds boxes or polygons."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import yaml

from distil.datasets.card import DatasetCard
from distil.datasets.formats.yolo import DATA_YAML, yaml_names
from distil.errors import MissingInputError, UsageError
from distil.target_models.core import StudentTask
from distil.utils.files import atomic_write_text
from distil.utils.yaml import load_yaml


def find_data_yaml(dataset: Path) -> Path:
    """`dataset` itself when it is a YAML file, else its data.yaml; fails with the fix."""
    dataset = Path(dataset)
    if dataset.is_file() and dataset.suffix in (".yaml", ".yml"):
        return dataset
    if (dataset / DATA_YAML).is_file():
        return dataset / DATA_YAML
    if not dataset.exists():
        raise MissingInputError(f"dataset not found: {dataset}")
    if (dataset / "annotations").is_dir():
        raise UsageError(
            f"{dataset} is a COCO dataset; students train on YOLO datasets: "
            "export it again with `distil export ... --format yolo`"
        )
    raise MissingInputError(
        f"{dataset} has no {DATA_YAML}; pass a YOLO dataset folder "
        "(as written by `distil export`) or its data.yaml"
    )


def resolved_data_yaml(data_yaml: Path, run_dir: Path) -> Path:
    """The data.yaml Ultralytics trains on: `data_yaml` itself when its `path` is absolute,
    else a copy in `run_dir` whose `path` is resolved against the YAML's own folder (as
    `distil eval -g` reads it; Ultralytics would resolve `path: .` against the working
    directory or its global datasets folder). Every split's images must be there."""
    data = load_yaml(data_yaml)
    if not isinstance(data, dict):
        raise UsageError(f"{data_yaml}: expected a mapping (path, train, val, names)")
    yaml_names(data, data_yaml)  # names checked before training starts
    base = Path(data.get("path") or ".").expanduser()
    root = base if base.is_absolute() else (data_yaml.parent / base).resolve()
    for split in ("train", "val"):
        if not data.get(split):
            raise UsageError(f"{data_yaml}: no '{split}' split")
        for entry in data[split] if isinstance(data[split], list) else [data[split]]:
            where = Path(entry) if Path(entry).is_absolute() else root / entry
            if not where.exists():
                raise MissingInputError(
                    f"{data_yaml}: {split}: {entry} not found (looked at {where})"
                )
    if base.is_absolute():
        return data_yaml
    target = Path(run_dir) / "data.yaml"
    atomic_write_text(target, yaml.safe_dump({**data, "path": str(root)}, sort_keys=False))
    return target


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
