import json
import socket
from pathlib import Path

import numpy as np
import pytest

from distil.target_models import (
    StudentTask,
    YoloStudent,
    check_onnx,
    check_options,
    export_student,
    onnx_latency,
    resolve_student,
)
from distil.target_models.data import dataset_task, find_data_yaml
from distil.target_models.ultralytics_yolo import TRAIN_DONE_FILE
from tests.conftest import COCO128, YOLO11N, needs_shared
from tests.synthetic import make_shapes_dataset


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection (weights, fonts, hub checks) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One 2-epoch run of the default student (yolo26n) from the YAML on drawn shapes (shared by several tests)."""
    root = tmp_path_factory.mktemp("student")
    data = make_shapes_dataset(root / "shapes", images=16, size=96)
    result = YoloStudent().train(
        data, project=root / "runs", epochs=2, imgsz=64, batch=4, workers=0, device="cpu"
    )
    return root, data, result


def test_student_names_resolve_to_yaml_or_a_local_checkpoint(tmp_path, monkeypatch):
    monkeypatch.delenv("DISTIL_WEIGHTS_DIR", raising=False)
    assert resolve_student("yolo11n", StudentTask.DETECT).model == "yolo11n.yaml"
    assert resolve_student("yolov8s", StudentTask.SEGMENT).model == "yolov8s-seg.yaml"
    assert not resolve_student("yolo11n-seg", StudentTask.SEGMENT).pretrained
    (tmp_path / "yolo11s.pt").write_bytes(b"weights")
    monkeypatch.setenv("DISTIL_WEIGHTS_DIR", str(tmp_path))
    found = resolve_student("yolo11s", StudentTask.DETECT)
    assert found.pretrained and found.model == str(tmp_path / "yolo11s.pt")
    with pytest.raises(ValueError, match="segmentation model but the dataset has boxes"):
        resolve_student("yolo11n-seg", StudentTask.DETECT)
    with pytest.raises(ValueError, match="unknown student model 'yolo99z'"):
        resolve_student("yolo99z", StudentTask.DETECT)
    with pytest.raises(FileNotFoundError):
        resolve_student(str(tmp_path / "missing.pt"), StudentTask.DETECT)


def test_training_options_are_checked_with_suggestions():
    assert check_options({"lr0": 0.01, "mosaic": 0.5}) == {"lr0": 0.01, "mosaic": 0.5}
    with pytest.raises(ValueError, match="Did you mean 'lr0'"):
        check_options({"lr_0": 0.01})
    with pytest.raises(ValueError, match="Did you mean 'patience'"):
        check_options({"patiense": 3})
    with pytest.raises(ValueError, match="set by distil"):
        check_options({"data": "x.yaml"})
    with pytest.raises(ValueError, match="invalid Ultralytics option"):
        check_options({"epochs": "many"})


def test_dataset_task_and_data_yaml(tmp_path):
    data = make_shapes_dataset(tmp_path / "ds", images=4)
    assert find_data_yaml(data) == data / "data.yaml"
    assert dataset_task(data / "data.yaml") is StudentTask.DETECT
    label = next((data / "labels/train").glob("*.txt"))
    label.write_text("0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n")
    assert dataset_task(data / "data.yaml") is StudentTask.SEGMENT
    (tmp_path / "coco" / "annotations").mkdir(parents=True)
    with pytest.raises(ValueError, match="--format yolo"):
        find_data_yaml(tmp_path / "coco")


def test_training_from_yaml_offline_writes_an_incrementing_run(trained, no_network):
    root, data, result = trained
    assert result.model == "yolo26n.yaml" and not result.pretrained  # the default student
    assert result.device == "cpu" and result.epochs == 2 and result.task == "detect"
    run = root / "runs" / "exp"
    assert result.run_dir == str(run.resolve())
    assert (run / "weights" / "best.pt").is_file() and (run / "results.csv").is_file()
    assert json.loads((run / TRAIN_DONE_FILE).read_text())["best"] == result.best
    assert "metrics/mAP50-95(B)" in result.metrics
    second = YoloStudent().train(
        data,
        project=root / "runs",
        epochs=1,
        imgsz=64,
        batch=4,
        workers=0,
        device="cpu",
        plots=False,
    )
    assert second.run_dir.endswith("exp2")
    with pytest.raises(FileExistsError, match="--resume"):
        YoloStudent().train(data, project=root / "runs", name="exp", epochs=1, imgsz=64)


def test_an_interrupted_training_resumes_to_the_end(tmp_path, stop_training):
    data = make_shapes_dataset(tmp_path / "ds", images=8)
    stop_training(True)
    with pytest.raises(KeyboardInterrupt):
        YoloStudent().train(
            data,
            project=tmp_path / "runs",
            epochs=3,
            imgsz=64,
            batch=4,
            workers=0,
            device="cpu",
            plots=False,
        )
    stop_training(False)
    run = tmp_path / "runs" / "exp"
    assert (run / "weights" / "last.pt").is_file() and not (run / TRAIN_DONE_FILE).exists()
    result = YoloStudent().resume(run)
    assert result.resumed and result.epochs == 3
    assert len((run / "results.csv").read_text().strip().splitlines()) == 1 + 3
    assert YoloStudent().resume(run).best == result.best  # finished: returned as is


def test_onnx_export_runs_in_onnxruntime_and_matches_pytorch(trained):
    _, _, result = trained
    exported = export_student(result.best, "onnx", imgsz=64)
    assert exported.path.endswith("best.onnx") and exported.check["passed"]
    assert exported.check["max_abs_diff"] < 1e-3
    again = check_onnx(result.best, exported.path, 64, seed=1)
    assert again["input"] == [1, 3, 64, 64] and again["passed"]
    latency = onnx_latency(exported.path, 64, runs=5, warmup=1)
    assert 0 < latency.p50_ms <= latency.p95_ms and latency.provider == "CPUExecutionProvider"


def test_missing_export_packages_name_the_extra(trained, monkeypatch):
    import importlib.util

    _, _, result = trained
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a)
    )
    with pytest.raises(ValueError, match=r'pip install "distil\[openvino\]"'):
        export_student(result.best, "openvino")


def test_predict_writes_annotated_images_and_scored_labels(trained, tmp_path):
    _, data, result = trained
    summary = YoloStudent(result.best).predict(
        [data / "images" / "val"], tmp_path / "pred", conf=0.0001, device="cpu"
    )
    assert summary.frames == 4
    written = sorted(p.stem for p in (tmp_path / "pred").glob("[!.]*.*"))
    assert written == sorted(p.stem for p in (data / "images/val").glob("*.png"))
    for label in (tmp_path / "pred" / "labels").glob("*.txt"):
        rows = np.loadtxt(label, ndmin=2)
        assert rows.shape[1] == 6 and (rows[:, 5] >= 0.0001).all()


def bomb_png(path) -> None:
    """A PNG whose header claims 30000x30000 pixels: decoding it would take 2.7 GB."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def test_predict_skips_what_label_skips_and_writes_mp4(trained, tmp_path):
    """A FIFO, a name that is not UTF-8, a decompression bomb and a corrupt file are each
    skipped with label's reason; the images and the video are predicted; the video comes
    out as H.264 .mp4 with label files numbered from frame 0."""
    import os
    import shutil

    import av
    from typer.testing import CliRunner

    from distil.cli import app
    from tests.synthetic import make_video

    _, data, result = trained
    folder = tmp_path / "in"
    folder.mkdir()
    for image in sorted((data / "images" / "val").glob("*.png"))[:2]:
        shutil.copy(image, folder / image.name)
    os.mkfifo(folder / "pipe.jpg")
    os.mkfifo(folder / "pipe.mp4")
    shutil.copy(folder / image.name, folder / os.fsdecode(b"caf\xe9.png"))
    bomb_png(folder / "bomb.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    make_video(folder / "clip.mp4", frames=5)
    out = tmp_path / "pred"
    args = ["predict", str(result.best), str(folder), "--out", str(out), "--conf", "0.0001"]
    run = CliRunner().invoke(app, [*args, "--device", "cpu", "--json"])
    assert run.exit_code == 0, run.output
    summary = json.loads(run.stdout)
    reasons = {item["path"]: item["reason"] for item in summary["skipped"]}
    assert reasons[str(folder / "pipe.jpg")] == "not a regular file: a FIFO (named pipe)"
    assert reasons[str(folder / "pipe.mp4")] == "not a regular file: a FIFO (named pipe)"
    assert reasons[str(folder / "caf\\xe9.png")].startswith("file name is not valid UTF-8")
    assert reasons[str(folder / "bomb.png")].startswith("image too large")
    assert reasons[str(folder / "broken.jpg")].startswith("not a readable image")
    assert summary["frames"] == 2 + 5
    with av.open(str(out / "clip.mp4")) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in video.decode(stream)) == 5
    labels = sorted(p.name for p in (out / "labels").glob("clip_*.txt"))
    assert labels and labels[0] == "clip_000000.txt"
    assert not list(out.glob("*.avi"))


def test_epochs_trained_without_validation_say_so(tmp_path):
    data = make_shapes_dataset(tmp_path / "shapes", images=8, size=64)
    finished = []
    YoloStudent().train(
        data, project=tmp_path / "runs", epochs=2, imgsz=64, batch=4, workers=0, device="cpu",
        val=False, progress=lambda s: finished.append(s) if s.epoch_done else None,
    )  # fmt: skip
    first, last = finished
    assert not first.validated and first.line().endswith(f"| not validated ({first.epoch_s:.1f}s)")
    assert "mAP50" not in first.line()
    assert last.validated and "mAP50" in last.line()  # Ultralytics validates the last epoch


def test_a_dataset_whose_yaml_says_path_dot_trains_from_any_folder(tmp_path, monkeypatch):
    import yaml

    data = make_shapes_dataset(tmp_path / "shapes", images=8, size=64)
    spec = yaml.safe_load((data / "data.yaml").read_text())
    spec["path"] = "."
    (data / "data.yaml").write_text(yaml.safe_dump(spec))
    (data / ".distil-output").unlink(missing_ok=True)  # a user's dataset, not distil's
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    before = sorted(p.relative_to(data) for p in data.rglob("*"))
    result = YoloStudent().train(
        data, project=tmp_path / "runs", epochs=1, imgsz=64, batch=4, workers=0, device="cpu"
    )
    assert Path(result.best).is_file()
    assert sorted(p.relative_to(data) for p in data.rglob("*")) == before  # no labels.cache
    spec["val"] = "images/missing"
    (data / "data.yaml").write_text(yaml.safe_dump(spec))
    with pytest.raises(FileNotFoundError, match="data.yaml: val: images/missing not found"):
        YoloStudent().train(data, project=tmp_path / "runs", epochs=1, imgsz=64, device="cpu")


def test_an_export_at_another_size_is_named_by_it_and_replaces_nothing(trained):
    _, _, result = trained
    first = export_student(result.best, "onnx")
    assert Path(first.path).name == "best.onnx" and first.imgsz == 64
    before = Path(first.path).read_bytes()
    other = export_student(result.best, "onnx", imgsz=96)
    assert Path(other.path).name == "best_96.onnx" and other.check["passed"]
    assert Path(first.path).read_bytes() == before
    assert not list(Path(result.best).parent.glob(".distil-export-*"))


@needs_shared
@pytest.mark.parametrize("tracker", ["bytetrack", "botsort"])
def test_predict_tracks_video_boxes_with_ids(tmp_path, tracker):
    """--track with YOLO11n on moving COCO cut-outs: a video's label files gain a track id
    column (ids from 1 per video), and each object keeps its id; a still image is not
    tracked."""
    from functools import partial

    import cv2
    from typer.testing import CliRunner

    from distil.cli import app
    from tests.synthetic import coco_crops, crop_boxes, crops_frame, make_video

    crops = coco_crops(COCO128)
    folder = tmp_path / "in"
    make_video(folder / "a.mp4", 30, 30, 640, 480, draw=partial(crops_frame, crops=crops))
    make_video(folder / "b.mp4", 10, 30, 640, 480, draw=partial(crops_frame, crops=crops))
    cv2.imwrite(str(folder / "still.jpg"), crops_frame(0, 640, 480, crops)[..., ::-1])
    out = tmp_path / "pred"
    args = ["predict", str(YOLO11N), str(folder), "--out", str(out), "--device", "cpu"]
    run = CliRunner().invoke(app, [*args, "--track", "--tracker", tracker, "--json"])
    assert run.exit_code == 0, run.output
    highest = 0
    for video, frames in (("a", 30), ("b", 10)):
        rows = [np.loadtxt(out / "labels" / f"{video}_{i:06d}.txt", ndmin=2) for i in range(frames)]
        assert all(r.shape[1] == 7 for r in rows)
        ids = np.concatenate([r[:, 6] for r in rows])
        assert (ids >= 1).all() and (ids == ids.round()).all()
        highest += int(ids.max())
    assert json.loads(run.stdout)["tracks"] == highest
    # The bus (the first cut-out) keeps one id through clip a: the box nearest its truth.
    ids = set()
    for i in range(30):
        _, left, top, w, h = crop_boxes(i, 640, 480, crops)[0]
        rows = np.loadtxt(out / "labels" / f"a_{i:06d}.txt", ndmin=2)
        centre = np.array([(left + w / 2) / 640, (top + h / 2) / 480])
        ids.add(int(rows[np.abs(rows[:, 1:3] - centre).sum(1).argmin(), 6]))
    assert len(ids) == 1
    assert np.loadtxt(out / "labels" / "still.txt", ndmin=2).shape[1] == 6


def test_predict_tracks_only_with_a_box_tracker(tmp_path):
    from typer.testing import CliRunner

    from distil.cli import app

    args = ["predict", str(tmp_path / "x.pt"), str(tmp_path), "--track", "--tracker", "sam2.1"]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "bytetrack or botsort" in refused.output


def test_int8_export_is_calibrated_on_the_training_images_and_reports_its_cost(trained):
    """--int8: the float ONNX is checked, then quantized with calibration images from the
    dataset the student was trained on; both are scored on the validation frames."""
    import onnx
    from typer.testing import CliRunner

    from distil.cli import app

    _, data, result = trained
    args = ["export-model", str(result.best), "--int8", "--calibration", "8", "--json"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    (export,) = json.loads(run.stdout)["exports"]
    assert export["path"].endswith("best_int8.onnx") and export["check"]["passed"]
    cost = export["int8"]
    assert cost["calibration_images"] == 8 and cost["validation_images"] == 4
    assert 0 <= cost["int8_map50_95"] <= 1 and 0 <= cost["float_map50_95"] <= 1
    assert cost["map50_95_change"] == pytest.approx(
        cost["int8_map50_95"] - cost["float_map50_95"], abs=1e-4
    )
    assert cost["speedup"] > 0
    graph = onnx.load(export["path"])
    assert any(n.op_type == "QuantizeLinear" for n in graph.graph.node)
    assert {p.key for p in graph.metadata_props} >= {"names", "imgsz", "stride"}


def test_int8_refuses_what_it_cannot_do(trained, tmp_path):
    from typer.testing import CliRunner

    from distil.cli import app

    _, _, result = trained
    for extra, says in (
        (["--format", "torchscript"], "--int8: torchscript has no INT8 export"),
        (["--half"], "--int8 and --half: choose one"),
        (["--data", str(tmp_path / "nowhere")], "dataset not found"),
    ):
        run = CliRunner().invoke(app, ["export-model", str(result.best), "--int8", *extra])
        assert run.exit_code == 2 and says in run.output, run.output
