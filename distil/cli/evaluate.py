"""`distil eval`: auto-labels or a student against hand labels."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distil.cli.common import (
    EXIT_QUALITY,
    console,
    escape,
    handle_errors,
    print_json,
    print_table,
    setup_logging,
)
from distil.cli.options import parse_fail_under
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.errors import MissingInputError, UsageError
from distil.settings import METRICS, REVIEWED, EvalSettings

if TYPE_CHECKING:
    from distil.evaluation import EvalReport


@handle_errors
@takes(EvalSettings)
def evaluate(
    predictions: Annotated[
        Path,
        typer.Argument(
            metavar="PREDICTIONS",
            help="A label folder, a dataset from `distil export`, any YOLO/COCO "
            "dataset, or a student (.pt / .onnx).",
        ),
    ],
    settings: EvalSettings,
    *,
    sweep_out: Annotated[
        Path | None,
        typer.Option(help="Where the tuned ontology goes. Default: OUT/ontology_swept.yaml"),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Result folder. Default: runs/eval/expN.")
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=MIN",
            help=f"Exit 3 below these bars, e.g. map50=0.5. Metrics: {', '.join(METRICS)}.",
        ),
    ] = None,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """COCO mAP50-95 / mAP50 and per-class precision / recall against ground truth."""
    setup_logging(quiet)
    bars = parse_fail_under(fail_under)
    if settings.ground_truth is None:
        raise UsageError("--ground-truth: give the hand-labeled dataset to judge against")
    # Wrong paths are said before anything heavy is imported.
    if not predictions.exists():
        raise MissingInputError(f"not found: {predictions}")
    truth = settings.ground_truth
    if str(truth) != REVIEWED and not truth.exists():
        raise MissingInputError(f"--ground-truth: dataset not found: {truth}")
    from distil.evaluation import evaluate_path, missed_bars
    from distil.utils.files import atomic_write_json, increment_path, mark_output

    out_dir = out or increment_path(Path("runs/eval/exp"))
    report = evaluate_path(
        predictions,
        settings=settings,
        sweep_out=sweep_out or out_dir / "ontology_swept.yaml",
        both_modes=json_output,
    )
    mark_output(out_dir)  # only now: a refused model or bad dataset leaves no empty run
    atomic_write_json(out_dir / "eval.json", report.to_dict())
    if json_output:
        print_json(report.to_dict())
    elif not quiet:
        print_report(report)
        console.print(f"-> {escape(out_dir / 'eval.json')}", style="dim")
    missed = missed_bars(report.metrics(), bars)
    if missed:
        console.print(f"[bold red]below the bar:[/] {escape('; '.join(missed))}")
        raise typer.Exit(EXIT_QUALITY)


def print_report(report: EvalReport) -> None:
    headers = ["class", "gt", "pred", "mAP50-95", "mAP50", "thr", "P", "R", "F1"]
    swept = any(c.best_threshold is not None for c in report.classes)
    if swept:
        headers += ["best thr", "best F1"]

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    rows = []
    for c in report.classes:
        # P, R and F1 of a class that neither the truth nor the predictions hold mean nothing.
        judged = c.ground_truth or c.predictions
        row = [
            escape(c.name), str(c.ground_truth), str(c.predictions), fmt(c.map50_95),
            fmt(c.map50), fmt(c.threshold), *(fmt(v if judged else None) for v in (
                c.precision, c.recall, c.f1)),
        ]  # fmt: skip
        if swept:
            row += [fmt(c.best_threshold), fmt(c.best_f1)]
        rows.append(row)
    total = ["all", "", "", fmt(report.map50_95), fmt(report.map50), "", fmt(report.precision)]
    rows.append(total + [fmt(report.recall), fmt(report.f1)] + ["", ""] * swept)
    print_table(f"{report.kind} vs ground truth ({report.images} images)", headers, rows, True)
    if report.human_frames:
        console.print(
            f"{report.human_frames} of the {report.images} frames hold a reviewer's labels, "
            "judged as the dataset holds them",
            highlight=False,
        )
    if report.sweep_ontology:
        tuned = escape(report.sweep_ontology)
        console.print(
            f"tuned thresholds -> {tuned} (apply them with "
            f"`distil export LABEL_DIR --ontology {tuned}`)"
        )
