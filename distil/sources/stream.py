"""One lazy stream of frames from image files and videos, for every labeler.

`iter_frames` turns (path, input root) pairs into `Frame`s in order, and is the one
place where a read problem becomes a reason shown to the user: an unreadable source gives
a `SkippedFile`, a video read only in part a `SkippedFile` with `partial=True` after its
frames. Frames whose content is already labeled (`is_known`), or was already seen in this
stream, come without pixels, so they cost neither decoding nor conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from distil.detections import FrameIdentity
from distil.settings import FrameSampling
from distil.sources.core import Frame, SkippedFile, is_video_file
from distil.sources.images import ImageReadError, decode_image, read_file
from distil.sources.video import VideoReadError, VideoReport, iter_video, video_id


def iter_frames(
    work: Iterable[tuple[Path, Path]],
    sampling: FrameSampling | None = None,
    is_known: Callable[[str], bool] = lambda digest: False,
) -> Iterator[Frame | SkippedFile]:
    """Every frame of every (file, input root) in `work`, or why a file gave none."""
    sampling = sampling or FrameSampling()
    seen: set[str] = set()

    def known(digest: str) -> bool:
        if digest in seen or is_known(digest):
            return True
        seen.add(digest)
        return False

    for path, root in work:
        if is_video_file(path):
            yield from _video_frames(path, root, sampling, known)
            continue
        try:
            data, digest = read_file(path)
            identity = FrameIdentity(path, root, digest)
            yield Frame(identity, None if known(digest) else decode_image(data))
        except ImageReadError as e:
            yield SkippedFile(path, str(e))


def _video_frames(
    path: Path, root: Path, sampling: FrameSampling, known: Callable[[str], bool]
) -> Iterator[Frame | SkippedFile]:
    try:
        video = video_id(path)
    except OSError as e:
        yield SkippedFile(path, f"cannot read file ({e.strerror or e})")
        return
    report = VideoReport(path)
    try:
        for position, decoded in enumerate(iter_video(path, sampling, report)):
            identity = decoded.identity(path, root, video)
            image = None if known(identity.hash) else decoded.rgb()
            yield Frame(identity, image, position)
    except VideoReadError as e:
        yield SkippedFile(path, str(e))
        return
    if report.problem:
        yield SkippedFile(path, report.problem, partial=report.kept > 0)
