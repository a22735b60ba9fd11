"""`distil preview`: a PNG grid of labeled images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, handle_errors, print_json, setup_logging
from distil.datasets import DEFAULT_NMS_IOU
from distil.reports import render_preview


@handle_errors
def preview(
    label_dir: Annotated[Path, typer.Argument(help="Folder written by `distil label`.")],
    out: Annotated[
        Path | None, typer.Option(help="PNG path. Default: LABEL_DIR/preview.png")
    ] = None,
    num: Annotated[int, typer.Option("--num", "-n", min=1, help="Images in the grid.")] = 16,
    columns: Annotated[int, typer.Option(min=1)] = 4,
    seed: Annotated[int, typer.Option(help="Which images are sampled.")] = 0,
    box_threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    nms_iou: Annotated[float, typer.Option(min=0.0, max=1.0)] = DEFAULT_NMS_IOU,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Draw boxes, masks and class names on sample images into one PNG grid."""
    setup_logging(quiet)
    path, shown = render_preview(
        label_dir,
        out,
        num=num,
        columns=columns,
        seed=seed,
        box_threshold=box_threshold,
        nms_iou=nms_iou,
    )
    if json_output:
        print_json({"out": str(path), "images": shown})
    elif not quiet:
        console.print(f"[green]preview[/] {shown} images -> {path}")
