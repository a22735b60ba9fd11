"""`distil run CONFIG.yaml`: the whole job from one config."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from distil.cli.common import (
    EXIT_QUALITY,
    console,
    escape,
    handle_errors,
    plural,
    print_json,
    setup_logging,
)
from distil.cli.options import parse_assignments, parse_fail_under
from distil.cli.params import JsonFlag, QuietFlag
from distil.cli.progress import counting, training

if TYPE_CHECKING:
    from distil.ontologies import Ontology
    from distil.settings import RunSettings


@handle_errors
def run(
    config: Annotated[
        Path,
        typer.Argument(metavar="CONFIG", help="Run config YAML (see configs/example-run.yaml)."),
    ],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", metavar="KEY=VALUE", help="Override any field: train.epochs=5, name=trial2."
        ),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            metavar="METRIC=MIN",
            help="Exit 3 when the student misses a bar, e.g. map50=0.5 (adds to the "
            "config's fail_under).",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Validate the config, ontology, inputs and model names, print what would "
            "run, and exit (0 or 2). Loads no model, writes nothing.",
        ),
    ] = False,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Label -> export dataset -> train -> eval -> export model -> HTML report; rerun resumes."""
    setup_logging(quiet)
    from distil.pipeline import load_config

    settings = load_config(config, parse_assignments(set_, "--set"))
    settings.fail_under.update(parse_fail_under(fail_under))
    if check:
        from distil.pipeline import check_run

        plan = _plan(settings, check_run(settings))
        if json_output:
            print_json(plan)
        elif not quiet:
            _print_plan(plan)
        return
    from distil.pipeline import run_pipeline

    def announce(stage: str) -> None:
        if not quiet:
            console.rule(f"[bold]{stage}")

    def progress(stage: str):
        if stage == "train":
            return training(quiet)
        return counting("labeling" if stage == "label" else "writing", "img", quiet)

    result = run_pipeline(settings, on_stage=announce, progress=progress)
    if json_output:
        print_json(result.to_dict())
    elif not quiet:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items())
        console.print(f"[green]done[/] student: {metrics}\nreport -> {escape(result.report)}")
        _print_review(result.stages)
    if result.missed_bars:
        console.print(f"[bold red]below the bar:[/] {escape('; '.join(result.missed_bars))}")
        raise typer.Exit(EXIT_QUALITY)


def _print_review(stages: dict[str, dict[str, Any]]) -> None:
    """The review loop's state: what was imported, what is awaited, the next round."""
    corrections = stages.get("corrections") or {}
    for item in corrections.get("imported", []):
        console.print(
            f"corrections: {item['stored']} frames stored ({item['unchanged']} unchanged) "
            f"from {item['file']}",
            markup=False,
            highlight=False,
        )
    for path in corrections.get("waiting", []):
        console.print(f"corrections: waiting for {path}", style="dim", markup=False)
    if review := stages.get("review"):
        console.print(
            f"review round {review['round']}: {review['frames']} frames -> "
            f"{review['task_file']}; add the corrected export to review.corrections and rerun",
            markup=False,
            highlight=False,
        )


def _plan(settings: RunSettings, ontology: Ontology) -> dict[str, Any]:
    """What `distil run` would do, from checked settings only."""
    from distil.base_models import teacher_summary
    from distil.errors import UsageError
    from distil.pipeline.core import STAGES, done_stages
    from distil.sources import check_inputs, display_path, is_video_file, scan_sources
    from distil.sources.remote import set_url_timeout

    set_url_timeout(settings.label.url_timeout)
    check_inputs(settings.inputs)  # a URL's server answers, in time
    problems: list = []
    files = [p for root in settings.inputs for p in scan_sources(root, problems)]
    if problems and not files:
        raise UsageError(f"inputs: {display_path(problems[0].path)}: {problems[0].reason}")
    videos = sum(map(is_video_file, files))
    done = done_stages(settings.run_dir)
    label, dataset, train, review = (
        settings.label,
        settings.dataset,
        settings.train,
        settings.review,
    )
    stages = {
        "label": teacher_summary(label.detector, label.segmenter, read_hub=False)
        + f" on {label.device}"
        + (f", tracking every {label.detect_every} frames" if label.track else ""),
        "dataset": f"{dataset.format.value} {dataset.task.value}, split "
        + ",".join(f"{v:g}" for v in dataset.split),
        "train": f"{train.model}, {train.epochs} epochs at {train.imgsz} px on {train.device}",
        "eval": f"against {settings.eval.ground_truth}"
        if settings.eval.ground_truth
        else "against the auto-labels of the val split",
        "export": ", ".join(f.value for f in settings.export.formats),
        "report": str(settings.run_dir / "report" / "index.html"),
    }
    if review is not None:
        if review.corrections:
            stages["corrections"] = "import " + ", ".join(
                f"{path} ({'present' if path.exists() else 'not there yet'})"
                for path in review.corrections
            )
        stages["review"] = (
            f"next round: {review.top} frames for {review.format.value}, ranked "
            f"{review.ranking.value} with the trained student"
        )
    from distil.labeling import model_warnings

    return {
        "ok": True,
        "warnings": model_warnings(label, ontology) if "label" not in done else [],
        "run_dir": str(settings.run_dir),
        "inputs": {"images": len(files) - videos, "videos": videos},
        "classes": ontology.class_names,
        "stages": {stage: stages[stage] for stage in STAGES if stage in stages},
        "done": [s for s in STAGES if s in done],
        "fail_under": settings.fail_under,
    }


def _print_plan(plan: dict[str, Any]) -> None:
    from rich.table import Table

    inputs = plan["inputs"]
    console.print(
        f"[green]config ok[/]: {plural(inputs['images'], 'image')}, "
        f"{plural(inputs['videos'], 'video')}, {plural(len(plan['classes']), 'class', 'classes')}"
        f" -> {escape(plan['run_dir'])}"
    )
    table = Table(show_header=False, box=None, padding=(0, 2))
    for stage, what in plan["stages"].items():
        state = "[dim]done[/]" if stage in plan["done"] else "to run"
        table.add_row(f"[bold]{stage}[/]", escape(what), state)
    console.print(table)
    for warning in plan["warnings"]:
        console.print(f"warning: {warning}", style="yellow", markup=False, highlight=False)
