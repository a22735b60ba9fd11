"""Where a stored frame goes in a dataset, and how clashing names are told apart."""

from __future__ import annotations

from pathlib import Path

from distil.detections import FrameIdentity


def dataset_path(identity: FrameIdentity) -> Path:
    """The frame's path under `images/<split>/`: an image keeps its path under its input
    folder; a video frame becomes `<video name>_<frame index>.jpg` beside where the video
    was.

    >>> dataset_path(FrameIdentity(Path("in/a/cat.jpg"), Path("in"), "h"))
    PosixPath('a/cat.jpg')
    """
    if identity.root == identity.path:
        relative = Path(identity.path.name)
    else:
        try:
            relative = identity.path.relative_to(identity.root)
        except ValueError:
            relative = Path(identity.path.name)
    if identity.frame_index is None:
        return relative
    return relative.with_name(f"{relative.stem}_{identity.frame_index:06d}.jpg")


def unique_path(relative: Path, digest: str, used: set[Path]) -> Path:
    """Two sources with the same dataset path get distinct names (content hash suffix)."""
    key = relative.with_suffix("")
    if key in used:
        relative = relative.with_name(f"{relative.stem}_{digest[:8]}{relative.suffix}")
        key = relative.with_suffix("")
    used.add(key)
    return relative
