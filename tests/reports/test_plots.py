"""Report charts: readable with 80 classes, whole epochs on the training curves."""

from __future__ import annotations

import pytest

from distil.reports import plots


@pytest.mark.parametrize(
    ("counts", "top", "expected"),
    [
        ({}, 3, []),
        ({"a": 1, "b": 5, "c": 3}, 3, [("b", 5), ("c", 3), ("a", 1)]),
        ({"a": 1, "b": 5, "c": 3}, 2, [("b", 5), ("c", 3), ("other (1 class)", 1)]),
        ({"a": 2, "b": 2, "c": 1, "d": 1}, 1, [("a", 2), ("other (3 classes)", 4)]),
    ],
)
def test_top_classes(counts, top, expected):
    assert plots.top_classes(counts, top) == expected


def test_eighty_classes_get_one_labeled_horizontal_bar_each(tmp_path):
    from PIL import Image

    counts = {f"class {i}": i for i in range(80)}
    path = plots.class_histogram(counts, tmp_path / "classes.png")
    width, height = Image.open(path).size
    assert height > 2 * width  # a tall chart: one readable row per class


def test_training_curves_have_whole_epochs():
    rows = [
        {"epoch": str(e), "train/box_loss": str(1 / e), "metrics/mAP50(B)": str(e / 10)}
        for e in (1, 2, 3)
    ]
    figure = plots.training_figure(rows)
    figure.canvas.draw()
    for ax in figure.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
