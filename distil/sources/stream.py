"""One lazy stream of frames from image files and videos, for every labeler.

`iter_frames` turns (path, input root) pairs into `Frame`s in order, and is the one
place where a read problem becomes a reason shown to the user: an unreadable source gives
a `SkippedFile`, a video read only in part a `SkippedFile` with `partial=True` after its
frames. Frames whose content is already labeled (`is_known`), or was already seen in this
stream, come without pixels, so they cost neither decoding nor conversion.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from distil.detections import FileStamp, FrameIdentity
from distil.settings import FrameSampling
from distil.sources.core import Frame, SkippedFile, is_utf8, is_video_file
from distil.sources.images import ImageReadError, decode_image, file_problem, read_file
from distil.sources.shards import OtherShard, Shard
from distil.sources.video import VideoReadError, VideoReport, iter_video, video_id


def iter_frames(
    work: Iterable[tuple[Path, Path] | SkippedFile],
    sampling: FrameSampling | None = None,
    is_known: Callable[[str], bool] = lambda digest: False,
    shard: Shard | None = None,
    once: bool = True,
) -> Iterator[Frame | SkippedFile | OtherShard]:
    """Every frame of every (file, input root) in `work`, or why a file gave none (a
    `SkippedFile` in `work`, such as an unreadable folder, is passed on in its place).
    With `shard`, an image of another shard gives an `OtherShard` (videos are split by the
    caller, by `video_id`, before their frames are counted). `once`: content seen earlier
    in the stream comes without pixels too."""
    sampling = sampling or FrameSampling()
    seen: set[str] = set()

    def known(digest: str) -> bool:
        if digest in seen or is_known(digest):
            return True
        if once:
            seen.add(digest)
        return False

    for item in work:
        if isinstance(item, SkippedFile):
            yield item
            continue
        path, root = item
        if not is_utf8(path):
            # The store, the dataset files and the formats (COCO is JSON) need text names.
            yield SkippedFile(path, "file name is not valid UTF-8: rename the file to label it")
            continue
        if is_video_file(path):
            yield from _video_frames(path, root, sampling, known)
            continue
        try:
            data, digest, stamp = read_file(path)
            if shard is not None and not shard.owns(digest):
                yield OtherShard(path)
                continue
            identity = FrameIdentity(path, root, digest, stamp=stamp)
            yield Frame(identity, None if known(digest) else decode_image(data))
        except ImageReadError as e:
            yield SkippedFile(path, str(e))


def _video_frames(
    path: Path, root: Path, sampling: FrameSampling, known: Callable[[str], bool]
) -> Iterator[Frame | SkippedFile]:
    try:
        info = os.stat(path)
        problem = file_problem(info)
        if problem:  # a FIFO named .mp4 would block the decoder forever
            yield SkippedFile(path, problem)
            return
        video = video_id(path)
    except OSError as e:
        yield SkippedFile(path, f"cannot read file ({e.strerror or e})")
        return
    stamp = FileStamp.of(info)
    report = VideoReport(path)
    try:
        for position, decoded in enumerate(iter_video(path, sampling, report)):
            identity = decoded.identity(path, root, video, stamp)
            image = None if known(identity.hash) else decoded.rgb()
            yield Frame(identity, image, position)
    except VideoReadError as e:
        yield SkippedFile(path, str(e))
        return
    if report.problem:
        yield SkippedFile(path, report.problem, partial=report.kept > 0)
