"""Video files -> a lazy stream of sampled RGB frames, decoded with PyAV.

Frames are decoded one at a time (never the whole video), numbered in presentation order
from 0, and timed by their own timestamps, so variable-frame-rate video samples correctly.
Rotation metadata (phones) is applied. A truncated or corrupt video yields the frames that
could be read: decoding goes on after a damaged stretch, and `VideoReport` says what was
lost.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distil.detections import FileStamp, FrameIdentity
from distil.settings import FrameSampling
from distil.sources.core import Frame

logger = logging.getLogger(__name__)

# Tolerance for float timestamps when comparing them with sampling times.
_TIME_EPS = 1e-6
_HASH_CHUNK = 1 << 20


class VideoReadError(Exception):
    """A video could not be opened at all; the message is the reason shown to the user."""


@dataclass
class VideoReport:
    """What reading one video did: frames decoded and kept, duplicates dropped, and the
    error that stopped it early, if any."""

    path: Path
    decoded: int = 0
    kept: int = 0
    duplicates: int = 0
    expected: int | None = None  # frame count the container declares, when it does
    duration: float | None = None  # seconds the container declares, when it does
    last_timestamp: float | None = None
    error: str | None = None  # what stopped the reading early
    damaged_packets: int = 0  # packets that could not be decoded; reading went on
    damage: str | None = None  # the first decoding error of those

    @property
    def problem(self) -> str | None:
        """A one-line reason when the video was not read to its end, else None."""
        if self.error:
            return f"stopped after {self.decoded} frames: {self.error}"
        if self.decoded == 0:
            return "no frame could be decoded"
        if self.damaged_packets:
            of = f" of {self.expected}" if self.expected else ""
            return (
                f"damaged: {self.damaged_packets} packets could not be decoded "
                f"({self.damage}); {self.decoded}{of} frames decoded"
            )
        if self.expected and self.decoded < self.expected:
            return f"truncated: {self.decoded} of {self.expected} frames could be decoded"
        # A frame or two short is normal: the declared duration includes the last frame's.
        if (
            self.duration
            and self.last_timestamp is not None
            and self.last_timestamp < self.duration - max(1.0, 0.1 * self.duration)
        ):
            return (
                f"truncated: frames end at {self.last_timestamp:.1f} s of the "
                f"{self.duration:.1f} s the file declares"
            )
        return None


@dataclass
class DecodedFrame:
    """A selected frame, still in the decoder's format: `rgb()` converts it on demand, so a
    frame that is already labeled costs no conversion."""

    index: int
    timestamp: float
    _frame: Any
    _rotation: int

    def identity(
        self, path: Path, root: Path, video: str, stamp: FileStamp | None = None
    ) -> FrameIdentity:
        """This frame's identity in the video with id `video` (file stamp `stamp`)."""
        digest = frame_hash(video, self.index)
        return FrameIdentity(path, root, digest, self.index, video, round(self.timestamp, 6), stamp)

    def rgb(self) -> np.ndarray:
        image = self._frame.to_ndarray(format="rgb24")
        if self._rotation:
            image = np.rot90(image, k=self._rotation // 90)
        return np.ascontiguousarray(image)


def video_id(path: Path) -> str:
    """A stable id for a video file: BLAKE2b-128 over its size and three 1 MiB samples.

    Hashing every byte of a multi-gigabyte file would cost as much as decoding it; sampling
    still changes whenever the file is re-encoded, trimmed or replaced.
    """
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.blake2b(str(size).encode(), digest_size=16)
    with open(path, "rb") as handle:
        for offset in sorted({0, max(0, size // 2 - _HASH_CHUNK // 2), max(0, size - _HASH_CHUNK)}):
            handle.seek(offset)
            digest.update(handle.read(_HASH_CHUNK))
    return digest.hexdigest()


def frame_rate(path: Path) -> float:
    """The video's average frame rate (0 when the file does not say)."""
    container = _open(path)
    try:
        stream = container.streams.video[0]
        return float(stream.average_rate or stream.guessed_rate or 0)
    finally:
        container.close()


def frame_hash(video: str, index: int) -> str:
    """The store key of frame `index` of the video with id `video`."""
    return hashlib.blake2b(f"{video}:{index}".encode(), digest_size=16).hexdigest()


def _open(path: Path):
    import av

    if not os.access(path, os.R_OK):
        raise VideoReadError("permission denied" if Path(path).exists() else "file not found")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as e:
        raise VideoReadError(f"not a readable video ({_reason(e)})") from None
    if not container.streams.video:
        container.close()
        raise VideoReadError("no video stream in the file")
    return container


def _reason(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def iter_video(
    path: Path, sampling: FrameSampling | None = None, report: VideoReport | None = None
) -> Iterator[DecodedFrame]:
    """Decode `path` and yield the frames `sampling` selects, in order.

    Raises `VideoReadError` when the file cannot be opened; a decoding error later only ends
    the stream and is recorded in `report.error`.
    """

    sampling = sampling or FrameSampling()
    report = report if report is not None else VideoReport(Path(path))
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        report.expected = int(stream.frames) or None
        if container.duration:
            report.duration = container.duration / 1_000_000  # AV_TIME_BASE units
        rate = float(stream.average_rate or stream.guessed_rate or 0) or None
        selected_in_range = 0
        next_time = sampling.start
        last_hash: int | None = None
        first_time: float | None = None
        stopped_on_purpose = False
        for frame in _decode(container, stream, report):
            index = report.decoded
            report.decoded += 1
            if frame.time is None:
                timestamp = index / rate if rate else float(index)
            else:
                first_time = frame.time if first_time is None else first_time
                timestamp = frame.time - first_time
            report.last_timestamp = timestamp
            if timestamp + _TIME_EPS < sampling.start:
                continue
            if sampling.end is not None and timestamp > sampling.end + _TIME_EPS:
                stopped_on_purpose = True
                break
            position = selected_in_range
            selected_in_range += 1
            if sampling.fps is not None:
                if timestamp + _TIME_EPS < next_time:
                    continue
                while next_time <= timestamp + _TIME_EPS:
                    next_time += 1.0 / sampling.fps
            elif position % sampling.every:
                continue
            if sampling.dedup is not None:
                thumb_hash = _difference_hash(frame)
                if last_hash is not None and (thumb_hash ^ last_hash).bit_count() <= sampling.dedup:
                    report.duplicates += 1
                    continue
                last_hash = thumb_hash
            report.kept += 1
            yield DecodedFrame(index, timestamp, frame, _rotation(frame))
            if sampling.max_frames is not None and report.kept >= sampling.max_frames:
                stopped_on_purpose = True
                break
        if stopped_on_purpose:  # not read to the end on purpose: no truncation check
            report.expected = report.duration = None
    finally:
        container.close()


def _decode(container, stream, report: VideoReport) -> Iterator[Any]:
    """The stream's frames, packet by packet: a packet that fails to decode is counted and
    skipped (the decoder resynchronises at the next keyframe); a container that can no
    longer be read ends the stream with `report.error`."""
    import av

    packets = container.demux(stream)
    while True:
        try:
            packet = next(packets)
        except StopIteration:
            return
        except av.error.FFmpegError as e:
            report.error = _reason(e)
            return
        try:
            decoded = packet.decode()
        except av.error.FFmpegError as e:
            report.damaged_packets += 1
            report.damage = report.damage or _reason(e)
            continue
        yield from decoded


def read_video(
    path: Path, sampling: FrameSampling | None = None, report: VideoReport | None = None
) -> Iterator[Frame]:
    """`iter_video` as RGB `Frame`s carrying video id, frame index and timestamp."""
    identity = video_id(path)
    for decoded in iter_video(path, sampling, report):
        yield Frame(decoded.identity(Path(path), Path(path).parent, identity), decoded.rgb())


def _rotation(frame) -> int:
    """Degrees counter-clockwise to turn the picture upright (a multiple of 90)."""
    try:
        degrees = int(round(frame.rotation or 0))
    except (AttributeError, TypeError, ValueError):
        return 0
    if degrees % 90:
        logger.warning("ignoring a %d degree display rotation (not a multiple of 90)", degrees)
        return 0
    return degrees % 360


def _difference_hash(frame) -> int:
    """64-bit dHash of a 9x8 grayscale thumbnail scaled by the decoder (cheap)."""
    small = frame.reformat(width=9, height=8, format="gray").to_ndarray()
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(np.packbits(bits).view(">u8")[0])


def estimate_frames(path: Path, sampling: FrameSampling | None = None) -> int:
    """About how many frames `sampling` will select (for progress bars; 0 if unknown)."""
    sampling = sampling or FrameSampling()
    try:
        container = _open(path)
    except VideoReadError:
        return 0
    try:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or stream.guessed_rate or 0)
        duration = container.duration / 1_000_000 if container.duration else None
        total = int(stream.frames) or (round(duration * rate) if duration and rate else 0)
    finally:
        container.close()
    if not total or not rate:
        return total
    end = min(sampling.end, total / rate) if sampling.end is not None else total / rate
    seconds = max(0.0, end - sampling.start)
    count = seconds * sampling.fps if sampling.fps else seconds * rate / sampling.every
    count = max(1, round(count)) if seconds > 0 else 0
    return min(count, sampling.max_frames) if sampling.max_frames else count


class VideoFrames:
    """Random access to frames by index for callers that ask in increasing order per video
    (export, preview): each video is decoded once, forward only; asking for an earlier
    frame restarts that video."""

    def __init__(self) -> None:
        self._path: Path | None = None
        self._frames: Iterator[DecodedFrame] | None = None
        self._current: DecodedFrame | None = None

    def get(self, path: Path, index: int) -> np.ndarray:
        """RGB of frame `index` of `path`; raises VideoReadError if the video no longer has it."""
        restart = path != self._path or self._current is None or self._current.index > index
        if restart:
            self.close()
            self._path, self._frames = path, iter_video(path)
            self._current = None
        while self._current is None or self._current.index < index:
            self._current = next(self._frames, None)
            if self._current is None:
                self.close()
                raise VideoReadError(f"{path} has no frame {index} (changed since labeling?)")
        if self._current.index != index:
            raise VideoReadError(f"{path} has no frame {index}")
        return self._current.rgb()

    def close(self) -> None:
        if self._frames is not None:
            self._frames.close()
        self._path = self._frames = self._current = None
