"""Transformers students: tiny random-weight RF-DETR and D-FINE built from their configs,
saved and loaded through `from_pretrained`, trained on drawn shapes, exported to ONNX with
the parity check, and run by predict, eval, benchmark-student and the candidates table."""

import json
import sys
from importlib.metadata import EntryPoint

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.errors import UsageError
from distil.evaluation.core import student_validator
from distil.settings import student_licence
from distil.target_models import registry
from distil.target_models.core import TRAIN_DONE_FILE, TrainStatus
from distil.target_models.transformers_detr import STUDENT_FILE, DetrStudent
from tests.synthetic import make_shapes_dataset
from tests.tiny_models import STUDENT_CLASSES, build_d_fine, build_rf_detr

EXIT_USAGE = 2
BUILDERS = {"rf_detr": build_rf_detr, "d_fine": build_d_fine}
TRAIN = {"epochs": 2, "imgsz": 64, "batch": 2, "lr0": 1e-3, "workers": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    return make_shapes_dataset(tmp_path_factory.mktemp("shapes") / "shapes", images=64, size=96)


@pytest.fixture(scope="module", params=sorted(BUILDERS))
def trained(request, tmp_path_factory, shapes):
    """Each tiny student trained two epochs, scored each epoch by distil's COCO mAP."""
    root = tmp_path_factory.mktemp(request.param)
    checkpoint = BUILDERS[request.param](root / "checkpoint")
    epochs: list[TrainStatus] = []
    result = DetrStudent().train(
        shapes, model=str(checkpoint), project=root / "runs", validator=student_validator,
        progress=lambda status: epochs.append(status) if status.epoch_done else None, **TRAIN,
    )  # fmt: skip
    return request.param, root, result, epochs


def test_each_trains_two_epochs_and_its_loss_falls(trained):
    model_type, root, result, epochs = trained
    assert [s.epoch for s in epochs] == [1, 2]
    assert epochs[1].losses["loss"] < epochs[0].losses["loss"], [s.losses for s in epochs]
    assert {"metrics/mAP50(B)", "metrics/mAP50-95(B)"} <= set(epochs[-1].metrics)
    assert epochs[-1].line().startswith("epoch 2/2 loss ")
    assert result.licence == "apache-2.0" and result.epochs == 2 and not result.resumed
    best = root / "runs" / "exp" / "weights" / "best"
    config = json.loads((best / "config.json").read_text())
    assert config["model_type"] == model_type
    assert {int(k): v for k, v in config["id2label"].items()} == STUDENT_CLASSES
    card = json.loads((best / STUDENT_FILE).read_text())
    assert card["imgsz"] == 64 and card["licence"] == "apache-2.0"
    assert json.loads((root / "runs" / "exp" / TRAIN_DONE_FILE).read_text())["best"] == str(best)


def test_onnx_export_passes_parity_and_predictions_go_through_eval(trained, shapes, tmp_path):
    _, root, result, _ = trained
    runner = CliRunner()
    exported = runner.invoke(app, ["export-model", result.best, "--json", "-q"])
    assert exported.exit_code == 0, exported.output
    export = json.loads(exported.stdout)["exports"][0]
    assert export["format"] == "onnx" and export["check"]["passed"], export
    onnx = export["path"]
    assert onnx.endswith(".onnx") and onnx.startswith(str(root / "runs" / "exp" / "weights"))

    predicted = runner.invoke(
        app, ["predict", onnx, str(shapes / "images" / "val"), "--conf", "0.01",
              "--out", str(tmp_path / "predicted"), "--json", "-q"],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    labels = sorted((tmp_path / "predicted" / "labels").glob("*.txt"))
    assert len(labels) == len(list((shapes / "images" / "val").iterdir()))
    rows = [line.split() for f in labels for line in f.read_text().splitlines()]
    assert rows and all(len(r) == 6 and int(r[0]) in STUDENT_CLASSES for r in rows)

    for predictions in (result.best, onnx):
        scored = runner.invoke(
            app, ["eval", predictions, "-g", str(shapes), "--split", "val",
                  "--out", str(tmp_path / f"eval-{len(predictions)}"), "--json", "-q"],
        )  # fmt: skip
        assert scored.exit_code == 0, scored.output
        report = json.loads(scored.stdout)
        assert 0 <= report["map50_95"] <= report["map50"] <= 1
        assert report["images"] == len(labels)


def test_benchmark_student_exports_a_student_folder_and_times_it(trained):
    _, root, result, _ = trained
    timed = CliRunner().invoke(
        app, ["benchmark-student", result.best, "--imgsz", "64", "--runs", "3", "--json", "-q"]
    )
    assert timed.exit_code == 0, timed.output
    (latency,) = json.loads(timed.stdout)["latency"]
    assert latency["input"] == [1, 3, 64, 64] and 0 < latency["p50_ms"] <= latency["p95_ms"]
    assert not list((root / "runs" / "exp" / "weights").glob("*-64*.onnx"))  # in scratch


def test_an_interrupted_run_resumes_to_the_end(tmp_path, shapes):
    checkpoint = build_rf_detr(tmp_path / "checkpoint")

    def stop_after_the_first_epoch(status: TrainStatus) -> None:
        if status.epoch_done:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        DetrStudent().train(
            shapes, model=str(checkpoint), project=tmp_path / "runs",
            validator=student_validator, progress=stop_after_the_first_epoch, **TRAIN,
        )  # fmt: skip
    run = tmp_path / "runs" / "exp"
    assert (run / "weights" / "last").is_dir() and not (run / TRAIN_DONE_FILE).exists()
    with pytest.raises(UsageError, match="--resume"):
        DetrStudent().train(shapes, model=str(checkpoint), project=tmp_path / "runs",
                            name="exp", **TRAIN)  # fmt: skip
    seen: list[int] = []
    resumed = CliRunner().invoke(app, ["train", "--resume", str(run), "--json", "-q"])
    assert resumed.exit_code == 0, resumed.output
    result = json.loads(resumed.stdout)
    assert result["resumed"] and result["epochs"] == 2 and result["metrics"]
    again = DetrStudent().resume(run, progress=lambda s: seen.append(s.epoch))
    assert again.best == result["best"] and not seen  # finished: returned as is


@pytest.mark.parametrize(
    ("model", "licence"),
    [("yolo26n", "agpl-3.0"), ("yolo11n-seg", "agpl-3.0"), ("rf-detr-nano", "apache-2.0"),
     ("rf-detr-large", "apache-2.0"), ("Roboflow/rf-detr-xlarge", "pml-1.0"),
     ("Roboflow/rf-detr-2xlarge", "pml-1.0"), ("rf-detr-small", "apache-2.0"), ("d-fine-s", "apache-2.0"), ("rt-detrv2-r18", "apache-2.0"),
     ("ustc-community/dfine-xlarge-coco", "apache-2.0")],
)  # fmt: skip
def test_each_built_in_family_has_its_licence(model, licence):
    assert student_licence(model) == licence


def test_a_local_checkpoint_folder_is_licensed_by_its_config(tmp_path):
    assert student_licence(str(build_d_fine(tmp_path / "mine"))) == "apache-2.0"


def test_candidates_rank_a_yolo_and_an_rf_detr_student_by_one_ruler(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_shapes_dataset(tmp_path / "shapes", images=12, size=96)
    rf_detr = str(build_rf_detr(tmp_path / "rf-detr"))
    args = ["train", str(data), "--model", f"yolo11n,{rf_detr}", "--epochs", "1",
            "--imgsz", "64", "--batch", "4", "--workers", "0", "--device", "cpu"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--select", "map50", "--json", "-q"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    rows = {r["model"]: r for r in table["candidates"]}
    assert list(rows) == ["yolo11n", rf_detr]
    assert rows["yolo11n"]["licence"] == "agpl-3.0" and rows[rf_detr]["licence"] == "apache-2.0"
    for row in rows.values():
        assert 0 <= row["map50_95"] <= row["map50"] <= 1 and row["latency_p50_ms"] > 0
        assert row["parameters"] > 0 and row["onnx"].endswith(".onnx")
        assert row["latency_on"] == "CPUExecutionProvider"
    best = max(rows.values(), key=lambda r: (r["map50"], -r["latency_p50_ms"]))
    assert table["chosen"] == best["model"]

    refused = CliRunner().invoke(app, [*args, "--licence", "apache-2.0"])
    assert refused.exit_code == EXIT_USAGE
    assert "--licence apache-2.0 refuses --model yolo11n: it is AGPL-3.0" in refused.output


THIRD_PARTY = '''
from distil.target_models.ultralytics_yolo import YoloStudent


class AcmeStudent(YoloStudent):
    """A third-party student: 'acme-<yolo name>' trains that YOLO under Acme's name."""

    @classmethod
    def accepts(cls, model):
        return model.startswith("acme-")

    def train_with(self, data, settings, project, name=None, progress=None, validator=None):
        plain = settings.model_copy(update={"model": settings.model.removeprefix("acme-")})
        return super().train_with(data, plain, project, name, progress=progress)
'''


def test_a_third_party_student_is_one_module_found_by_its_entry_point(tmp_path, monkeypatch):
    (tmp_path / "acme_student.py").write_text(THIRD_PARTY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    found = [EntryPoint("acme", "acme_student:AcmeStudent", registry.GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: found)
    registry.student_classes.cache_clear()
    try:
        classes = [c.__name__ for c in registry.student_classes()]
        assert classes == ["AcmeStudent", "DetrStudent", "YoloStudent"]
        data = make_shapes_dataset(tmp_path / "shapes", images=8, size=64)
        result = CliRunner().invoke(
            app, ["train", str(data), "--model", "acme-yolo11n", "--epochs", "1", "--imgsz",
                  "64", "--workers", "0", "--device", "cpu", "--json", "-q"],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["model"] == "yolo11n.yaml"
    finally:
        registry.student_classes.cache_clear()
        sys.modules.pop("acme_student", None)


def test_a_broken_third_party_student_is_skipped_with_a_warning(monkeypatch, caplog):
    found = [EntryPoint("broken", "no_such_module_here:Student", registry.GROUP)]
    monkeypatch.setattr(registry, "entry_points", lambda group: found)
    registry.student_classes.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="distil.target_models.registry"):
            classes = [c.__name__ for c in registry.student_classes()]
        assert classes == ["DetrStudent", "YoloStudent"]
        assert "student broken (no_such_module_here:Student) cannot be loaded" in caplog.text
    finally:
        registry.student_classes.cache_clear()


@pytest.mark.parametrize(
    ("option", "message"),
    [("warmup_epoch", "Did you mean 'warmup_epochs'"), ("emma_decay", "Did you mean 'ema_decay'"),
     ("amp", "expected true or false")],
)  # fmt: skip
def test_bad_training_options_are_refused_before_the_model_loads(shapes, tmp_path, option,
                                                                 message):  # fmt: skip
    value = "yes" if option == "amp" else 0.1
    with pytest.raises(UsageError, match=message):
        DetrStudent().train(shapes, model=str(tmp_path / "missing"), project=tmp_path,
                            **{option: value})  # fmt: skip


def test_review_ranks_a_store_by_its_disagreement_with_the_student(trained, shapes, tmp_path):
    from distil.detections import FrameIdentity
    from distil.sources import read_file
    from distil.store import LabelStore, StoreBatch, StoredFrame
    from tests.review.test_ranking import boxes

    _, _, result, _ = trained
    settings = {"detector": {"family": "crafted", "model": "m", "revision": "r"},
                "segmenter": None, "prompts": [["square", ["square"]], ["disc", ["disc"]]],
                "store_threshold": 0.1}  # fmt: skip
    images = shapes / "images" / "val"
    with LabelStore.create(tmp_path / "labels", settings) as store:
        store.set_ontology({"box_threshold": 0.5, "classes": {"square": "square", "disc": "disc"}})
        batch = StoreBatch()
        for path in sorted(images.iterdir()):
            _, digest, stamp = read_file(path)
            identity = FrameIdentity(path, images, digest, stamp=stamp)
            batch.frames.append(StoredFrame(identity, 96, 96, boxes((10, 10, 40, 40, 0.9, 0))))
        store.write_batch(batch)
    ranked = CliRunner().invoke(
        app, ["review", str(tmp_path / "labels"), "--student", result.best, "--ranking",
              "disagreement", "--student-conf", "0.01", "--top", "3", "--json"],
    )  # fmt: skip
    assert ranked.exit_code == 0, ranked.output
    frames = json.loads(ranked.stdout)["frames"]
    assert len(frames) == 3 and all("student" in " ".join(f["reasons"]) for f in frames), frames


def test_rf_detr_segments_a_polygon_dataset_and_exports_its_masks(tmp_path):
    from distil.target_models.transformers_detr import DetrPredictor

    data = make_shapes_dataset(tmp_path / "outlines", images=64, size=96, polygons=True)
    checkpoint = build_rf_detr(tmp_path / "detector")  # a detection checkpoint gains masks
    epochs: list[TrainStatus] = []
    result = DetrStudent().train(
        data, model=str(checkpoint), project=tmp_path / "runs", validator=student_validator,
        progress=lambda status: epochs.append(status) if status.epoch_done else None, **TRAIN,
    )  # fmt: skip
    assert result.task == "segment"
    assert epochs[1].losses["loss"] < epochs[0].losses["loss"], [s.losses for s in epochs]
    assert {"mask_ce", "mask_dice"} <= set(epochs[0].losses)
    best = tmp_path / "runs" / "exp" / "weights" / "best"
    assert json.loads((best / STUDENT_FILE).read_text())["task"] == "segment"
    assert json.loads((best / "config.json").read_text())["architectures"] == [
        "RfDetrForInstanceSegmentation"
    ]

    exported = CliRunner().invoke(app, ["export-model", str(best), "--json", "-q"])
    assert exported.exit_code == 0, exported.output
    export = json.loads(exported.stdout)["exports"][0]
    assert export["check"]["passed"], export
    image = next((data / "images" / "val").iterdir())
    for weights in (best, export["path"]):
        (found,) = DetrPredictor.load(weights).predict([str(image)], conf=0.0, max_det=5)
        assert found.masks is not None and tuple(found.masks.data.shape) == (5, 96, 96)
    predicted = CliRunner().invoke(
        app, ["predict", export["path"], str(image), "--out", str(tmp_path / "p"), "-q"]
    )
    assert predicted.exit_code == 0, predicted.output
    assert (tmp_path / "p" / f"{image.stem}.jpg").is_file()

    refused = CliRunner().invoke(
        app, ["train", str(data), "--model", str(build_d_fine(tmp_path / "d-fine")), "-q"]
    )
    assert refused.exit_code == EXIT_USAGE
    assert "the dataset holds masks and d_fine detects boxes only" in refused.output
