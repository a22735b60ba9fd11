"""The review app in a real browser: `distil review serve` runs as a user starts it, and
Debian's Chromium (driven by Playwright, no browser download) loads the page, draws a
box, clicks a point that a tiny random-weight SAM answers with a mask, changes a class,
saves, and the store and the exported dataset hold what was done."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from distil.store import LabelStore
from tests.review.test_round import invoke, make_store

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic"]  # fmt: skip
SIZE = (320, 240)
# A doubtful car, a dog just below its threshold, and a sure frame after it.
TEACHER = {
    "doubt.jpg": [(20, 20, 120, 120, 0.52, 0), (160, 40, 280, 160, 0.45, 1)],
    "sure.jpg": [(20, 20, 120, 120, 0.97, 0)],
}


def start_server(store: Path, segmenter: str) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "distil", "review", "serve", str(store), "--port", "0",
               "--segmenter", segmenter, "--device", "cpu", "--reviewer", "grace"]  # fmt: skip
    env = {**os.environ, "COLUMNS": "300", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    server = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = server.stderr.readline()  # messages go to stderr, data to stdout
        if not line and server.poll() is not None:
            raise AssertionError(f"the server stopped: {server.stderr.read()}")
        found = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+)", line)
        if found:
            return server, found.group(1)
    server.kill()
    raise AssertionError("the server printed no address")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_a_reviewer_corrects_a_frame_in_chromium(tmp_path, tiny_sam):
    playwright = pytest.importorskip("playwright.sync_api")
    store = make_store(tmp_path / "label", tmp_path / "images", TEACHER, size=SIZE)
    server, url = start_server(store, tiny_sam)
    try:
        with playwright.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url)
            expect = playwright.expect
            expect(page.locator("#frame-name")).to_have_text("doubt.jpg", timeout=30_000)
            canvas = page.locator("#canvas")
            box = canvas.bounding_box()
            scale = box["width"] / SIZE[0]

            def at(x: float, y: float) -> tuple[float, float]:
                return box["x"] + x * scale, box["y"] + y * scale

            # The image and the exported label are drawn: the car's box edge is its colour.
            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 10_000
            pixels = page.evaluate(
                "() => { const c = document.getElementById('canvas').getContext('2d');"
                " return [Array.from(c.getImageData(70, 20, 1, 1).data),"
                " Array.from(c.getImageData(200, 200, 1, 1).data)]; }"
            )
            edge, background = pixels
            assert edge[:3] != background[:3]  # a box line over the plain image
            assert page.locator("#reasons li").count() >= 1
            assert page.locator("#labels li").count() == 1  # the dog is below its threshold

            # Draw a box by dragging (class 1: dog, chosen with the key "2").
            canvas.focus()
            page.keyboard.press("Escape")
            page.keyboard.press("2")
            page.mouse.move(*at(200, 170))
            page.mouse.down()
            page.mouse.move(*at(260, 200), steps=5)
            page.mouse.move(*at(300, 230), steps=5)
            page.mouse.up()
            expect(page.locator("#labels li")).to_have_count(2)
            expect(page.locator("#status")).to_contain_text("mask")

            # A click in segmenter mode: the tiny SAM answers with a mask and its box.
            page.keyboard.press("s")
            page.keyboard.press("Escape")  # nothing selected: "1" picks the new labels' class
            page.keyboard.press("1")
            page.mouse.click(*at(60, 180))
            expect(page.locator("#status")).to_contain_text(re.compile("mask in|no mask"))
            status = page.locator("#status").inner_text()
            assert "mask in" in status or "no mask" in status
            clicked = page.locator("#labels li").count() == 3

            # Change the car's class to dog: select it (Tab) and press "2".
            page.keyboard.press("v")
            page.keyboard.press("Escape")
            page.keyboard.press("Tab")
            page.keyboard.press("2")
            page.keyboard.press("Enter")
            expect(page.locator("#frame-name")).to_have_text("sure.jpg")
            assert "saved" in page.locator("#status").inner_text()
            assert not errors, errors
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    with LabelStore.open(store) as opened:
        (human,) = opened.human_labels(with_masks=True)
        (app_round,) = opened.review_rounds()
    assert human.reviewer == "grace" and app_round.format == "app"
    classes = sorted(human.detections.class_id.tolist())
    assert classes == ([0, 1, 1] if clicked else [1, 1])
    assert human.edits["relabeled"] == 1 and human.edits["added"] == (2 if clicked else 1)
    assert human.edits["seconds"] > 0
    assert human.detections.mask is not None  # the drawn box asked SAM for its mask
    out = tmp_path / "dataset"
    result = invoke("export", store, "--to", out, "--format", "yolo", "--split", "1,0,0")
    assert result.exit_code == 0, result.output
    rows = [r for r in (out / "labels/train/doubt.txt").read_text().splitlines() if r]
    assert sorted(r.split()[0] for r in rows) == [str(c) for c in classes]
