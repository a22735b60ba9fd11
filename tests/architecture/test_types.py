"""The type check runs in the test command: the modules listed in pyproject's
`[tool.mypy] files` pass `mypy --strict`, and the list never drops one of them."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
# Checked since the check began; grow the list in pyproject.toml, never shrink it.
CHECKED_SINCE_THE_START = {
    "distil/detections.py",
    "distil/errors.py",
    "distil/settings.py",
    "distil/store",
    "distil/datasets/formats",
}


def test_the_checked_modules_never_shrink():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    assert config["strict"] is True
    assert set(config["files"]) >= CHECKED_SINCE_THE_START


def test_the_checked_modules_pass_mypy_strict(monkeypatch):
    api = pytest.importorskip("mypy.api")
    monkeypatch.chdir(ROOT)  # mypy reads pyproject.toml's [tool.mypy] from here
    report, errors, status = api.run([])
    assert status == 0, report + errors
    assert "Success: no issues found" in report
