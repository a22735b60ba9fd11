"""Odd inputs never block a run: each is labeled once or skipped with a reason naming it."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

from PIL import Image

from distil.sources import MAX_IMAGE_BYTES, SkippedFile, iter_frames, scan_sources
from distil.sources.video import VideoReport, iter_video
from tests.synthetic import make_video


def picture(path: Path, shade: int = 90) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 12), (shade, 30, 200)).save(path)
    return path


def stream(root: Path) -> list:
    problems: list[SkippedFile] = []
    work = [(p, root) for p in scan_sources(root, problems)]
    return list(iter_frames([*work, *problems]))


def skipped(items) -> dict[str, str]:
    return {Path(s.path).name: s.reason for s in items if isinstance(s, SkippedFile)}


def labeled(items) -> list[str]:
    return sorted(f.identity.path.name for f in items if not isinstance(f, SkippedFile))


def test_a_non_utf8_name_is_skipped_with_a_reason_naming_it(tmp_path, tiny_grounding_dino):
    from distil.base_models import load_base_model
    from distil.labeling import label_images
    from distil.ontologies import Ontology
    from distil.store import LabelStore

    picture(tmp_path / "in" / "ok.jpg")
    odd = os.fsdecode(b"caf\xe9.jpg")
    picture(tmp_path / "in" / odd)
    items = stream(tmp_path / "in")
    assert labeled(items) == ["ok.jpg"]
    assert skipped(items) == {odd: "file name is not valid UTF-8: rename the file to label it"}
    ontology = Ontology.from_dict({"classes": {"car": "car"}})
    model = load_base_model(tiny_grounding_dino, "none", device="cpu")
    for _ in range(2):  # the batch with the odd name is stored, so a rerun has nothing to do
        summary = label_images(tmp_path / "in", ontology, model, tmp_path / "run")
    assert summary.already_labeled == 1 and len(summary.skipped) == 1
    with LabelStore.open(tmp_path / "run") as store:
        assert [Path(p).name for p, _ in store.skipped()] == ["caf\\xe9.jpg"]


def test_fifos_devices_and_sockets_are_skipped_without_reading(tmp_path):
    picture(tmp_path / "ok.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")  # reading it would block forever
    os.mkfifo(tmp_path / "pipe.mp4")
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "sock.png"))
    try:
        start = time.perf_counter()
        items = stream(tmp_path)
        assert time.perf_counter() - start < 5
    finally:
        server.close()
    assert labeled(items) == ["ok.jpg"]
    assert skipped(items) == {
        "pipe.jpg": "not a regular file: a FIFO (named pipe)",
        "pipe.mp4": "not a regular file: a FIFO (named pipe)",
        "sock.png": "not a regular file: a socket",
        "zero.jpg": "not a regular file: a character device",
    }


def test_a_huge_file_is_refused_by_its_size_before_reading(tmp_path):
    huge = tmp_path / "huge.jpg"
    with huge.open("wb") as f:  # sparse: takes no disk
        f.truncate(MAX_IMAGE_BYTES + 1)
    items = stream(tmp_path)
    assert skipped(items) == {
        "huge.jpg": f"file is {(MAX_IMAGE_BYTES + 1) / 2**20:.0f} MiB, over the "
        f"{MAX_IMAGE_BYTES // 2**20} MiB limit for an image"
    }


def test_a_symlink_loop_gives_each_file_once(tmp_path):
    picture(tmp_path / "a" / "1.jpg")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "up").symlink_to(tmp_path)
    (tmp_path / "self.jpg").symlink_to(tmp_path / "self.jpg")  # a link to itself
    items = stream(tmp_path)
    assert labeled(items) == ["1.jpg"]
    assert skipped(items) == {"self.jpg": "symlink loop"}


def test_distil_output_folders_are_never_labeled_again(tmp_path, tiny_grounding_dino):
    """Labeling `.` again and again, exporting into it each time, labels the same 4."""
    from distil.base_models import load_base_model
    from distil.datasets import export_dataset
    from distil.labeling import label_images
    from distil.ontologies import Ontology

    for i in range(4):
        picture(tmp_path / "photos" / f"{i}.jpg", 50 * i)
    ontology = Ontology.from_dict({"classes": {"car": "car"}})
    model = load_base_model(tiny_grounding_dino, "none", device="cpu")
    counts = []
    for attempt in range(3):
        out = tmp_path / "runs" / "label" / f"exp{attempt}"
        summary = label_images(tmp_path, ontology, model, out)
        export_dataset(out, tmp_path / f"dataset{attempt}")
        counts.append(summary.images)
    assert counts == [4, 4, 4]


def test_an_unreadable_folder_is_listed_as_skipped(tmp_path):
    picture(tmp_path / "ok.jpg")
    picture(tmp_path / "locked" / "secret.jpg")
    (tmp_path / "locked").chmod(0)
    try:
        items = run_unprivileged(stream, tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert labeled(items) == ["ok.jpg"]
    assert skipped(items) == {"locked": "cannot read folder (Permission denied)"}


def run_unprivileged(function, *args):
    """`function(*args)` where permissions hold: as `nobody` in a forked child when the
    tests run as root; the result comes back pickled through a pipe."""
    if os.geteuid() != 0:
        return function(*args)
    import pickle

    for folder in [args[0], *args[0].parents]:  # `nobody` must reach the folder
        folder.chmod(folder.stat().st_mode | 0o005)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child answers through the pipe
        code = 1
        try:
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, pickle.dumps(function(*args)))
            code = 0
        except BaseException as e:  # noqa: BLE001
            sys.stderr.write(f"{type(e).__name__}: {e}\n")
        finally:
            os._exit(code)
    os.close(write)
    data = b""
    while chunk := os.read(read, 1 << 16):
        data += chunk
    os.close(read)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return pickle.loads(data)


def test_a_video_with_a_corrupt_middle_keeps_decoding_after_the_damage(tmp_path):
    path = make_video(tmp_path / "clip.mp4", frames=341, fps=30)
    data = bytearray(path.read_bytes())
    start, length = len(data) // 2, len(data) * 15 // 100
    data[start : start + length] = b"\x5a" * length
    path.write_bytes(bytes(data))
    report = VideoReport(path)
    indices = [f.index for f in iter_video(path, report=report)]
    assert len(indices) > 250 and indices == list(range(len(indices)))
    assert report.damaged_packets > 0 and report.error is None
    assert report.problem.startswith("damaged: ")
    assert f"{len(indices)} of 341 frames decoded" in report.problem
