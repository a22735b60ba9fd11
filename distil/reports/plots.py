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


TOP_CLASSES = 80  # more classes than this: the largest, then one "other" bar


def top_classes(counts: dict[str, int], top: int = TOP_CLASSES) -> list[tuple[str, int]]:
    """The `top` largest counts, largest first; the rest summed into `other (N classes)`.

    >>> top_classes({"a": 1, "b": 5, "c": 3}, top=2)
    [('b', 5), ('c', 3), ('other (1 class)', 1)]
    """
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown, rest = ranked[:top], ranked[top:]
    if rest:
        plural = "es" if len(rest) > 1 else ""
        shown.append((f"other ({len(rest)} class{plural})", sum(n for _, n in rest)))
    return shown


def class_histogram(counts: dict[str, int], path: Path, top: int = TOP_CLASSES) -> Path:
    """Horizontal bars, largest class on top, readable with 80 classes."""
    plt = _pyplot()
    shown = top_classes(counts, top)
    fig, ax = plt.subplots(figsize=(7, 1 + 0.2 * max(len(shown), 4)))
    names = [name for name, _ in shown]
    colors = ["#3b7dd8"] * min(len(counts), top) + ["#aaaaaa"] * (len(shown) > top)
    bars = ax.barh(range(len(shown)), [n for _, n in shown], color=colors)
    ax.bar_label(bars, padding=2, fontsize=7)
    ax.set_yticks(range(len(shown)), names, fontsize=7)
    ax.margins(y=0.01)
    ax.invert_yaxis()
    ax.set_xlabel("instances")
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
    return _save(training_figure(rows), path)


def training_figure(rows: list[dict[str, str]]):
    """Losses and validation mAP against whole epochs, from results.csv rows."""
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

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
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # no epoch 1.5
        ax.legend(fontsize=7)
    return fig
