"""What a training dataset is: its data.yaml and whether it holds boxes or polygons."""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any

import yaml

from distil.datasets.card import DatasetCard
from distil.datasets.formats.yolo import DATA_YAML, yaml_folders, yaml_names
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
    data, base, root = checked_data_yaml(data_yaml)
    if base.is_absolute():
        return data_yaml
    target = Path(run_dir) / "data.yaml"
    atomic_write_text(target, yaml.safe_dump({**data, "path": str(root)}, sort_keys=False))
    return target


def checked_data_yaml(data_yaml: Path) -> tuple[dict[str, Any], Path, Path]:
    """A data.yaml to train on, checked before anything loads (names, and train and val
    folders that exist): its content, its `path` as written, and that path resolved."""
    data = load_yaml(data_yaml)
    if not isinstance(data, dict):
        raise UsageError(f"{data_yaml}: expected a mapping (path, train, val, names)")
    yaml_names(data, data_yaml)
    base = Path(yaml_folders(data, "path", data_yaml)[0] if data.get("path") else ".").expanduser()
    root = base if base.is_absolute() else (data_yaml.parent / base).resolve()
    for split in ("train", "val"):
        if not data.get(split):
            raise UsageError(f"{data_yaml}: no '{split}' split")
        for entry in yaml_folders(data, split, data_yaml):
            where = Path(entry) if Path(entry).is_absolute() else root / entry
            if not where.exists():
                raise MissingInputError(
                    f"{data_yaml}: {split}: {entry} not found (looked at {where})"
                )
    return data, base, root


def dataset_task(data_yaml: Path) -> StudentTask:
    """detect or segment: from the distil dataset card, else from the label files."""
    _, _, base = checked_data_yaml(data_yaml)  # before a model is downloaded or loaded
    card = DatasetCard.read(data_yaml.parent)
    if card is not None:
        return StudentTask(card.export.task.value)
    for label in islice((base / "labels").rglob("*.txt"), 200):
        for line in label.read_text().splitlines():
            if line.strip():
                return StudentTask.SEGMENT if len(line.split()) > 5 else StudentTask.DETECT
    return StudentTask.DETECT
