"""Tiny random-weight teachers built from transformers configs, saved like real checkpoints.

Tokenizers are built from small vocabularies; the Grounding DINO vocabulary keeps BERT's
ids for [CLS], [SEP], '.' and '?' because the model hard-codes them as phrase separators.
"""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import torch


def _seeded(build):
    """Random weights, but the same ones every run: tests must not depend on luck."""

    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return build(*args, **kwargs)

    return wrapper


WORDS = [
    "a",
    "an",
    "the",
    "cat",
    "dog",
    "car",
    "person",
    "in",
    "hi",
    "vis",
    "vest",
    "forklift",
    "pallet",
    "red",
    "blue",
    "green",
    "square",
    "circle",
    "triangle",
    "shape",
    "truck",
    "automobile",
    "bicycle",
    "wearing",
    "safety",
    "wooden",
]


def grounding_dino_tokenizer():
    """A BERT tokenizer with a small vocabulary that keeps BERT's special ids."""
    from transformers import BertTokenizerFast

    vocab = [f"[unused{i}]" for i in range(1030)]
    for index, token in {
        0: "[PAD]",
        100: "[UNK]",
        101: "[CLS]",
        102: "[SEP]",
        103: "[MASK]",
        1012: ".",
        1029: "?",
    }.items():
        vocab[index] = token
    letters = "abcdefghijklmnopqrstuvwxyz0123456789"
    extra = list(letters + "-,'") + [f"##{c}" for c in letters] + list(WORDS)
    vocab += [t for t in dict.fromkeys(extra) if t not in vocab]
    return BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)


@_seeded
def build_grounding_dino(path: Path, max_text_len: int = 32) -> Path:
    from transformers import GroundingDinoConfig, GroundingDinoForObjectDetection

    return _build_grounding(
        path, GroundingDinoConfig, GroundingDinoForObjectDetection, max_text_len
    )


@_seeded
def build_mm_grounding_dino(path: Path, max_text_len: int = 32) -> Path:
    """MM Grounding DINO (and LLMDet's) architecture, tiny."""
    from transformers import MMGroundingDinoConfig, MMGroundingDinoForObjectDetection

    return _build_grounding(
        path, MMGroundingDinoConfig, MMGroundingDinoForObjectDetection, max_text_len
    )


def _build_grounding(path: Path, config_class, model_class, max_text_len: int) -> Path:
    from transformers import (
        BertConfig,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
        SwinConfig,
    )

    tokenizer = grounding_dino_tokenizer()
    processor = GroundingDinoProcessor(
        image_processor=GroundingDinoImageProcessor(size={"shortest_edge": 64, "longest_edge": 96}),
        tokenizer=tokenizer,
    )
    config = config_class(
        backbone_config=SwinConfig(
            embed_dim=16,
            depths=[1, 1, 1, 1],
            num_heads=[1, 1, 1, 1],
            window_size=4,
            image_size=64,
            out_indices=[2, 3, 4],
        ),
        text_config=BertConfig(
            vocab_size=tokenizer.vocab_size,
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
        ),
        d_model=32,
        encoder_layers=1,
        decoder_layers=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        num_queries=30,
        max_text_len=max_text_len,
    )
    model_class(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def _byte_chars() -> list[str]:
    kept = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = list(kept), 0
    for b in range(256):
        if b not in kept:
            kept.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def clip_tokenizer():
    """A CLIP tokenizer over single byte characters (no merges): every word tokenizes."""
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    vocab.update({f"{c}</w>": len(chars) + i for i, c in enumerate(chars)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[])


def clip_text_config(tokenizer, width: int, max_positions: int) -> dict:
    vocab = tokenizer.get_vocab()
    return dict(
        vocab_size=len(vocab),
        hidden_size=width,
        intermediate_size=37,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=vocab["<|startoftext|>"],
        eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    )


@_seeded
def build_owlv2(path: Path) -> Path:
    from transformers import (
        Owlv2Config,
        Owlv2ForObjectDetection,
        Owlv2ImageProcessor,
        Owlv2Processor,
    )

    tokenizer = clip_tokenizer()
    processor = Owlv2Processor(
        image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
        tokenizer=tokenizer,
    )
    config = Owlv2Config(
        text_config=clip_text_config(tokenizer, width=32, max_positions=16),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=64,
            patch_size=16,
        ),
        projection_dim=32,
    )
    Owlv2ForObjectDetection(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


@_seeded
def build_omdet_turbo(path: Path, size: int = 224) -> Path:
    """A tiny OmDet-Turbo head on the real checkpoints' timm Swin-T backbone (random
    weights; timm has no smaller Swin), with a tiny CLIP text encoder."""
    from transformers import (
        DetrImageProcessor,
        OmDetTurboConfig,
        OmDetTurboForObjectDetection,
        OmDetTurboProcessor,
    )

    tokenizer = clip_tokenizer()
    # The task text is not projected, so the text width must equal the class embedding
    # width; transformers also needs that to differ from the decoder width (as in the real
    # model: 512 and 256).
    text_width, width = 64, 32
    config = OmDetTurboConfig(
        backbone_config=dict(
            model_type="timm_backbone",
            backbone="swin_tiny_patch4_window7_224",
            out_indices=[1, 2, 3],
            img_size=size,
            always_partition=True,
        ),
        text_config=dict(
            clip_text_config(tokenizer, text_width, max_positions=77),
            model_type="clip_text_model",
        ),
        image_size=size,
        text_projection_in_dim=text_width,
        text_projection_out_dim=text_width,
        class_embed_dim=text_width,
        task_encoder_hidden_dim=width,
        num_queries=20,
        encoder_hidden_dim=width,
        vision_features_channels=(width, width, width),
        encoder_attention_heads=2,
        encoder_dim_feedforward=37,
        decoder_hidden_dim=width,
        decoder_num_heads=2,
        decoder_num_layers=1,
        decoder_dim_feedforward=37,
    )
    processor = OmDetTurboProcessor(
        image_processor=DetrImageProcessor(size={"height": size, "width": size}, do_pad=False),
        tokenizer=tokenizer,
    )
    OmDetTurboForObjectDetection(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


@_seeded
def build_sam3(path: Path, size: int = 112) -> Path:
    """A tiny SAM 3 image model and its processor."""
    from transformers import Sam3Model, Sam3Processor

    Sam3Model(sam3_config(size, width=32)).save_pretrained(path)
    Sam3Processor(
        image_processor=sam3_image_processor(size), tokenizer=clip_tokenizer()
    ).save_pretrained(path)
    return path


def sam3_config(size: int, width: int):
    """SAM 3's image model (ViT with windowed and global attention, FPN `width` channels
    wide, CLIP text encoder, DETR encoder and decoder with a presence token, mask head)."""
    from transformers import Sam3Config

    grid = size // 14
    layers = dict(hidden_size=width, num_layers=1, num_attention_heads=2, intermediate_size=37)
    return Sam3Config(
        vision_config=dict(
            backbone_config=dict(
                model_type="sam3_vit_model",
                hidden_size=width,
                intermediate_size=37,
                num_hidden_layers=2,
                num_attention_heads=2,
                image_size=size,
                pretrain_image_size=size,
                window_size=grid // 2,
                global_attn_indexes=[1],
            ),
            fpn_hidden_size=width,
            backbone_feature_sizes=[[grid * 4] * 2, [grid * 2] * 2, [grid] * 2],
        ),
        text_config=dict(
            clip_text_config(clip_tokenizer(), width, max_positions=32), projection_dim=width
        ),
        geometry_encoder_config=layers,
        detr_encoder_config=layers,
        detr_decoder_config=dict(layers, num_queries=12),
        mask_decoder_config=dict(hidden_size=width, num_attention_heads=2),
    )


def sam3_image_processor(size: int):
    from transformers import Sam3ImageProcessor

    return Sam3ImageProcessor(
        size={"height": size, "width": size},
        mask_size={"height": size // 4, "width": size // 4},
    )


@_seeded
def build_sam3_video(path: Path, size: int = 112, threshold: float = 0.255) -> Path:
    """A tiny SAM 3 video model: the tiny SAM 3 detector, a one-layer memory tracker, and
    SAM 3's video processor. Its tracker's memory width is fixed at 64 in transformers and
    must be under the hidden width, so this one is 128 wide. `threshold` (detection and
    new-object scores) is set so that random weights find a few objects per frame."""
    from transformers import (
        Sam2VideoVideoProcessor,
        Sam3VideoConfig,
        Sam3VideoModel,
        Sam3VideoProcessor,
    )

    width, grid = 128, size // 14
    detector = sam3_config(size, width)
    tracker = dict(
        vision_config=detector.vision_config.to_dict(),
        image_size=size,
        prompt_encoder_config=dict(hidden_size=width, image_size=size, patch_size=14),
        mask_decoder_config=tiny_mask_decoder(width),
        memory_attention_hidden_size=width,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[grid, grid],
        memory_encoder_hidden_size=width,
        mask_downsampler_embed_dim=width,
        memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=32,
    )
    config = Sam3VideoConfig(
        detector_config=detector.to_dict(),
        tracker_config=tracker,
        low_res_mask_size=size // 4,
        score_threshold_detection=threshold,
        new_det_thresh=threshold,
    )
    processor = Sam3VideoProcessor(
        image_processor=sam3_image_processor(size),
        video_processor=Sam2VideoVideoProcessor(size={"height": size, "width": size}),
        tokenizer=clip_tokenizer(),
    )
    Sam3VideoModel(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


FLORENCE2_BOX = (100, 200, 300, 400)  # location bins the tiny Florence-2 writes


def florence2_tokenizer():
    """Florence-2's BART tokenizer over single byte characters, with its image placeholder,
    1000 location tokens and task tokens."""
    from transformers import BartTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in _byte_chars():
        vocab.setdefault(char, len(vocab))
    tokenizer = BartTokenizer(
        vocab=vocab, merges=[], extra_special_tokens={"image_token": "<image>"}
    )
    tokenizer.add_tokens([f"<loc_{k}>" for k in range(1000)] + ["<od>", "</od>", "<poly>", "<sep>"])
    return tokenizer


@_seeded
def build_florence2(path: Path, size: int = 64) -> Path:
    """A tiny Florence-2 (DaViT vision tower, one-layer BART) and its processor.

    Random weights would only repeat one token, so the checkpoint's generation config
    carries a `sequence_bias` chain: after the start token it writes "<s>", then the
    location tokens of `FLORENCE2_BOX`, then its end token, for every request. Everything
    downstream (decoding, the trace of probabilities, parsing) runs as for a real model."""
    from transformers import (
        CLIPImageProcessor,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2Processor,
    )

    tokenizer = florence2_tokenizer()
    image_tokens = (size // 32) ** 2 + 1
    image_processor = CLIPImageProcessor(
        size={"height": size, "width": size},
        do_center_crop=False,
        image_seq_length=image_tokens,
    )
    config = Florence2Config(
        vision_config=dict(
            depths=[1, 1, 1, 1],
            embed_dim=[16, 16, 16, 32],
            num_heads=[1, 1, 1, 2],
            num_groups=[1, 1, 1, 2],
            window_size=2,
            projection_dim=32,
        ),
        text_config=dict(
            model_type="bart",
            vocab_size=len(tokenizer),
            d_model=32,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=37,
            decoder_ffn_dim=37,
            max_position_embeddings=128,
            bos_token_id=0,
            pad_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=2,
        ),
        image_token_id=tokenizer.image_token_id,
    )
    model = Florence2ForConditionalGeneration(config)
    chain = [2, 0, *tokenizer.convert_tokens_to_ids([f"<loc_{k}>" for k in FLORENCE2_BOX]), 2]
    model.generation_config.sequence_bias = [
        [[before, after], 40.0] for before, after in itertools.pairwise(chain)
    ]
    model.save_pretrained(path)
    Florence2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(path)
    return path


@_seeded
def build_sam(path: Path, size: int = 128) -> Path:
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    config = SamConfig(
        vision_config=dict(
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=1,
            image_size=size,
            patch_size=16,
            mlp_dim=16,
            output_channels=32,
            global_attn_indexes=[0],
            window_size=4,
            num_pos_feats=16,
        ),
        prompt_encoder_config=dict(
            hidden_size=32, image_size=size, patch_size=16, image_embedding_size=size // 16
        ),
        mask_decoder_config=tiny_mask_decoder(32),
    )
    processor = SamProcessor(
        image_processor=SamImageProcessor(
            size={"longest_edge": size},
            pad_size={"height": size, "width": size},
            mask_size={"longest_edge": size // 4},
            mask_pad_size={"height": size // 4, "width": size // 4},
        )
    )
    SamModel(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def tiny_mask_decoder(width: int) -> dict:
    """A two-layer SAM mask decoder `width` channels wide."""
    return dict(
        hidden_size=width, mlp_dim=32, num_hidden_layers=2, num_attention_heads=2,
        iou_head_hidden_dim=32,
    )  # fmt: skip


def tiny_sam2_vision(size: int, width: int):
    """A two-block Hiera image encoder with an FPN of `width` channels."""
    from transformers import Sam2HieraDetConfig, Sam2VisionConfig

    hiera = Sam2HieraDetConfig(
        hidden_size=12,
        num_attention_heads=1,
        image_size=[size, size],
        blocks_per_stage=[1, 2, 1, 1],
        embed_dim_per_stage=[12, 24, 48, 96],
        num_attention_heads_per_stage=[1, 1, 1, 1],
        window_size_per_stage=[8, 4, 8, 4],
        global_attention_blocks=[2],
        window_positional_embedding_background_size=[4, 4],
    )
    vision = Sam2VisionConfig(
        backbone_config=hiera,
        backbone_channel_list=[96, 48, 24, 12],
        backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
        fpn_hidden_size=width,
    )
    return vision


@_seeded
def build_sam2(path: Path, size: int = 256) -> Path:
    from transformers import (
        Sam2Config,
        Sam2ImageProcessor,
        Sam2Model,
        Sam2Processor,
    )

    vision = tiny_sam2_vision(size, width=32)
    config = Sam2Config(
        vision_config=vision,
        prompt_encoder_config=dict(hidden_size=32, image_size=size, patch_size=16),
        mask_decoder_config=tiny_mask_decoder(32),
    )
    processor = Sam2Processor(
        image_processor=Sam2ImageProcessor(
            size={"height": size, "width": size},
            mask_size={"height": size // 4, "width": size // 4},
        )
    )
    Sam2Model(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


def sam2_video_processor(size: int):
    """SAM 2's video processor at `size` px (EdgeTAM uses it too)."""
    from transformers import Sam2ImageProcessor, Sam2VideoProcessor, Sam2VideoVideoProcessor

    sizes = {"height": size, "width": size}
    return Sam2VideoProcessor(
        image_processor=Sam2ImageProcessor(
            size=sizes, mask_size={"height": size // 4, "width": size // 4}
        ),
        video_processor=Sam2VideoVideoProcessor(size=sizes),
    )


@_seeded
def build_edgetam(path: Path, size: int = 128) -> Path:
    """A tiny EdgeTAM video model (a small RepViT from timm, 2D spatial perceiver, memory
    attention) with SAM 2's processor; the image segmenter loads it too, as with EdgeTAM's
    real checkpoint."""
    from transformers import EdgeTamVideoConfig, EdgeTamVideoModel

    width, channels = 256, [64, 48, 32, 16]
    config = EdgeTamVideoConfig(
        vision_config=dict(
            model_type="edgetam_vision_model",
            backbone_config=dict(
                model_type="timm_wrapper",
                architecture="repvit_m1",
                num_classes=1,
                model_args=dict(
                    in_chans=3,
                    features_only=True,
                    out_indices=[0, 1, 2, 3],
                    embed_dim=channels[::-1],
                    depth=(1, 1, 1, 1),
                ),
            ),
            backbone_channel_list=channels,
            backbone_feature_sizes=[[size // 4] * 2, [size // 8] * 2, [size // 16] * 2],
            fpn_hidden_size=width,
        ),
        prompt_encoder_config=dict(hidden_size=width, image_size=size, patch_size=16),
        mask_decoder_config=dict(
            tiny_mask_decoder(width), mlp_dim=64, num_hidden_layers=1, iou_head_hidden_dim=32
        ),
        image_size=size,
        num_maskmem=3,
        memory_attention_num_layers=1,
        memory_attention_mlp_hidden_size=64,
        memory_attention_rope_feat_sizes=[size // 16] * 2,
        memory_attention_rope_k_sizes=[4, 4],  # the 2D latents: 4 x 4
        perceiver_resampler_num_latents=16,
        perceiver_resampler_num_latents_2d=16,
        perceiver_resampler_num_layers=1,
        perceiver_resampler_mlp_intermediate_size=32,
        memory_fuser_num_layers=1,
        memory_fuser_intermediate_dim=32,
    )
    processor = sam2_video_processor(size)
    EdgeTamVideoModel(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


@_seeded
def build_sam2_video(path: Path, size: int = 128) -> Path:
    """A tiny SAM 2 video model (memory attention, memory encoder) with its processor.

    transformers fixes memory features at 64 channels and needs the model width to be a
    multiple above that, so this one is 128 wide (real SAM 2: 256)."""
    from transformers import Sam2VideoConfig, Sam2VideoModel

    width = 128
    vision = tiny_sam2_vision(size, width)
    config = Sam2VideoConfig(
        vision_config=vision,
        prompt_encoder_config=dict(hidden_size=width, image_size=size, patch_size=16),
        mask_decoder_config=tiny_mask_decoder(width),
        image_size=size,
        num_maskmem=3,
        memory_attention_hidden_size=width,
        memory_attention_num_layers=1,
        memory_attention_feed_forward_hidden_size=32,
        memory_attention_rope_feat_sizes=[size // 16, size // 16],
        memory_encoder_hidden_size=width,
        memory_encoder_output_channels=64,  # memory attention reads 64 channels
        mask_downsampler_embed_dim=width,
        memory_fuser_num_layers=1,
        memory_fuser_embed_dim=width,
        memory_fuser_intermediate_dim=32,
    )
    processor = sam2_video_processor(size)
    Sam2VideoModel(config).save_pretrained(path)
    processor.save_pretrained(path)
    return path


@_seeded
def build_yolo_world(path: Path) -> Path:
    """YOLO-World v2 (n scale) from Ultralytics' YAML with random weights, saved as a
    checkpoint the way Ultralytics saves one; its text embeddings are 512-wide."""
    from distil.utils.ultralytics import import_ultralytics

    path.mkdir(parents=True, exist_ok=True)
    weights = path / "tiny-yolov8n-worldv2.pt"
    import_ultralytics().YOLO("yolov8n-worldv2.yaml").save(weights)
    return weights


@_seeded
def build_yoloe(path: Path) -> Path:
    """YOLOE-11 (n scale, segmentation, text prompts) from Ultralytics' YAML, saved like
    `build_yolo_world`."""
    from distil.utils.ultralytics import import_ultralytics

    path.mkdir(parents=True, exist_ok=True)
    weights = path / "tiny-yoloe-11n-seg.pt"
    import_ultralytics().YOLO("yoloe-11n-seg.yaml").save(weights)
    return weights


STUDENT_CLASSES = {0: "square", 1: "disc"}  # tests.synthetic's shapes


@_seeded
def build_rf_detr(path: Path, size: int = 64, segment: bool = False) -> Path:
    """A tiny random-weight RF-DETR (windowed DINOv2 backbone) saved as a checkpoint; with
    `segment`, its instance-segmentation model."""
    from transformers import (
        RfDetrConfig,
        RfDetrForInstanceSegmentation,
        RfDetrForObjectDetection,
    )

    backbone = {
        "model_type": "rf_detr_dinov2", "hidden_size": 32, "num_hidden_layers": 4,
        "num_attention_heads": 2, "patch_size": 16, "num_windows": 2, "image_size": size,
        "out_indices": [1, 2, 3, 4],
    }  # fmt: skip
    config = RfDetrConfig(
        backbone_config=backbone, d_model=32, decoder_layers=1, decoder_ffn_dim=64,
        decoder_self_attention_heads=2, decoder_cross_attention_heads=2, num_queries=12,
        group_detr=2, id2label=STUDENT_CLASSES,
        label2id={v: k for k, v in STUDENT_CLASSES.items()},
    )  # fmt: skip
    model = RfDetrForInstanceSegmentation if segment else RfDetrForObjectDetection
    model(config).save_pretrained(path)
    return path


@_seeded
def build_d_fine(path: Path) -> Path:
    """A tiny random-weight D-FINE (HGNetV2 backbone) saved as a checkpoint."""
    from transformers import DFineConfig, DFineForObjectDetection

    backbone = {
        "model_type": "hgnet_v2", "embedding_size": 8, "hidden_sizes": [16, 32, 64, 128],
        "depths": [1, 1, 1, 1], "stem_channels": [3, 8, 8],
        "stage_in_channels": [8, 16, 32, 64], "stage_mid_channels": [8, 16, 32, 64],
        "stage_out_channels": [16, 32, 64, 128], "stage_num_blocks": [1, 1, 1, 1],
        "stage_numb_of_layers": [1, 1, 1, 1], "out_indices": [2, 3, 4],
    }  # fmt: skip
    config = DFineConfig(
        backbone_config=backbone, encoder_in_channels=[32, 64, 128], encoder_hidden_dim=32,
        encoder_ffn_dim=64, encoder_attention_heads=2, d_model=32,
        decoder_in_channels=[32, 32, 32], decoder_ffn_dim=64, decoder_layers=2,
        decoder_attention_heads=2, num_queries=20, num_denoising=10, lqe_hidden_dim=8,
        id2label=STUDENT_CLASSES, label2id={v: k for k, v in STUDENT_CLASSES.items()},
    )  # fmt: skip
    DFineForObjectDetection(config).save_pretrained(path)
    return path
