"""Random-weight teachers with the real architectures of Grounding DINO tiny and SAM 2.1
hiera-tiny, for speed and memory measurements where the hub is unreachable.

Compute per frame depends on the architecture and input sizes, not on weight values; the one
thing random weights change is how many boxes the detector finds, which the benchmarks fix
explicitly. The tokenizer vocabulary is small (the text model's size is BERT-base's).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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
