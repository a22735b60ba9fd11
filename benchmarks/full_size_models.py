"""Random-weight teachers with the real architectures of Grounding DINO tiny and SAM 2.1
hiera-tiny, for speed and memory measurements where the hub is unreachable; run as a
script, it measures image labeling with them end to end and bare (GPU):

    python benchmarks/full_size_models.py --device cuda --images 512 --batch 8

Compute per frame depends on the architecture and input sizes, not on weight values; the one
thing random weights change is how many boxes the detector finds, which the benchmarks fix
explicitly (`TopBoxes`). The tokenizer vocabulary is small (the text model's size is
BERT-base's). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distil.base_models.core import Detector  # noqa: E402
from tests.tiny_models import grounding_dino_tokenizer  # noqa: E402


def build_grounding_dino_tiny(path: Path) -> Path:
    """IDEA-Research/grounding-dino-tiny's architecture: Swin-T, BERT-base, 6+6 layers."""
    from transformers import (
        BertConfig,
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    tokenizer = grounding_dino_tokenizer()
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(
            size={"shortest_edge": 800, "longest_edge": 1333}
        ),
        tokenizer=tokenizer,
    )
    config = GroundingDinoConfig(
        backbone_config=SwinConfig(
            embed_dim=96,
            depths=[2, 2, 6, 2],
            num_heads=[3, 6, 12, 24],
            window_size=7,
            image_size=224,
            out_indices=[2, 3, 4],
        ),
        text_config=BertConfig(vocab_size=tokenizer.vocab_size),
        num_queries=900,
        max_text_len=256,
    )
    GroundingDinoForObjectDetection(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _sam21_tiny_vision():
    from transformers import Sam2HieraDetConfig, Sam2VisionConfig

    hiera = Sam2HieraDetConfig(
        hidden_size=96,
        num_attention_heads=1,
        blocks_per_stage=[1, 2, 7, 2],
        embed_dim_per_stage=[96, 192, 384, 768],
        num_attention_heads_per_stage=[1, 2, 4, 8],
        window_size_per_stage=[8, 4, 14, 7],
        global_attention_blocks=[5, 7, 9],
        window_positional_embedding_background_size=[7, 7],
    )
    return Sam2VisionConfig(backbone_config=hiera, backbone_channel_list=[768, 384, 192, 96])


def build_sam21_tiny(path: Path) -> Path:
    """facebook/sam2.1-hiera-tiny's architecture as a video model (which the image model
    also loads, like the real checkpoint)."""
    from transformers import (
        Sam2ImageProcessor,
        Sam2VideoConfig,
        Sam2VideoModel,
        Sam2VideoProcessor,
        Sam2VideoVideoProcessor,
    )

    config = Sam2VideoConfig(vision_config=_sam21_tiny_vision())
    processor = Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(), video_processor=Sam2VideoVideoProcessor()
    )
    Sam2VideoModel(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


class TopBoxes(Detector):
    """A random-weight detector's `boxes` most confident, non-overlapping boxes per image:
    the object count is what random weights get wrong, so the benchmark fixes it."""

    def __init__(self, detector: Detector, boxes: int) -> None:
        self.detector, self.boxes = detector, boxes
        self.family = detector.family

    def describe(self) -> dict[str, Any]:
        return {**self.detector.describe(), "top_boxes": self.boxes}

    def prepare(self, images, ontology):
        return self.detector.prepare(images, ontology)

    def detect(self, images, ontology, min_confidence, prepared=None):
        from distil.utils.boxes import class_aware_nms

        kept = []
        for found in self.detector.detect(images, ontology, min_confidence, prepared):
            one_class = np.zeros(len(found), np.int64)
            order = class_aware_nms(found.xyxy, found.confidence, one_class, 0.5)
            kept.append(found[np.asarray(order, dtype=np.int64)[: self.boxes]])
        return kept


def write_images(folder: Path, count: int, width: int, height: int) -> None:
    """Shapes on a textured background, as JPEG (a realistic decode cost)."""
    import cv2

    from benchmarks.video_speed import scene

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        image = scene(i * 7, width, height)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), image[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])


def bare_images_per_s(
    folder: Path, ontology, model, batch: int, min_confidence: float = 0.0
) -> float:
    """The teacher's forward passes alone, on the JPEGs in `folder` decoded and
    preprocessed first."""
    from distil.sources import load_frame

    images = [load_frame(p).image for p in sorted(folder.glob("*.jpg"))]
    batches = [images[i : i + batch] for i in range(0, len(images), batch)]
    prepared = [model.prepare(b, ontology) for b in batches]
    model.predict(batches[0], ontology, min_confidence, prepared[0])  # warm-up
    start = time.perf_counter()
    for images_in, inputs in zip(batches, prepared, strict=True):
        # Returns numpy arrays, so a GPU has finished when it returns.
        model.predict(images_in, ontology, min_confidence, inputs)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--width", type=int, default=1066)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("--boxes", type=int, default=10, help="boxes kept per image")
    parser.add_argument("--no-half", action="store_true")
    args = parser.parse_args()

    import torch

    from benchmarks.video_speed import ontology_for
    from distil.base_models import load_base_model
    from distil.labeling import label_images

    work = Path(tempfile.mkdtemp(prefix="distil-full-"))
    detector = str(build_grounding_dino_tiny(work / "gd"))
    segmenter = str(build_sam21_tiny(work / "sam21"))
    model = load_base_model(detector, segmenter, device=args.device, half=not args.no_half)
    model.detector = TopBoxes(model.detector, args.boxes)
    ontology = ontology_for(random_weights=True)
    write_images(work / "warmup", args.batch * 4, args.width, args.height)
    write_images(work / "images", args.images, args.width, args.height)
    label_images(work / "warmup", ontology, model, work / "run_warmup", batch=args.batch)
    summary = label_images(work / "images", ontology, model, work / "run", batch=args.batch)
    bare = bare_images_per_s(work / "images", ontology, model, args.batch)
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else args.device,
        "dtype": model.describe()["detector"]["dtype"],
        "images": summary.labeled,
        "image_size": [args.width, args.height],
        "batch": args.batch,
        "boxes_per_image": args.boxes,
        "images_per_s": round(summary.images_per_s, 2),
        "bare_images_per_s": round(bare, 2),
        "pipeline_vs_bare": round(summary.images_per_s / bare, 3),
        "stage_s": {k: round(v, 3) for k, v in summary.stage_s.items()},
    }
    if torch.cuda.is_available():
        result["peak_gpu_memory_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
