"""Files a user names are read only when they are regular files of bounded size: a FIFO
or /dev/zero as a run config or ontology is refused at once (it would block, or never
end), and `distil label /dev/zero` says why it labeled nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.errors import UsageError
from distil.sources import SkippedFile, scan_sources
from distil.utils.files import MAX_CONFIG_BYTES, read_user_text

runner = CliRunner()


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "config.yaml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("command", [["run", "{path}", "--check"], ["label", ".", "-O", "{path}"]])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
def test_a_pipe_or_device_as_config_or_ontology_is_refused_at_once(command, kind, fifo):
    path = str(fifo) if kind == "fifo" else kind
    start = time.perf_counter()
    result = runner.invoke(app, [part.format(path=path) for part in command])
    assert result.exit_code == 2, result.output
    assert f"{path}: not a regular file (a pipe or device is never read)" in result.output
    assert time.perf_counter() - start < 5


def test_a_config_over_the_size_cap_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.yaml"
    with open(big, "wb") as f:
        f.truncate(MAX_CONFIG_BYTES + 1)  # sparse: nothing to read, only its size
    with pytest.raises(UsageError, match="over the 16 MiB limit"):
        read_user_text(big)
    with pytest.raises(UsageError, match="is a folder"):
        read_user_text(tmp_path)
    (tmp_path / "latin1.yaml").write_bytes(b"caf\xe9: 1\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        read_user_text(tmp_path / "latin1.yaml")


def test_a_named_input_that_is_no_image_says_why():
    problems: list[SkippedFile] = []
    assert list(scan_sources(["/dev/zero"], problems)) == []
    assert problems == [SkippedFile(Path("/dev/zero"), "not a regular file: a character device")]
