"""Writing H.264 `.mp4` files frame by frame: flat memory, and never seen half-written."""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from distil.utils.files import ordinary_mode, refuse_link


class Mp4Writer:
    """RGB frames -> an H.264 `.mp4` at `path`, written beside it under a temporary name and
    renamed into place by `close()`; `discard()` (or an error inside `with`) leaves nothing.
    Frames are cropped to even sides, as H.264 needs.

    >>> with Mp4Writer(Path("out.mp4"), fps=25) as video:  # doctest: +SKIP
    ...     video.write(rgb)
    """

    def __init__(self, path: Path, fps: float) -> None:
        self.path = refuse_link(Path(path))
        self.fps = fps if fps > 0 else 25.0
        self.frames = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".distil-", suffix=".mp4", dir=self.path.parent)
        os.close(fd)
        self._temporary = Path(name)
        self._container = None
        self._stream = None

    def write(self, rgb: np.ndarray) -> None:
        import av

        height, width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
        if self._container is None:
            self._container = av.open(str(self._temporary), "w", format="mp4")
            rate = Fraction(self.fps).limit_denominator(1001)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.height, self._stream.width = height, width
            self._stream.pix_fmt = "yuv420p"
        image = np.ascontiguousarray(rgb[: self._stream.height, : self._stream.width])
        if image.shape[:2] != (self._stream.height, self._stream.width):
            raise ValueError(f"{self.path}: frame size changed within the video")
        frame = av.VideoFrame.from_ndarray(image, format="rgb24")
        self._container.mux(self._stream.encode(frame))
        self.frames += 1

    def close(self) -> Path:
        """Finish the file and move it into place; returns its path."""
        if self._container is not None:
            self._container.mux(self._stream.encode())
            self._container.close()
            self._container = None
        os.chmod(self._temporary, ordinary_mode())
        refuse_link(self.path)
        os.replace(self._temporary, self.path)
        return self.path

    def discard(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        self._temporary.unlink(missing_ok=True)

    def __enter__(self) -> Mp4Writer:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is None:
            self.close()
        else:
            self.discard()
