"""URL inputs never hang and never leak: a server that accepts and never answers costs
`url_timeout` seconds, then the command stops with exit 2 naming the URL; a web page that
links to no image is refused saying what it holds; a password in a URL is used but
neither stored nor printed. Real servers on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

from distil.cli import app
from distil.sources.remote import without_credentials
from tests.conftest import shapes_image

runner = CliRunner()


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts every connection, then says nothing."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for connection in held:
        connection.close()
    listener.close()


@pytest.fixture
def web_server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A plain HTTP server over a folder (directory listings are HTML pages of links)."""
    root = tmp_path / "web"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@pytest.fixture
def onto(tmp_path) -> Path:
    path = tmp_path / "onto.yaml"
    path.write_text("box_threshold: 0.0\nclasses: [car, cat]\n")
    return path


def test_label_of_a_silent_server_stops_at_the_timeout_naming_the_url(silent_server, onto):
    start = time.perf_counter()
    result = runner.invoke(
        app, ["label", f"{silent_server}/images/", "-O", str(onto), "--url-timeout", "1"]
    )
    assert result.exit_code == 2, result.output
    assert f"{silent_server}/images: no answer from the server within 1 s" in result.output
    assert time.perf_counter() - start < 10


def test_run_check_of_a_silent_server_stops_at_the_timeout(silent_server, onto, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        f"inputs: [{silent_server}/images/]\nontology: {onto}\nlabel: {{url_timeout: 1}}\n"
    )
    start = time.perf_counter()
    result = runner.invoke(app, ["run", str(config), "--check"])
    assert result.exit_code == 2, result.output
    assert "no answer from the server within 1 s" in result.output
    assert time.perf_counter() - start < 10


def test_an_html_page_that_links_to_no_image_is_refused(web_server, onto):
    url, root = web_server
    (root / "gallery").mkdir()
    (root / "gallery" / "index.html").write_text('<a href="about.html">about</a>')
    result = runner.invoke(app, ["label", f"{url}/gallery/", "-O", str(onto)])
    assert result.exit_code == 2, result.output
    assert "is a web page, not an image or a folder: it holds 1 link" in result.output
    assert "about.html" in result.output


def test_a_password_in_a_url_is_used_but_never_stored_or_printed(
    web_server, onto, tiny_owlv2, tmp_path
):
    url, root = web_server
    (root / "photos").mkdir()
    for i in range(2):
        Image.fromarray(shapes_image(i)).save(root / "photos" / f"{i}.png")
    secret_url = url.replace("http://", "http://ann:s3cr3t@") + "/photos/"
    out = tmp_path / "out"
    args = ["label", secret_url, "-O", str(onto), "--detector", tiny_owlv2]
    result = runner.invoke(app, [*args, "--segmenter", "none", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["labeled"] == 2
    assert "s3cr3t" not in result.output
    for file in out.iterdir():
        assert b"s3cr3t" not in file.read_bytes(), file
    assert b"ann" not in (out / "labels.sqlite").read_bytes()
    again = runner.invoke(app, [*args, "--segmenter", "none", "--out", str(out), "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["labeled"] == 0  # the stored URLs are the same sources


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://ann:secret@example.com/a.jpg", "https://example.com/a.jpg"),
        ("https:/ann@example.com/a.jpg", "https:/example.com/a.jpg"),  # a URL as a Path
        ("s3://bucket/a@b.jpg", "s3://bucket/a@b.jpg"),  # an @ in a key is no password
        ("https://example.com/a.jpg", "https://example.com/a.jpg"),
    ],
)
def test_without_credentials(url, shown):
    assert without_credentials(url) == shown
