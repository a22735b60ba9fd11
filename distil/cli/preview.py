"""`distil preview`: a PNG grid of labeled images, or an annotated clip of a labeled video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, handle_errors, print_json, setup_logging
from distil.datasets import DEFAULT_NMS_IOU
from distil.reports import render_preview, render_video_preview


@handle_errors
def preview(
    label_dir: Annotated[Path, typer.Argument(help="Folder written by `distil label`.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output file. Default: LABEL_DIR/preview.png, or preview_<video>.mp4 with "
            "--video; a .mp4 or .gif name makes a video preview."
        ),
    ] = None,
    video: Annotated[
        Path | None,
        typer.Option(help="Annotate this labeled video (path or file name) as a clip."),
    ] = None,
    num: Annotated[int, typer.Option("--num", "-n", min=1, help="Images in the grid.")] = 16,
    columns: Annotated[int, typer.Option(min=1)] = 4,
    seed: Annotated[int, typer.Option(help="Which images are sampled.")] = 0,
    box_threshold: Annotated[float | None, typer.Option(min=0.0, max=1.0)] = None,
    nms_iou: Annotated[float, typer.Option(min=0.0, max=1.0)] = DEFAULT_NMS_IOU,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Draw boxes, masks and class names on sample images into one PNG grid; with --video,
    draw masks and track ids on every labeled frame of a video into an mp4 or GIF."""
    setup_logging(quiet)
    if video is not None or (out is not None and out.suffix.lower() in (".mp4", ".gif")):
        path, shown = render_video_preview(label_dir, video, out, box_threshold, nms_iou)
        if json_output:
            print_json({"out": str(path), "frames": shown})
        elif not quiet:
            console.print(f"[green]preview[/] {shown} frames -> {path}")
        return
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
