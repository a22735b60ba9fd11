"""`distil review`: rank stored frames by how likely their labels are wrong and write the
top ones for a labeling tool; `distil review import`: store the corrections."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from distil.cli.common import (
    console,
    escape,
    handle_errors,
    print_json,
    print_table,
    setup_logging,
    wrapped,
)
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.errors import MissingInputError
from distil.settings import LabelFormat, ReviewServeSettings, ReviewSettings

RANK = "rank"


class _RankByDefault(TyperGroup):
    """`distil review RUN ...` means `distil review rank RUN ...`."""

    def parse_args(self, ctx, args):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [RANK, *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(
    cls=_RankByDefault,
    help="Rank labels for review, hand them to a labeling tool, import corrections.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

LabelDir = Annotated[
    Path, typer.Argument(metavar="LABEL_DIR", help="Folder written by `distil label`.")
]


@review_app.command(RANK)
@handle_errors
@takes(ReviewSettings)
def rank(
    label_dir: LabelDir,
    settings: ReviewSettings,
    to: Annotated[
        Path | None,
        typer.Option(help="Write a task file of the top frames here (a review round)."),
    ] = None,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """The frames most likely mislabeled, with reasons (`distil review LABEL_DIR`); with
    --to, a task file of them with the labels as pre-annotations."""
    setup_logging(quiet)
    from distil.store import require_store

    require_store(label_dir)  # a wrong path is said before anything heavy is imported
    from distil.review import rank_store, write_review_round

    if to is None:
        ranking = rank_store(label_dir, settings)
        if json_output:
            print_json(ranking.to_dict())
        elif not quiet:
            for number, frame in enumerate(ranking.frames, 1):
                at = "" if frame.seconds is None else f"  ({frame.seconds:.1f} s)"
                console.print(
                    f"{number:>4}  {frame.score:6.2f}  {escape(frame.key)}{at}", highlight=False
                )
                for reason in frame.reasons:
                    console.print(wrapped(escape(reason), 12), style="dim", highlight=False)
            pending = (
                f", {ranking.pending} waiting in rounds not imported yet" if ranking.pending else ""
            )
            console.print(
                f"{len(ranking.frames)} of {ranking.ranked} frames ({ranking.reviewed} "
                f"reviewed already{pending}: left out); --to DIR writes a task file",
                style="dim",
            )
        return
    summary = write_review_round(label_dir, to, settings)
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        console.print(
            f"[green]round {summary.round}[/]: {summary.frames} frames -> "
            f"{escape(summary.task_file)} ({summary.format})",
            highlight=False,
        )
        if pending := summary.ranking.get("pending"):
            console.print(
                f"  {pending} frames of earlier rounds whose corrections are not imported yet "
                "were left out (--include-pending)",
                style="dim",
                markup=False,
            )
        if summary.frames:
            for line in next_steps(label_dir, to, settings):
                console.print(f"  {line}", style="dim", markup=False, highlight=False)


def next_steps(label_dir: Path, folder: Path, settings: ReviewSettings) -> list[str]:
    """What a reviewer does with a round's task file, ending in the import command."""
    if settings.format is LabelFormat.LABEL_STUDIO:
        steps, export = (
            [
                "start Label Studio with LOCAL_FILES_SERVING_ENABLED=true "
                f"LOCAL_FILES_DOCUMENT_ROOT={settings.document_root or '/'}",
                f"new project: labeling interface from {folder / 'label_config.xml'}, "
                f"import {folder / 'tasks.json'}",
                "review, then export the project as JSON",
            ],
            "EXPORT.json",
        )
    elif settings.format is LabelFormat.CVAT:
        images = (
            f"in {folder / 'images'}"
            if settings.copy_images
            else f"that {folder / 'ranking.json'} lists"
        )
        steps, export = (
            [
                f"new CVAT task with the images {images}, default sorting; upload "
                f"{folder / 'annotations.xml'} as CVAT 1.1",
                "review, then export the task as CVAT for images 1.1",
            ],
            "EXPORT.zip",
        )
    else:
        steps, export = (
            [f"open the images with the labels in {folder} and correct them"],
            str(folder),
        )
    steps.append(f"distil review import {label_dir} {export} -f {settings.format.value}")
    return [f"next: {steps[0]}", *(f"      {step}" for step in steps[1:])]


@review_app.command("import")
@handle_errors
@takes(ReviewSettings, exclude=[f for f in ReviewSettings.model_fields if f != "format"])
def import_(
    label_dir: LabelDir,
    corrections: Annotated[
        Path,
        typer.Argument(
            metavar="FILE_OR_FOLDER",
            help="What the labeling tool exported after review: a file, a folder or a zip.",
        ),
    ],
    settings: ReviewSettings,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Store a reviewer's corrections as human labels; they win over the teacher's at
    export. Importing the same file again changes nothing."""
    setup_logging(quiet)
    from distil.store import require_store

    require_store(label_dir)
    if not corrections.exists():
        raise MissingInputError(f"no such file or folder: {corrections}")
    from distil.review import import_corrections

    summary = import_corrections(label_dir, corrections, settings.format)
    if json_output:
        print_json(summary.to_dict())
        return
    if not quiet:
        console.print(
            f"[green]imported[/] {summary.stored} frames ({summary.unchanged} unchanged, "
            f"{summary.labels_changed} labels changed by reviewers) from {escape(corrections)}",
            highlight=False,
        )
    for title, items in (
        ("not matched to a stored frame", summary.unmatched),
        ("named like several stored frames", summary.ambiguous),
        ("of another size than the stored frame", summary.size_mismatch),
        ("labeled twice in the file (neither stored)", summary.duplicates),
        ("left out", summary.left_out),
    ):
        if items:
            shown = ", ".join(escape(i) for i in items[:5]) + (" ..." if len(items) > 5 else "")
            kind = "" if title == "left out" else "images "
            console.print(f"[yellow]{len(items)} {kind}{title}:[/] {shown}", highlight=False)
    if not quiet and summary.stored:
        for line in (
            f"next: distil eval {label_dir} --ground-truth reviewed --sweep   "
            "(thresholds tuned on the reviewed frames)",
            f"      distil export {label_dir} --ontology EVAL_DIR/ontology_swept.yaml --to DATASET"
            "   (reviewed frames export as corrected)",
        ):
            console.print(f"  {line}", style="dim", markup=False, highlight=False)


@review_app.command("serve")
@handle_errors
@takes(ReviewServeSettings)
def serve(label_dir: LabelDir, settings: ReviewServeSettings, *, quiet: QuietFlag = False) -> None:
    """Correct labels in a browser, most likely wrong first: boxes, classes, and masks from
    the segmenter's answers to clicks. Saves go into the store as human labels."""
    setup_logging(quiet)
    from distil.store import require_store

    require_store(label_dir)
    from distil.review.app.loading import check_app_installed, open_session

    check_app_installed()
    from distil.store.lock import serve_lock
    from distil.store.store import STORE_FILE

    with serve_lock(label_dir / STORE_FILE):
        session = open_session(label_dir, settings)
        _serve(session, label_dir, settings)


def _serve(session, label_dir: Path, settings: ReviewServeSettings) -> None:
    from distil.review.app.server import serve as serve_app

    progress = session.progress()

    def ready(url: str) -> None:
        segmenter = getattr(session.segmenter, "name", None) or "none (boxes only)"
        console.print(
            f"[green]review[/] {progress['queue']} frames of {escape(label_dir)} "
            f"(segmenter: {escape(segmenter)}), reviewer {escape(session.reviewer)}",
            highlight=False,
        )
        console.print(f"open {url}", markup=False, highlight=False, soft_wrap=True)
        console.print("Ctrl+C stops the server; every accepted frame is saved already", style="dim")
        console.file.flush()  # the address must reach a log or a pipe now, not at exit

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C, SIGTERM: how a server stops
        serve_app(session, settings.host, settings.port, on_ready=ready)
    done = session.progress()
    console.print(f"stopped: {done['saved']} frames saved this time", style="dim")


@review_app.command("stats")
@handle_errors
def stats(label_dir: LabelDir, *, json_output: JsonFlag = False) -> None:
    """What reviewers did, per round: frames reviewed, boxes added, deleted, relabeled and
    moved, masks made with clicks, and the time spent."""
    from distil.store import require_store

    require_store(label_dir)
    from distil.review.stats import EDITS, review_stats

    rounds = review_stats(label_dir)
    if json_output:
        print_json([r.to_dict() for r in rounds])
        return
    if not rounds:
        console.print(f"{escape(label_dir)}: no frame reviewed yet", highlight=False)
        return
    headers = ["round", "kind", "handed out", "reviewed", "changed", "added", "deleted",
               "relabeled", "moved", "masks", "s / frame", "reviewers"]  # fmt: skip
    rows = [
        [
            str(r.round) if r.round else "-", escape(r.kind),
            "-" if r.handed_out is None else str(r.handed_out), str(r.reviewed), str(r.changed),
            *(str(r.edits[k]) if r.edits else "-" for k in EDITS),
            "-" if r.seconds_median is None else f"{r.seconds_median:.1f}",
            escape(", ".join(r.reviewers)) or "-",
        ]
        for r in rounds
    ]  # fmt: skip
    print_table("review rounds", headers, rows)
