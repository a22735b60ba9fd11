"""`--shard i/N` splits a job by content; `distil merge` puts the shards back together into
exactly the store one unsharded run makes."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from distil.base_models import load_base_model
from distil.cli import app
from distil.labeling import label_images
from distil.ontologies import Ontology
from distil.sources import Shard, iter_frames, scan_sources
from distil.sources.shards import OtherShard
from distil.store import merge_stores
from tests.conftest import shapes_image
from tests.synthetic import make_video

ONTOLOGY = Ontology.from_dict({"box_threshold": 0.0, "classes": {"car": "car", "cat": "cat"}})


@pytest.mark.parametrize(
    ("text", "shard"), [("1/1", Shard(1, 1)), ("2/4", Shard(2, 4)), (" 3 / 3 ", Shard(3, 3))]
)
def test_parse(text, shard):
    assert Shard.parse(text) == shard


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "2", "-1/3"])
def test_parse_refuses(text):
    with pytest.raises(ValueError):
        Shard.parse(text)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_every_hash_is_in_exactly_one_shard(count):
    digests = [f"{i * 2654435761 % 2**64:016x}" + "0" * 16 for i in range(500)]
    owners = [[s for s in range(1, count + 1) if Shard(s, count).owns(d)] for d in digests]
    assert all(len(o) == 1 for o in owners)
    sizes = [sum(o == [s] for o in owners) for s in range(1, count + 1)]
    assert min(sizes) > 500 / count * 0.7  # roughly even


@pytest.fixture
def mixed(tmp_path):
    """Twelve images (two identical) and two videos."""
    root = tmp_path / "inputs"
    root.mkdir()
    for i in range(11):
        Image.fromarray(shapes_image(i, (64, 80))).save(root / f"img{i:02d}.png")
    (root / "copy_of_img03.png").write_bytes((root / "img03.png").read_bytes())
    make_video(root / "a.mp4", frames=6, width=64, height=48)
    make_video(root / "b.mp4", frames=6, width=64, height=48, fps=5)
    return root


def _owners(root, count):
    """Which shard's stream yields each image (videos are split by the labeler)."""
    owners: dict[str, list[int]] = {}
    for index in range(1, count + 1):
        work = [(p, root) for p in scan_sources(root) if p.suffix == ".png"]
        for item in iter_frames(work, shard=Shard(index, count)):
            if not isinstance(item, OtherShard):
                owners.setdefault(item.identity.path.name, []).append(index)
    return owners


def test_each_image_in_one_shard_and_stable_when_files_are_added(mixed):
    before = _owners(mixed, 3)
    assert len(before) == 12 and all(len(s) == 1 for s in before.values())
    assert before["img03.png"] == before["copy_of_img03.png"]  # same content, same shard
    Image.fromarray(shapes_image(99, (64, 80))).save(mixed / "new.png")
    after = _owners(mixed, 3)
    assert {k: v for k, v in after.items() if k != "new.png"} == before


@pytest.fixture(scope="module")
def teacher(tiny_owlv2):
    return load_base_model(tiny_owlv2, "none", device="cpu")


def rows(folder):
    with sqlite3.connect(folder / "labels.sqlite") as db:
        predictions = db.execute(
            "SELECT hash, width, height, boxes FROM predictions ORDER BY hash"
        ).fetchall()
        sources = db.execute(
            "SELECT path, hash, frame_index, video_id FROM sources ORDER BY path, frame_index"
        ).fetchall()
    return predictions, sources


def test_shards_merge_into_the_unsharded_store(teacher, mixed, tmp_path):
    whole = label_images(mixed, ONTOLOGY, teacher, tmp_path / "whole", batch=4)
    shards = []
    for index in (1, 2, 3):
        summary = label_images(
            mixed, ONTOLOGY, teacher, tmp_path / f"shard{index}", batch=4, shard=f"{index}/3"
        )
        shards.append(summary)
    # Every image and video frame was labeled by exactly one shard.
    assert sum(s.labeled + s.already_labeled for s in shards) == whole.images
    video_shards = {}
    for index in (1, 2, 3):
        for _, _, frame, video in rows(tmp_path / f"shard{index}")[1]:
            if frame is not None:
                video_shards.setdefault(video, set()).add(index)
    assert len(video_shards) == 2  # both videos, each whole in one shard
    assert all(len(s) == 1 for s in video_shards.values())

    summary = merge_stores(tmp_path / "merged", [tmp_path / f"shard{i}" for i in (1, 2, 3)])
    assert summary["frames"] == whole.stored_frames
    assert rows(tmp_path / "merged") == rows(tmp_path / "whole")
    again = merge_stores(tmp_path / "merged", [tmp_path / "shard1"])
    assert again["added"] == {str(tmp_path / "shard1"): 0}
    # A plain rerun into the merged store labels nothing.
    rerun = label_images(mixed, ONTOLOGY, teacher, tmp_path / "merged", batch=4)
    assert rerun.labeled == 0 and rerun.already_labeled == whole.images

    # The exports are the same.
    runner = CliRunner()
    for name in ("whole", "merged"):
        result = runner.invoke(
            app, ["export", str(tmp_path / name), "--to", str(tmp_path / f"ds_{name}")]
        )
        assert result.exit_code == 0, result.output
    files = {}
    for name in ("whole", "merged"):
        root = tmp_path / f"ds_{name}" / "labels"
        files[name] = {p.relative_to(root): p.read_text() for p in root.rglob("*.txt")}
    assert files["whole"] == files["merged"] and files["whole"]


def test_merge_refuses_stores_of_another_job(teacher, mixed, tmp_path):
    label_images(mixed, ONTOLOGY, teacher, tmp_path / "a", batch=4, shard="1/2")
    other = Ontology.from_dict({"classes": {"dog": "dog"}})
    label_images(mixed, other, teacher, tmp_path / "b", batch=4, shard="2/2")
    result = CliRunner().invoke(
        app, ["merge", str(tmp_path / "m"), str(tmp_path / "a"), str(tmp_path / "b")]
    )
    assert result.exit_code == 2
    assert "was labeled with different prompts" in result.output


def test_shard_processes_writing_one_store_lose_nothing(teacher, tiny_owlv2, mixed, tmp_path):
    """Two `distil label --shard i/2` processes at once into one --out: one store, exactly
    the unsharded one, and a plain rerun labels nothing."""
    ontology = tmp_path / "ontology.yaml"
    ontology.write_text(yaml.safe_dump(ONTOLOGY.to_dict()))
    shared = tmp_path / "shared"
    command = [sys.executable, "-m", "distil", "label", str(mixed), "-O", str(ontology)]
    command += ["--detector", tiny_owlv2, "--segmenter", "none", "--device", "cpu"]
    command += ["--batch", "1", "--out", str(shared), "--json", "-q"]
    processes = [
        subprocess.Popen([*command, "--shard", f"{i}/2"], stdout=subprocess.PIPE, text=True)
        for i in (1, 2)
    ]
    summaries = [json.loads(p.communicate(timeout=300)[0]) for p in processes]
    assert [p.returncode for p in processes] == [0, 0]
    whole = label_images(mixed, ONTOLOGY, teacher, tmp_path / "whole", batch=4)
    assert sum(s["labeled"] + s["already_labeled"] for s in summaries) == whole.images
    assert rows(shared) == rows(tmp_path / "whole")
    rerun = label_images(mixed, ONTOLOGY, teacher, shared, batch=4)
    assert rerun.labeled == 0 and rerun.already_labeled == whole.images
    assert not list(shared.glob("labels.sqlite-wal"))  # the last shard out tidied up
