"""An annotated clip (mp4 or GIF) of a labeled video: masks, boxes, class and track id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import supervision as sv

from distil.datasets.filters import DEFAULT_NMS_IOU, select_detections
from distil.errors import UsageError
from distil.ontologies import Ontology
from distil.sources import VideoFrames
from distil.store import LabelStore
from distil.utils.files import atomic_write_bytes
from distil.utils.video import Mp4Writer

DEFAULT_PREVIEW_FPS = 10.0


def render_video_preview(
    label_dir: Path,
    video: Path | None = None,
    out_path: Path | None = None,
    box_threshold: float | None = None,
    nms_iou: float = DEFAULT_NMS_IOU,
    max_width: int = 960,
) -> tuple[Path, int]:
    """Draw the stored labels of `video` (default: the first labeled video) on its frames at
    the thresholds export would use, and write them as `.mp4` or `.gif` (by `out_path`'s
    suffix). Colors follow track ids when the video was tracked. Returns (path, frames)."""
    with LabelStore.open(label_dir) as store:
        videos = store.videos()
        if not videos:
            raise UsageError(f"{label_dir} has no labeled video frames")
        chosen = _choose(video, videos)
        ontology = Ontology.from_dict(store.ontology_dict).with_defaults(box_threshold)
        out_path = Path(out_path or Path(label_dir) / f"preview_{Path(chosen).stem}.mp4")
        if out_path.suffix.lower() not in (".mp4", ".gif"):
            raise UsageError(f"preview {out_path}: the file must end in .mp4 or .gif")
        frames, times = [], []
        source = VideoFrames()
        for frame in store.frames(with_masks=True, video=Path(chosen)):
            image = frame.identity
            rgb = source.get(image.path, image.frame_index)
            detections = select_detections(frame.detections, ontology, nms_iou)
            frames.append(_fit(annotate_tracks(rgb, detections, ontology.class_names), max_width))
            times.append(image.timestamp or 0.0)
        source.close()
    fps = _rate(times)
    if out_path.suffix.lower() == ".gif":
        _write_gif(frames, fps, out_path)
    else:
        _write_mp4(frames, fps, out_path)
    return out_path, len(frames)


def annotate_tracks(
    rgb: np.ndarray, detections: sv.Detections, class_names: list[str]
) -> np.ndarray:
    """Masks and boxes colored by track (by class when untracked), labeled '#id class 0.87'."""
    scene = rgb.copy()
    if len(detections) == 0:
        return scene
    tracked = detections.tracker_id is not None
    lookup = sv.ColorLookup.TRACK if tracked else sv.ColorLookup.CLASS
    # Sized by the frame's short side (720 px: 1), so a crowd in a 640x360 clip keeps its
    # boxes visible under small labels, and a 4K frame's labels stay readable.
    scale = min(rgb.shape[:2]) / 720
    if detections.mask is not None:
        scene = sv.MaskAnnotator(opacity=0.45, color_lookup=lookup).annotate(scene, detections)
    scene = sv.BoxAnnotator(thickness=max(1, round(2 * scale)), color_lookup=lookup).annotate(
        scene, detections
    )
    labels = [
        (f"#{t} " if tracked else "") + f"{class_names[c]} {s:.2f}"
        for c, s, t in zip(
            detections.class_id,
            detections.confidence,
            detections.tracker_id if tracked else [None] * len(detections),
            strict=True,
        )
    ]
    return sv.LabelAnnotator(
        text_scale=max(0.3, 0.5 * scale),
        text_thickness=max(1, round(scale)),
        text_padding=max(1, round(4 * scale)),
        color_lookup=lookup,
    ).annotate(scene, detections, labels)


def _choose(video: Path | None, videos: list[str]) -> str:
    if video is None:
        return videos[0]
    wanted = [v for v in videos if Path(v) == Path(video) or Path(v).name == Path(video).name]
    if not wanted:
        names = ", ".join(Path(v).name for v in videos)
        raise UsageError(f"--video {video}: no labeled frames of it here. Labeled videos: {names}")
    return wanted[0]


def _rate(times: list[float]) -> float:
    """Frames per second of the stored (sampled) frames, from their timestamps."""
    if len(times) < 2 or times[-1] <= times[0]:
        return DEFAULT_PREVIEW_FPS
    return (len(times) - 1) / (times[-1] - times[0])


def _fit(image: np.ndarray, max_width: int) -> np.ndarray:
    """Shrink to `max_width` and make both sides even (H.264 needs it)."""
    import cv2

    height, width = image.shape[:2]
    if width > max_width:
        height, width = round(height * max_width / width), max_width
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(image[: height - height % 2, : width - width % 2])


def _write_mp4(frames: list[np.ndarray], fps: float, out_path: Path) -> None:
    with Mp4Writer(out_path, fps) as video:
        for image in frames:
            video.write(image)


def _write_gif(frames: list[np.ndarray], fps: float, out_path: Path) -> None:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    images = [Image.fromarray(f) for f in frames]
    images[0].save(
        buffer,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=round(1000 / fps),
        loop=0,
    )
    atomic_write_bytes(out_path, buffer.getvalue())
