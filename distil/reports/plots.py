"""Matplotlib figures for the run report (Agg backend; no display needed)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    _pyplot().close(fig)
    return path


def class_histogram(counts: dict[str, int], path: Path) -> Path:
    plt = _pyplot()
    names = list(counts)
    fig, ax = plt.subplots(figsize=(max(6, 0.3 * len(names) + 2), 4))
    ax.bar(range(len(names)), [counts[n] for n in names], color="#3b7dd8")
    ax.set_xticks(range(len(names)), names, rotation=60 if len(names) > 6 else 0, ha="right")
    ax.set_ylabel("instances")
    ax.set_title("instances per class")
    return _save(fig, path)


def histogram(
    values: list[float], path: Path, title: str, xlabel: str, bins: int | list = 20
) -> Path:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.hist(values, bins=bins, color="#e07b39", edgecolor="white")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("count")
    return _save(fig, path)


def training_curves(results_csv: Path, path: Path) -> Path | None:
    """Losses and validation mAP per epoch, from Ultralytics' results.csv."""
    if not results_csv.is_file():
        return None
    with results_csv.open() as f:
        rows = [{k.strip(): v for k, v in row.items()} for row in csv.DictReader(f)]
    if not rows:
        return None
    plt = _pyplot()
    epochs = np.array([float(r["epoch"]) for r in rows])
    fig, (losses, maps) = plt.subplots(1, 2, figsize=(10, 3.5))
    for key in rows[0]:
        if key.endswith("_loss"):
            losses.plot(epochs, [float(r[key]) for r in rows], label=key, marker=".")
        elif key.startswith("metrics/mAP"):
            maps.plot(epochs, [float(r[key]) for r in rows], label=key.split("/")[-1], marker=".")
    losses.set_title("losses")
    maps.set_title("validation mAP")
    for ax in (losses, maps):
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
    return _save(fig, path)
