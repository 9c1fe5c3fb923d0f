"""A tiny randomly initialised Depth Anything (DINOv2 backbone + DPT head), saved and loaded like a checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

from zerovlm.files import save_dir_atomic


def build_tiny_depth_anything(seed: int = 0):
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config

    try:
        from transformers import DPTImageProcessorPil as DPTImageProcessor
    except ImportError:
        from transformers import DPTImageProcessor

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
    def save(tmp: Path) -> None:
        model, processor = build_tiny_depth_anything(seed)
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)

    return save_dir_atomic(path, save, marker="config.json")
