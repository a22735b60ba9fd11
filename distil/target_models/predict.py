"""Run a student on images, folders or videos: annotated outputs plus YOLO label files."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from distil.utils.files import increment_path, mark_output


@dataclass
class PredictSummary:
    out: str
    frames: int = 0
    detections_per_class: dict[str, int] = field(default_factory=dict)
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
) -> PredictSummary:
    """Predict with a loaded Ultralytics model; streams, so long videos use flat memory.

    Writes `out_dir/<name>.jpg|.mp4` (annotated) and `out_dir/labels/<name>.txt` (YOLO
    boxes with a confidence column; one file per video frame, `<video>_<frame>.txt`).
    """
    from distil.utils.device import ultralytics_device

    out_dir = Path(out_dir) if out_dir else increment_path(Path("runs/predict/exp"))
    for source in sources:
        if not Path(source).exists():
            raise FileNotFoundError(f"input not found: {source}")
    device_arg = ultralytics_device(device, "predicting")
    mark_output(out_dir)
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    frames = 0
    for source in sources:
        results = yolo.predict(
            str(source),
            conf=conf,
            device=device_arg,
            stream=True,
            verbose=False,
            save=save_images,
            save_txt=True,
            save_conf=True,
            project=str(out_dir.resolve().parent),
            name=out_dir.name,
            exist_ok=True,
            **({"imgsz": imgsz} if imgsz else {}),
        )
        for result in results:
            frames += 1
            counts.update(result.names[int(c)] for c in result.boxes.cls.tolist())
    return PredictSummary(str(out_dir), frames, dict(counts), round(time.perf_counter() - start, 2))
