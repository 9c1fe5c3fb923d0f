"""Zero-1-to-3 (and Stable Zero123) novel views, built from diffusers and transformers components.

The conditioning and the sampler are the original's (cvlab-columbia/zero123: its demo, ldm's
FrozenCLIPImageEmbedder and DDIMSampler), operation for operation; tests/test_zero123.py checks the whole generator
path against a transcription of them, to the uint8 pixel on CPU.

- Input: the square image prepared by generator.preprocess (pad, resize, or reference: the original demo's
  load_and_preprocess with generator.segmenter's mask in carvekit's place; see `preprocess`), x (uint8), as
  x / 127.5 - 1 (the same floats as the original's x / 255 * 2 - 1 for every uint8 value), a contiguous
  N x 3 x size x size float32 tensor.
- CLIP: that [-1, 1] tensor resized to the image encoder's image_size (224 on the real checkpoints) with bicubic
  interpolation, align_corners=True and no antialiasing (kornia.geometry.resize in the original, which is
  torch.nn.functional.interpolate), mapped back with (x + 1) / 2, normalised with the checkpoint's
  feature_extractor image_mean / image_std (CLIP's), and encoded to the projected image embedding (image_embeds).
  The checkpoint's CLIPImageProcessor (PIL bicubic with antialiasing on uint8, shortest edge then centre crop) is
  not used: it gives other numbers.
- The CLIP embedding (768) with the pose embedding (4) appended goes through `cc_projection` (772 -> 768) into the
  UNet's cross-attention; the input's VAE latents (the distribution's mode, not scaled) are concatenated to the
  noisy latents (4 + 4 = 8 channels). Classifier-free guidance (any guidance other than 1) uses zeros for the
  unconditional embedding (after cc_projection) and latents: e = uncond + guidance * (cond - uncond).
- DDIM as ldm's DDIMSampler computes it: alphas_cumprod of the linear-in-sqrt beta schedule (0.00085 -> 0.012,
  1000 steps) in float64, stored as float32; per timestep a_t, a_prev (alphas_cumprod[0] after the last),
  sigma = eta * sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) (float64, then float32) and
  sqrt(1 - a_t) (float32), then pred_x0 = (x - sqrt(1 - a_t) e) / sqrt(a_t),
  x_prev = sqrt(a_prev) pred_x0 + sqrt(1 - a_prev - sigma^2) e + sigma noise. eta defaults to the original demo's
  1.0; generator.eta=0.0 is the diffusers community pipeline's default (deterministic DDIM). The latents and this
  arithmetic stay in float32 when the weights are float16 / bfloat16 (the demo's default is float32 throughout).
  Decoding: the VAE decodes (1 / scaling_factor) * latents; the view is clamp((x + 1) / 2, 0, 1), stored as the
  original demo stores it: uint8(255 v), truncated.
- Timesteps (generator.timesteps), with r = 1000 // steps:
    ldm (default): the original DDIMSampler.sample: make_ddim_timesteps 'uniform' gives range(0, 1000, r) + 1,
        and ddim_sampling (t_start=-1) drops its last, noisiest entry; sampling starts from pure noise at the
        next one.
    diffusers: `steps` timesteps 1, 1 + r, ..., 1 + (steps - 1) r: diffusers' DDIMScheduler ("leading",
        steps_offset 1), the community pipeline's schedule.
  At steps that divide 1000 the two lists differ only by that dropped step (50 steps: diffusers runs 981 ... 1,
  ldm 961 ... 1, 49 steps). At steps that do not divide 1000 ldm's list is longer: at 75, r = 13 and
  range(0, 1000, 13) has 77 entries (ldm runs 76 steps, up to t = 976), diffusers exactly 75 (up to t = 963).

Pose embedding of a relative pose (polar, azimuth in degrees; radius):
    zero123:         [rad(polar), sin(rad(azimuth)), cos(rad(azimuth)), radius]
    stable_zero123:  [rad(polar), sin(rad(azimuth)), cos(rad(azimuth)), rad(condition_polar)]
where condition_polar is the input image's own polar angle (90 = seen from the horizon).

Checkpoints are diffusers-format folders (unet/, vae/, image_encoder/, feature_extractor/, cc_projection/), by
hub id (kxic/zero123-165000, kxic/zero123-xl, kxic/stable-zero123) or local path, loaded component by
component (safetensors when present). The scheduler component is pinned to the reference DDIM (scaled_linear betas
0.00085 -> 0.012, 1000 steps) rather than read from converted configs; the sampler reads its betas from it.

Every view has its own seed: its initial noise and DDIM's per-step noise come from a torch.Generator seeded with
it on the UNet's device (one randn per view per draw, on that device), so a view does not depend on which other
views share its batch (up to float summation order: at most one level of 255 on a few pixels, measured on CPU). The
initial noise is drawn first, then one draw per step when eta > 0. The same seed on the same device gives the same
pixels. A CUDA generator's stream is not the CPU one, so off the CPU the cache key names the noise's device type
("noise": "cuda"); on the CPU the key is what it was before the noise moved to the UNet's device (same stream).

For speed: the UNet and the VAE hold their weights in torch.channels_last and take their inputs in it (the layout
GPU convolutions run fastest in). Like batching, it changes only float summation order: against the contiguous
layout at most one level of 255 on a few pixels (measured on CPU), and the pixel test runs the original's
arithmetic through the same modules. generator.compile=true compiles the UNet once when the checkpoint is loaded
(torch.compile, default mode). Neither enters the cache key. The checkpoint is loaded on the first `generate` (a
job whose views are all cached loads nothing); the cache key comes from the settings and the checkpoint's files.
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
PREPROCESS = ("pad", "resize", "reference")
REFERENCE_BOX, REFERENCE_CANVAS = 200, 256  # the original demo: thumbnail to 200 x 200, centred on 256 x 256
TIMESTEPS = ("ldm", "diffusers")
# Names the conditioning and sampling arithmetic in the cache key: views made before it (CLIPImageProcessor input,
# diffusers' DDIMScheduler arithmetic) are not served for it.
SAMPLER = "ldm_ddim_v2"  # v2: views stored truncated to uint8, as the demo
COMPONENTS = ("unet", "vae", "image_encoder", "feature_extractor", "cc_projection")
MARKER = "unet/config.json"  # the file whose snapshot names a hub checkpoint's commit


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


def ddim_timesteps(steps: int, mode: str = "ldm", train_steps: int = 1000) -> np.ndarray:
    """The DDIM timesteps, ascending (see the module docstring): ldm: the original DDIMSampler's,
    range(0, train_steps, train_steps // steps) + 1 without its last entry; diffusers: `steps` of them."""
    ratio = train_steps // steps
    if mode == "ldm":
        return np.asarray(list(range(0, train_steps, ratio)))[:-1] + 1
    return np.arange(steps) * ratio + 1


def ldm_alphas_cumprod(scheduler: DDIMScheduler) -> torch.Tensor:
    """alphas_cumprod as ldm computes it (make_beta_schedule 'linear' = diffusers' scaled_linear, float64 numpy
    cumprod, stored as float32); diffusers' own float32 cumprod differs in the last bits of almost every entry."""
    c = scheduler.config
    if c.beta_schedule != "scaled_linear":
        raise ValueError(f"the Zero-1-to-3 sampler needs scaled_linear betas, not {c.beta_schedule!r}")
    betas = torch.linspace(c.beta_start ** 0.5, c.beta_end ** 0.5, c.num_train_timesteps, dtype=torch.float64) ** 2
    return torch.tensor(np.cumprod(1.0 - betas.numpy(), axis=0), dtype=torch.float32)


DDIMStep = tuple[int, float, float, float, float]  # t, a_t, a_prev, sigma, sqrt(1 - a_t)


def ddim_table(alphas_cumprod: torch.Tensor, timesteps: np.ndarray, eta: float) -> list[DDIMStep]:
    """(t, a_t, a_prev, sigma, sqrt(1 - a_t)) per step, noisiest first, computed as ldm's make_ddim_sampling_parameters
    and DDIMSampler.make_schedule do, to the bit: a_t a float32 tensor there and a_prev a float64 array, so sigma is
    float64 with (1 - a_prev) / (1 - a_t) done by torch as (1 - a_prev) * float32 reciprocal of float32 (1 - a_t),
    and sqrt(1 - a_t) is float32; numpy's sqrt (correctly rounded; torch's CPU sqrt is not always). Each value is
    then used as a float32."""
    alphas = alphas_cumprod[timesteps].numpy()  # float32
    prev = np.asarray([alphas_cumprod[0].item()] + alphas_cumprod[timesteps[:-1]].tolist())  # float64
    reciprocal = (np.float32(1) / (np.float32(1) - alphas)).astype(np.float64)
    sigmas = eta * np.sqrt((1 - prev) * reciprocal * (1 - alphas / prev))
    sqrt_one_minus = np.sqrt(np.float32(1.0) - alphas)
    rows = zip(timesteps.tolist(), alphas.tolist(), prev.tolist(), sigmas.astype(np.float32).tolist(),
               sqrt_one_minus.tolist(), strict=True)
    return list(rows)[::-1]


def pose_embedding(polar: float, azimuth: float, radius: float, variant: str = "zero123",
                   condition_polar: float = 90.0) -> list[float]:
    az = math.radians(azimuth)
    last = radius if variant == "zero123" else math.radians(condition_polar)
    return [math.radians(polar), math.sin(az), math.cos(az), last]


def unloadable(path: str, error: Exception) -> str:
    return (f"could not load the Zero-1-to-3 checkpoint {path!r} ({error}). It must be a diffusers-format "
            f"folder with {', '.join(COMPONENTS)}; offline, download it where there is a network "
            f"(huggingface-cli download {path}) and set generator.model to the local folder.")


def resolve_checkpoint(model: str, revision: str | None = None) -> tuple[str, str | None]:
    """(what names the weights in cache keys, the revision to load them at), from files, loading nothing: a local
    folder's digest (loaded as it is); a hub id's commit (loaded at that commit, so the key names what is loaded),
    fetching only its small marker file when the checkpoint is not in the hub cache yet."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError

    try:  # neither a folder nor a hub id (a mistyped path): HFValidationError
        weights = checkpoint_digest(model, revision, marker=MARKER)
        if weights is None:
            hf_hub_download(model, MARKER, revision=revision)
            weights = checkpoint_digest(model, revision, marker=MARKER)
    except (OSError, EntryNotFoundError, HFValidationError) as error:
        raise OSError(unloadable(model, error)) from None
    if weights is None:
        raise OSError(unloadable(model, FileNotFoundError(f"{MARKER} is not in the hub cache")))
    return weights, revision if Path(model).is_dir() else weights


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
    def from_pretrained(cls, path: str, revision: str | None = None, dtype: torch.dtype = torch.float32,
                        compile: bool = False):
        """The checkpoint's components, evaluation mode, the UNet and the VAE in channels_last; compile: the UNet
        compiled (torch.compile, default mode; it compiles on its first call)."""
        try:
            pipeline = cls._load(path, revision, dtype).channels_last()
        except OSError as error:
            raise OSError(unloadable(path, error)) from None
        if compile:
            pipeline.unet.compile()
        return pipeline

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

    def channels_last(self) -> Zero123Pipeline:
        """The UNet's and the VAE's weights in torch.channels_last (the layout their convolutions run fastest in on
        GPUs; other float summation order, see the module docstring). Module.to(device) keeps the layout."""
        for module in (self.unet, self.vae):
            module.to(memory_format=torch.channels_last)
        return self

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"unet": self.unet, "vae": self.vae, "image_encoder": self.image_encoder,
                "cc_projection": self.cc_projection}

    def pixels(self, images: list[Image.Image], size: int) -> torch.Tensor:
        """The [-1, 1] input (N, 3, size, size), float32, contiguous, on the pipeline's device."""
        pixels = np.stack([np.asarray(im.convert("RGB").resize((size, size), Image.Resampling.BICUBIC))
                           for im in images])
        pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()  # NCHW, as the original's ToTensor
        return pixels.to(self.unet.device, torch.float32) / 127.5 - 1.0

    def clip_input(self, pixels: torch.Tensor) -> torch.Tensor:
        """The image encoder's input from the [-1, 1] pixels, as ldm's FrozenCLIPImageEmbedder.preprocess makes it:
        bicubic resize (align_corners=True, no antialiasing) to the encoder's image_size, (x + 1) / 2, then the
        feature extractor's mean / std. float32."""
        side = self.image_encoder.config.image_size
        x = torch.nn.functional.interpolate(pixels.float(), (side, side), mode="bicubic", align_corners=True)
        x = (x + 1.0) / 2.0
        mean = torch.tensor(self.feature_extractor.image_mean, dtype=torch.float32, device=x.device)[:, None, None]
        std = torch.tensor(self.feature_extractor.image_std, dtype=torch.float32, device=x.device)[:, None, None]
        return (x - mean) / std

    @torch.no_grad()
    def encode(self, images: list[Image.Image], size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(CLIP image embeddings (N, 1, D), VAE latents' mode, unscaled (N, 4, h, w)) of square inputs."""
        dtype = self.unet.dtype
        pixels = self.pixels(images, size)
        embeds = self.image_encoder(self.clip_input(pixels).to(dtype)).image_embeds[:, None, :]
        latents = self.vae.encode(pixels.to(dtype, memory_format=torch.channels_last)).latent_dist.mode()
        return embeds, latents

    @torch.no_grad()
    def __call__(self, embeds: torch.Tensor, latents_in: torch.Tensor, poses: torch.Tensor,
                 generators: list[torch.Generator], steps: int = 50, guidance: float = 3.0,
                 eta: float = 1.0, timesteps: str = "ldm") -> torch.Tensor:
        """Novel views (N, 3, H, W) in [0, 1]: row i from embeds[i], latents_in[i], poses[i], generators[i] (its
        noise drawn on the generator's device, then moved to the UNet's: give generators on the UNet's device)."""
        device, dtype = self.unet.device, self.unet.dtype
        cond = self.cc_projection(torch.cat([embeds, poses[:, None, :].to(device, dtype)], dim=-1))
        guided = guidance != 1.0
        if guided:
            cond = torch.cat([torch.zeros_like(cond), cond])
            latents_in = torch.cat([torch.zeros_like(latents_in), latents_in])
        shape = (poses.shape[0], *latents_in.shape[1:])

        def noise() -> torch.Tensor:
            return torch.stack([torch.randn(shape[1:], generator=g, dtype=torch.float32, device=g.device)
                                for g in generators]).to(device)

        def scalar(value: float) -> torch.Tensor:
            return torch.tensor(value, dtype=torch.float32, device=device)

        alphas_cumprod = ldm_alphas_cumprod(self.scheduler)
        table = ddim_table(alphas_cumprod, ddim_timesteps(steps, timesteps, len(alphas_cumprod)), eta)
        latents = noise()  # float32 whatever the weights' dtype
        for t, a_t, a_prev, sigma_t, sqrt_one_minus_at in table:
            x = torch.cat([latents] * 2) if guided else latents
            x = torch.cat([x.to(dtype), latents_in], dim=1).contiguous(memory_format=torch.channels_last)
            e_t = self.unet(x, torch.tensor(t, device=device), encoder_hidden_states=cond).sample.float()
            if guided:
                e_t_uncond, e_t = e_t.chunk(2)
                e_t = e_t_uncond + guidance * (e_t - e_t_uncond)
            a_t, a_prev, sigma_t, sqrt_one_minus_at = map(scalar, (a_t, a_prev, sigma_t, sqrt_one_minus_at))
            pred_x0 = (latents - sqrt_one_minus_at * e_t) / a_t.sqrt()
            dir_xt = (1.0 - a_prev - sigma_t ** 2).sqrt() * e_t
            latents = a_prev.sqrt() * pred_x0 + dir_xt
            if eta > 0:
                latents = latents + sigma_t * noise()
        latents = (1.0 / self.vae.config.scaling_factor * latents).to(dtype, memory_format=torch.channels_last)
        images = self.vae.decode(latents).sample
        return ((images.float() + 1.0) / 2.0).clamp(0, 1)


def reference_input(image: Image.Image, size: int, mask: np.ndarray | None) -> Image.Image:
    """The original demo's input (ldm.util.load_and_preprocess, then add_margin), at any `size`.

    The background (where `mask`, H x W bool, is False) turns white; the image is cropped to the mask's tight
    bounding box (cv2.boundingRect); PIL's own Image.thumbnail with LANCZOS (aspect kept, never enlarged, its
    default reducing_gap) brings it within a square of round(size * 200 / 256) (200 at the original's 256); it is
    pasted at ((size - w) // 2, (size - h) // 2) on a white size x size canvas. Without a foreground (no mask, or an
    empty one, where the original would fail) the whole image is thumbnailed and centred the same way."""
    image = image.convert("RGB")
    if mask is not None and mask.any():
        pixels = np.array(image)
        pixels[~mask] = 255
        rows, cols = np.nonzero(mask)
        image = Image.fromarray(pixels[rows.min():rows.max() + 1, cols.min():cols.max() + 1])
    box = round(size * REFERENCE_BOX / REFERENCE_CANVAS)
    image.thumbnail((box, box), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (size, size), (255, 255, 255))
    canvas.paste(image, ((size - image.width) // 2, (size - image.height) // 2))
    return canvas


def preprocess(image: Image.Image, size: int, mode: str, mask: np.ndarray | None = None,
               object_scale: float = 0.8) -> Image.Image:
    """The square input the model sees.

    pad: the whole image centred on white, longer side = size (bicubic); resize: squashed to size x size (bicubic);
    reference: the original demo's preparation (`reference_input`; needs the foreground mask).
    pad and resize with a foreground `mask` (H x W bool): the background turns white, the image is cropped to the
    object and the object's longer side becomes `object_scale` of the canvas (bicubic, enlarging small objects)."""
    if mode == "reference":
        return reference_input(image, size, mask)
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
    """Novel views from the input image (any photo) with a Zero-1-to-3 family checkpoint.

    Nothing is loaded for nothing: the cache key (`fingerprint`, `condition_digest`) comes from the settings and the
    checkpoint's files, and the weights are loaded on the first `generate` (or the first use of `pipeline`), on the
    generator's device: where `.to()` (Lightning, before predicting) put it, as a non-persistent empty buffer
    records. Once loaded, the components are submodules (`components`), so a later `.to()` moves them too.
    compile=True compiles the UNet when it is loaded; it does not change the cache key."""

    def __init__(self, name: str, model: str, revision: str | None = None, variant: str = "zero123",
                 condition_polar: float = 90.0, steps: int = 50, guidance: float = 3.0, eta: float = 1.0,
                 timesteps: str = "ldm", size: int = 256, preprocess: str = "pad", dtype: str = "float32",
                 batch_size: int = 8, compile: bool = False,
                 segmenter: str | None = None, background_labels=("background",), object_scale: float = 0.8,
                 tiny_random: bool = False, seed: int = 0) -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"generator.variant={variant!r}: choose one of {', '.join(VARIANTS)}")
        if preprocess not in PREPROCESS:
            raise ValueError(f"generator.preprocess={preprocess!r}: choose one of {', '.join(PREPROCESS)}")
        if preprocess == "reference" and not segmenter:
            raise ValueError("generator.preprocess=reference prepares the input as the original demo does, from the "
                             "object's mask: set generator.segmenter to a transformers image-segmentation model "
                             "(its background_labels name the segments that are not the object)")
        if timesteps not in TIMESTEPS:
            raise ValueError(f"generator.timesteps={timesteps!r}: choose one of {', '.join(TIMESTEPS)}")
        if tiny_random:
            from zerovlm.generators.tiny import ensure_tiny_zero123

            ensure_tiny_zero123(model, seed)
        self.name, self.variant, self.condition_polar = name, variant, condition_polar
        self.steps, self.guidance, self.eta, self.size = steps, guidance, eta, size
        self.timesteps = timesteps
        self.preprocess_mode, self.batch_size, self.dtype_name = preprocess, batch_size, dtype
        self.compile_unet = compile  # not self.compile: that is nn.Module's method
        weights, self.load_revision = resolve_checkpoint(model, revision)
        self.checkpoint = {"model": model, "revision": revision, "weights": weights}
        self._pipeline: Zero123Pipeline | None = None
        self.components = torch.nn.ModuleDict()  # filled on loading, so a later .to() moves them
        self.register_buffer("_device_anchor", torch.empty(0), persistent=False)  # .to() moves it: the device
        self.foreground = Foreground(segmenter, background_labels) if segmenter else None
        self.object_scale = object_scale
        self.counts: Counter = Counter()  # reported in metrics.json

    @property
    def device(self) -> torch.device:
        """Where the components are (or will be, once loaded) and the noise is drawn."""
        return self._device_anchor.device

    @property
    def loaded(self) -> bool:
        return self._pipeline is not None

    @property
    def pipeline(self) -> Zero123Pipeline:
        """The checkpoint's components and sampler, loaded on first use onto the generator's device."""
        if self._pipeline is None:
            pipeline = Zero123Pipeline.from_pretrained(self.checkpoint["model"], revision=self.load_revision,
                                                       dtype=getattr(torch, self.dtype_name),
                                                       compile=self.compile_unet)
            self.components.update(pipeline.modules())
            self.components.to(self.device)  # keeps channels_last
            self._pipeline = pipeline
        return self._pipeline

    def fingerprint(self) -> dict:
        """Every setting that sets the pixels (not compile); "noise" names the device type the noise is drawn on
        when it is not the CPU (another stream), so CPU keys stay what they were."""
        foreground = None
        if self.foreground is not None:  # object_scale sets pixels only in pad and resize
            scale = None if self.preprocess_mode == "reference" else self.object_scale
            foreground = self.foreground.fingerprint() | {"object_scale": scale}
        noise = {} if self.device.type == "cpu" else {"noise": self.device.type}
        return {"generator": "zero123", "variant": self.variant, "checkpoint": self.checkpoint,
                "steps": self.steps, "guidance": self.guidance, "eta": self.eta, "timesteps": self.timesteps,
                "size": self.size, "sampler": SAMPLER, "preprocess": self.preprocess_mode, "dtype": self.dtype_name,
                "condition_polar": self.condition_polar if self.variant == "stable_zero123" else None,
                "foreground": foreground} | noise

    def prepare(self, sample) -> Image.Image:
        """The square input the model sees (background removed first when a segmenter is configured)."""
        mask = None
        if self.foreground is not None:
            mask = self.foreground.mask(sample.image)
            if not mask.any():
                self.counts["empty_foreground"] += 1  # nothing found: the whole image is used (every mode)
        return preprocess(sample.image, self.size, self.preprocess_mode, mask, self.object_scale)

    def pose_embedding(self, pose) -> list[float]:
        return pose_embedding(pose.polar, pose.azimuth, pose.radius, self.variant, self.condition_polar)

    def generate(self, requests: list) -> list[Image.Image]:
        """One view per (sample, pose, seed) request; inputs are encoded once per sample, `batch_size` views per
        denoising batch. Loads the checkpoint on the first call."""
        out: list[Image.Image] = []
        device = self.pipeline.unet.device
        for start in range(0, len(requests), self.batch_size):
            chunk = requests[start:start + self.batch_size]
            samples = list({id(r.sample): r.sample for r in chunk}.values())
            embeds, latents = self.pipeline.encode([self.prepare(s) for s in samples], self.size)
            row = {id(s): i for i, s in enumerate(samples)}
            index = torch.tensor([row[id(r.sample)] for r in chunk], device=embeds.device)
            poses = torch.tensor([self.pose_embedding(r.pose) for r in chunk], dtype=torch.float32)
            generators = [torch.Generator(device=device).manual_seed(r.seed) for r in chunk]
            images = self.pipeline(embeds[index], latents[index], poses, generators, self.steps, self.guidance,
                                   self.eta, self.timesteps)
            pixels = (images.permute(0, 2, 3, 1).cpu().numpy() * 255.0).astype(np.uint8)  # truncated, as the demo
            out += [Image.fromarray(p) for p in pixels]
        return out


__all__ = ["CCProjection", "Zero123Generator", "Zero123Pipeline", "ddim_table", "ddim_timesteps", "ldm_alphas_cumprod",
           "pose_embedding", "preprocess", "reference_input", "reference_scheduler"]
