"""Splitting one labeling job into N shards by content, for CI matrices and several hosts.

A source belongs to shard `int(hash) % N`: its content hash for an image, its video id for
every frame of a video. The split needs no coordination, does not move when files are
added or renamed, and keeps identical files (and a video's frames) together.

>>> Shard.parse("2/4")
Shard(index=2, count=4)
>>> Shard.parse("1/1").owns("ab12")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from distil.settings import parse_shard


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as CI matrices count
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """'i/N' with 1 <= i <= N."""
        return cls(*parse_shard(text))

    def owns(self, digest: str) -> bool:
        """Whether the source with this content hash (or video id) is in this shard."""
        return int(digest[:16], 16) % self.count == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True)
class OtherShard:
    """A source the stream read and left to another shard."""

    path: Path
