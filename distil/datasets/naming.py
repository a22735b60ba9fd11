"""Where a stored frame goes in a dataset, and how clashing names are told apart.

A dataset path always stays inside the dataset: `..`, `.` and absolute parts of a stored
source path (a tampered store) are dropped, and a name too long for the file system is
shortened with its content hash.
"""

from __future__ import annotations

from collections import Counter
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
    parts = [p for p in relative.parts if p not in ("", ".", "..", "/")]
    relative = Path(*parts) if parts else Path(f"{identity.hash}.jpg")
    if identity.frame_index is not None:
        relative = relative.with_name(f"{relative.stem}_{identity.frame_index:06d}.jpg")
    return fit_name(relative, identity.hash)


NAME_MAX = 255  # bytes in one file name on Linux, macOS and Windows file systems
_LONGEST_SUFFIX = len(".json")  # a label file may take a longer suffix than its image


def fit_name(relative: Path, digest: str) -> Path:
    """`relative` with a file name short enough for any suffix distil gives it; a longer
    name keeps its start and ends with the content hash, so it stays unique.

    >>> fit_name(Path("a") / ("x" * 300 + ".jpg"), "0123456789abcdef").name[-13:]
    '_01234567.jpg'
    """
    stem, suffix = relative.stem, relative.suffix
    room = NAME_MAX - max(len(suffix.encode()), _LONGEST_SUFFIX)
    if len(stem.encode()) <= room:
        return relative
    tag = f"_{digest[:8]}"
    cut = stem.encode()[: room - len(tag)].decode("utf-8", "ignore")
    return relative.with_name(f"{cut}{tag}{suffix}")


def unique_path(relative: Path, digest: str, used: set[Path]) -> Path:
    """Two sources with the same dataset path get distinct names (content hash suffix)."""
    key = relative.with_suffix("")
    if key in used:
        relative = relative.with_name(f"{relative.stem}_{digest[:8]}{relative.suffix}")
        relative = fit_name(relative, digest)
        key = relative.with_suffix("")
    used.add(key)
    return relative


def unique_stems(paths: list[str]) -> list[str]:
    """One file stem per path, a clashing stem numbered (`a`, `a_2`, ...): how review task
    folders name their per-image files.

    >>> unique_stems(["x/a.jpg", "y/a.jpg", "b.png"])
    ['a', 'a_2', 'b']
    """
    used: set[str] = set()
    stems = []
    for path in paths:
        stem = Path(path).stem
        name, number = stem, 1
        while name in used:
            number += 1
            name = f"{stem}_{number}"
        used.add(name)
        stems.append(name)
    return stems


def distinct_names(paths: list[str]) -> list[str]:
    """The shortest end of each path that no other path shares: the file name, with as
    many parent folders as it takes (how a labeling tool that matches images by name sees
    files uploaded together).

    >>> distinct_names(["/data/x/a.jpg", "/data/y/a.jpg", "/data/y/b.png"])
    ['x/a.jpg', 'y/a.jpg', 'b.png']
    """
    parts = [[p for p in Path(path).parts if p != Path(path).anchor] for path in paths]
    depth = [1] * len(paths)
    while True:
        names = ["/".join(p[-d:]) for p, d in zip(parts, depth, strict=True)]
        counts = Counter(names)
        clashing = [i for i, n in enumerate(names) if counts[n] > 1 and depth[i] < len(parts[i])]
        if not clashing:
            return names
        for i in clashing:
            depth[i] += 1
