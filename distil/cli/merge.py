"""`distil merge OUT STORE...`: label stores of one job (shards, machines) -> one store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, escape, handle_errors, print_json, setup_logging
from distil.cli.params import JsonFlag, QuietFlag


@handle_errors
def merge(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="The merged label folder.")],
    stores: Annotated[
        list[Path],
        typer.Argument(metavar="STORES", help="Label folders of one job (e.g. its shards)."),
    ],
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Merge label stores made with the same models, prompts and threshold (the shards of
    `distil label --shard i/N`) into one; rerunning adds only what is new."""
    setup_logging(quiet)
    from distil.store import merge_stores

    summary = merge_stores(out, stores)
    if json_output:
        print_json(summary)
    elif not quiet:
        added = sum(summary["added"].values())
        console.print(
            f"[green]merged[/] {len(stores)} stores: {added} frames added, "
            f"{summary['frames']} labeled frames -> {escape(out)}",
            highlight=False,
        )
