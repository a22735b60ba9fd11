"""Run a student on images, folders or videos: annotated outputs plus YOLO label files.

Sources are read the way `distil label` reads them (`distil.sources.iter_frames`): a
FIFO, a device, a file whose name is not UTF-8, a decompression bomb or a corrupt file is
skipped with the same reason, and the rest goes on. Outputs are written by distil, never
through a link: `<name>.jpg` per image, `<video>.mp4` (H.264) per video, and
`labels/<name>.txt` (class, box, score) per image or video frame, the frame numbered from 0
as `distil export` numbers it (`<video>_000000.txt`). With a tracker, video frames' boxes
carry track ids (from 1 per video; a seventh column in the label files, drawn as `id:N`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distil.datasets.naming import dataset_path, unique_path
from distil.errors import MissingInputError
from distil.sources import Frame, SkippedFile, display_path, iter_frames, scan_sources
from distil.sources.video import frame_rate
from distil.utils.files import atomic_write_text, increment_path, mark_output, write_bytes
from distil.utils.video import Mp4Writer

PREDICT_BATCH = 8  # frames per forward


@dataclass
class PredictSummary:
    out: str
    frames: int = 0
    detections_per_class: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    tracks: int = 0  # with a tracker: track ids given, over all videos
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def predict_student(
    yolo,
    sources: list[Path],
    out_dir: Path | None = None,
    conf: float = 0.25,
    imgsz: int | None = None,
    device: str = "auto",
    save_images: bool = True,
    threads: int | None = None,
    tracker: str | None = None,
) -> PredictSummary:
    """Predict with a loaded Ultralytics model, `PREDICT_BATCH` frames per forward;
    streams, so long videos use flat memory. `threads`: torch's CPU threads (default: the
    cores this process may use, less one for reading). `tracker` (bytetrack, botsort)
    tracks the boxes of each video's frames, restarting per video."""
    from distil.utils.cpu import use_threads
    from distil.utils.device import ultralytics_device

    out_dir = Path(out_dir) if out_dir else increment_path(Path("runs/predict/exp"))
    for source in sources:
        if not Path(source).exists():
            raise MissingInputError(f"input not found: {source}")
    device_arg = ultralytics_device(device, "predicting")
    use_threads(threads)
    mark_output(out_dir)
    start = time.perf_counter()
    summary = PredictSummary(str(out_dir))
    counts: Counter[str] = Counter()
    outputs = _Outputs(out_dir, save_images)
    options = {"conf": conf, "device": device_arg, "verbose": False}
    options |= {"imgsz": imgsz} if imgsz else {}
    tracks = _Tracks(tracker) if tracker else None
    try:
        for batch in _batches(sources, summary):
            images = [np.ascontiguousarray(frame.image[..., ::-1]) for frame in batch]  # BGR
            for frame, result in zip(batch, yolo.predict(images, **options), strict=True):
                if tracks is not None and frame.identity.frame_index is not None:
                    result = tracks.follow(frame.identity.path, result)
                outputs.add(frame, result)
                counts.update(result.names[int(c)] for c in result.boxes.cls.tolist())
                summary.frames += 1
        outputs.close()
    except BaseException:
        outputs.discard()
        raise
    summary.detections_per_class = dict(counts)
    summary.tracks = tracks.total if tracks is not None else 0
    summary.elapsed_s = round(time.perf_counter() - start, 2)
    return summary


def _batches(sources: list[Path], summary: PredictSummary) -> Iterator[list[Frame]]:
    problems: list[SkippedFile] = []
    work = [(path, Path(root)) for root in sources for path in scan_sources(root, problems)]
    batch: list[Frame] = []
    for item in iter_frames([*problems, *work], once=False):
        if isinstance(item, SkippedFile):
            summary.skipped.append({"path": display_path(item.path), "reason": item.reason})
            continue
        batch.append(item)
        if len(batch) == PREDICT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


class _Tracks:
    """Track ids for the boxes of each video's frames, as Ultralytics' `track` gives them:
    a frame's result keeps its tracked boxes (and their masks), with their ids."""

    def __init__(self, tracker: str) -> None:
        from distil.utils.trackers import BoxTracker

        self.tracker = BoxTracker(tracker)
        self.video: Path | None = None
        self.done = 0  # ids given in the videos before this one
        self.highest = 0  # in this one

    @property
    def total(self) -> int:
        return self.done + self.highest

    def follow(self, video: Path, result):
        import torch

        if video != self.video:
            self.tracker.reset()
            self.video, self.done, self.highest = video, self.total, 0
        boxes = result.boxes.cpu().numpy()
        ids, index = self.tracker.update(boxes.xyxy, boxes.conf, boxes.cls, result.orig_img)
        tracked = result[index]
        rows = np.column_stack([boxes.xyxy[index], ids, boxes.conf[index], boxes.cls[index]])
        tracked.update(boxes=torch.as_tensor(rows, dtype=torch.float32))
        self.highest = max([self.highest, *ids.tolist()])
        return tracked


class _Outputs:
    """Where each frame's annotated image, video and label file go."""

    def __init__(self, out_dir: Path, save_images: bool) -> None:
        self.out_dir = out_dir
        self.save_images = save_images
        self.used: set[Path] = set()
        self.video: Mp4Writer | None = None
        self.video_source: Path | None = None

    def add(self, frame: Frame, result) -> None:
        import cv2

        identity = frame.identity
        relative = dataset_path(identity)
        if identity.frame_index is None:
            relative = unique_path(relative, identity.hash, self.used)
            if self.save_images:
                ok, jpeg = cv2.imencode(".jpg", result.plot())
                if ok:
                    target = (self.out_dir / relative).with_suffix(".jpg")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    write_bytes(target, jpeg.tobytes())
        elif self.save_images:
            if identity.path != self.video_source:
                self._finish_video()
                video = (self.out_dir / relative).with_name(f"{identity.path.stem}.mp4")
                self.video = Mp4Writer(video, frame_rate(identity.path))
                self.video_source = identity.path
            self.video.write(result.plot()[..., ::-1])
        boxes = result.boxes
        columns = [boxes.cls.numpy(), boxes.xywhn.numpy(), boxes.conf.numpy()]
        if boxes.is_track:
            columns.append(boxes.id.numpy())
        rows = np.column_stack(columns).reshape(-1, len(columns) + 3)  # xywhn: 4 columns
        if len(rows):  # as Ultralytics' save_txt: no file for a frame without boxes
            lines = "".join(f"{int(r[0])} {' '.join(f'{v:.6g}' for v in r[1:])}\n" for r in rows)
            atomic_write_text((self.out_dir / "labels" / relative).with_suffix(".txt"), lines)

    def _finish_video(self) -> None:
        if self.video is not None:
            self.video.close()
        self.video = self.video_source = None

    def close(self) -> None:
        self._finish_video()

    def discard(self) -> None:
        if self.video is not None:
            self.video.discard()
        self.video = self.video_source = None
