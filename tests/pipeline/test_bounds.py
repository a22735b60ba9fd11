"""`distil run --check` catches the values the run would fail on: every number has a real
upper bound, a run name fits a file name, and no error line says `error:` twice."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from distil.cli import app
from distil.cli.common import exception_name

runner = CliRunner()


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"name": "a" * 300}, "name: is 300 characters long; at most 100"),
        ({"label": {"batch": 1e20}}, "label.batch: must be a whole number, got 1e+20"),
        ({"label": {"batch": 5000}}, "label.batch: must be at most 4096"),
        ({"train": {"imgsz": 1e9}}, "train.imgsz: must be at most 8192"),
        ({"train": {"epochs": 10**9}}, "train.epochs: must be at most 1000000"),
        ({"label": {"every": 10**12}}, "label.every: must be at most 1000000"),
        ({"review": {"top": 10**9}}, "review.top: must be at most 1000000"),
    ],
)
def test_run_check_refuses_values_the_run_would_fail_on(tmp_path, override, says):
    (tmp_path / "images").mkdir()
    (tmp_path / "onto.yaml").write_text("classes: [car]\n")
    config = {"inputs": "images", "ontology": "onto.yaml", "review": {}, **override}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    result = runner.invoke(app, ["run", str(tmp_path / "run.yaml"), "--check"])
    assert result.exit_code == 2, result.output
    assert says in result.output
    assert result.output.count("error:") == 1


def test_a_library_error_named_error_is_qualified():
    import zlib

    assert exception_name(zlib.error("bad")) == "zlib.error"
    assert exception_name(KeyError("x")) == "KeyError"
