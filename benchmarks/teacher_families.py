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
    config = Owlv2Config(vision_config={"image_size": 960})  # the checkpoint's, not 768
    Owlv2ForObjectDetection(config).save_pretrained(path)
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


def build_mm_grounding_dino_tiny(path: Path) -> Path:
    """openmmlab-community/mm_grounding_dino_tiny_o365v1_goldg_v3det (and LLMDet tiny):
    Grounding DINO tiny's architecture as MMGroundingDinoForObjectDetection."""
    from transformers import (
        GroundingDinoConfig,
        MMGroundingDinoConfig,
        MMGroundingDinoForObjectDetection,
    )

    folder = build_grounding_dino_tiny(path)
    kwargs = GroundingDinoConfig.from_pretrained(folder).to_dict()
    for key in ("model_type", "architectures", "transformers_version"):
        kwargs.pop(key, None)
    MMGroundingDinoForObjectDetection(MMGroundingDinoConfig(**kwargs)).save_pretrained(folder)
    return folder


FLORENCE2_BOXES = 3  # boxes each request writes: 1 + 2 phrase + 12 location tokens + end


def build_florence2_base(path: Path) -> Path:
    """florence-community/Florence-2-base: DaViT (128-1024 wide, 1+1+9+1 blocks) at 768 px,
    BART-base (6+6 layers, 768 wide, 51,289 tokens). Random weights would write anything
    from nothing to 1024 tokens, so a generation bias makes every request write a
    two-character phrase and `FLORENCE2_BOXES` boxes, as a real answer would."""
    from transformers import (
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    from tests.tiny_models import florence2_tokenizer

    tokenizer = florence2_tokenizer()
    image_processor = CLIPImageProcessor(
        size={"height": 768, "width": 768}, do_center_crop=False, image_seq_length=577
    )
    bart = dict(
        model_type="bart", vocab_size=51289, d_model=768, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
        decoder_ffn_dim=3072, max_position_embeddings=1024, bos_token_id=0, pad_token_id=1,
        eos_token_id=2, decoder_start_token_id=2,
    )  # fmt: skip
    config = Florence2Config(
        vision_config=dict(projection_dim=768), text_config=bart,
        image_token_id=tokenizer.image_token_id,
    )  # fmt: skip
    model = Florence2ForConditionalGeneration(config)
    phrase = tokenizer.convert_tokens_to_ids(["a", "b"])
    locations = tokenizer.convert_tokens_to_ids([f"<loc_{k}>" for k in range(100, 1000, 75)])
    chain = [2, 0, *phrase, *locations[: 4 * FLORENCE2_BOXES], 2]
    model.generation_config.sequence_bias = [
        [[before, after], 100.0] for before, after in zip(chain, chain[1:], strict=False)
    ]
    model.save_pretrained(path)
    Florence2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


def build_ultralytics(yaml: str):
    def build(path: Path) -> Path:
        from distil.utils.ultralytics import import_ultralytics

        path.mkdir(parents=True, exist_ok=True)
        weights = path / yaml.replace(".yaml", ".pt")
        import_ultralytics().YOLO(yaml).save(weights)
        return weights

    return build


BUILDERS = {
    "grounding-dino": build_grounding_dino_tiny,
    "mm-grounding-dino": build_mm_grounding_dino_tiny,
    "owlv2": build_owlv2_base,
    "omdet-turbo": build_omdet_turbo_swin_tiny,
    "florence2": build_florence2_base,
    "sam3": build_sam3,
    "yolo-world": build_ultralytics("yolov8s-worldv2.yaml"),
    "yoloe": build_ultralytics("yoloe-11s-seg.yaml"),
}


def load(family: str, folder: Path, device: str, half: bool):
    """The detector as distil loads it; YOLO-World and YOLOE get random text embeddings
    (their text encoders are downloads)."""
    from distil.base_models import load_detector

    if family not in ("yolo-world", "yoloe"):
        return load_detector(str(folder), device=device, half=half)
    import torch

    from distil.base_models.ultralytics_yolo import UltralyticsDetector

    embeddings = {p: torch.randn(512) for p in PROMPTS}
    return UltralyticsDetector(str(folder), device=device, half=half, text_embeddings=embeddings)


def time_detector(detector, images, ontology, batch: int) -> float:
    """Images/s of `detect` on preprocessed batches, after one warm-up batch."""
    batches = [images[i : i + batch] for i in range(0, len(images), batch)]
    prepared = [detector.prepare(b, ontology) for b in batches]
    detector.detect(images[:1], ontology, 0.5)  # warm-up: one image is enough on a CPU
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
        detector = load(family, folder, args.device, not args.no_half)
        if hasattr(detector, "check_ontology"):
            detector.check_ontology(ontology)
        entry = {"images_per_s": round(time_detector(detector, images, ontology, args.batch), 3)}
        if family == "sam3":
            # Warmed up by the run above; a couple of images bound a slow CPU run.
            per_prompt = sam3_per_prompt_images_per_s(detector, images[:2], ontology)
            entry["per_prompt_forward_images_per_s"] = round(per_prompt, 3)
            entry["cached_features_speedup"] = round(entry["images_per_s"] / per_prompt, 2)
        if family == "florence2":
            entry["boxes_per_request"] = FLORENCE2_BOXES
        dtype = detector.dtype if hasattr(detector, "dtype") else "half" * detector.half
        entry["dtype"] = str(dtype or "float32").replace("torch.", "")
        result["families"][family] = entry
        print(json.dumps({family: entry}), file=sys.stderr, flush=True)  # survives a timeout
        del detector
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
