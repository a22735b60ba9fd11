"""`distil predict` and `distil benchmark-student`."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import (
    class_counts,
    console,
    escape,
    handle_errors,
    print_json,
    setup_logging,
)
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.errors import MissingInputError, UsageError
from distil.settings import BenchmarkSettings, PredictSettings


@handle_errors
@takes(PredictSettings)
def predict(
    weights: Annotated[
        Path,
        typer.Argument(
            metavar="WEIGHTS",
            help="Student weights: .pt, a transformers student folder (weights/best) or its .onnx.",
        ),
    ],
    sources: Annotated[
        list[Path], typer.Argument(metavar="SOURCES", help="Images, folders or video files.")
    ],
    settings: PredictSettings,
    *,
    out: Annotated[Path | None, typer.Option(help="Default: runs/predict/expN.")] = None,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Annotated images / videos and YOLO label files (with scores) from a student."""
    setup_logging(quiet)
    from distil.target_models import student_for_weights

    summary = student_for_weights(weights).predict(
        sources, out, conf=settings.conf, imgsz=settings.imgsz, device=settings.device,
        threads=settings.threads, tracker=settings.tracker if settings.track else None,
    )  # fmt: skip
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        counts = class_counts(summary.detections_per_class)
        console.print(
            f"[green]predicted[/] {summary.frames} images/frames in "
            f"{summary.elapsed_s:.1f}s ({escape(counts)})"
            + (f", {summary.tracks} tracks" if settings.track else "")
            + f" -> {escape(summary.out)}"
        )
        for item in summary.skipped:
            console.print(
                f"  skipped {item['path']}: {item['reason']}", style="yellow", markup=False
            )


def _exported(weights: Path, size: int, scratch: Path) -> Path:
    """`weights` as ONNX at `size`, made in `scratch` (a link or copy of the .pt there)."""
    from distil.target_models import export_detr, export_student
    from distil.target_models.transformers_detr import is_detr_weights

    if is_detr_weights(weights):
        return Path(export_detr(weights, imgsz=size, out_dir=scratch).path)

    copy = scratch / f"{weights.stem}_{size}.pt"
    try:
        os.link(weights, copy)
    except OSError:
        shutil.copyfile(weights, copy)
    return Path(export_student(copy, "onnx", imgsz=size).path)


@handle_errors
@takes(BenchmarkSettings)
def benchmark_student(
    model: Annotated[
        Path,
        typer.Argument(
            metavar="MODEL", help="An exported .onnx, or a .pt or student folder to export first."
        ),
    ],
    settings: BenchmarkSettings,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Latency of the exported student on this machine (ms/image, p50 / p95)."""
    setup_logging(quiet)
    from distil.target_models.transformers_detr import is_detr_weights

    student_folder = model.is_dir() and is_detr_weights(model)
    if model.suffix not in (".pt", ".onnx") and not student_folder:
        raise UsageError(
            f"{model}: expected an .onnx or .pt file, or a transformers student's folder"
        )
    if not (model.is_file() or student_folder):
        raise MissingInputError(f"model not found: {model}")
    from distil.target_models.latency import check_sizes, onnx_latency

    if model.suffix == ".onnx":
        check_sizes(model, settings.imgsz)  # before any timing
    results = []
    # A .pt is exported once per size into a temporary folder: nothing is left beside it.
    with tempfile.TemporaryDirectory(prefix="distil-benchmark-") as scratch:
        for size in settings.imgsz:
            path = _exported(model, size, Path(scratch)) if model.suffix != ".onnx" else model
            latency = onnx_latency(path, size, runs=settings.runs, threads=settings.threads)
            latency.model = str(model)
            results.append(latency)
    if json_output:
        print_json({"latency": [r.to_dict() for r in results]})
    elif not quiet:
        from rich.table import Table

        table = Table(title=f"{escape(model.name)} latency ({results[0].provider}, batch 1)")
        for column in ("input", "mean ms", "p50 ms", "p95 ms", "img/s"):
            table.add_column(column, justify="right")
        for r in results:
            table.add_row(
                "x".join(map(str, r.input[2:])),
                f"{r.mean_ms:.2f}",
                f"{r.p50_ms:.2f}",
                f"{r.p95_ms:.2f}",
                f"{r.images_per_s:.1f}",
            )
        console.print(table)
