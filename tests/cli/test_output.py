"""Pure helpers of the CLI's output."""

from __future__ import annotations

import pytest

from distil.cli.common import SHOWN_CLASSES, class_counts, empty_classes

MANY = {f"c{i:02d}": i for i in range(SHOWN_CLASSES + 3)}  # c00 has none


@pytest.mark.parametrize(
    ("counts", "added", "line"),
    [
        ({"car": 3, "dog": 5}, None, "car 3, dog 5"),
        ({"car": 3, "dog": 5}, {"car": 3, "dog": 5}, "car 3, dog 5"),  # all new: no (+n)
        ({"car": 3, "dog": 5}, {"car": 1, "dog": 0}, "car 3 (+1), dog 5"),
        ({"car": 0, "dog": 2}, None, "dog 2"),
        ({"car": 0}, None, "none"),
        (MANY, None, ", ".join(f"c{i:02d} {i}" for i in range(14, 2, -1)) + " and 2 more classes"),
    ],
)
def test_class_counts(counts, added, line):
    assert class_counts(counts, added) == line


@pytest.mark.parametrize(
    ("counts", "warning"),
    [
        ({"car": 1}, None),
        ({"car": 0, "dog": 4, "cat": 0}, "2 of 3 classes have no labels: car, cat"),
        (dict.fromkeys(MANY, 0), "15 of 15 classes have no labels: "
         + ", ".join(f"c{i:02d}" for i in range(SHOWN_CLASSES)) + " ..."),
    ],
)  # fmt: skip
def test_empty_classes(counts, warning):
    assert empty_classes(counts) == warning


def test_a_run_says_where_the_review_loop_stands(capsys):
    from distil.cli.run import _print_review

    _print_review({
        "corrections": {
            "imported": [{"stored": 13, "unchanged": 0, "file": "r1.json"}],
            "waiting": ["r2.json"],
        },
        "review": {"round": 2, "frames": 50, "task_file": "runs/run/x/review/round2/tasks.json"},
    })  # fmt: skip
    printed = capsys.readouterr().err
    assert "13 frames stored (0 unchanged) from r1.json" in printed
    assert "waiting for r2.json" in printed
    assert "review round 2: 50 frames -> runs/run/x/review/round2/tasks.json" in printed
