"""The `distil` command."""

from __future__ import annotations

from typing import Annotated

import typer

from distil import __version__
from distil.cli.export import export
from distil.cli.label import label
from distil.cli.preview import preview

app = typer.Typer(
    name="distil",
    help="Auto-label images with open-vocabulary teachers; export YOLO / COCO datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(label)
app.command()(export)
app.command()(preview)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"distil {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """distil: foundation-model auto-labeling distilled into small YOLO models."""


def run() -> None:
    app()


if __name__ == "__main__":
    run()
