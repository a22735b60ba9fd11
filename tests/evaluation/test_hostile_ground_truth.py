"""A ground-truth COCO file that is not what COCO says is exit 2 naming the file, the
entry and the field, never a raw TypeError from pycocotools reported as a bug."""

from __future__ import annotations

import json

import pytest

from tests.review.test_round import TEACHER, invoke, make_store

IMAGE = {"id": 1, "file_name": "a.jpg", "width": 80, "height": 60}
CAR = {"id": 1, "name": "car"}


def box(**fields):
    return {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4], **fields}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([1, 2], "not a COCO file: no list of `images`"),
        ({"images": "x"}, "not a COCO file"),
        ({"images": [], "categories": "y"}, "`categories` is not a list of objects"),
        ({"images": [], "categories": [{"id": [1], "name": "car"}]}, "category 1 needs an `id`"),
        ({"images": [{**IMAGE, "file_name": 5}]}, "its `file_name` is not text"),
        ({"images": [{**IMAGE, "id": [1]}]}, "its `id` is '[1]', not a number"),
        ({"images": [{**IMAGE, "width": "abc"}]}, "width is 'abc', not a number"),
        ({"images": [IMAGE], "categories": [CAR], "annotations": "x"}, "`annotations` is not"),
        ({"images": [IMAGE], "categories": [CAR], "annotations": [box(category_id=[1])]},
         "category_id [1] is not one of the categories"),
        ({"images": [IMAGE], "categories": [CAR], "annotations": [box(bbox="1,2,3,4")]},
         "bbox is 1,2,3,4, not [x, y, width, height]"),
        ({"images": [IMAGE], "categories": [CAR], "annotations": [box(bbox=[1, 2, "w", 4])]},
         "annotation 1 bbox is 'w', not a number"),
        ({"images": [IMAGE], "categories": [CAR], "annotations": [box(iscrowd=7)]},
         "iscrowd is 7, not 0 or 1"),
    ],
)  # fmt: skip
def test_a_wrong_field_is_named(tmp_path, data, message):
    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    truth = tmp_path / "truth"
    (truth / "annotations").mkdir(parents=True)
    (truth / "images").mkdir()
    (truth / "annotations" / "val.json").write_text(json.dumps(data))
    result = invoke("eval", store, "--ground-truth", truth)
    assert result.exit_code == 2, result.output
    assert "val.json" in result.output and message in result.output
    assert "bug" not in result.output


@pytest.mark.parametrize(
    ("data_yaml", "message"),
    [
        (
            "names: [car, dog]\ntrain: images/val\nval: images/val\npath: 5\n",
            "path: 5 is not a folder path",
        ),
        ("names: [car, dog]\ntrain: 7\nval: 7\n", "7 is not a folder path"),
        (
            "names: [car, dog]\ntrain: images/val\nval: [images/val, {a: 1}]\n",
            "val: {'a': 1} is not a folder",
        ),
    ],
)
def test_a_data_yaml_whose_folders_are_not_paths(tmp_path, data_yaml, message):
    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER)
    truth = tmp_path / "truth"
    (truth / "images" / "val").mkdir(parents=True)
    (truth / "data.yaml").write_text(data_yaml)
    for command in (["eval", store, "--ground-truth", truth], ["train", truth, "--epochs", "1"]):
        result = invoke(*command)
        assert result.exit_code == 2, result.output
        assert "data.yaml" in result.output and message in result.output
        assert "pretrained" not in result.output  # said before looking for weights
