from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests import tiny_models

os.environ.setdefault("YOLO_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# No student weights are downloaded, and none from a developer's cache change a test.
os.environ.setdefault("DISTIL_OFFLINE", "1")
os.environ["DISTIL_CACHE"] = tempfile.mkdtemp(prefix="distil-cache-")

SHARED = Path(__file__).resolve().parents[2] / "shared"
COCO128 = SHARED / "data" / "coco128-train"
YOLO11N = SHARED / "weights" / "yolo11n-coco.pt"
needs_shared = pytest.mark.skipif(
    not (COCO128.is_dir() and YOLO11N.is_file()), reason="../shared data and weights absent"
)


def coco128_for_ultralytics(folder: Path) -> Path:
    """A data.yaml over the shared COCO sample for Ultralytics' own `val`, in `folder`: its
    images linked and labels copied there, so the label cache Ultralytics writes beside the
    labels never lands in ../shared."""
    import shutil

    import yaml

    (folder / "images").mkdir(parents=True)
    for image in (COCO128 / "images").iterdir():
        (folder / "images" / image.name).symlink_to(image)
    shutil.copytree(COCO128 / "labels", folder / "labels")
    data = yaml.safe_load((COCO128 / "data.yaml").read_text())
    data["path"] = str(folder)
    (folder / "data.yaml").write_text(yaml.safe_dump(data))
    return folder / "data.yaml"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tiny_models")


@pytest.fixture(scope="session")
def tiny_grounding_dino(tiny_dir) -> str:
    return str(tiny_models.build_grounding_dino(tiny_dir / "grounding-dino"))


@pytest.fixture(scope="session")
def tiny_owlv2(tiny_dir) -> str:
    return str(tiny_models.build_owlv2(tiny_dir / "owlv2"))


@pytest.fixture(scope="session")
def tiny_florence2(tiny_dir) -> str:
    return str(tiny_models.build_florence2(tiny_dir / "florence2"))


@pytest.fixture(scope="session")
def tiny_yolo_world(tiny_dir) -> str:
    return str(tiny_models.build_yolo_world(tiny_dir / "yolo-world"))


@pytest.fixture(scope="session")
def tiny_yoloe(tiny_dir) -> str:
    return str(tiny_models.build_yoloe(tiny_dir / "yoloe"))


@pytest.fixture(scope="session")
def tiny_omdet_turbo(tiny_dir) -> str:
    return str(tiny_models.build_omdet_turbo(tiny_dir / "omdet-turbo"))


@pytest.fixture(scope="session")
def tiny_sam3(tiny_dir) -> str:
    return str(tiny_models.build_sam3(tiny_dir / "sam3"))


@pytest.fixture(scope="session")
def tiny_sam3_video(tiny_dir) -> str:
    return str(tiny_models.build_sam3_video(tiny_dir / "sam3-video"))


@pytest.fixture(scope="session")
def tiny_sam(tiny_dir) -> str:
    return str(tiny_models.build_sam(tiny_dir / "sam"))


@pytest.fixture(scope="session")
def tiny_sam2(tiny_dir) -> str:
    return str(tiny_models.build_sam2(tiny_dir / "sam2"))


@pytest.fixture(scope="session")
def tiny_edgetam(tiny_dir) -> str:
    return str(tiny_models.build_edgetam(tiny_dir / "edgetam"))


@pytest.fixture(scope="session")
def tiny_sam2_video(tiny_dir) -> str:
    return str(tiny_models.build_sam2_video(tiny_dir / "sam2-video"))


def shapes_image(seed: int, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    """A small RGB picture with a few filled rectangles and circles."""
    rng = np.random.default_rng(seed)
    image = np.full((*size, 3), 200, np.uint8)
    for _ in range(3):
        y, x = rng.integers(0, size[0] - 20), rng.integers(0, size[1] - 20)
        image[y : y + 20, x : x + 20] = rng.integers(0, 255, 3)
    return image


def stop_after(count: int):
    """A progress callback that interrupts a run (as Ctrl-C would) at `count` items done."""

    def progress(done: int, total: int) -> None:
        if done >= count:
            raise KeyboardInterrupt

    return progress


def label_shapes_through_cli(tmp_path: Path, ontology: dict, *options: str) -> Path:
    """`distil label` over three shape images with `ontology` (a dict) and `options`;
    asserts it labeled all three, and returns the run folder."""
    import json

    import yaml
    from typer.testing import CliRunner

    from distil.cli import app

    images, run = tmp_path / "images", tmp_path / "run"
    images.mkdir()
    for i in range(3):
        Image.fromarray(shapes_image(i)).save(images / f"{i}.png")
    (tmp_path / "onto.yaml").write_text(yaml.safe_dump(ontology, sort_keys=False))
    result = CliRunner().invoke(
        app,
        ["label", str(images), "-O", str(tmp_path / "onto.yaml"), "--device", "cpu",
         "--out", str(run), "--json", *options],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labeled"] == 3
    return run


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Eight small images, one in a subfolder, mixed formats and sizes."""
    root = tmp_path / "images"
    (root / "sub").mkdir(parents=True)
    for i in range(8):
        size = (96, 128) if i % 2 else (80, 64)
        folder = root / "sub" if i == 7 else root
        suffix = ".PNG" if i == 3 else ".jpg"
        Image.fromarray(shapes_image(i, size)).save(folder / f"img{i}{suffix}")
    return root


@pytest.fixture
def stop_training(monkeypatch):
    """`stop_training(True)`: Ultralytics raises KeyboardInterrupt right after saving its
    first checkpoint, as a kill mid-training would leave it; `stop_training(False)` undoes."""
    from ultralytics.engine.trainer import BaseTrainer

    original = BaseTrainer.save_model

    def save_then_stop(self):
        original(self)
        raise KeyboardInterrupt

    def arm(on: bool) -> None:
        monkeypatch.setattr(BaseTrainer, "save_model", save_then_stop if on else original)

    return arm


@pytest.fixture(scope="module")
def s3_endpoint():
    """A local S3 server (moto) that s3fs reaches through fsspec's config and environment
    (so Ray workers started after this fixture reach it too): `s3://` URLs as users give
    them, with nothing leaving this machine."""
    server_module = pytest.importorskip("moto.server")
    pytest.importorskip("s3fs")
    import fsspec.config

    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "FSSPEC_S3_ENDPOINT_URL": endpoint,  # read by fsspec in new processes
    }
    saved_env = {k: os.environ.get(k) for k in env}
    saved_conf = fsspec.config.conf.get("s3")
    os.environ.update(env)
    fsspec.config.conf["s3"] = {"endpoint_url": endpoint}
    yield env
    for key, value in saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if saved_conf is None:
        fsspec.config.conf.pop("s3", None)
    else:
        fsspec.config.conf["s3"] = saved_conf
    server.stop()


def upload_folder(folder: Path, url: str) -> None:
    """Every file under `folder` to the bucket prefix `url` (s3://bucket/prefix)."""
    import fsspec

    fs, prefix = fsspec.core.url_to_fs(url)
    bucket = prefix.split("/")[0]
    if not fs.exists(bucket):
        fs.mkdir(bucket)
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            fs.pipe_file(f"{prefix}/{path.relative_to(folder).as_posix()}", path.read_bytes())
