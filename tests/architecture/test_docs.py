"""The manual builds as a site with `mkdocs build --strict` (a broken link, a page left
out of the navigation or a failing hook fails), its CLI reference lists every command
and option from the settings, and the README keeps to the first hour."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_site_builds_strictly_with_the_generated_reference(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("material")
    site = tmp_path / "site"
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    reference = (site / "reference" / "cli" / "index.html").read_text()
    from distil.settings import DatasetSettings, LabelSettings, ReviewServeSettings, _flag_of

    for command in ("distil label", "distil export", "distil review serve", "distil run"):
        assert command in reference
    for model in (LabelSettings, DatasetSettings, ReviewServeSettings):
        for field in model.model_fields:
            assert f"<code>{_flag_of(model, field)}</code>" in reference, (model, field)
    assert "label.batch" in reference  # the run config's keys too


def test_the_readme_keeps_to_the_first_hour():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) < 200
    assert 'pip install -e ".[dev]" && pytest' in readme
    assert "../shared" not in readme
    for page in ("docs/guide/label.md", "docs/guide/review-app.md", "docs/architecture.md"):
        assert page in readme and (ROOT / page).is_file()
