"""The repository holds code and small test data only: no archives, no model files, and
no file over 1 MiB outside tests/data (the same check as the pre-commit hook)."""

import importlib.util
import shutil
import subprocess
from importlib.machinery import SourceFileLoader
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
HOOK = ROOT / ".githooks" / "check-tracked-files"


def _check():
    loader = SourceFileLoader("check_tracked_files", str(HOOK))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


@pytest.mark.skipif(
    shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout"
)
def test_no_archives_or_big_files_are_tracked():
    assert _check().problems(ROOT) == []


def test_the_check_finds_an_archive_and_a_big_file(tmp_path):
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "clip-0.2.0.tar.gz").write_bytes(b"x")
    (tmp_path / "big.bin").write_bytes(b"0" * (2 << 20))
    (tmp_path / "tests" / "data").mkdir(parents=True)
    (tmp_path / "tests" / "data" / "store.bin").write_bytes(b"0" * (2 << 20))
    subprocess.run(["git", "add", "-A"], cwd=tmp_path, check=True)
    assert sorted(_check().problems(tmp_path)) == [
        "big.bin: 2.0 MiB, over 1 MiB",
        "clip-0.2.0.tar.gz: an archive or model file",
    ]
