"""Tiny randomly initialised Depth Anything (DINOv2 backbone + DPT head) and OWLv2 detector, saved and loaded
like checkpoints: the model path of the 3D prior, offline. Their depths and boxes are random."""

from __future__ import annotations

import os
from pathlib import Path

from zerovlm.files import ensure_pretrained
from zerovlm.hf_classes import image_processor_class


def build_tiny_depth_anything(seed: int = 0):
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    DPTImageProcessor = image_processor_class("DPTImageProcessor")

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            image_size=56, patch_size=14, out_indices=[1, 2, 3, 4], reshape_hidden_states=False,
                            initializer_range=0.2)
    config = DepthAnythingConfig(backbone_config=backbone.to_dict(), neck_hidden_sizes=[8, 16, 32, 32],
                                 fusion_hidden_size=16, head_hidden_size=8, reassemble_hidden_size=32,
                                 depth_estimation_type="relative", initializer_range=0.2)
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(config).eval()
    processor = DPTImageProcessor(size={"height": 56, "width": 56}, keep_aspect_ratio=False, ensure_multiple_of=14)
    return model, processor


def ensure_tiny_depth_anything(path: str | os.PathLike, seed: int = 0) -> Path:
    return ensure_pretrained(path, lambda: build_tiny_depth_anything(seed))


def build_tiny_owlv2(seed: int = 0):
    import torch
    from transformers import Owlv2Config, Owlv2ForObjectDetection, Owlv2Processor, Owlv2TextConfig, Owlv2VisionConfig

    Owlv2ImageProcessor = image_processor_class("Owlv2ImageProcessor")

    from zerovlm.backbones.tiny import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(wrap_in_bos_eos=True, padding_side="right")
    text = Owlv2TextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=2, max_position_embeddings=16, pad_token_id=tokenizer.pad_token_id,
                           bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    vision = Owlv2VisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                               image_size=64, patch_size=16)
    torch.manual_seed(seed)
    model = Owlv2ForObjectDetection(Owlv2Config(text_config=text.to_dict(), vision_config=vision.to_dict(),
                                                projection_dim=32)).eval()
    processor = Owlv2Processor(image_processor=Owlv2ImageProcessor(size={"height": 64, "width": 64}),
                               tokenizer=tokenizer)
    return model, processor


def ensure_tiny_owlv2(path: str | os.PathLike, seed: int = 0) -> Path:
    return ensure_pretrained(path, lambda: build_tiny_owlv2(seed))


def build_tiny_sam(seed: int = 0):
    import torch
    from transformers import (
        SamConfig,
        SamMaskDecoderConfig,
        SamModel,
        SamProcessor,
        SamPromptEncoderConfig,
        SamVisionConfig,
    )

    SamImageProcessor = image_processor_class("SamImageProcessor")

    vision = SamVisionConfig(hidden_size=32, output_channels=16, num_hidden_layers=2, num_attention_heads=2,
                             image_size=64, patch_size=16, mlp_dim=64, global_attn_indexes=[1], window_size=2,
                             num_pos_feats=8)
    prompt = SamPromptEncoderConfig(hidden_size=16, image_size=64, patch_size=16, mask_input_channels=4)
    decoder = SamMaskDecoderConfig(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, mlp_dim=32,
                                   iou_head_hidden_dim=16)
    torch.manual_seed(seed)
    model = SamModel(SamConfig(vision_config=vision.to_dict(), prompt_encoder_config=prompt.to_dict(),
                               mask_decoder_config=decoder.to_dict())).eval()
    processor = SamProcessor(image_processor=SamImageProcessor(
        size={"longest_edge": 64}, pad_size={"height": 64, "width": 64}, mask_size={"longest_edge": 16},
        mask_pad_size={"height": 16, "width": 16}))
    return model, processor


def ensure_tiny_sam(path: str | os.PathLike, seed: int = 0) -> Path:
    return ensure_pretrained(path, lambda: build_tiny_sam(seed))
