"""Decode image files into RGB uint8 arrays the way training will see them."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from distil.detections import FileStamp, FrameIdentity
from distil.sources.core import Frame, SkippedFile, file_problem
from distil.sources.remote import RemoteReadError, as_url, read_url

# The largest image file read (a 100-megapixel 16-bit TIFF is about 600 MB uncompressed,
# a camera JPEG a few MB): anything larger is refused before a byte is read.
MAX_IMAGE_BYTES = 512 * 2**20


class ImageReadError(Exception):
    """A file could not be decoded; the message is the reason shown to the user."""


def content_hash(data: bytes) -> str:
    """A stable id for an image's bytes (BLAKE2b-128, hex)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _pil_open():
    """PIL's own `Image.open`.

    Importing Ultralytics replaces `Image.open` with a wrapper that, on an unidentified
    file, tries to pip-install a HEIF plugin at run time; a corrupt file must simply fail.
    """
    if Image.open.__module__ == Image.__name__:
        return Image.open
    import sys

    patches = sys.modules.get("ultralytics.utils.patches")
    return getattr(patches, "_image_open", Image.open)


def decode_image(data: bytes) -> np.ndarray:
    """Decode bytes into an RGB uint8 array with EXIF orientation applied.

    Grayscale, palette, RGBA (alpha dropped, as OpenCV does when training), 16-bit
    (scaled by 1/256, as OpenCV does) and CMYK (through its ICC profile when present)
    all become 8-bit RGB.
    """
    if not data:
        raise ImageReadError("empty file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _pil_open()(io.BytesIO(data))
            image.load()
            image = ImageOps.exif_transpose(image)
    except UnidentifiedImageError:
        raise ImageReadError("not a readable image (unknown or corrupt format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageReadError(f"image too large ({e})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageReadError(f"corrupt or truncated image ({e})") from None
    return _to_rgb(image)


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        gray = np.asarray(image, dtype=np.int64)
        # PIL opens 16-bit files as "I"; a true 8-bit range stays as it is.
        scaled = gray // 256 if gray.max(initial=0) > 255 else gray
        return np.repeat(np.clip(scaled, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    if mode == "F":
        gray = np.asarray(image, dtype=np.float32)
        top = float(gray.max(initial=0.0))
        scale = 255.0 if top <= 1.0 else (255.0 / 65535.0 if top > 255 else 1.0)
        gray8 = np.clip(np.nan_to_num(gray) * scale, 0, 255).astype(np.uint8)
        return np.repeat(gray8[..., None], 3, axis=2)
    if mode == "CMYK" and image.info.get("icc_profile"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(image.info["icc_profile"]))
            target = ImageCms.createProfile("sRGB")
            image = ImageCms.profileToProfile(image, source, target, outputMode="RGB")
        except (ImageCms.PyCMSError, OSError):
            image = image.convert("RGB")
    elif mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA").convert("RGB")
    elif mode != "RGB":
        image = image.convert("RGB")
    # A writable copy (asarray's view is read-only, which torch.from_numpy warns about).
    return np.array(image, dtype=np.uint8)


def read_file(path: Path) -> tuple[bytes, str, FileStamp]:
    """Read a file's bytes, content hash and stamp; raises `ImageReadError` with a reason.

    Only a regular file of at most `MAX_IMAGE_BYTES` is read: a FIFO, device or socket
    (even behind a symlink) is refused without reading, and the size is checked first. A
    URL (see `distil.sources.remote`) is read through its filesystem."""
    url = as_url(path)
    if url is not None:
        try:
            data, stamp = read_url(url, MAX_IMAGE_BYTES)
        except RemoteReadError as e:
            raise ImageReadError(str(e)) from None
        return data, content_hash(data), stamp
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as e:
        raise ImageReadError(_open_reason(path, e)) from None
    info = os.fstat(fd)
    problem = file_problem(info)
    if problem:
        os.close(fd)
        raise ImageReadError(problem)
    with os.fdopen(fd, "rb") as handle:
        if info.st_size > MAX_IMAGE_BYTES:
            raise ImageReadError(
                f"file is {info.st_size / 2**20:.0f} MiB, over the "
                f"{MAX_IMAGE_BYTES // 2**20} MiB limit for an image"
            )
        try:
            data = handle.read(MAX_IMAGE_BYTES + 1)
        except OSError as e:
            raise ImageReadError(f"cannot read file ({e.strerror or e})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageReadError(f"file grew past the {MAX_IMAGE_BYTES // 2**20} MiB image limit")
    return data, content_hash(data), FileStamp.of(info)


def _open_reason(path: Path, error: OSError) -> str:
    try:  # a socket cannot even be opened
        problem = file_problem(os.stat(path))
    except OSError:
        problem = None
    if problem:
        return problem
    if isinstance(error, PermissionError):
        return "permission denied"
    if isinstance(error, FileNotFoundError):
        return "file disappeared before it could be read (or is a broken link)"
    if error.errno == errno.ELOOP:
        return "symlink loop"
    if error.errno == errno.ENAMETOOLONG:
        return "path too long"
    return f"cannot read file ({error.strerror or error})"


def load_frame(path: Path) -> Frame | SkippedFile:
    """Read and decode one image file; a bad file becomes a `SkippedFile` with its reason."""
    try:
        data, digest, stamp = read_file(path)
        identity = FrameIdentity(Path(path), Path(path).parent, digest, stamp=stamp)
        return Frame(identity, decode_image(data))
    except ImageReadError as e:
        return SkippedFile(Path(path), str(e))
