"""`distil preview`: a PNG grid of labeled images, or an annotated clip of a labeled video."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distil.cli.common import console, escape, handle_errors, print_json, setup_logging
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.settings import PreviewSettings


@handle_errors
@takes(PreviewSettings)
def preview(
    label_dir: Annotated[
        Path, typer.Argument(metavar="LABEL_DIR", help="Folder written by `distil label`.")
    ],
    settings: PreviewSettings,
    *,
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
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Draw boxes, masks and class names on sample images into one PNG grid; with --video,
    draw masks and track ids on every labeled frame of a video into an mp4 or GIF."""
    setup_logging(quiet)
    from distil.store import require_store

    require_store(label_dir)  # a wrong path is said before anything heavy is imported
    from distil.reports import render_preview, render_video_preview

    if video is not None or (out is not None and out.suffix.lower() in (".mp4", ".gif")):
        path, shown = render_video_preview(
            label_dir, video, out, settings.box_threshold, settings.nms_iou
        )
        if json_output:
            print_json({"out": str(path), "frames": shown})
        elif not quiet:
            console.print(f"[green]preview[/] {shown} frames -> {escape(path)}")
        return
    path, shown = render_preview(label_dir, out, settings)
    if json_output:
        print_json({"out": str(path), "images": shown})
    elif not quiet:
        console.print(f"[green]preview[/] {shown} images -> {escape(path)}")
