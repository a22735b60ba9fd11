"""`distil train`: a YOLO student on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, handle_errors, print_json, setup_logging
from distil.cli.options import parse_assignments
from distil.target_models import DEFAULT_STUDENT, YoloStudent


@handle_errors
def train(
    dataset: Annotated[
        Path | None, typer.Argument(help="YOLO dataset folder (from `distil export`) or data.yaml.")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            help="yolo11n/s/m, yolov8n/s, *-seg, or a .pt; a local <name>.pt in "
            "--weights-dir / $DISTIL_WEIGHTS_DIR is used when present."
        ),
    ] = DEFAULT_STUDENT,
    epochs: Annotated[int, typer.Option(min=1)] = 100,
    imgsz: Annotated[int, typer.Option(min=32)] = 640,
    batch: Annotated[int, typer.Option(help="Images per batch (-1: fit GPU memory).")] = 16,
    patience: Annotated[int, typer.Option(min=0, help="Stop after N epochs without gain.")] = 100,
    lr0: Annotated[float | None, typer.Option(help="Initial learning rate.")] = None,
    workers: Annotated[int, typer.Option(min=0, help="Data loader workers.")] = 8,
    seed: Annotated[int, typer.Option()] = 0,
    device: Annotated[
        str, typer.Option(help="auto (GPU when present), cpu, cuda:0, mps.")
    ] = "auto",
    project: Annotated[Path, typer.Option(help="Runs folder.")] = Path("runs/train"),
    name: Annotated[str | None, typer.Option(help="Run name. Default: next free expN.")] = None,
    weights_dir: Annotated[Path | None, typer.Option(help="Where to look for <model>.pt.")] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any Ultralytics train setting, KEY=VALUE (mosaic=0.5)."),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue an interrupted run folder (runs/train/exp).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Train an Ultralytics YOLO student (detect or segment, from the dataset)."""
    setup_logging(quiet)
    student = YoloStudent()
    if resume is not None:
        result = student.resume(resume)
    else:
        if dataset is None:
            raise ValueError("give a DATASET to train on, or --resume RUN_DIR")
        options = {
            "epochs": epochs,
            "imgsz": imgsz,
            "batch": batch,
            "patience": patience,
            "workers": workers,
            "seed": seed,
            **({"lr0": lr0} if lr0 is not None else {}),
            **parse_assignments(set_, "--set"),
        }
        result = student.train(
            dataset,
            model=model,
            project=project,
            name=name,
            device=device,
            weights_dir=weights_dir,
            **options,
        )
    if json_output:
        print_json(result.to_dict())
    elif not quiet:
        metrics = ", ".join(
            f"{k.split('/')[-1]} {v:.3f}"
            for k, v in result.metrics.items()
            if k.startswith("metrics/")
        )
        start = "pretrained" if result.pretrained else "from scratch"
        console.print(
            f"[green]trained[/] {result.model} ({start}) on {result.device} in "
            f"{result.elapsed_s:.0f}s: {metrics} -> {result.best}"
        )
