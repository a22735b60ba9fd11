"""The `distil` command."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Sequence
from typing import Annotated, Any

import typer

from distil.cli.evaluate import evaluate
from distil.cli.export import export, export_model
from distil.cli.label import label
from distil.cli.merge import merge
from distil.cli.predict import benchmark_student, predict
from distil.cli.preview import preview
from distil.cli.review import review_app
from distil.cli.run import run as run_command
from distil.cli.train import train
from distil.version import version


def _stricter_option_hints() -> None:
    """Make click's error for an unknown option suggest only options whose names look
    alike (`--int8` is not a misspelt `--quiet`). Typer parses with its own copy of click
    (`typer._click`) or with click itself; the parser raises the error class it imported."""
    for name in ("typer._click.parser", "click.parser"):
        try:
            parser = importlib.import_module(name)
        except ImportError:
            continue
        base = parser.NoSuchOption

        class NoSuchOption(base):  # type: ignore[misc, valid-type]
            def __init__(
                self,
                option_name: str,
                message: str | None = None,
                possibilities: Sequence[str] | None = None,
                ctx: Any = None,
            ) -> None:
                wanted = option_name.lstrip("-")
                alike = [
                    p
                    for p in possibilities or ()
                    if difflib.SequenceMatcher(None, wanted, p.lstrip("-")).ratio() >= 0.75
                ]
                super().__init__(option_name, message, alike or None, ctx)

        parser.NoSuchOption = NoSuchOption
        return


_stricter_option_hints()

app = typer.Typer(
    name="distil",
    help="Auto-label images with open-vocabulary teachers, export datasets, train, judge "
    "and export small YOLO students.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    # click's plain help: at 80 columns no option name or default is cut, flags read
    # `--half / --no-half` with no type placeholder, and CI logs get no box drawing.
    rich_markup_mode=None,
)
app.command()(label)
app.command()(merge)
app.command()(export)
app.command("export-model")(export_model)
app.command()(preview)
app.command()(train)
app.command("eval")(evaluate)
app.command()(predict)
app.command("benchmark-student")(benchmark_student)
app.command("run")(run_command)
app.add_typer(review_app, name="review")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"distil {version()}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Debug logging, and the traceback of any error (as DISTIL_DEBUG=1 does). "
            "Give it before the command: distil --verbose label ...",
        ),
    ] = False,
) -> None:
    """distil: foundation-model auto-labeling distilled into small YOLO models."""
    if verbose:
        import os

        from distil.cli.common import DEBUG_VARIABLE

        os.environ[DEBUG_VARIABLE] = "1"  # read by the error handler, and by workers


def run() -> None:
    app()


if __name__ == "__main__":
    run()
