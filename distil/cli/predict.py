"""`distil predict` and `distil benchmark-student`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from distil.cli.common import console, handle_errors, print_json, setup_logging
from distil.target_models import ModelFormat, YoloStudent, export_student, onnx_latency


@handle_errors
def predict(
    weights: Annotated[Path, typer.Argument(help="Student weights (.pt or exported .onnx).")],
    sources: Annotated[list[Path], typer.Argument(help="Images, folders or video files.")],
    out: Annotated[Path | None, typer.Option(help="Default: runs/predict/expN.")] = None,
    conf: Annotated[float, typer.Option(min=0.0, max=1.0)] = 0.25,
    imgsz: Annotated[int | None, typer.Option(help="Default: the training size.")] = None,
    device: Annotated[str, typer.Option()] = "auto",
    json_output: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Annotated images / videos and YOLO label files (with scores) from a student."""
    setup_logging(quiet)
    summary = YoloStudent(weights).predict(sources, out, conf=conf, imgsz=imgsz, device=device)
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        counts = ", ".join(f"{k} {v}" for k, v in summary.detections_per_class.items()) or "none"
        console.print(
            f"[green]predicted[/] {summary.frames} images/frames in "
            f"{summary.elapsed_s:.1f}s ({counts}) -> {summary.out}"
        )


@handle_errors
def benchmark_student(
    model: Annotated[Path, typer.Argument(help="An exported .onnx, or a .pt to export first.")],
    imgsz: Annotated[
        str, typer.Option(help="Comma-separated sizes (a .pt is exported once per size).")
    ] = "640",
    runs: Annotated[int, typer.Option(min=1, help="Timed runs per size.")] = 100,
    threads: Annotated[int | None, typer.Option(help="CPU threads. Default: all.")] = None,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Latency of the exported student on this machine (ms/image, p50 / p95)."""
    setup_logging(quiet)
    try:
        sizes = [int(s) for s in imgsz.split(",") if s.strip()]
    except ValueError:
        raise ValueError(f"--imgsz {imgsz!r}: expected sizes like 320,640") from None
    results = []
    for size in sizes:
        path = model
        if model.suffix == ".pt":
            path = Path(export_student(model, ModelFormat.ONNX, imgsz=size).path)
        elif model.suffix != ".onnx":
            raise ValueError(f"{model}: expected an .onnx or .pt file")
        results.append(onnx_latency(path, size, runs=runs, threads=threads))
    if json_output:
        print_json({"latency": [r.to_dict() for r in results]})
    elif not quiet:
        table = Table(title=f"{model.name} latency ({results[0].provider}, batch 1)")
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
