"""Inputs behind fsspec URLs: listing, reading and freshness through a real filesystem
(fsspec's in-memory one, and S3 through s3fs against a local moto server), and labeling
an S3 prefix stores and exports what labeling the same files on disk does."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import fsspec
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.datasets import export_dataset
from distil.labeling import label
from distil.ontologies import Ontology
from distil.settings import LabelSettings
from distil.sources import check_inputs, display_path, images, read_file, scan_sources
from distil.sources.freshness import CHANGED, DELETED, SourceCheck
from distil.sources.remote import as_url
from distil.store import LabelStore
from tests.conftest import shapes_image, upload_folder
from tests.labeling.test_ray_engine import rows

ONTOLOGY = Ontology.from_dict({"box_threshold": 0.0, "classes": {"car": "car", "cat": "cat"}})


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("s3://bucket/a.jpg", "s3://bucket/a.jpg"),
        (Path("s3://bucket/images"), "s3://bucket/images"),  # as the CLI passes it
        ("gs://b/x/y.png", "gs://b/x/y.png"),
        ("memory://bucket/a.jpg", "memory://bucket/a.jpg"),
        ("file:///data/a.jpg", None),  # a local path
        ("images/a.jpg", None),
        ("/data/a:b.jpg", None),
        ("C:/data/a.jpg", None),  # a drive, not a scheme
    ],
)
def test_as_url(given, url):
    assert as_url(given) == url


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(shapes_image(seed, (48, 64))).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
def memory_bucket():
    fs = fsspec.filesystem("memory")
    root = "/distil-test-bucket"
    for name, data in {
        "b.png": png(1),
        "sub/a.png": png(2),
        ".hidden/c.png": png(3),
        "sub/.d.png": png(4),
        "clip.mp4": b"video",
        "notes.txt": b"text",
    }.items():
        fs.pipe_file(f"{root}/{name}", data)
    yield "memory://distil-test-bucket"
    fs.rm(root, recursive=True)


def test_a_url_folder_is_listed_and_read_like_a_local_one(memory_bucket):
    (root,) = check_inputs(memory_bucket)
    problems = []
    found = [display_path(p) for p in scan_sources(root, problems)]
    assert found == [f"{memory_bucket}/b.png", f"{memory_bucket}/sub/a.png"]
    assert [(display_path(p.path), p.reason) for p in problems] == [
        (f"{memory_bucket}/clip.mp4", "videos are read from local files only: copy or mount "
         "it to label it")
    ]  # fmt: skip
    data, digest, stamp = read_file(Path(found[0]))
    assert data == png(1) and stamp.size == len(data)
    with pytest.raises(FileNotFoundError, match="input not found: memory://distil-test-bucket/x"):
        check_inputs(f"{memory_bucket}/x")


def test_a_scheme_without_its_package_names_the_package():
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed")
    with pytest.raises(ValueError, match="^gs://b/images: .*gcsfs"):
        check_inputs("gs://b/images")


def files(folder: Path) -> dict[Path, bytes]:
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_labeling_an_s3_prefix_equals_labeling_the_files_on_disk(
    s3_endpoint, tiny_owlv2, tmp_path, monkeypatch
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(6):
        Image.fromarray(shapes_image(i, (64, 80))).save(folder / f"img{i}.png")
    (folder / "nested").mkdir()
    (folder / "nested" / "copy.png").write_bytes((folder / "img2.png").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not an image")
    upload_folder(folder, "s3://distil-photos/set1")
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", device="cpu", batch=4)

    local = label(folder, ONTOLOGY, settings, tmp_path / "local")
    remote = label("s3://distil-photos/set1", ONTOLOGY, settings, tmp_path / "remote")
    assert (remote.images, len(remote.skipped)) == (local.images, 1) == (8, 1)
    local_rows, remote_rows = rows(tmp_path / "local"), rows(tmp_path / "remote")
    assert remote_rows[0] == local_rows[0]  # the same predictions, by content hash
    assert sorted(p for p, *_ in remote_rows[1]) == sorted(
        "s3:/distil-photos/set1/" + p[len(str(folder)) + 1 :] for p, *_ in local_rows[1]
    )
    with LabelStore.open(tmp_path / "remote") as store:
        assert {display_path(f.identity.path) for f in store.frames(with_masks=False)} >= {
            "s3://distil-photos/set1/nested/copy.png"
        }
    (tmp_path / "onto.yaml").write_text(yaml.safe_dump(ONTOLOGY.to_dict(), sort_keys=False))
    downloads = []
    original = images.read_url
    monkeypatch.setattr(
        images, "read_url", lambda url, limit: downloads.append(url) or original(url, limit)
    )
    rerun = CliRunner().invoke(
        app,
        ["label", "s3://distil-photos/set1", "-O", str(tmp_path / "onto.yaml"), "--detector",
         tiny_owlv2, "--segmenter", "none", "--device", "cpu", "--out", str(tmp_path / "remote"),
         "--json"],
    )  # fmt: skip
    assert rerun.exit_code == 0, rerun.output
    assert json.loads(rerun.stdout)["labeled"] == 0
    assert json.loads(rerun.stdout)["skipped"][0]["path"] == "s3://distil-photos/set1/broken.jpg"
    assert downloads == ["s3://distil-photos/set1/broken.jpg"]  # stored objects: not fetched

    # Review hands out copies: a labeling tool cannot open a bucket path.
    review = CliRunner().invoke(
        app, ["review", str(tmp_path / "remote"), "--top", "3", "--to",
              str(tmp_path / "round1"), "--format", "yolo", "--json"],
    )  # fmt: skip
    assert review.exit_code == 0, review.output
    handed_out = files(tmp_path / "round1" / "images")
    assert len(handed_out) == 3
    assert set(handed_out.values()) <= {p.read_bytes() for p in folder.rglob("*.png")}

    local_export = export_dataset(tmp_path / "local", tmp_path / "ds_local")
    remote_export = export_dataset(tmp_path / "remote", tmp_path / "ds_remote")
    assert remote_export.images_per_split == local_export.images_per_split
    for name in ("labels", "images"):
        ours, theirs = files(tmp_path / "ds_remote" / name), files(tmp_path / "ds_local" / name)
        assert ours == theirs and ours

    # A replaced object is not exported with its old labels; a deleted one is reported.
    fs, _ = fsspec.core.url_to_fs("s3://distil-photos")
    fs.pipe_file("distil-photos/set1/img0.png", png(40))
    fs.rm_file("distil-photos/set1/img1.png")
    check = SourceCheck()
    with LabelStore.open(tmp_path / "remote") as store:
        problems = {
            display_path(f.identity.path).rsplit("/", 1)[-1]: check.problem(f.identity)
            for f in store.frames(with_masks=False)
        }
    assert problems["img0.png"] == CHANGED and problems["img1.png"] == DELETED
    assert problems["img2.png"] is None
    again = export_dataset(tmp_path / "remote", tmp_path / "ds_remote")
    assert {Path(e["path"]).name: e["reason"] for e in again.left_out} == {
        "img0.png": CHANGED, "img1.png": DELETED
    }  # fmt: skip
