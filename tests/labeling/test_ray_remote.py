"""`--engine ray` reads an `s3://` prefix in its Ray tasks (s3fs against a local moto
server) and stores what the local engine stores from the same prefix."""

from __future__ import annotations

import pytest
from PIL import Image

from distil.labeling import label
from distil.settings import LabelSettings
from tests.conftest import shapes_image, upload_folder
from tests.labeling.test_ray_engine import ONTOLOGY, rows

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def ray_after_s3(s3_endpoint):
    """Ray started once the S3 settings are in the environment, which its workers inherit."""
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR")
    yield
    ray.shutdown()


def test_ray_labels_an_s3_prefix_as_the_local_engine_does(ray_after_s3, tiny_owlv2, tmp_path):
    import torch

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(10):
        Image.fromarray(shapes_image(i, (64, 80))).save(folder / f"img{i}.png")
    (folder / "broken.jpg").write_bytes(b"not an image")
    upload_folder(folder, "s3://distil-ray/photos")
    settings = LabelSettings(detector=tiny_owlv2, segmenter="none", device="cpu", batch=4)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the actor on 2 CPUs runs: the same float sums
    try:
        label("s3://distil-ray/photos", ONTOLOGY, settings, tmp_path / "local")
    finally:
        torch.set_num_threads(threads)
    on_ray = label(
        "s3://distil-ray/photos", ONTOLOGY,
        settings.model_copy(update={"engine": "ray", "device": "auto"}), tmp_path / "ray",
    )  # fmt: skip
    assert (on_ray.labeled, len(on_ray.skipped)) == (10, 1)
    assert rows(tmp_path / "ray") == rows(tmp_path / "local")
