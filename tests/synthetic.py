"""Drawn images and clips whose labels are exact by construction."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import yaml

SHAPE_NAMES = ["square", "disc"]


def draw_shapes(rng: np.random.Generator, size: int) -> tuple[np.ndarray, list[tuple]]:
    """An RGB image with 1-3 shapes and their (class_id, x1, y1, x2, y2) boxes."""
    image = np.full((size, size, 3), 40, np.uint8)
    boxes = []
    for _ in range(rng.integers(1, 4)):
        class_id = int(rng.integers(0, 2))
        side = int(rng.integers(size // 6, size // 3))
        x1, y1 = (int(v) for v in rng.integers(0, size - side, 2))
        if class_id == 0:
            cv2.rectangle(image, (x1, y1), (x1 + side - 1, y1 + side - 1), (230, 60, 60), -1)
        else:
            r = side // 2
            cv2.circle(image, (x1 + r, y1 + r), r, (60, 220, 90), -1)
            side = 2 * r + 1
        boxes.append((class_id, x1, y1, x1 + side, y1 + side))
    return image, boxes


def make_shapes_dataset(
    root: Path, images: int = 16, size: int = 96, seed: int = 0, polygons: bool = False
) -> Path:
    """Write images/{train,val} + labels/{train,val} + data.yaml under `root`; returns root.
    `polygons`: each shape's outline (a square's corners, a disc's 16-gon), not its box."""
    rng = np.random.default_rng(seed)
    for i in range(images):
        split = "val" if i % 4 == 3 else "train"
        image, boxes = draw_shapes(rng, size)
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "images" / split / f"img{i:03d}.png"), image[..., ::-1])
        lines = [
            _outline_line(c, x1, y1, x2, y2, size)
            if polygons
            else f"{c} {(x1 + x2) / 2 / size:.6f} {(y1 + y2) / 2 / size:.6f} "
            f"{(x2 - x1) / size:.6f} {(y2 - y1) / size:.6f}"
            for c, x1, y1, x2, y2 in boxes
        ]
        (root / "labels" / split / f"img{i:03d}.txt").write_text("\n".join(lines) + "\n")
    data = {
        "path": str(root.resolve()),
        "train": "images/train",
        "val": "images/val",
        "names": dict(enumerate(SHAPE_NAMES)),
    }
    (root / "data.yaml").write_text(yaml.safe_dump(data, sort_keys=False))
    return root


def _outline_line(class_id: int, x1: int, y1: int, x2: int, y2: int, size: int) -> str:
    if class_id == 0:
        points = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], float)
    else:
        angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        centre, radius = np.array([x1 + x2, y1 + y2]) / 2, (x2 - x1) / 2
        points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    return f"{class_id} " + " ".join(f"{v:.6f}" for v in (points / size).clip(0, 1).ravel())


def moving_shapes_frame(index: int, width: int = 160, height: int = 120) -> np.ndarray:
    """Frame `index` of a clip: a red square moving right and a green disc moving down, with
    the frame number drawn as a bright bar whose length encodes it (for order checks)."""
    image = np.full((height, width, 3), 40, np.uint8)
    x = 10 + (2 * index) % (width - 50)
    cv2.rectangle(image, (x, 30), (x + 29, 59), (230, 60, 60), -1)
    y = 10 + index % (height - 40)
    cv2.circle(image, (110, y + 15), 15, (60, 220, 90), -1)
    image[height - 4 :, : min(width, index + 1)] = 255
    return image


def make_video(
    path: Path,
    frames: int = 30,
    fps: int = 10,
    width: int = 160,
    height: int = 120,
    codec: str = "libx264",
    rotation: int | None = None,
    pts: list[int] | None = None,
    draw=moving_shapes_frame,
) -> Path:
    """Encode `draw(i, width, height)` for i in 0..frames-1 with PyAV; `pts` (in 1/fps/100 s
    units) gives variable frame timing, `rotation` display-matrix metadata."""
    from fractions import Fraction

    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "10", "bf": "0"}
        if pts is not None:
            stream.codec_context.time_base = Fraction(1, fps * 100)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(draw(i, width, height), format="rgb24")
            if pts is not None:
                frame.pts = pts[i]
                frame.time_base = stream.codec_context.time_base
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


# (class, size, start x, start y, velocity x, velocity y): paths cross, so objects occlude
BOUNCING_SHAPES = [
    ("square", 56, 40, 60, 5, 2),
    ("circle", 60, 500, 80, -4, 3),
    ("square", 48, 300, 350, 3, -4),
    ("circle", 52, 120, 300, 6, -2),
]
BOUNCING_COLORS = {"square": (220, 50, 50), "circle": (50, 200, 80)}


def _bounce(start: int, velocity: int, span: int, index: int) -> int:
    """Position after `index` steps moving at `velocity` between 0 and `span`, reflecting."""
    position = (start + velocity * index) % (2 * span)
    return int(position if position <= span else 2 * span - position)


def bouncing_boxes(index: int, width: int, height: int) -> list[tuple[int, str, int, int, int]]:
    """(track id, class, left, top, size) of every shape on frame `index`."""
    boxes = []
    for k, (cls, size, x, y, vx, vy) in enumerate(BOUNCING_SHAPES):
        left, top = _bounce(x, vx, width - size, index), _bounce(y, vy, height - size, index)
        boxes.append((k + 1, cls, left, top, size))
    return boxes


def bouncing_frame(index: int, width: int = 640, height: int = 480) -> np.ndarray:
    """Frame `index` of a clip of squares and discs bouncing off the edges, crossing paths."""
    image = np.full((height, width, 3), 90, np.uint8)
    image[::24] = 110
    for _, cls, left, top, size in bouncing_boxes(index, width, height):
        if cls == "square":
            cv2.rectangle(
                image, (left, top), (left + size - 1, top + size - 1), BOUNCING_COLORS[cls], -1
            )
        else:
            r = (size - 1) // 2  # the disc spans 2r + 1 pixels
            cv2.circle(image, (left + r, top + r), r, BOUNCING_COLORS[cls], -1)
    return image


def bouncing_truth(frames: int, width: int = 640, height: int = 480) -> np.ndarray:
    """The clip's true tracks as MOT rows (frame, id, left, top, width, height)."""
    return np.array(
        [
            [index + 1, track, left, top, size, size]
            for index in range(frames)
            for track, _, left, top, size in bouncing_boxes(index, width, height)
        ],
        dtype=np.float64,
    )


# COCO classes whose largest cut-outs in coco128 YOLO11n finds on a plain background
# (person, motorcycle, airplane, bus, cat).
_CROP_CLASSES = (0, 3, 4, 5, 15)


def coco_crops(coco: Path, count: int = 5, size: int = 150) -> list[tuple[int, np.ndarray]]:
    """(class id, RGBA crop) of `count` whole objects cut out of a COCO-style folder along
    their polygon labels (`labels-seg/`), the largest of distinct classes first, scaled so
    that the longer side is `size` pixels. Deterministic."""
    from ultralytics.data.converter import coco91_to_coco80_class

    yolo_ids = coco91_to_coco80_class()  # the polygons' class column holds COCO's 91 ids, 1-based
    candidates = []
    for label in sorted((coco / "labels-seg").glob("*.txt")):
        for line in label.read_text().splitlines():
            values = line.split()
            class_id = yolo_ids[int(values[0]) - 1]
            points = np.array(values[1:], np.float64).reshape(-1, 2)
            low, high = points.min(0), points.max(0)
            area = cv2.contourArea(points.astype(np.float32))
            inside = (low > 0.02).all() and (high < 0.98).all()
            if class_id in _CROP_CLASSES and inside and area > 0.04:
                candidates.append((area, label.stem, class_id, points))
    crops: list[tuple[int, np.ndarray]] = []
    classes: set[int] = set()
    for _, stem, class_id, points in sorted(candidates, key=lambda c: (-c[0], c[1])):
        if class_id in classes:
            continue
        image = cv2.cvtColor(cv2.imread(str(coco / "images" / f"{stem}.jpg")), cv2.COLOR_BGR2RGB)
        height, width = image.shape[:2]
        polygon = np.round(points * [width, height]).astype(np.int32)
        mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(mask, [polygon], 255)
        x, y, w, h = cv2.boundingRect(polygon)
        rgba = np.dstack([image, mask])[y : y + h, x : x + w]
        scale = size / max(w, h)
        crops.append((class_id, cv2.resize(rgba, (round(w * scale), round(h * scale)))))
        classes.add(class_id)
        if len(crops) == count:
            break
    return crops


# (start x, start y, velocity x, velocity y) of each pasted crop: paths cross and occlude.
CROP_PATHS = [
    (20, 30, 6, 3),
    (460, 40, -5, 4),
    (250, 300, 4, -5),
    (80, 280, 7, -2),
    (400, 200, -3, -6),
]


def crop_boxes(
    index: int, width: int, height: int, crops: list[tuple[int, np.ndarray]]
) -> list[tuple[int, int, int, int, int]]:
    """(track id, left, top, crop width, crop height) of every crop on frame `index`."""
    boxes = []
    for k, ((_, crop), (x, y, vx, vy)) in enumerate(zip(crops, CROP_PATHS, strict=False)):
        h, w = crop.shape[:2]
        left, top = _bounce(x, vx, width - w, index), _bounce(y, vy, height - h, index)
        boxes.append((k + 1, left, top, w, h))
    return boxes


def crops_frame(
    index: int, width: int, height: int, crops: list[tuple[int, np.ndarray]]
) -> np.ndarray:
    """Frame `index`: the crops moving over a plain gradient, later ones in front."""
    ramp = np.linspace(70, 150, width, dtype=np.float32)
    image = np.repeat(np.broadcast_to(ramp[None, :, None], (height, width, 1)), 3, 2).copy()
    for (_, left, top, w, h), (_, crop) in zip(
        crop_boxes(index, width, height, crops), crops, strict=True
    ):
        alpha = crop[..., 3:].astype(np.float32) / 255
        region = image[top : top + h, left : left + w]
        region[:] = region * (1 - alpha) + crop[..., :3] * alpha
    return image.astype(np.uint8)


def crops_truth(
    frames: int, width: int, height: int, crops: list[tuple[int, np.ndarray]]
) -> np.ndarray:
    """The crop clip's true tracks as MOT rows (frame, id, left, top, width, height)."""
    return np.array(
        [
            [index + 1, track, left, top, w, h]
            for index in range(frames)
            for track, left, top, w, h in crop_boxes(index, width, height, crops)
        ],
        dtype=np.float64,
    ).reshape(-1, 6)
