from __future__ import annotations

import pytest

from distil.ontologies import Ontology, OntologyError


def write(tmp_path, text: str):
    path = tmp_path / "onto.yaml"
    path.write_text(text)
    return path


def test_all_class_forms_and_synonyms_share_one_class_id(tmp_path):
    onto = Ontology.from_yaml(
        write(
            tmp_path,
            """
box_threshold: 0.4
classes:
  forklift: forklift
  person: [person, worker, "  pedestrian  "]
  vest:
    prompts: [hi-vis vest]
    box_threshold: 0.5
    text_threshold: 0.1
    min_area: 10
    max_area: 1000
  cone:
""",
        )
    )
    assert onto.class_names == ["forklift", "person", "vest", "cone"]
    assert onto.prompts == ("forklift", "person", "worker", "pedestrian", "hi-vis vest", "cone")
    assert onto.prompt_class_ids == (0, 1, 1, 1, 2, 3)
    assert onto.class_box_threshold(0) == 0.4 and onto.class_box_threshold(2) == 0.5
    assert onto.class_text_threshold(2) == 0.1 and onto.class_text_threshold(1) == 0.25
    assert onto.classes[2].min_area == 10 and onto.classes[2].max_area == 1000


def test_list_form_and_round_trip():
    onto = Ontology.from_dict({"classes": ["cat", {"dog": ["dog", "puppy"]}]})
    assert onto.prompt_class_ids == (0, 1, 1)
    assert Ontology.from_dict(onto.to_dict()) == onto


def test_with_defaults_keeps_per_class_values():
    onto = Ontology.from_dict({"classes": {"a": "a", "b": {"prompts": "b", "box_threshold": 0.9}}})
    changed = onto.with_defaults(box_threshold=0.1)
    assert changed.class_box_threshold(0) == 0.1 and changed.class_box_threshold(1) == 0.9


def test_limits_are_the_class_settings_indexed_by_class_id():
    classes = {
        "a": {"prompts": "a", "min_area": 4},
        "b": {"prompts": "b", "box_threshold": 0.9, "max_area": 0},
    }
    limits = Ontology.from_dict({"text_threshold": 0.2, "classes": classes}).limits
    assert limits.box_threshold.tolist() == [0.3, 0.9]
    assert limits.text_threshold.tolist() == [0.2, 0.2]
    assert limits.min_area.tolist() == [4.0, 0.0]
    assert limits.max_area.tolist() == [float("inf"), 0.0]  # 0 is a limit, not "unset"
    assert not limits.box_threshold.flags.writeable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("classes: [a", "invalid YAML"),
        ("classes:\n  a: a\n  a: b\n", "duplicate key 'a'"),
        ("- a\n", "top level: expected a mapping"),
        (
            "box_treshold: 0.3\nclasses: {a: a}\n",
            "box_treshold: unknown key. Did you mean 'box_threshold'?",
        ),
        (
            "classes: {a: a}\nbox_threshold: 2\n",
            "box_threshold: expected a number between 0 and 1, got 2",
        ),
        (
            "classes: {a: a}\ntext_threshold: high\n",
            "text_threshold: expected a number between 0 and 1",
        ),
        ("box_threshold: 0.3\n", "classes: missing"),
        ("classes: {}\n", "classes: is empty"),
        ("classes: 3\n", "classes: expected a mapping of class name -> prompt(s), got int"),
        ("classes: {a: {promts: [x]}}\n", "classes.a.promts: unknown key. Did you mean 'prompts'?"),
        (
            "classes: {a: {prompts: []}}\n",
            "classes.a.prompts: expected a prompt or a non-empty list",
        ),
        ("classes: {a: [x, 3]}\n", "classes.a[1]: expected a text prompt, got 3"),
        ("classes: {a: '   '}\n", "classes.a[0]: prompt is empty"),
        (
            "classes: {a: [dog], b: [Dog]}\n",
            "classes.b.prompts: prompt 'Dog' appears also in class 'a'",
        ),
        ("classes: {a: [dog, dog]}\n", "prompt 'dog' appears twice in this class"),
        (
            "classes: {a: {prompts: x, min_area: -1}}\n",
            "classes.a.min_area: expected a non-negative area",
        ),
        (
            "classes: {a: {prompts: x, min_area: 5, max_area: 1}}\n",
            "classes.a.min_area: 5.0 is larger than max_area 1.0",
        ),
        (
            "classes: {a: {prompts: x, box_threshold: true}}\n",
            "classes.a.box_threshold: expected a number",
        ),
        ("classes: {a: 5}\n", "classes.a: expected a prompt, a list of prompts or a mapping"),
        ("classes: [[a]]\n", "classes[0]: expected a class name or a one-key mapping"),
    ],
)
def test_every_error_names_file_and_field(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(OntologyError) as error:
        Ontology.from_yaml(path)
    assert str(error.value).startswith(f"{path}: ")
    assert expected in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(OntologyError, match="file not found"):
        Ontology.from_yaml(tmp_path / "nope.yaml")
