"""The run report reads top down: a summary of every stage's headline numbers first,
visible without scrolling in a real browser at 1280 px; per-class tables show their top 15
rows, hold every row under <details>, and sort by a click; consistent number formats."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distil.reports.html import write_run_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLASSES = [f"class{i:02d}" for i in range(80)]


def class_report(map50_95: float) -> dict:
    classes = [
        {"name": n, "ground_truth": i % 7, "predictions": (i * 3) % 5, "map50_95": 0.4,
         "map50": 0.6, "threshold": 0.25, "precision": 0.5, "recall": 0.5, "f1": 0.5,
         "best_threshold": 0.3}
        for i, n in enumerate(CLASSES)
    ]  # fmt: skip
    return {"classes": classes, "map50_95": map50_95, "map50": 0.612, "precision": 0.7,
            "recall": 0.6, "f1": 0.65, "images": 128}  # fmt: skip


def stages() -> dict:
    per_class = {n: 100 - i for i, n in enumerate(CLASSES)}
    return {
        "label": {"result": {"images": 128, "labeled": 128, "already_labeled": 0,
                             "stored_frames": 128, "skipped": [], "images_per_s": 8.5,
                             "detections_per_class": per_class, "added_per_class": per_class}},
        "dataset": {"result": {"images": 128, "images_per_split": {"train": 102, "val": 26},
                               "instances_per_class": per_class}},
        "eval": {"result": {"labels": class_report(0.512),
                            "student": {**class_report(0.431), "against": "ground truth",
                                        "yolo_val": {"map50_95": 0.428, "map50": 0.6}}}},
        "export": {"result": {"exports": [], "latency": [
            {"model": "best.onnx", "provider": "CPUExecutionProvider", "input": [1, 3, 640, 640],
             "mean_ms": 21.3, "p50_ms": 20.9, "p95_ms": 25.0, "images_per_s": 47.0}]}},
    }  # fmt: skip


def test_the_page_holds_the_summary_first_and_collapses_long_tables(tmp_path):
    page = write_run_report(tmp_path / "run", stages(), []).read_text()
    summary = page.index("id='summary'")
    assert summary < page.index("<h2")  # before every section
    assert "0.431" in page[summary : page.index("<nav")]  # the student's mAP in it
    assert page.count("<details><summary>all 80 classes</summary>") == 3
    assert "0.4000" not in page and "0.400" in page  # one number format


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_in_chromium_the_summary_is_visible_without_scrolling(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    path = write_run_report(tmp_path / "run", stages(), [])
    flags = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync"]  # fmt: skip
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=flags)
        view = browser.new_page(viewport={"width": 1280, "height": 800})
        view.goto(Path(path).as_uri())
        box = view.locator("#summary").bounding_box()
        assert box is not None and box["y"] + box["height"] <= 800
        assert "0.431" in view.locator("#summary").inner_text()
        height = view.evaluate("document.body.scrollHeight")
        table = view.locator("table.sortable").nth(1)  # labels per class, top 15 shown
        assert table.locator("tr").count() == 16
        table.locator("th").nth(1).click()  # sort by count, ascending
        first = table.locator("tr").nth(1).locator("td").nth(1).inner_text()
        assert int(first) == min(100 - i for i in range(15))
        browser.close()
    assert height < 8000, height  # was about 13,650 px with every table open
