"""Sources: files and videos -> one lazy stream of frames with identity.

Names are imported on first use."""

import lazy_loader

__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "core": [
            "IMAGE_EXTENSIONS",
            "VIDEO_EXTENSIONS",
            "Frame",
            "SkippedFile",
            "check_inputs",
            "display_path",
            "is_image_file",
            "is_utf8",
            "is_video_file",
            "scan_images",
            "scan_sources",
        ],
        "freshness": ["SourceCheck"],
        "images": [
            "MAX_IMAGE_BYTES",
            "ImageReadError",
            "content_hash",
            "decode_image",
            "load_frame",
            "read_file",
        ],
        "remote": ["RemoteReadError", "as_url"],
        "shards": ["OtherShard", "Shard"],
        "stream": ["iter_frames"],
        "video": [
            "DecodedFrame",
            "VideoFrames",
            "VideoReadError",
            "VideoReport",
            "estimate_frames",
            "frame_hash",
            "iter_video",
            "read_video",
            "video_id",
        ],
    },
)
