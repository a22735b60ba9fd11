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


def test_one_video_is_cut_by_time_with_a_gap_and_groups_still_win():
    from distil.datasets.split import plan_splits

    frames = 100  # 10 s at 10 fps
    plan = plan_splits(["v1"] * frames, [i / 10 for i in range(frames)], (0.8, 0.2, 0.0))
    assert plan.chunked_videos == 1 and not plan.unfilled
    kept = [s for s in plan.splits if s is not None]
    assert {"train", "val"} == set(kept) and kept.count("val") >= 10
    # Chunks are contiguous in time, and no frame next to a cut is kept.
    for i in range(1, frames - 1):
        if plan.splits[i - 1] and plan.splits[i + 1] and plan.splits[i - 1] != plan.splits[i + 1]:
            assert plan.splits[i] is None
    assert plan.gap_frames == plan.splits.count(None) > 0
    # Enough groups to fill every split: nothing is cut.
    many = plan_splits([f"img{i}" for i in range(10)], [None] * 10, (0.8, 0.2, 0.0))
    assert many.chunked_videos == 0 and many.note() is None


def test_a_split_that_cannot_be_filled_is_said():
    from distil.datasets.split import plan_splits

    plan = plan_splits(["img1"], [None], (0.8, 0.2, 0.0))
    assert plan.unfilled == ["val"]
    assert "the val split got no frames" in plan.note()
