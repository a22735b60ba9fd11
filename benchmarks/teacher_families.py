"""Teacher families at their real architectures (random weights; the hub is unreachable
here): images/s of each detector's forward passes at batch 8 with 5 prompts, and for SAM 3
the speed-up of distil's cached vision features over one full forward per prompt.

    python benchmarks/teacher_families.py --device cpu --images 8 --families omdet-turbo,sam3

Compute depends on the architecture and input size, not on weight values. Tokenizers are
the tests' small-vocabulary ones (the text models keep their real sizes). Prints JSON.
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

from benchmarks.full_size_models import build_grounding_dino_tiny  # noqa: E402
from tests.tiny_models import clip_tokenizer  # noqa: E402

PROMPTS = ["person", "car", "red truck", "dog", "bicycle"]


def build_owlv2_base(path: Path) -> Path:
    """google/owlv2-base-patch16-ensemble: ViT-B/16 at 960 px, CLIP text."""
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    tokenizer = clip_tokenizer()
    Owlv2ForObjectDetection(Owlv2Config()).save_pretrained(path)
    Owlv2Processor(image_processor=Owlv2ImageProcessor(), tokenizer=tokenizer).save_pretrained(path)
    return path


def build_omdet_turbo_swin_tiny(path: Path) -> Path:
    """omlab/omdet-turbo-swin-tiny-hf: timm Swin-T at 640 px, CLIP text, 6 decoder layers."""
    from transformers import (
        DetrImageProcessor,
        OmDetTurboConfig,
        OmDetTurboForObjectDetection,
        OmDetTurboProcessor,
    )

    OmDetTurboForObjectDetection(OmDetTurboConfig()).save_pretrained(path)
    processor = OmDetTurboProcessor(
        image_processor=DetrImageProcessor(size={"height": 640, "width": 640}, do_pad=False),
        tokenizer=clip_tokenizer(),
    )
    processor.save_pretrained(path)
    return path


def build_sam3(path: Path) -> Path:
    """facebook/sam3: ViT (1024 wide, 32 layers) at 1008 px, CLIP text, DETR, mask head."""
    from transformers import Sam3Config, Sam3ImageProcessor, Sam3Model, Sam3Processor

    Sam3Model(Sam3Config()).save_pretrained(path)
    Sam3Processor(image_processor=Sam3ImageProcessor(), tokenizer=clip_tokenizer()).save_pretrained(
        path
    )
    return path


BUILDERS = {
    "grounding-dino": build_grounding_dino_tiny,
    "owlv2": build_owlv2_base,
    "omdet-turbo": build_omdet_turbo_swin_tiny,
    "sam3": build_sam3,
}


def time_detector(detector, images, ontology, batch: int) -> float:
    """Images/s of `detect` on preprocessed batches, after one warm-up batch."""
    batches = [images[i : i + batch] for i in range(0, len(images), batch)]
    prepared = [detector.prepare(b, ontology) for b in batches]
    detector.detect(batches[0], ontology, 0.5, prepared[0])
    start = time.perf_counter()
    for chunk, inputs in zip(batches, prepared, strict=True):
        detector.detect(chunk, ontology, 0.5, inputs)
    return len(images) / (time.perf_counter() - start)


def sam3_per_prompt_images_per_s(detector, images, ontology) -> float:
    """One full `Sam3Model` forward (vision encoder included) per image and prompt, as a
    caller of transformers' processor would run it."""
    import torch

    def run(image):
        for prompt in ontology.prompts:
            inputs = detector.processor(images=image, text=prompt, return_tensors="pt")
            with torch.inference_mode():
                detector.model(
                    pixel_values=inputs["pixel_values"].to(detector.device, detector.dtype),
                    input_ids=inputs["input_ids"].to(detector.device),
                    attention_mask=inputs["attention_mask"].to(detector.device),
                )

    run(images[0])
    start = time.perf_counter()
    for image in images:
        run(image)
    return len(images) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--families", default=",".join(BUILDERS))
    parser.add_argument("--no-half", action="store_true")
    args = parser.parse_args()

    import torch

    from distil.base_models import load_detector
    from distil.ontologies import Ontology

    ontology = Ontology.from_dict({"classes": {p: p for p in PROMPTS}})
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(args.images)]
    work = Path(tempfile.mkdtemp(prefix="distil-families-"))
    result: dict[str, Any] = {
        "device": torch.cuda.get_device_name() if args.device.startswith("cuda") else "cpu",
        "threads": torch.get_num_threads(),
        "images": args.images,
        "batch": args.batch,
        "prompts": len(PROMPTS),
        "families": {},
    }
    for family in args.families.split(","):
        folder = BUILDERS[family](work / family)
        detector = load_detector(str(folder), device=args.device, half=not args.no_half)
        entry = {"images_per_s": round(time_detector(detector, images, ontology, args.batch), 3)}
        if family == "sam3":
            per_prompt = sam3_per_prompt_images_per_s(detector, images, ontology)
            entry["per_prompt_forward_images_per_s"] = round(per_prompt, 3)
            entry["cached_features_speedup"] = round(entry["images_per_s"] / per_prompt, 2)
        entry["dtype"] = str(detector.dtype).replace("torch.", "")
        result["families"][family] = entry
        del detector
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
