import pytest

from distil.datasets import assign_splits
from distil.settings import parse_split


def test_exact_seeded_split_and_order_independence():
    groups = [f"g{i}" for i in range(10)]
    splits = assign_splits(groups, (0.8, 0.1, 0.1), seed=0)
    assert [splits.count(s) for s in ("train", "val", "test")] == [8, 1, 1]
    assert splits == assign_splits(groups, (0.8, 0.1, 0.1), seed=0)
    reordered = assign_splits(groups[::-1], (0.8, 0.1, 0.1), seed=0)
    assert dict(zip(groups[::-1], reordered, strict=True)) == dict(zip(groups, splits, strict=True))
    assert splits != assign_splits(groups, (0.8, 0.1, 0.1), seed=1)


def test_groups_never_straddle_splits():
    groups = ["video_a"] * 6 + ["video_b"] * 3 + ["img1", "img2", "img3"]
    splits = assign_splits(groups, (0.5, 0.25, 0.25), seed=3)
    for group in set(groups):
        assert len({s for g, s in zip(groups, splits, strict=True) if g == group}) == 1


def test_parse_split():
    assert parse_split("0.8,0.1,0.1") == (0.8, 0.1, 0.1)
    assert parse_split("0.7,0.3") == (0.7, 0.3, 0.0)
    for bad in ("0.8,0.3", "a,b", "1,0,0,0", "-0.5,1.5"):
        with pytest.raises(ValueError, match="fractions"):
            parse_split(bad)
