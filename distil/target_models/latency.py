"""How fast an exported student runs here: ms per image, p50 / p95."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distil.errors import CheckpointError, MissingInputError, UsageError


@dataclass
class Latency:
    model: str
    runtime: str
    provider: str
    input: list[int]
    runs: int
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p95_ms: float
    images_per_s: float
    threads: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def load_onnx(model: Path):
    """The ONNX graph of `model` (no external data); a file that is not one is a
    `CheckpointError` saying so in one line."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        graph = onnx.load(str(model), load_external_data=False)
    except (DecodeError, ValueError, RuntimeError) as e:
        raise CheckpointError(
            f"{model}: not a readable ONNX model (damaged, truncated, or not ONNX: {e})"
        ) from None
    if not graph.graph.input:
        raise CheckpointError(f"{model}: an ONNX model without inputs")
    return graph


def static_size(model: Path) -> list[int] | None:
    """The fixed input sizes of an ONNX model's image input (None when dynamic)."""
    dims = load_onnx(model).graph.input[0].type.tensor_type.shape
    sizes = [d.dim_value for d in dims.dim[2:] if d.dim_value]
    return sizes or None


def check_sizes(model: Path, sizes: list[int]) -> None:
    """Refuse a size a static ONNX model cannot take, rather than time it at its own."""
    fixed = static_size(model)
    wrong = [size for size in sizes if fixed and size not in fixed]
    if fixed and wrong:
        raise UsageError(
            f"--imgsz {wrong[0]}: {model.name} takes {'x'.join(map(str, fixed))} inputs only "
            f"(a static export); time it at --imgsz {fixed[0]}, give the .pt to export one "
            "model per size, or export with --dynamic"
        )


def onnx_latency(
    model: Path, imgsz: int = 640, runs: int = 50, warmup: int = 5, threads: int | None = None
) -> Latency:
    """Time the ONNX model alone (batch 1), on the best onnxruntime provider present."""
    import onnxruntime as ort

    model = Path(model)
    if not model.is_file():
        raise MissingInputError(f"exported model not found: {model}")
    check_sizes(model, [imgsz])
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or os.cpu_count() or 1
    available = ort.get_available_providers()
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
    session = ort.InferenceSession(str(model), options, providers=providers)
    spec = session.get_inputs()[0]
    height, width = (d if isinstance(d, int) else imgsz for d in spec.shape[2:])
    image = np.random.default_rng(0).random((1, 3, height, width), dtype=np.float32)
    feed = {spec.name: image}
    for _ in range(warmup):
        session.run(None, feed)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1000)
    times_ms = np.array(times)
    return Latency(
        model=str(model),
        runtime=f"onnxruntime {ort.__version__}",
        provider=session.get_providers()[0],
        input=[1, 3, height, width],
        runs=runs,
        mean_ms=round(float(times_ms.mean()), 3),
        p50_ms=round(float(np.percentile(times_ms, 50)), 3),
        p90_ms=round(float(np.percentile(times_ms, 90)), 3),
        p95_ms=round(float(np.percentile(times_ms, 95)), 3),
        images_per_s=round(1000 / float(times_ms.mean()), 2),
        threads=options.intra_op_num_threads,
    )
