"""Model-free export of a label store to a YOLO or COCO dataset.

The dataset is written into a staging folder beside `--to` and swapped in whole, so it is
never seen half-written. Files in an earlier export that distil did not write (notes,
hand labels) are carried into the new one; a source changed or deleted since it was
labeled is left out and listed, never exported with stale labels.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from distil.datasets.card import CARD_FILE, CardClass, CardExport, CardTeacher, DatasetCard
from distil.datasets.filters import class_ids, select_detections
from distil.datasets.formats.mot import mot_rows, write_mot
from distil.datasets.formats.registry import WriteOptions, get_format
from distil.datasets.labeled import LabeledImage
from distil.datasets.naming import dataset_path, unique_path
from distil.datasets.split import plan_splits
from distil.errors import OutputExistsError, UsageError
from distil.ontologies import Ontology, OntologyError
from distil.settings import SPLIT_NAMES, DatasetSettings, ExportTask, ImageMode, LabelFormat
from distil.sources import ImageReadError, SourceCheck, as_url, display_path, read_file
from distil.sources.remote import set_url_timeout
from distil.sources.video import VideoFrames, VideoReadError
from distil.store import LabelStore
from distil.store.provenance import ModelRecord
from distil.utils.files import (
    OUTPUT_MARKER,
    make_temp_dir,
    mark_output,
    ordinary_mode,
    write_bytes,
    written_files,
)
from distil.version import version

logger = logging.getLogger(__name__)


@dataclass
class ExportSummary:
    out: str
    images: int = 0
    unlabeled: int = 0
    images_per_split: dict[str, int] = field(default_factory=dict)
    instances_per_class: dict[str, int] = field(default_factory=dict)
    reviewed: int = 0  # frames whose human labels were written
    reviewed_per_class: dict[str, int] = field(default_factory=dict)
    polygons: dict[str, int] = field(default_factory=dict)
    copied_instead_of_linked: int = 0
    tracked_videos: int = 0  # videos with a MOT track file in tracks/
    left_out: list[dict[str, str]] = field(default_factory=list)  # {path, reason}
    kept_user_files: list[str] = field(default_factory=list)  # carried from the last export
    store_being_written: str | None = None  # who was labeling into the store meanwhile
    split_note: str | None = None  # videos cut by time, or a split that stayed empty
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_dataset(
    label_dir: Path,
    out_dir: Path,
    options: DatasetSettings | None = None,
    *,
    ontology: Ontology | None = None,
    progress: Callable[[int, int], None] | None = None,
    **settings: Any,
) -> ExportSummary:
    """Write a dataset from the store in `label_dir` to `out_dir` (replaced atomically).

    `options` (or any of its fields as keywords: `task="segment"`) choose format,
    thresholds, filters and splits; `ontology` (or `options.ontology`, a YAML file) changes
    thresholds and areas, with the classes and prompts the labels were made with.
    `progress(done, total)` is called as frames are written.

    >>> export_dataset(  # doctest: +SKIP
    ...     Path("runs/label/exp"), Path("datasets/exp"), task="segment")
    """
    start = time.perf_counter()
    options = DatasetSettings.merge(options, **settings)
    set_url_timeout(options.url_timeout)
    if ontology is None and options.ontology is not None:
        ontology = Ontology.from_yaml(options.ontology)
    out_dir = Path(out_dir)
    _check_target(out_dir)
    _clean_interrupted(out_dir)
    with LabelStore.open(label_dir) as store:
        writer = store.writer()
        ontology = _export_ontology(store, options, ontology)
        class_filter = class_ids(ontology, options.classes)
        if options.task is ExportTask.SEGMENT and not store.has_masks():
            raise UsageError(
                f"{label_dir} has no masks (labeled with --segmenter none): "
                "relabel with a segmenter, or export with --task detect"
            )
        total, labeled = store.count()
        sources = store.timed_sources()
        plan = plan_splits(
            [g for _, g, _ in sources], [t for _, _, t in sources], options.split, options.seed
        )
        splits = dict(zip((key for key, _, _ in sources), plan.splits, strict=True))
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(out_dir.parent, _staging_prefix(out_dir))
        try:
            summary = _write(
                store, staging, out_dir, ontology, class_filter, splits, options,
                lambda done: progress(done, total) if progress else None,
            )  # fmt: skip
            summary.split_note = plan.note()
            _check_something_exported(summary, label_dir)
            summary.unlabeled = total - labeled
            summary.store_being_written = str(writer) if writer else None
            _write_card(staging, out_dir.name, store, ontology, options, summary, label_dir)
            mark_output(staging, sorted(_files_under(staging)))
            summary.kept_user_files = _carry_user_files(out_dir, staging)
            _replace(staging, out_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    summary.out = str(out_dir)
    for item in summary.left_out:
        logger.warning("left out %s: %s", item["path"], item["reason"])
    if writer:
        logger.warning(
            "%s was still being written (by %s): this export holds the labels stored so far",
            label_dir,
            writer,
        )
    summary.elapsed_s = round(time.perf_counter() - start, 3)
    if summary.split_note:
        logger.warning("%s", summary.split_note)
    if summary.unlabeled:
        logger.warning(
            "%d images in %s are not labeled yet and were left out; rerun "
            "`distil label` to finish them",
            summary.unlabeled,
            label_dir,
        )
    return summary


def _export_ontology(
    store: LabelStore, options: DatasetSettings, ontology: Ontology | None
) -> Ontology:
    stored = Ontology.from_dict(store.ontology_dict, source=f"{store.path} (stored ontology)")
    ontology = ontology or stored
    made_with = [(name, list(prompts)) for name, prompts in store.provenance.prompts]
    if [(c.name, list(c.prompts)) for c in ontology.classes] != made_with:
        raise OntologyError(
            f"{ontology.source}: classes or prompts differ from those the labels were made "
            "with; only thresholds and areas can change at export (relabel for the rest)"
        )
    return ontology.with_defaults(options.box_threshold, options.text_threshold)


def _write(
    store: LabelStore,
    root: Path,
    final_root: Path,
    ontology: Ontology,
    class_filter: set[int] | None,
    splits: dict[str, str],
    options: DatasetSettings,
    advance: Callable[[int], None],
) -> ExportSummary:
    summary = ExportSummary(out=str(root))
    instances: Counter[int] = Counter()
    reviewed: Counter[int] = Counter()  # reviewed frames per class
    used_names: set[Path] = set()
    segment = options.task is ExportTask.SEGMENT
    masks = ("rle" if options.coco_rle else "polygon") if segment else None
    writer = get_format(options.format).dataset_writer(
        root,
        ontology.class_names,
        WriteOptions(masks, options.min_fragment_area, options.polygon_tolerance, final_root),
    )
    frames = VideoFrames()
    tracks: dict[Path, list[str]] = {}
    tracked = store.provenance.tracking is not None
    check = SourceCheck()
    for done, frame in enumerate(store.frames(with_masks=segment), 1):
        advance(done)
        image = frame.identity
        problem = check.problem(image)
        if problem:
            _leave_out(summary, image.key, problem)
            continue
        split = splits[image.key]
        if split is None:  # in the gap between two splits of a video cut by time
            continue
        relative = unique_path(dataset_path(image), image.hash, used_names)
        target = root / "images" / split / relative
        if image.frame_index is None:
            try:
                summary.copied_instead_of_linked += _place_image(image.path, target, options.images)
            except ImageReadError as e:  # a URL that could not be read now
                _leave_out(summary, image.key, str(e))
                continue
        else:
            try:
                rgb = frames.get(image.path, image.frame_index)
            except VideoReadError as e:
                _leave_out(summary, image.key, str(e))
                continue
            write_frame(rgb, target)
        if frame.human is not None:  # a reviewer's labels are written as they are
            detections = frame.human
            if class_filter is not None:
                detections = detections[np.isin(detections.class_id, list(class_filter))]
            if segment and len(detections) and detections.mask is None:
                _leave_out(summary, image.key, "reviewed with boxes only; segment needs masks")
                continue
            summary.reviewed += 1
            reviewed.update(set(detections.class_id.tolist()))
        else:
            detections = select_detections(
                frame.detections, ontology, options.nms_iou, class_filter
            )
        writer.add(LabeledImage(image.key, relative, frame.width, frame.height, detections), split)
        if tracked and image.frame_index is not None:
            video = dataset_path(image).parent / Path(image.path).stem
            tracks.setdefault(video, []).extend(mot_rows(image.frame_index, detections))
        instances.update(detections.class_id.tolist())
        summary.images += 1
    frames.close()
    for video, rows in tracks.items():
        write_mot(root / "tracks" / video.parent / f"{video.name}.txt", rows)
    summary.tracked_videos = len(tracks)
    writer.finish()
    per_split, stats = writer.per_split, writer.stats
    summary.images_per_split = {s: per_split[s] for s in SPLIT_NAMES if per_split[s]}
    summary.instances_per_class = {n: instances[i] for i, n in enumerate(ontology.class_names)}
    summary.reviewed_per_class = {n: reviewed[i] for i, n in enumerate(ontology.class_names)}
    summary.polygons = asdict(stats) if segment else {}
    return summary


def _check_something_exported(summary: ExportSummary, label_dir: Path) -> None:
    """An export that finds no labeled source it can use is an error, not an empty
    dataset: the sources were moved, or the store is read from where they are not."""
    if summary.images or not summary.left_out:
        return
    first = summary.left_out[0]
    raise UsageError(
        f"{label_dir}: none of its {len(summary.left_out)} labeled sources can be exported "
        f"(first: {first['path']}: {first['reason']}); were the images moved or deleted? "
        "Nothing was written"
    )


def _leave_out(summary: ExportSummary, key: str, reason: str) -> None:
    summary.left_out.append({"path": display_path(key), "reason": reason})


def write_frame(rgb: np.ndarray, target: Path) -> None:
    """A video frame becomes a JPEG at quality 95 (what training reads)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(target, jpeg_bytes(rgb))


def jpeg_bytes(rgb: np.ndarray, quality: int = 95) -> bytes:
    """An RGB image as JPEG bytes."""
    ok, jpeg = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    if not ok:
        raise OSError("could not encode a frame as JPEG")
    return jpeg.tobytes()


def _place_image(source: Path, target: Path, mode: ImageMode) -> int:
    """Link or copy `source` to `target`; returns 1 when a link had to become a copy. An
    image behind a URL is downloaded (`ImageReadError` when it cannot be read)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if as_url(source) is not None:
        target.write_bytes(read_file(source)[0])
        return 0
    if mode is ImageMode.SYMLINK:
        target.symlink_to(source.resolve())
        return 0
    if mode is ImageMode.LINK:
        try:
            os.link(source, target)
            return 0
        except OSError:
            shutil.copy2(source, target)
            return 1
    shutil.copy2(source, target)
    return 0


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir} is a file, not a folder; give --to a folder to write into")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / CARD_FILE).is_file():
        raise OutputExistsError(
            f"{out_dir} exists and is not a distil dataset; refusing to "
            "replace it. Choose another --to."
        )


def _staging_prefix(out_dir: Path) -> str:
    return f".{out_dir.name[:100]}.staging-{os.getpid()}-"


def _old_name(out_dir: Path, pid: int) -> Path:
    return out_dir.with_name(f".{out_dir.name[:100]}.old-{pid}")


def _clean_interrupted(out_dir: Path) -> None:
    """Remove what an export killed before it could clean up left beside `out_dir` (only
    folders distil named, of processes no longer running); a dataset caught mid-swap is
    put back first."""
    if not out_dir.parent.is_dir():
        return
    pattern = re.compile(rf"\.{re.escape(out_dir.name[:100])}\.(staging|old)-(\d+)(-.*)?$")
    for entry in out_dir.parent.iterdir():
        found = pattern.match(entry.name)
        if not found or not entry.is_dir() or entry.is_symlink() or _alive(int(found[2])):
            continue
        if found[1] == "old" and not out_dir.exists():
            os.replace(entry, out_dir)  # killed between the two renames of the swap
            logger.warning("restored %s, which an interrupted export had moved aside", out_dir)
            continue
        shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False  # this process is not exporting into that folder now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _files_under(folder: Path) -> list[str]:
    return [
        (Path(dirpath) / name).relative_to(folder).as_posix()
        for dirpath, _, names in os.walk(folder)
        for name in names
        if name != OUTPUT_MARKER
    ]


# Top-level names of a dataset written before distil recorded its files.
_DATASET_NAMES = frozenset(
    {"images", "labels", "annotations", "Annotations", "tracks", "data.yaml", CARD_FILE}
)


def _carry_user_files(out_dir: Path, staging: Path) -> list[str]:
    """Hard-link (or copy) every file of the last export in `out_dir` that distil did not
    write into the new one in `staging`, at the same path; returns them. A user's file
    where the new export writes one is an error that names them, and nothing changes."""
    if not out_dir.is_dir():
        return []
    ours = written_files(out_dir)

    def is_ours(relative: Path) -> bool:
        if relative.as_posix() == OUTPUT_MARKER:
            return True
        if ours is None:
            return relative.parts[0] in _DATASET_NAMES
        return relative.as_posix() in ours

    theirs: list[Path] = []
    folders: list[Path] = []
    for dirpath, dirnames, names in os.walk(out_dir):
        here = Path(dirpath).relative_to(out_dir)
        for name in dirnames:
            if (out_dir / here / name).is_symlink():
                names.append(name)  # a link to a folder is carried as the link
            elif here == Path(".") and ours is None and name in _DATASET_NAMES:
                continue
            else:
                folders.append(here / name)
        theirs += [here / n for n in names if not is_ours(here / n)]
    clashes = [str(p) for p in theirs if os.path.lexists(staging / p)]
    if clashes:
        raise OutputExistsError(
            f"{out_dir} holds files distil did not write where this export writes its own: "
            f"{', '.join(clashes[:5])}{' ...' if len(clashes) > 5 else ''}; move them out first"
        )
    wanted = {f for p in theirs for f in p.parents} | {
        f for f in folders if not any((out_dir / f).iterdir())
    }
    for folder in sorted(f for f in wanted if f != Path(".")):
        (staging / folder).mkdir(mode=ordinary_mode(folder=True), parents=True, exist_ok=True)
    for relative in theirs:
        source, target = out_dir / relative, staging / relative
        try:
            os.link(source, target, follow_symlinks=False)
        except OSError:
            shutil.copy2(source, target, follow_symlinks=False)
    if theirs:
        logger.info("kept %d files of yours in %s", len(theirs), out_dir)
    return [p.as_posix() for p in theirs]


def _replace(staging: Path, out_dir: Path) -> None:
    if out_dir.exists():
        old = _old_name(out_dir, os.getpid())
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(staging, out_dir)


def _scores_no_text(detector: ModelRecord) -> bool:
    """Whether the detector's boxes carry no text score (an Ultralytics checkpoint): its
    card shows no text threshold."""
    return detector.family == "ultralytics"


def _write_card(
    root: Path,
    name: str,
    store: LabelStore,
    ontology: Ontology,
    options: DatasetSettings,
    summary: ExportSummary,
    label_dir: Path,
) -> None:
    provenance = store.provenance
    record = provenance.record()
    notes = []
    if summary.unlabeled:
        notes.append(f"{summary.unlabeled} source images were not labeled yet and are absent")
    if summary.copied_instead_of_linked:
        notes.append(
            f"{summary.copied_instead_of_linked} images were copied: the filesystem "
            "could not hard-link them"
        )
    if options.split[1] == 0 and options.format is LabelFormat.YOLO:
        notes.append("no val split was requested: data.yaml validates on train")
    if summary.split_note:
        notes.append(summary.split_note)
    if summary.left_out:
        notes.append(
            f"{len(summary.left_out)} labeled sources were left out: changed, deleted or "
            "unreadable since they were labeled (see the export summary; relabel them)"
        )
    if summary.store_being_written:
        notes.append(
            f"the label store was still being written ({summary.store_being_written}) "
            "when this dataset was exported: it holds the labels stored until then"
        )
    if summary.polygons.get("filled_holes"):
        notes.append(
            f"{summary.polygons['filled_holes']} mask holes were filled (polygons "
            "cannot carry holes; use --format coco --coco-rle for exact masks)"
        )
    card = DatasetCard(
        name=name,
        distil_version=version(),
        created=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        source_labels=str(Path(label_dir).resolve()),
        fingerprint=store.fingerprint,
        teacher=CardTeacher(
            detector=record.get("detector", {}),
            segmenter=record.get("segmenter"),
            store_threshold=provenance.store_threshold,
        ),
        classes=[
            CardClass(
                id=i,
                name=c.name,
                prompts=list(c.prompts),
                box_threshold=ontology.class_box_threshold(i),
                text_threshold=None
                if _scores_no_text(provenance.teacher_of(c.name))
                else ontology.class_text_threshold(i),
                min_area=c.min_area,
                max_area=c.max_area,
                instances=summary.instances_per_class.get(c.name, 0),
                reviewed_frames=summary.reviewed_per_class.get(c.name, 0),
                teacher=provenance.teacher_of(c.name).model,
            )
            for i, c in enumerate(ontology.classes)
        ],
        images=summary.images,
        reviewed_frames=summary.reviewed,
        images_per_split=summary.images_per_split,
        polygons=summary.polygons,
        export=CardExport(
            **options.model_dump(
                exclude={"box_threshold", "text_threshold", "ontology", "classes"}
            ),
            classes=options.classes or "all",
        ),  # fmt: skip
        notes=notes,
    )
    card.write(root)
