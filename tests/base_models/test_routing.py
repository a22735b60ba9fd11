from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from PIL import Image
from typer.testing import CliRunner

from distil.base_models import load_base_model
from distil.base_models.core import FAINT_CEILING, FAINT_FLOOR, makes_masks
from distil.base_models.routing import Route, RoutedModel
from distil.ontologies import Ontology, OntologyError
from distil.settings import DEFAULT_SEGMENTER
from tests.conftest import shapes_image


def routed_ontology(owlv2: str) -> Ontology:
    return Ontology.from_dict(
        {
            "box_threshold": 0.0,
            "classes": {
                "animal": ["cat", "dog"],
                "car": {"prompts": ["car", "automobile"], "teacher": owlv2},
                "truck": "truck",
            },
        }
    )


@pytest.mark.parametrize(
    ("teacher", "message"),
    [("", "expected a detector"), (3, "expected a detector"), (None, "expected a detector")],
)
def test_a_class_teacher_must_name_a_detector(teacher, message):
    with pytest.raises(OntologyError, match=f"classes.car.teacher: {message}"):
        Ontology.from_dict({"classes": {"car": {"teacher": teacher}}})


def test_routes_group_classes_by_teacher_and_map_ids_back():
    onto = routed_ontology("x.pt")
    assert onto.routes("gd") == {"gd": (0, 2), "x.pt": (1,)}
    assert onto.to_dict()["classes"]["car"]["teacher"] == "x.pt"
    route = Route.of("gd", None, onto, (0, 2))
    assert route.ontology.prompts == ("cat", "dog", "truck")
    assert route.class_ids.tolist() == [0, 2] and route.prompt_ids.tolist() == [0, 1, 4]


def test_routed_teachers_equal_each_detector_on_its_classes(
    tiny_grounding_dino, tiny_owlv2, tiny_sam
):
    """One load per detector; each sees only its classes' prompts; ids map back to the whole
    ontology; one segmenter call adds masks to every box."""
    onto = routed_ontology(tiny_owlv2)
    model = load_base_model(tiny_grounding_dino, tiny_sam, device="cpu", ontology=onto)
    assert isinstance(model, RoutedModel)
    assert [r.spec for r in model.routes] == [tiny_grounding_dino, tiny_owlv2]
    images = [shapes_image(1), shapes_image(2, (80, 64))]
    results = model.predict(images, onto, 0.0)
    gd, owl = (r.detector for r in model.routes)
    gd_alone = gd.detect(images, onto.subset((0, 2)), 0.0)
    owl_alone = owl.detect(images, onto.subset((1,)), 0.0)
    for result, a, b in zip(results, gd_alone, owl_alone, strict=True):
        assert len(result) == len(a) + len(b) and result.mask.shape[0] == len(result)
        from_owl = np.isin(result.class_id, [1])
        np.testing.assert_allclose(result.confidence[from_owl], b.confidence)
        assert set(result.data["prompt_id"][from_owl].tolist()) <= {2, 3}
        np.testing.assert_array_equal(result.class_id[~from_owl], np.array([0, 2])[a.class_id])
        np.testing.assert_array_equal(
            result.data["prompt_id"][~from_owl], np.array([0, 1, 4])[a.data["prompt_id"]]
        )
    described = model.describe()
    assert described["routes"]["car"]["family"] == "owlv2"
    assert described["routes"]["animal"]["family"] == "grounding-dino"


def test_a_sam3_route_keeps_its_own_masks(tiny_grounding_dino, tiny_sam3, tiny_sam):
    onto = Ontology.from_dict(
        {"classes": {"car": {"prompts": "car", "teacher": tiny_sam3}, "cat": "cat"}}
    )
    model = load_base_model(tiny_grounding_dino, tiny_sam, device="cpu", ontology=onto)
    sam3 = model.routes[1].detector
    assert sam3.masks and model.segmenter is not None
    (result,) = model.predict([shapes_image(3)], onto, 0.2)
    (alone,) = sam3.detect([shapes_image(3)], onto.subset((0,)), 0.2)
    from_sam3 = result.class_id == 0
    np.testing.assert_array_equal(result.mask[from_sam3], alone.mask)
    boxes_only = load_base_model(tiny_grounding_dino, "none", device="cpu", ontology=onto)
    assert not boxes_only.routes[1].detector.masks  # 'none' means boxes only everywhere


def test_faint_candidates_are_counted_by_the_detectors_without_own_masks(
    tiny_grounding_dino, tiny_sam3, tiny_sam
):
    """SAM 3 making masks counts none: masks for its faint candidates would cost too much."""
    onto = Ontology.from_dict(
        {"classes": {"car": {"prompts": "car", "teacher": tiny_sam3}, "cat": ["cat", "dog"]}}
    )
    model = load_base_model(tiny_grounding_dino, tiny_sam, device="cpu", ontology=onto)
    images = [shapes_image(1), shapes_image(2)]
    results = model.predict(images, onto, 0.3)
    grounding_dino = model.routes[0].detector
    assert not makes_masks(grounding_dino) and makes_masks(model.routes[1].detector)
    every = grounding_dino.detect(images, onto.subset((1,)), 0.0)
    expected = [
        int(((d.confidence >= FAINT_FLOOR) & (d.confidence < FAINT_CEILING)).sum()) for d in every
    ]
    assert [r.metadata["faint"] for r in results] == expected
    assert all(r.confidence.min(initial=1) >= 0.3 for r in results)
    boxes_only = load_base_model(tiny_sam3, "none", device="cpu")
    with_masks = load_base_model(tiny_sam3, DEFAULT_SEGMENTER, device="cpu")
    assert "faint" in boxes_only.predict(images, onto, 0.3)[0].metadata
    assert "faint" not in with_masks.predict(images, onto, 0.3)[0].metadata


def test_routing_through_the_cli_records_each_class_teacher(
    tiny_grounding_dino, tiny_owlv2, tmp_path
):
    from distil.cli import app
    from distil.store import LabelStore

    images = tmp_path / "images"
    images.mkdir()
    for i in range(3):
        Image.fromarray(shapes_image(i)).save(images / f"{i}.png")
    ontology = tmp_path / "onto.yaml"
    ontology.write_text(yaml.safe_dump(routed_ontology(tiny_owlv2).to_dict()))
    run = tmp_path / "run"
    args = ["label", str(images), "-O", str(ontology), "--detector", tiny_grounding_dino,
            "--segmenter", "none", "--device", "cpu", "--out", str(run), "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labeled"] == 3
    with LabelStore.open(run) as store:
        assert store.settings["routes"]["car"]["model"] == tiny_owlv2
    rerun = CliRunner().invoke(app, args)  # one fingerprint over every teacher: resumes
    assert rerun.exit_code == 0 and json.loads(rerun.stdout)["labeled"] == 0
    result = CliRunner().invoke(app, ["export", str(run), "--to", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    card = json.loads((tmp_path / "data" / "dataset_card.json").read_text())
    assert [c["teacher"] for c in card["classes"]] == [
        tiny_grounding_dino,
        tiny_owlv2,
        tiny_grounding_dino,
    ]
    assert f"`{tiny_owlv2}`" in (tmp_path / "data" / "README.md").read_text()
    from distil.evaluation.predictions import label_predictions

    assert label_predictions(run).teachers[1] == tiny_owlv2  # eval reports it per class


def test_a_bad_class_teacher_fails_before_any_model_loads(tmp_path, tiny_owlv2, monkeypatch):
    from distil.cli import app

    monkeypatch.setattr(
        "distil.base_models.load_base_model", lambda *a, **k: pytest.fail("a model was loaded")
    )
    (tmp_path / "images").mkdir()
    Image.fromarray(shapes_image(0)).save(tmp_path / "images" / "0.png")
    ontology = tmp_path / "onto.yaml"
    ontology.write_text(
        yaml.safe_dump({"classes": {"car": "car", "cat": {"teacher": str(tmp_path / "x.pt")}}})
    )
    result = CliRunner().invoke(
        app,
        ["label", str(tmp_path / "images"), "-O", str(ontology), "--detector", tiny_owlv2,
         "--segmenter", "none", "--device", "cpu", "--out", str(tmp_path / "run")],
    )  # fmt: skip
    assert result.exit_code == 2 and "checkpoint file not found" in result.output
