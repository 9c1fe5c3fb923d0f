"""A tiny randomly initialised Zero-1-to-3 of the real architecture (8-channel UNet, AutoencoderKL, CLIP vision
tower with projection, cc_projection), written once with save_pretrained and loaded with from_pretrained like a
real checkpoint. Its views are noise-like: it exercises the path, it does not make views worth looking at."""

from __future__ import annotations

import os
from pathlib import Path

from zerovlm.files import save_dir_atomic
from zerovlm.hf_classes import image_processor_class

SIZE = 64  # input and output pixels; the VAE halves them: 32 x 32 latents


def build_tiny_zero123(seed: int = 0):
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    from zerovlm.generators.zero123 import CCProjection, Zero123Pipeline, reference_scheduler

    CLIPImageProcessor = image_processor_class("CLIPImageProcessor")

    torch.manual_seed(seed)
    embed = 32
    unet = UNet2DConditionModel(
        sample_size=SIZE // 2, in_channels=8, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=embed, attention_head_dim=8, norm_num_groups=8,
    )
    vae = AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(16, 32), latent_channels=4,
                        layers_per_block=1, norm_num_groups=8, sample_size=SIZE)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, image_size=32,
        patch_size=8, projection_dim=embed))
    feature_extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return Zero123Pipeline(unet=unet.eval(), vae=vae.eval(), image_encoder=image_encoder.eval(),
                           feature_extractor=feature_extractor, cc_projection=CCProjection(embed + 4, embed).eval(),
                           scheduler=reference_scheduler())


def ensure_tiny_zero123(path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the tiny checkpoint to `path` unless it is there (atomically: a half-written one is never seen)."""
    return save_dir_atomic(path, lambda tmp: build_tiny_zero123(seed).save_pretrained(tmp), marker="model_index.json")
