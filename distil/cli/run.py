"""`distil run CONFIG.yaml`: the whole job from one config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import EXIT_QUALITY, console, handle_errors, print_json, setup_logging
from distil.cli.options import parse_assignments, parse_fail_under
from distil.pipeline import load_config, run_pipeline


@handle_errors
def run(
    config: Annotated[Path, typer.Argument(help="Run config YAML (see configs/example-run.yaml).")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override any field: train.epochs=5, name=trial2."),
    ] = None,
    fail_under: Annotated[
        list[str] | None,
        typer.Option(
            help="Exit 3 when the student misses a bar, e.g. map50=0.5 (adds to the "
            "config's fail_under)."
        ),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Label -> export dataset -> train -> eval -> export model -> HTML report; rerun resumes."""
    setup_logging(quiet)
    settings = load_config(config, parse_assignments(set_, "--set"))
    settings.fail_under.update(parse_fail_under(fail_under))

    def announce(stage: str) -> None:
        if not quiet:
            console.rule(f"[bold]{stage}")

    result = run_pipeline(settings, on_stage=announce)
    if json_output:
        print_json(result.to_dict())
    elif not quiet:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in result.metrics.items())
        console.print(f"[green]done[/] student: {metrics}\nreport -> {result.report}")
    if result.missed_bars:
        console.print(f"[bold red]below the bar:[/] {'; '.join(result.missed_bars)}")
        raise typer.Exit(EXIT_QUALITY)
