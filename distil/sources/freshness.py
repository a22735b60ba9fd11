"""Is a labeled source still the file that was labeled? Checked at export, cheaply.

A file whose size and modification time are those stored is taken as unchanged; one whose
stamp differs (or was labeled before stamps were stored) is hashed, and kept only when its
content is the same. A video is checked once for all its frames.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from distil.detections import FileStamp, FrameIdentity
from distil.sources.images import ImageReadError, file_problem, read_file
from distil.sources.remote import as_url, url_stamp
from distil.sources.video import video_id

CHANGED = "changed since it was labeled (new content): rerun `distil label` to relabel it"
DELETED = "deleted since it was labeled"


class SourceCheck:
    """`problem(identity)`: why a stored frame's source can no longer be exported, or None.

    >>> check = SourceCheck()  # doctest: +SKIP
    >>> # None: the file is as it was labeled
    >>> check.problem(stored_frame.identity)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._videos: dict[str, str | None] = {}

    def problem(self, identity: FrameIdentity) -> str | None:
        if identity.frame_index is None:
            return _problem(identity, lambda: read_file(identity.path)[1] == identity.hash)
        path = str(identity.path)
        if path not in self._videos:
            self._videos[path] = _problem(
                identity, lambda: video_id(identity.path) == identity.video_id
            )
        return self._videos[path]


def _problem(identity: FrameIdentity, same_content: Callable[[], bool]) -> str | None:
    """None when the file's stamp is the stored one, or its content is the same."""
    stamp = current_stamp(identity.path)
    if isinstance(stamp, str):
        return stamp
    if stamp == identity.stamp:
        return None
    try:
        return None if same_content() else CHANGED
    except ImageReadError as e:
        return str(e)
    except OSError as e:
        return f"cannot read file ({e.strerror or e})"


def current_stamp(path: Path) -> FileStamp | str:
    """The file's stamp now, or why it has none."""
    url = as_url(path)
    if url is not None:
        try:
            stamp = url_stamp(url)
        except Exception as e:  # each filesystem raises its own errors (auth, network)
            return f"cannot read file ({e})"
        return DELETED if stamp is None else stamp
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return DELETED
    except OSError as e:
        return f"cannot read file ({e.strerror or e})"
    return file_problem(info) or FileStamp.of(info)
