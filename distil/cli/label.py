"""`distil label`: folders of images and videos -> a resumable label store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from distil.cli.common import (
    class_counts,
    console,
    empty_classes,
    escape,
    handle_errors,
    plural,
    print_json,
    setup_logging,
)
from distil.cli.params import JsonFlag, QuietFlag, takes
from distil.cli.progress import counting
from distil.settings import LabelSettings

if TYPE_CHECKING:
    from distil.store.provenance import LabelProvenance


@handle_errors
@takes(LabelSettings)
def label(
    inputs: Annotated[
        list[Path],
        typer.Argument(
            metavar="INPUTS",
            help="Image / video files or folders (recursive), or URLs (s3://bucket/prefix).",
        ),
    ],
    ontology: Annotated[Path, typer.Option("--ontology", "-O", help="Ontology YAML.")],
    settings: LabelSettings,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Output folder. Default: runs/label/exp, or the first expN that is free or "
            "holds this same job (so rerunning resumes)."
        ),
    ] = None,
    *,
    json_output: JsonFlag = False,
    quiet: QuietFlag = False,
) -> None:
    """Label images and video frames with a teacher (detector + segmenter) into a
    resumable label store; with --track, carry labels through videos with SAM 2."""
    setup_logging(quiet)
    from distil.ontologies import Ontology
    from distil.sources import check_inputs
    from distil.sources.remote import set_url_timeout

    onto = Ontology.from_yaml(ontology)  # fails before any model loads
    set_url_timeout(settings.url_timeout)
    check_inputs(inputs)
    if out is not None:
        from distil.store import check_store_folder

        check_store_folder(out)
    check_devices(settings)
    from distil.labeling import label
    from distil.utils.files import increment_path

    if not quiet:
        from distil.base_models import teacher_summary

        where = f" on {', '.join(settings.devices)}" if settings.devices else ""
        where = " on Ray" if settings.engine == "ray" else where
        console.print(
            f"loading teacher{where}: {teacher_summary(settings.detector, settings.segmenter)}",
            style="dim",
            markup=False,
        )

    def out_dir(provenance: LabelProvenance) -> Path:
        return out or increment_path(Path("runs/label/exp"), lambda p: _resumable(p, provenance))

    with counting("labeling", "img", quiet) as update:
        summary = label(inputs, onto, settings, out_dir, progress=update)
    if json_output:
        print_json(summary.to_dict())
    elif not quiet:
        rate = f" ({summary.images_per_s:.2f} img/s)" if summary.labeled else ""
        console.print(
            f"[green]done[/] {summary.labeled} labeled, {summary.already_labeled} already "
            f"labeled, {len(summary.skipped)} skipped in {summary.elapsed_s:.1f}s{rate} "
            f"-> {escape(summary.out)}"
        )
        per_class = class_counts(summary.detections_per_class, summary.added_per_class)
        console.print(
            f"  store: {summary.stored_frames} labeled frames; labels per class: {per_class}",
            markup=False,
            highlight=False,
        )
        if summary.stored_frames and (empty := empty_classes(summary.detections_per_class)):
            console.print(
                f"  {empty} (a prompt the detector misses, or a threshold set too high?)",
                style="yellow",
                markup=False,
            )
        if settings.shard:
            console.print(
                f"  shard {settings.shard}: {summary.other_shard} sources left to other shards",
                markup=False,
                highlight=False,
            )
        if summary.videos:
            tracks = f", {summary.tracks} tracks" if settings.track else ""
            console.print(
                f"  {plural(summary.videos, 'video')} gave "
                f"{plural(summary.video_frames, 'frame')}{tracks}",
                highlight=False,
            )
        shown = summary.to_dict()  # names as printable text
        for item in shown["skipped"]:
            console.print(
                f"  skipped {item['path']}: {item['reason']}", style="yellow", markup=False
            )
        for item in shown["video_problems"]:
            console.print(
                f"  video {item['path']}: {item['problem']}", style="yellow", markup=False
            )


def check_devices(settings: LabelSettings) -> None:
    """The devices asked for exist (exit 2), checked before any model loads."""
    from distil.utils.device import gpu_indices, resolve_device

    if settings.engine == "local" and not settings.devices:
        resolve_device(settings.device)
    for device in settings.devices or []:
        if device != "cpu":
            gpu_indices(device, "--devices")


def _resumable(folder: Path, provenance: LabelProvenance) -> bool:
    """A folder is usable when it is new/empty or holds a store of this same job; one that
    another run is labeling with this same job is an error (not a reason to start over)."""
    from distil.store import STORE_FILE, LabelStore, StoreError, fingerprint_of
    from distil.utils.files import OUTPUT_MARKER

    store_path = folder / STORE_FILE
    if not store_path.is_file():
        return not folder.exists() or all(
            p.name in (OUTPUT_MARKER, f"{STORE_FILE}.lock") for p in folder.iterdir()
        )
    try:
        with LabelStore.open(folder) as store:
            same = store.fingerprint == fingerprint_of(provenance.record())
            writer = store.writer()
    except StoreError:  # damaged, or not a store: use the next name
        return False
    if same and writer:
        raise StoreError(
            f"{folder} is being labeled with this same job by {writer}; wait for it, "
            "or give another --out"
        )
    return same
