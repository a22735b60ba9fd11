"""Import a reviewer's corrections as human labels, beside the teacher's.

Images are matched to stored frames by stored path, then by file name (or, for YOLO
label files, by file stem); a name two stored frames share, and a name no stored frame
has, are reported and not imported. Classes are matched by name; an unknown class fails
the whole import before anything is stored. Importing a file twice changes nothing.

>>> import_corrections(Path("runs/label/exp"), Path("review/round1/export.json"))  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import supervision as sv

from distil.datasets.filters import select_detections
from distil.datasets.labeled import LabeledImage
from distil.datasets.naming import dataset_path
from distil.errors import MissingInputError, UsageError
from distil.evaluation.matching import match_by_class
from distil.review.core import NMS_IOU, review_ontology
from distil.settings import LabelFormat
from distil.store import HumanLabels, LabelStore, StoredFrame


@dataclass
class ImportSummary:
    file: str
    format: str
    images: int = 0  # images in the file with labels
    matched: int = 0
    stored: int = 0  # new or changed human labels
    unchanged: int = 0  # the same labels were imported before
    labels_changed: int = 0  # teacher boxes the reviewers added, removed or moved
    unmatched: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)
    size_mismatch: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # frames labeled twice: left out
    left_out: list[str] = field(default_factory=list)  # what the file holds that was not used
    rounds: list[int] = field(default_factory=list)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_corrections(
    path: Path, format: LabelFormat, names: Sequence[str], size_of=lambda key: None
) -> list[LabeledImage]:
    """The labeled images of a labeling tool's export: a file, a folder, or a zip file of
    either (as CVAT downloads them)."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"no such file or folder: {path}")
    if path.is_file() and path.suffix.lower() == ".zip" and not zipfile.is_zipfile(path):
        raise UsageError(f"{path}: not a readable zip file")
    if path.is_file() and zipfile.is_zipfile(path):
        _remove_abandoned_folders()
        with tempfile.TemporaryDirectory(prefix=f"{_TEMP_PREFIX}{os.getpid()}-") as folder:
            try:
                return _read(_unzip_annotations(path, Path(folder)), format, names, size_of)
            except (ValueError, FileNotFoundError) as e:  # name the zip, not the temp folder
                raise type(e)(str(e).replace(folder, str(path))) from None
    return _read(path, format, names, size_of)


def _read(path: Path, format: LabelFormat, names: Sequence[str], size_of) -> list[LabeledImage]:
    from distil.datasets.formats.registry import get_format

    return get_format(format).read_handoff(path, names, size_of)


ANNOTATION_SUFFIXES = {".json", ".xml", ".txt", ".names", ".yaml", ".yml"}
MAX_UNZIPPED = 2 << 30  # bytes of annotation files a zip may unpack to
MAX_MEMBERS = 200_000  # annotation files in one zip (a YOLO export has one per image)
_TEMP_PREFIX = "distil-import-"


def _unzip_annotations(archive: Path, folder: Path) -> Path:
    """The annotation files of a zip (not its images) unpacked into `folder`. A member
    named outside the folder, more than MAX_MEMBERS of them, or more bytes than
    MAX_UNZIPPED or half the free disk is a ValueError, before a byte is unpacked; a
    member that unpacks to more than its header says stops there."""
    try:
        bundle = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as e:
        raise UsageError(f"{archive}: not a readable zip file ({e})") from None
    with bundle:
        members = [
            m
            for m in bundle.infolist()
            if not m.is_dir() and Path(m.filename).suffix.lower() in ANNOTATION_SUFFIXES
        ]
        if len(members) > MAX_MEMBERS:
            raise UsageError(
                f"{archive}: {len(members)} annotation files, over the {MAX_MEMBERS} a zip "
                "may hold; unpack it and import the folder"
            )
        limit = min(MAX_UNZIPPED, shutil.disk_usage(folder).free // 2)
        if sum(m.file_size for m in members) > limit:
            raise UsageError(
                f"{archive}: its annotation files unpack to over {limit / 2**20:.0f} MiB "
                "(2 GiB, or half the free disk)"
            )
        for member in members:
            relative = PurePosixPath(member.filename)
            if relative.is_absolute() or ".." in relative.parts:
                raise UsageError(f"{archive}: {member.filename!r} points outside the archive")
            target = folder.joinpath(*relative.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with bundle.open(member) as source, open(target, "xb") as out:
                    shutil.copyfileobj(_Bounded(source, member.file_size), out)
            except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
                name = member.filename
                raise UsageError(f"{archive}: {name!r} cannot be unpacked ({e})") from None
    return folder


class _Bounded:
    """A reader that refuses to give more than `size` bytes (a zip member whose header
    lies about its size)."""

    def __init__(self, source, size: int) -> None:
        self.source, self.left = source, size

    def read(self, count: int = -1) -> bytes:
        data = self.source.read(max(0, self.left) + 1 if count < 0 else count)
        self.left -= len(data)
        if self.left < 0:
            raise UsageError("a zip member unpacks to more than its header says")
        return data


def _remove_abandoned_folders() -> None:
    """Remove what an import killed (SIGKILL: no cleanup ran) left in the temporary
    folder: only folders distil named, of processes no longer running."""
    root = Path(tempfile.gettempdir())
    for entry in root.glob(f"{_TEMP_PREFIX}*"):
        pid = entry.name[len(_TEMP_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or not entry.is_dir() or entry.is_symlink():
            continue
        try:
            os.kill(int(pid), 0)
            continue  # still running
        except ProcessLookupError:
            shutil.rmtree(entry, ignore_errors=True)
        except PermissionError:
            continue  # another user's process


class FrameIndex:
    """Stored frames by every name a tool may use for them: stored path, the written file
    of a video frame or copy, file name and file stem. Where several frames share a name,
    the reference's parent folders, then the frames handed out for review, tell them
    apart."""

    def __init__(self, frames: list[StoredFrame], handed_out: set[str] = frozenset()) -> None:
        self.frames = {f.identity.key: f for f in frames}
        self.handed_out = handed_out
        self.by_name: dict[str, set[str]] = {}
        for frame in frames:
            identity = frame.identity
            written = dataset_path(identity)
            for name in {identity.key, str(identity.path), identity.path.name, written.name}:
                self.by_name.setdefault(name, set()).add(identity.key)
            for stem in {identity.path.stem, written.stem}:
                self.by_name.setdefault(f"stem:{stem}", set()).add(identity.key)

    def find(self, reference: str) -> tuple[str | None, bool]:
        """(stored key, ambiguous) for a tool's image reference."""
        if reference in self.frames:
            return reference, False
        path = Path(reference)
        for name in (str(path), path.name, f"stem:{path.stem}"):
            keys = self.by_name.get(name, set())
            if len(keys) > 1:
                keys = self._ending_with(keys, path.parts) or keys
            if len(keys) > 1:  # a file of an exported dataset, named as distil wrote it
                keys = self._written_as(keys, path) or keys
            if len(keys) > 1:
                keys = (keys & self.handed_out) or keys
            if keys:
                return (next(iter(keys)), False) if len(keys) == 1 else (None, True)
        return None, False

    def _written_as(self, keys: set[str], path: Path) -> set[str]:
        """The frames `distil export` writes at exactly `path` under a split's folder."""
        return {k for k in keys if dataset_path(self.frames[k].identity) == path}

    def _ending_with(self, keys: set[str], parts: tuple[str, ...]) -> set[str]:
        """The frames whose source path or written file ends with `parts`."""
        if len(parts) < 2:
            return set()
        ends = set()
        for key in keys:
            identity = self.frames[key].identity
            if any(
                p.parts[-len(parts) :] == parts for p in (identity.path, dataset_path(identity))
            ):
                ends.add(key)
        return ends


def import_corrections(
    label_dir: Path, path: Path, format: LabelFormat | str = LabelFormat.LABEL_STUDIO
) -> ImportSummary:
    start = time.perf_counter()
    format = LabelFormat(format)
    summary = ImportSummary(str(Path(path).resolve()), format.value)
    with LabelStore.edit(label_dir) as store:
        ontology = review_ontology(store, None)
        names = ontology.class_names
        rounds = store.review_rounds()
        handed_out = {key for r in rounds for key in r.frames}
        index = FrameIndex(list(store.frames(with_masks=False)), handed_out)

        def size_of(reference: str) -> tuple[int, int] | None:
            key, _ = index.find(reference)
            return None if key is None else (index.frames[key].width, index.frames[key].height)

        images = read_corrections(path, format, names, size_of)
        keys = [index.find(image.key) for image in images]
        times = Counter(key for key, _ in keys if key is not None)
        reported: set[str] = set()
        labels: list[HumanLabels] = []
        for image, (key, ambiguous) in zip(images, keys, strict=True):
            summary.images += 1
            summary.left_out += image.notes
            if not image.usable:
                continue
            if key is None:
                (summary.ambiguous if ambiguous else summary.unmatched).append(image.key)
                continue
            if times[key] > 1:  # which of them did the reviewer mean? neither is stored
                if key not in reported:
                    summary.duplicates.append(f"{image.key}: {times[key]} entries label it")
                    reported.add(key)
                continue
            frame = index.frames[key]
            if image.width and (image.width, image.height) != (frame.width, frame.height):
                summary.size_mismatch.append(
                    f"{image.key}: {image.width}x{image.height} in the file, "
                    f"{frame.width}x{frame.height} stored"
                )
                continue
            summary.matched += 1
            human = _fitted(image.detections, frame.height, frame.width)
            teacher = select_detections(frame.detections, ontology, NMS_IOU)
            changed = count_changes(teacher, human)
            number = next((r.round for r in reversed(rounds) if key in r.frames), 0)
            labels.append(
                HumanLabels(
                    frame.identity.hash, frame.width, frame.height, human, changed, number,
                    str(Path(path).resolve()), format.value,
                )
            )  # fmt: skip
            summary.labels_changed += changed
        summary.stored = store.write_human_labels(labels)
        summary.unchanged = len(labels) - summary.stored
        summary.rounds = sorted({label.round for label in labels})
    summary.elapsed_s = round(time.perf_counter() - start, 3)
    return summary


def _fitted(detections: sv.Detections, height: int, width: int) -> sv.Detections:
    """Boxes clipped to the image (tools let corners stray a little past the edge)."""
    if len(detections):
        detections.xyxy = np.clip(detections.xyxy, 0, [width, height, width, height]).astype(
            np.float32
        )
    return detections


def count_changes(teacher: sv.Detections, human: sv.Detections, iou: float = 0.5) -> int:
    """Boxes the reviewer removed, added or moved: those of either side that no box of the
    same class on the other side matches at `iou`.

    A box whose class the reviewer changed counts twice: removed, and added.
    """
    teacher_hit, human_hit = match_by_class(teacher, human, iou)
    return int((~teacher_hit).sum() + (~human_hit).sum())
