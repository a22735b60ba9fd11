"""`distil train`: a student (Ultralytics YOLO, or a transformers detector) on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, escape, handle_errors, print_json, setup_logging
from distil.cli.options import parse_assignments
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.cli.progress import training
from distil.errors import UsageError
from distil.settings import DETR_OPTIONS, TrainSettings


@handle_errors
@takes(TrainSettings)
def train(
    settings: TrainSettings,
    dataset: Annotated[
        Path | None,
        typer.Argument(
            metavar="DATASET", help="YOLO dataset folder (from `distil export`) or data.yaml."
        ),
    ] = None,
    *,
    project: Annotated[Path, typer.Option(help="Runs folder.")] = Path("runs/train"),
    name: Annotated[
        str | None, typer.Option(metavar="<text>", help="Run name. Default: next free expN.")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="KEY=VALUE",
            help="A student training setting, KEY=VALUE: any Ultralytics train setting "
            "(mosaic=0.5), or for a transformers student one of: " + ", ".join(DETR_OPTIONS),
        ),
    ] = None,
    resume: Annotated[
        Path | None, typer.Option(help="Continue an interrupted run folder (runs/train/exp).")
    ] = None,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Train a student: Ultralytics YOLO (detect or segment, from the dataset), or RF-DETR,
    D-FINE or RT-DETRv2 through transformers."""
    setup_logging(quiet)
    if set_:
        settings = settings.replace(options=parse_assignments(set_, "--set"), flags=True)
    from distil.evaluation.core import student_validator
    from distil.target_models import student_for, student_for_run

    if resume is None and dataset is None:
        raise UsageError("give a DATASET to train on, or --resume RUN_DIR")
    if resume is None and len(settings.models) > 1:
        _compare(dataset, settings, project, name, json_output, quiet)
        return
    student = student_for_run(resume) if resume is not None else student_for(settings.model)
    validator = student_validator if student.needs_validator else None
    with training(quiet) as update:
        if resume is not None:
            result = student.resume(resume, progress=update, validator=validator)
        else:
            result = student.train_with(
                dataset, settings, project, name, progress=update, validator=validator
            )
    if json_output:
        print_json(result.to_dict())
    elif not quiet:
        metrics = ", ".join(
            f"{k.split('/')[-1].removesuffix('(B)')} {v:.3f}"
            for k, v in result.metrics.items()
            if k.startswith("metrics/")
        )
        start = "pretrained" if result.pretrained else "from scratch"
        console.print(
            f"[green]trained[/] {escape(result.model)} ({start}) on {result.device} in "
            f"{result.elapsed_s:.0f}s: {metrics} -> {escape(result.best)} "
            f"(licence {result.licence.upper()})"
        )


def _compare(
    dataset: Path, settings: TrainSettings, project: Path, name: str | None, json_output: bool,
    quiet: bool,
) -> None:  # fmt: skip
    """Several candidates: train each, then the table and the pick."""
    from rich.table import Table

    from distil.evaluation.candidates import compare_candidates

    with training(quiet) as update:
        result = compare_candidates(dataset, settings, project, name, progress=update)
    if json_output:
        print_json(result.to_dict())
        return
    if quiet:
        return
    table = Table(title=f"candidates, picked by {escape(result.select)}")
    for column in ("model", "mAP50-95", "mAP50", "p50 ms", "p90 ms", "params", "MB", "licence"):
        table.add_column(column, justify="left" if column in ("model", "licence") else "right")
    for row in result.rows:
        mark = " [green]*[/]" if row.model == result.chosen else ""
        if row.error:
            table.add_row(escape(row.model), f"[red]failed[/]: {escape(row.error[:80])}",
                          *[""] * 5, row.licence.upper())  # fmt: skip
            continue
        table.add_row(
            escape(row.model) + mark, f"{row.map50_95:.3f}", f"{row.map50:.3f}",
            f"{row.latency_p50_ms:.1f}", f"{row.latency_p90_ms:.1f}",
            f"{row.parameters / 1e6:.2f}M", f"{row.file_mb:.1f}", row.licence.upper(),
        )  # fmt: skip
    console.print(table)
    chosen = next((r for r in result.rows if r.model == result.chosen), None)
    if chosen is None:
        console.print(f"[yellow]none picked[/]: {escape(result.reason)}", highlight=False)
    else:
        console.print(
            f"[green]picked[/] {escape(chosen.model)} ({escape(result.reason)}) -> "
            f"{escape(chosen.best)}",
            highlight=False,
        )
