"""The data engine: rank stored frames by how likely their labels are wrong, hand the top
to a labeling tool or the review app (`review.app`), store the corrections as human
labels. Names load on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": ["ReviewRanking", "RoundSummary", "rank_store", "write_review_round"],
        "importing": ["ImportSummary", "count_changes", "import_corrections", "read_corrections"],
        "ranking": ["FrameJudge", "FrameToRank", "RankedFrame", "box_probability", "rank_frames"],
        "stats": ["RoundStats", "review_stats"],
    },
)
