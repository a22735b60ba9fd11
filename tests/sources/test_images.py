from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from distil.sources import Frame, SkippedFile, decode_image, load_frame, scan_images


def encode(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def test_scan_is_recursive_sorted_case_insensitive_and_skips_hidden(tmp_path):
    for name in [
        "b.JPG",
        "a.png",
        "sub/c.TIFF",
        "sub/d.webp",
        "e.bmp",
        "f.jpeg",
        "g.tif",
        "notes.txt",
        ".hidden/x.jpg",
        ".y.jpg",
    ]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    found = [p.relative_to(tmp_path).as_posix() for p in scan_images(tmp_path)]
    assert found == ["a.png", "b.JPG", "e.bmp", "f.jpeg", "g.tif", "sub/c.TIFF", "sub/d.webp"]
    assert list(scan_images(tmp_path / "a.png")) == [tmp_path / "a.png"]


def test_exif_orientation_is_applied():
    pixels = np.zeros((10, 20, 3), np.uint8)
    pixels[:, :5] = 255  # white stripe on the left
    image = Image.fromarray(pixels)
    exif = image.getexif()
    exif[274] = 6  # rotate 90 degrees clockwise to display
    decoded = decode_image(encode(image, "JPEG", exif=exif, quality=100))
    assert decoded.shape == (20, 10, 3)
    assert decoded[:5].mean() > 200 and decoded[-5:].mean() < 50  # stripe now on top


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (4, 4), 77), (77, 77, 77)),
        (Image.new("RGBA", (4, 4), (10, 20, 30, 0)), (10, 20, 30)),
        (Image.new("LA", (4, 4), (90, 128)), (90, 90, 90)),
        (Image.fromarray(np.full((4, 4), 40000, np.uint16)), (156, 156, 156)),
        (Image.new("P", (4, 4), 0), (0, 0, 0)),
    ],
)
def test_modes_become_8bit_rgb(image, expected):
    decoded = decode_image(encode(image))
    assert decoded.dtype == np.uint8 and decoded.shape == (4, 4, 3)
    assert tuple(decoded[0, 0]) == expected


def test_cmyk_jpeg_converts_to_rgb():
    decoded = decode_image(encode(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG", quality=100))
    red, green, blue = decoded[4, 4].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_sixteen_bit_png_file(tmp_path):
    path = tmp_path / "deep.png"
    Image.fromarray(np.array([[0, 65535], [256, 32768]], np.uint16)).save(path)
    frame = load_frame(path)
    assert isinstance(frame, Frame)
    assert frame.image[..., 0].tolist() == [[0, 255], [1, 128]]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"this is not an image", "not a readable image"),
        ("truncated", "corrupt or truncated"),
    ],
)
def test_bad_files_are_skipped_with_reason(tmp_path, content, reason):
    path = tmp_path / "bad.jpg"
    if content == "truncated":
        content = encode(Image.new("RGB", (64, 64), (1, 2, 3)), "JPEG")[:300]
    path.write_bytes(content)
    result = load_frame(path)
    assert isinstance(result, SkippedFile) and result.path == path
    assert reason in result.reason


def test_unreadable_file_is_skipped(tmp_path, monkeypatch):
    path = tmp_path / "locked.png"
    path.write_bytes(encode(Image.new("RGB", (4, 4))))
    if os.geteuid() == 0:  # root reads any file; simulate what a normal user gets
        real_open = os.open

        def denied(name, *args, **kwargs):
            if Path(name) == path:
                raise PermissionError(13, "Permission denied")
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    else:
        path.chmod(0)
    assert load_frame(path).reason == "permission denied"


def test_directory_named_like_image_is_skipped(tmp_path):
    (tmp_path / "folder.jpg").mkdir()
    assert load_frame(tmp_path / "folder.jpg").reason == "not a regular file: a folder"


def test_corrupt_file_is_skipped_even_after_ultralytics_patches_pil(tmp_path):
    import ultralytics.utils.patches  # noqa: F401 - replaces PIL's Image.open

    path = tmp_path / "corrupt.jpg"
    path.write_bytes(b"\xff\xd8\xff garbage")
    assert "not a readable image" in load_frame(path).reason
