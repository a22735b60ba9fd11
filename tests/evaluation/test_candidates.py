"""Several students from one dataset: trained, scored on the same frames, exported, timed,
and one picked by --select; --licence refuses a candidate before anything trains."""

import json

import pytest
from typer.testing import CliRunner

from distil.cli import app
from distil.evaluation.candidates import Candidate, choose
from tests.synthetic import make_shapes_dataset

EXIT_USAGE = 2


def row(model, map50_95, map50, p50):
    return Candidate(model, "", "", "", map50_95, map50, p50, p50 * 1.2, 1, 1.0, "agpl-3.0")


@pytest.mark.parametrize(
    ("select", "chosen"),
    [("map50-95", "big"), ("map50", "small"), ("latency<=5ms", "small"),
     ("latency <= 20 ms", "big"), ("latency<=1ms", None)],
)  # fmt: skip
def test_choose_follows_the_rule(select, chosen):
    rows = [row("big", 0.5, 0.6, 12.0), row("small", 0.4, 0.7, 4.0)]
    picked, reason = choose(rows, select)
    assert picked == chosen and reason
    if chosen is None:
        assert "no candidate runs within 1 ms" in reason and "small, 4.0 ms" in reason


def test_two_candidates_give_the_table_and_the_pick(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = make_shapes_dataset(tmp_path / "shapes", images=12)
    args = ["train", str(data), "--model", "yolo11n,yolo26n", "--epochs", "1", "--imgsz", "64",
            "--batch", "4", "--workers", "0", "--device", "cpu", "--set", "plots=false"]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--select", "latency<=10000ms", "--json", "-q"])
    assert result.exit_code == 0, result.output
    table = json.loads(result.stdout)
    assert [r["model"] for r in table["candidates"]] == ["yolo11n", "yolo26n"]
    for candidate in table["candidates"]:
        assert 0 <= candidate["map50_95"] <= candidate["map50"] <= 1
        assert 0 < candidate["latency_p50_ms"] <= candidate["latency_p90_ms"]
        assert candidate["parameters"] > 0 and candidate["file_mb"] > 0
        assert candidate["licence"] == "agpl-3.0" and candidate["onnx"].endswith("best.onnx")
    best = max(table["candidates"], key=lambda r: (r["map50_95"], -r["latency_p50_ms"]))
    assert table["chosen"] == best["model"]
    saved = tmp_path / "runs" / "train" / "candidates" / "candidates.json"
    assert json.loads(saved.read_text()) == table

    refused = CliRunner().invoke(app, [*args, "--licence", "apache-2.0"])
    assert refused.exit_code == EXIT_USAGE
    assert "--licence apache-2.0 refuses --model yolo11n: it is AGPL-3.0" in refused.output
    assert not (tmp_path / "runs" / "train" / "candidates2").exists()
