"""Zero-1-to-3 (and Stable Zero123) novel views, built from diffusers and transformers components.

The conditioning is the reference one: the input image's CLIP embedding (768) with the pose embedding (4)
appended goes through `cc_projection` (772 -> 768) into the UNet's cross-attention; the input image's VAE
latents (the distribution's mode, not scaled) are concatenated to the noisy latents (4 + 4 = 8 channels).
Classifier-free guidance uses zeros for the unconditional embedding and latents.

Pose embedding of a relative pose (polar, azimuth in degrees; radius):
    zero123:         [rad(polar), sin(rad(azimuth)), cos(rad(azimuth)), radius]
    stable_zero123:  [rad(polar), sin(rad(azimuth)), cos(rad(azimuth)), rad(condition_polar)]
where condition_polar is the input image's own polar angle (90 = seen from the horizon).

Checkpoints are diffusers-format folders (unet/, vae/, image_encoder/, feature_extractor/, cc_projection/), by
hub id (kxic/zero123-165000, kxic/zero123-xl, kxic/stable-zero123) or local path, loaded component by
component (safetensors when present). The scheduler is pinned to the reference DDIM (scaled_linear betas
0.00085 -> 0.012) rather than read from converted configs.

Every view has its own seed: its initial noise and DDIM's per-step noise come from a generator seeded with it,
so a view does not depend on which other views share its batch (up to float summation order: at most one level
of 255 on a few pixels, measured on CPU). The same seed on the same device gives the same pixels.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from PIL import Image
from transformers import CLIPVisionModelWithProjection

from zerovlm.files import checkpoint_digest
from zerovlm.generators.base import ViewGenerator
from zerovlm.generators.foreground import Foreground
from zerovlm.hf_classes import image_processor_class

VARIANTS = ("zero123", "stable_zero123")
PREPROCESS = ("pad", "resize")
COMPONENTS = ("unet", "vae", "image_encoder", "feature_extractor", "cc_projection")


class CCProjection(ModelMixin, ConfigMixin):
    """CLIP image embedding + pose embedding -> the UNet's cross-attention input (named as in the checkpoints)."""

    @register_to_config
    def __init__(self, in_channel: int = 772, out_channel: int = 768) -> None:
        super().__init__()
        self.projection = torch.nn.Linear(in_channel, out_channel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(x)


def reference_scheduler() -> DDIMScheduler:
    return DDIMScheduler(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                         clip_sample=False, set_alpha_to_one=False, steps_offset=1, prediction_type="epsilon")


def pose_embedding(polar: float, azimuth: float, radius: float, variant: str = "zero123",
                   condition_polar: float = 90.0) -> list[float]:
    az = math.radians(azimuth)
    last = radius if variant == "zero123" else math.radians(condition_polar)
    return [math.radians(polar), math.sin(az), math.cos(az), last]


def _feature_extractor(path, revision):
    CLIPImageProcessor = image_processor_class("CLIPImageProcessor")
    return CLIPImageProcessor.from_pretrained(path, subfolder="feature_extractor", revision=revision)


@dataclass
class Zero123Pipeline:
    """The components of a Zero-1-to-3 checkpoint and the sampling loop."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    image_encoder: CLIPVisionModelWithProjection
    feature_extractor: object
    cc_projection: CCProjection
    scheduler: DDIMScheduler

    @classmethod
    def from_pretrained(cls, path: str, revision: str | None = None, dtype: torch.dtype = torch.float32):
        try:
            return cls._load(path, revision, dtype)
        except OSError as error:
            raise OSError(
                f"could not load the Zero-1-to-3 checkpoint {path!r} ({error}). It must be a diffusers-format "
                f"folder with {', '.join(COMPONENTS)}; offline, download it where there is a network "
                f"(huggingface-cli download {path}) and set generator.model to the local folder."
            ) from None

    @classmethod
    def _load(cls, path: str, revision: str | None, dtype: torch.dtype):
        kw = {"revision": revision, "torch_dtype": dtype}
        return cls(
            unet=UNet2DConditionModel.from_pretrained(path, subfolder="unet", **kw).eval(),
            vae=AutoencoderKL.from_pretrained(path, subfolder="vae", **kw).eval(),
            image_encoder=CLIPVisionModelWithProjection.from_pretrained(
                path, subfolder="image_encoder", revision=revision, dtype=dtype).eval(),
            feature_extractor=_feature_extractor(path, revision),
            cc_projection=CCProjection.from_pretrained(path, subfolder="cc_projection", **kw).eval(),
            scheduler=reference_scheduler(),
        )

    def save_pretrained(self, path: str | Path) -> None:
        path = Path(path)
        for name in COMPONENTS:
            getattr(self, name).save_pretrained(path / name)
        self.scheduler.save_pretrained(path / "scheduler")
        index = {"_class_name": "Zero123Pipeline", "_diffusers_version": "zerovlm",
                 "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
                 "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
                 "feature_extractor": ["transformers", type(self.feature_extractor).__name__],
                 "cc_projection": ["zerovlm.generators.zero123", "CCProjection"],
                 "scheduler": ["diffusers", "DDIMScheduler"]}
        (path / "model_index.json").write_text(json.dumps(index, indent=2) + "\n")

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "image_encoder": self.image_encoder,
                "cc_projection": self.cc_projection}

    @torch.no_grad()
    def encode(self, images: list[Image.Image], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(CLIP image embeddings (N, 1, D), VAE latents' mode, unscaled (N, 4, h, w)) of square inputs."""
        device, dtype = self.unet.device, self.unet.dtype
        clip_in = self.feature_extractor(images=images, return_tensors="pt").pixel_values.to(device, dtype)
        embeds = self.image_encoder(clip_in).image_embeds[:, None, :]
        pixels = torch.from_numpy(np.stack([np.asarray(im.resize((size, size), Image.Resampling.BICUBIC))
                                            for im in images])).permute(0, 3, 1, 2)
        pixels = (pixels.to(device, dtype) / 127.5) - 1.0
        return embeds, self.vae.encode(pixels).latent_dist.mode()

    @torch.no_grad()
    def __call__(self, embeds: torch.Tensor, latents_in: torch.Tensor, poses: torch.Tensor,
                 generators: list[torch.Generator], steps: int = 50, guidance: float = 3.0,
                 eta: float = 1.0) -> torch.Tensor:
        """Novel views (N, 3, H, W) in [0, 1]: row i from embeds[i], latents_in[i], poses[i], generators[i]."""
        device, dtype = self.unet.device, self.unet.dtype
        cond = self.cc_projection(torch.cat([embeds, poses[:, None, :].to(device, dtype)], dim=-1))
        guided = guidance != 1.0
        if guided:
            cond = torch.cat([torch.zeros_like(cond), cond])
            latents_in = torch.cat([torch.zeros_like(latents_in), latents_in])
        shape = (poses.shape[0], *latents_in.shape[1:])

        def noise() -> torch.Tensor:
            return torch.stack([torch.randn(shape[1:], generator=g, dtype=torch.float32) for g in generators]
                               ).to(device, dtype)

        self.scheduler.set_timesteps(steps, device=device)
        latents = noise() * self.scheduler.init_noise_sigma
        for t in self.scheduler.timesteps:
            x = torch.cat([latents] * 2) if guided else latents
            x = torch.cat([self.scheduler.scale_model_input(x, t), latents_in], dim=1)
            eps = self.unet(x, t, encoder_hidden_states=cond).sample
            if guided:
                uncond, conditional = eps.chunk(2)
                eps = uncond + guidance * (conditional - uncond)
            latents = self.scheduler.step(eps, t, latents, eta=eta, variance_noise=noise() if eta > 0 else None
                                          ).prev_sample
        images = self.vae.decode(latents / self.vae.config.scaling_factor).sample
        return ((images.float() + 1) / 2).clamp(0, 1)


def preprocess(image: Image.Image, size: int, mode: str, mask: np.ndarray | None = None,
               object_scale: float = 0.8) -> Image.Image:
    """pad: the whole image centred on white, longer side = size; resize: squashed to size x size.

    With a foreground `mask` (H x W bool), as the reference demo prepares its input: the background turns white,
    the image is cropped to the object and the object's longer side becomes `object_scale` of the canvas."""
    image = image.convert("RGB")
    if mask is not None and mask.any():
        pixels = np.where(mask[..., None], np.asarray(image), 255).astype(np.uint8)
        rows, cols = np.nonzero(mask)
        image = Image.fromarray(pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
        target = max(1, round(size * object_scale))
        scale = target / max(image.size)
    elif mode == "resize":
        return image.resize((size, size), Image.Resampling.BICUBIC)
    else:
        scale = size / max(image.size)
    fitted = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                          Image.Resampling.BICUBIC)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(fitted, ((size - fitted.width) // 2, (size - fitted.height) // 2))
    return canvas


class Zero123Generator(torch.nn.Module, ViewGenerator):
    """Novel views from the input image (any photo) with a Zero-1-to-3 family checkpoint."""

    def __init__(self, name: str, model: str, revision: str | None = None, variant: str = "zero123",
                 condition_polar: float = 90.0, steps: int = 50, guidance: float = 3.0, eta: float = 1.0,
                 size: int = 256, preprocess: str = "pad", dtype: str = "float32", batch_size: int = 8,
                 segmenter: str | None = None, background_labels=("background",), object_scale: float = 0.8,
                 tiny_random: bool = False, seed: int = 0) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"generator.variant={variant!r}: choose one of {', '.join(VARIANTS)}")
        if preprocess not in PREPROCESS:
            raise ValueError(f"generator.preprocess={preprocess!r}: choose one of {', '.join(PREPROCESS)}")
        if tiny_random:
            from zerovlm.generators.tiny import ensure_tiny_zero123

            ensure_tiny_zero123(model, seed)
        self.name, self.variant, self.condition_polar = name, variant, condition_polar
        self.steps, self.guidance, self.eta, self.size = steps, guidance, eta, size
        self.preprocess_mode, self.batch_size, self.dtype_name = preprocess, batch_size, dtype
        self.pipeline = Zero123Pipeline.from_pretrained(model, revision=revision, dtype=getattr(torch, dtype))
        self.components = torch.nn.ModuleDict(self.pipeline.modules())  # so Lightning moves them to the device
        self.checkpoint = {"model": model, "revision": revision,
                           "weights": checkpoint_digest(model, revision, marker="unet/config.json")}
        self.foreground = Foreground(segmenter, background_labels) if segmenter else None
        self.object_scale = object_scale
        self.counts: Counter = Counter()  # reported in metrics.json

    def fingerprint(self) -> dict:
        return {"generator": "zero123", "variant": self.variant, "checkpoint": self.checkpoint,
                "steps": self.steps, "guidance": self.guidance, "eta": self.eta, "size": self.size,
                "preprocess": self.preprocess_mode, "dtype": self.dtype_name,
                "condition_polar": self.condition_polar if self.variant == "stable_zero123" else None,
                "foreground": self.foreground.fingerprint() | {"object_scale": self.object_scale}
                if self.foreground else None}

    def prepare(self, sample) -> Image.Image:
        """The square input the model sees (background removed first when a segmenter is configured)."""
        mask = None
        if self.foreground is not None:
            mask = self.foreground.mask(sample.image)
            if not mask.any():
                self.counts["empty_foreground"] += 1  # nothing found: the whole image is used
        return preprocess(sample.image, self.size, self.preprocess_mode, mask, self.object_scale)

    def pose_embedding(self, pose) -> list[float]:
        return pose_embedding(pose.polar, pose.azimuth, pose.radius, self.variant, self.condition_polar)

    def generate(self, requests: list) -> list[Image.Image]:
        """One view per (sample, pose, seed) request; inputs are encoded once per sample, `batch_size` views per
        denoising batch."""
        out: list[Image.Image] = []
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            samples = list({id(r.sample): r.sample for r in chunk}.values())
            embeds, latents = self.pipeline.encode([self.prepare(s) for s in samples], self.size)
            row = {id(s): i for i, s in enumerate(samples)}
            index = torch.tensor([row[id(r.sample)] for r in chunk], device=embeds.device)
            poses = torch.tensor([self.pose_embedding(r.pose) for r in chunk], dtype=torch.float32)
            generators = [torch.Generator().manual_seed(r.seed) for r in chunk]
            images = self.pipeline(embeds[index], latents[index], poses, generators, self.steps, self.guidance,
                                   self.eta)
            pixels = (images.permute(0, 2, 3, 1).cpu().numpy() * 255).round().astype(np.uint8)
            out += [Image.fromarray(p) for p in pixels]
        return out


__all__ = ["CCProjection", "Zero123Generator", "Zero123Pipeline", "pose_embedding", "preprocess",
           "reference_scheduler"]
