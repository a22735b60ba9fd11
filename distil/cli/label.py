"""`distil label`: folders of images and videos -> a resumable label store."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from distil.base_models import (
    DEFAULT_DETECTOR,
    DEFAULT_SEGMENTER,
    check_tracker_model,
    load_base_model,
)
from distil.base_models.sam2_video import Sam2VideoPropagator
from distil.cli.common import console, handle_errors, increment_path, print_json, setup_logging
from distil.labeling import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_STORE_THRESHOLD,
    STORE_FILE,
    LabelStore,
    label_images,
    store_settings,
)
from distil.labeling.tracking import DEFAULT_DETECT_EVERY, VideoTracker
from distil.labeling.tracks import DEFAULT_MATCH_IOU, DEFAULT_MAX_LOST
from distil.ontologies import Ontology
from distil.sources import FrameSampling

logger = logging.getLogger("distil")


class _RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:.2f} img/s" if speed else "-- img/s", style="cyan")


@handle_errors
def label(
    inputs: Annotated[
        list[Path], typer.Argument(help="Image / video files or folders (recursive).")
    ],
    ontology: Annotated[Path, typer.Option("--ontology", "-o", help="Ontology YAML.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder. Default: runs/label/exp, or the first expN that is free or "
            "holds this same job (so rerunning resumes)."
        ),
    ] = None,
    detector: Annotated[
        str, typer.Option(help="Hugging Face id, local folder or YOLO/RT-DETR .pt.")
    ] = DEFAULT_DETECTOR,
    segmenter: Annotated[
        str,
        typer.Option(help="Hugging Face id or local folder of SAM / SAM 2; 'none' for boxes only."),
    ] = DEFAULT_SEGMENTER,
    device: Annotated[
        str, typer.Option(help="auto (cuda > mps > cpu), cpu, cuda, cuda:1, mps.")
    ] = "auto",
    batch_size: Annotated[
        int, typer.Option(min=1, help="Images per detector forward.")
    ] = DEFAULT_BATCH_SIZE,
    store_threshold: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Keep raw boxes down to this score (export filters later)."
        ),
    ] = DEFAULT_STORE_THRESHOLD,
    half: Annotated[bool, typer.Option(help="Half precision on GPUs.")] = True,
    every: Annotated[
        int, typer.Option(min=1, help="Video: keep every N-th frame.", rich_help_panel="Video")
    ] = 1,
    fps: Annotated[
        float | None,
        typer.Option(
            help="Video: keep frames at this rate (by timestamp).", rich_help_panel="Video"
        ),
    ] = None,
    start: Annotated[
        float, typer.Option(min=0.0, help="Video: start at this second.", rich_help_panel="Video")
    ] = 0.0,
    end: Annotated[
        float | None, typer.Option(help="Video: stop after this second.", rich_help_panel="Video")
    ] = None,
    max_frames: Annotated[
        int | None,
        typer.Option(min=1, help="Video: at most this many frames each.", rich_help_panel="Video"),
    ] = None,
    dedup: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=64,
            help="Video: drop a frame within this many bits (64-bit difference hash) of the "
            "last kept one; 0 drops only identical-looking frames.",
            rich_help_panel="Video",
        ),
    ] = None,
    track: Annotated[
        bool,
        typer.Option(
            help="Video: detect on keyframes and carry masks and track ids between them with "
            "SAM 2 video memory.",
            rich_help_panel="Video",
        ),
    ] = False,
    detect_every: Annotated[
        int,
        typer.Option(
            min=1, help="With --track: detect on every K-th kept frame.", rich_help_panel="Video"
        ),
    ] = DEFAULT_DETECT_EVERY,
    tracker_model: Annotated[
        str,
        typer.Option(
            help="With --track: SAM 2 / 2.1 checkpoint (id or folder).", rich_help_panel="Video"
        ),
    ] = DEFAULT_SEGMENTER,
    match_iou: Annotated[
        float,
        typer.Option(
            min=0.01,
            max=1.0,
            help="With --track: mask IoU for a detection to continue a track.",
            rich_help_panel="Video",
        ),
    ] = DEFAULT_MATCH_IOU,
    max_lost: Annotated[
        int,
        typer.Option(
            min=0,
            help="With --track: keyframes a track may go unmatched before it ends.",
            rich_help_panel="Video",
        ),
    ] = DEFAULT_MAX_LOST,
    offload_state: Annotated[
        bool,
        typer.Option(help="With --track: keep SAM 2's memory in CPU RAM.", rich_help_panel="Video"),
    ] = False,
    overwrite: Annotated[
        bool, typer.Option(help="Delete labels already in --out made with other models or prompts.")
    ] = False,
    json_output: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress, errors only.")] = False,
) -> None:
    """Label images and video frames with a teacher (detector + segmenter) into a
    resumable label store; with --track, carry labels through videos with SAM 2."""
    setup_logging(quiet)
    onto = Ontology.from_yaml(ontology)  # fails before any model loads
    sampling = FrameSampling(every, fps, start, end, max_frames, dedup)
    for path in inputs:
        if not path.exists():
            raise FileNotFoundError(f"input not found: {path}")
    if track:
        check_tracker_model(tracker_model)  # before any weights load
    if not quiet:
        console.print(f"loading teacher: {detector} + {segmenter}", style="dim")
    model = load_base_model(detector, segmenter, device=device, half=half, ontology=onto)
    tracker = None
    if track:
        propagator = Sam2VideoPropagator(tracker_model, device, half, offload_state=offload_state)
        tracker = VideoTracker(propagator, detect_every, match_iou, max_lost)
    settings = store_settings(model, onto, store_threshold, tracker)
    out_dir = out or increment_path(Path("runs/label/exp"), lambda p: _resumable(p, settings))

    with Progress(
        TextColumn("[bold]labeling"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as bar:
        task = bar.add_task("label", total=None)
        summary = label_images(
            inputs,
            onto,
            model,
            out_dir,
            batch_size=batch_size,
            store_threshold=store_threshold,
            overwrite=overwrite,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            sampling=sampling,
            tracker=tracker,
        )
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        console.print(
            f"[green]done[/] {summary.labeled} labeled, {summary.already_labeled} already "
            f"labeled, {len(summary.skipped)} skipped in {summary.elapsed_s:.1f}s "
            f"({summary.images_per_s:.2f} img/s) -> {out_dir}"
        )
        if summary.videos:
            tracks = f", {summary.tracks} tracks" if track else ""
            console.print(
                f"  {summary.videos} videos gave {summary.video_frames} frames{tracks}",
                highlight=False,
            )
        for skipped in summary.skipped:
            console.print(
                f"  skipped {skipped.path}: {skipped.reason}", style="yellow", highlight=False
            )
        for problem in summary.video_problems:
            console.print(
                f"  video {problem.path}: {problem.reason}", style="yellow", highlight=False
            )


def _resumable(folder: Path, settings: dict) -> bool:
    """A folder is usable when it is new/empty or holds a store of this same job."""
    store_path = folder / STORE_FILE
    if not store_path.is_file():
        return not folder.exists() or not any(folder.iterdir())
    try:
        with LabelStore.create(folder, settings):
            return True
    except Exception:  # noqa: BLE001 - any mismatch or damage: use the next name
        return False
