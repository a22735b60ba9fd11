"""Is a labeled source still the file that was labeled? Checked at export, cheaply.

A file whose size and modification time are those stored is taken as unchanged; one whose
stamp differs (or was labeled before stamps were stored) is hashed, and kept only when its
content is the same. A video is checked once for all its frames.
"""

from __future__ import annotations

import os

from distil.detections import FileStamp, FrameIdentity
from distil.sources.images import ImageReadError, file_problem, read_file
from distil.sources.video import video_id

CHANGED = "changed since it was labeled (new content): rerun `distil label` to relabel it"
DELETED = "deleted since it was labeled"


class SourceCheck:
    """`problem(identity)`: why a stored frame's source can no longer be exported, or None.

    >>> check = SourceCheck()
    >>> check.problem(stored_frame.identity)  # None: the file is as it was labeled
    """

    def __init__(self) -> None:
        self._videos: dict[str, str | None] = {}

    def problem(self, identity: FrameIdentity) -> str | None:
        path = str(identity.path)
        if identity.frame_index is not None:
            if path not in self._videos:
                self._videos[path] = self._video_problem(identity)
            return self._videos[path]
        stamp = _stamp(identity)
        if isinstance(stamp, str):
            return stamp
        if stamp == identity.stamp:
            return None
        try:
            _, digest, _ = read_file(identity.path)
        except ImageReadError as e:
            return str(e)
        return None if digest == identity.hash else CHANGED

    def _video_problem(self, identity: FrameIdentity) -> str | None:
        stamp = _stamp(identity)
        if isinstance(stamp, str):
            return stamp
        if stamp == identity.stamp:
            return None
        try:
            same = video_id(identity.path) == identity.video_id
        except OSError as e:
            return f"cannot read file ({e.strerror or e})"
        return None if same else CHANGED


def _stamp(identity: FrameIdentity) -> FileStamp | str:
    """The file's stamp now, or why it has none."""
    try:
        info = os.stat(identity.path)
    except FileNotFoundError:
        return DELETED
    except OSError as e:
        return f"cannot read file ({e.strerror or e})"
    return file_problem(info) or FileStamp.of(info)
