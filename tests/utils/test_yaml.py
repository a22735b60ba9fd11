"""Hostile YAML fails fast with exit 2 and a short message: alias bombs, deep nesting,
Python tags, duplicate keys."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.utils.yaml import MAX_VALUES, YamlError, parse_yaml

runner = CliRunner()


def alias_bomb(levels: int) -> str:
    """`levels` lines, each a list of ten aliases of the line before: 10**levels values."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("levels", [6, 10])
@pytest.mark.parametrize("as_", ["run config", "ontology"])
def test_an_alias_bomb_fails_fast_with_a_short_message(tmp_path, levels, as_):
    bomb = tmp_path / "bomb.yaml"
    if as_ == "ontology":
        bomb.write_text(alias_bomb(levels).replace("l0:", "classes: {cat: cat}\nl0:"))
        (tmp_path / "a.jpg").write_bytes(b"")
        args = ["label", str(tmp_path / "a.jpg"), "-O", str(bomb), "--segmenter", "none"]
    else:
        bomb.write_text(f"inputs: [{tmp_path}]\nontology: o.yaml\n" + alias_bomb(levels))
        args = ["run", str(bomb), "--check"]
    start = time.perf_counter()
    result = runner.invoke(app, args)
    assert time.perf_counter() - start < 5
    assert result.exit_code == 2, result.output
    assert f"more than {MAX_VALUES} values" in result.output
    assert len(result.output) < 400


def test_a_small_alias_use_is_fine():
    assert parse_yaml("base: &b {lr0: 0.01}\na: *b\nb: *b\n") == {
        "base": {"lr0": 0.01},
        "a": {"lr0": 0.01},
        "b": {"lr0": 0.01},
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 5000 + "]" * 5000, "nested more than 50 levels deep"),
        ("[" * 60 + "]" * 60, "nested more than 50 levels deep"),
        ("a: &a [*a]", "an alias refers to itself"),
        ("a: 1\na: 2", "duplicate key 'a'"),
        ("!!python/object/apply:os.system [echo hi]", "could not determine a constructor"),
        ("a: [1, 2", "line 1"),
    ],
)
def test_hostile_or_broken_yaml_is_one_yaml_error(text, message):
    with pytest.raises(YamlError, match=message):
        parse_yaml(text)


def test_a_python_tag_in_set_is_exit_2_naming_the_flag(tmp_path):
    marker = tmp_path / "ran"
    (tmp_path / "run.yaml").write_text(f"inputs: [{tmp_path}]\nontology: o.yaml\n")
    value = f"train.epochs=!!python/object/apply:os.system ['touch {marker}']"
    result = runner.invoke(app, ["run", str(tmp_path / "run.yaml"), "--check", "--set", value])
    assert result.exit_code == 2, result.output
    assert (
        "--set train.epochs=...: invalid YAML" in result.output and "python/object" in result.output
    )
    assert not marker.exists()
