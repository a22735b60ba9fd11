from distil.sources.core import IMAGE_EXTENSIONS, Frame, SkippedFile, is_image_file, scan_images
from distil.sources.images import (
    ImageReadError,
    content_hash,
    decode_image,
    load_frame,
    read_file,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "Frame",
    "ImageReadError",
    "SkippedFile",
    "content_hash",
    "decode_image",
    "is_image_file",
    "load_frame",
    "read_file",
    "scan_images",
]
