"""Zero-1-to-3 through diffusers components: the original's conditioning and DDIM to the uint8 pixel, guidance,
seeds, batching, checkpoints, cache keys, lazy loading, channels_last and compile."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import SESSION_CACHE
from PIL import Image

from zerovlm.data.synthetic import SyntheticDataset
from zerovlm.generators.base import ViewRequest
from zerovlm.generators.tiny import ensure_tiny_zero123
from zerovlm.generators.zero123 import (
    MARKER,
    CCProjection,
    Zero123Generator,
    Zero123Pipeline,
    ddim_table,
    ddim_timesteps,
    ldm_alphas_cumprod,
    pose_embedding,
    preprocess,
    reference_scheduler,
)
from zerovlm.views import Pose, random_pose

STEPS = 3


@pytest.fixture(scope="module")
def tiny_dir():
    return ensure_tiny_zero123(SESSION_CACHE / "models" / "tiny_zero123")


@pytest.fixture(scope="module")
def generator(tiny_dir):
    return Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64)


@pytest.fixture(scope="module")
def samples():
    ds = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"], image_size=96)
    return [ds[0], ds[2]]


@pytest.mark.parametrize(("pose", "expected"), [
    ((0, -90, 0), [0.0, -1.0, 0.0, 0.0]),     # left
    ((0, 90, 0), [0.0, 1.0, 0.0, 0.0]),       # right
    ((-90, 0, 0), [-math.pi / 2, 0.0, 1.0, 0.0]),  # above
    ((30, 180, 0.5), [math.pi / 6, 0.0, -1.0, 0.5]),
])
def test_zero123_pose_embedding(pose, expected):
    assert pose_embedding(*pose) == pytest.approx(expected, abs=1e-12)


def test_random_pose_embedding_and_the_stable_zero123_variant():
    pose = random_pose(11)
    got = pose_embedding(pose.polar, pose.azimuth, pose.radius)
    assert got == pytest.approx([math.radians(pose.polar), math.sin(math.radians(pose.azimuth)),
                                 math.cos(math.radians(pose.azimuth)), 0.0])
    stable = pose_embedding(0, -90, 0.7, variant="stable_zero123", condition_polar=75.0)
    assert stable == pytest.approx([0.0, -1.0, 0.0, math.radians(75.0)], abs=1e-12)  # the input's polar, not radius


def test_cc_projection_round_trips_at_any_size(tmp_path):
    for size in [(772, 768), (36, 32), (9, 5)]:
        model = CCProjection(*size)
        model.save_pretrained(tmp_path / str(size[0]))
        loaded = CCProjection.from_pretrained(tmp_path / str(size[0]))
        assert (loaded.config.in_channel, loaded.config.out_channel) == size
        assert torch.equal(loaded.projection.weight, model.projection.weight)


def test_tiny_checkpoint_has_the_real_layout_and_reloads(tiny_dir):
    names = {p.name for p in tiny_dir.iterdir()}
    assert {"unet", "vae", "image_encoder", "feature_extractor", "cc_projection", "model_index.json"} <= names
    assert (tiny_dir / "unet" / "diffusion_pytorch_model.safetensors").is_file()
    pipe = Zero123Pipeline.from_pretrained(str(tiny_dir))
    assert pipe.unet.config.in_channels == 8 and pipe.unet.config.out_channels == 4
    assert pipe.cc_projection.config.in_channel == pipe.image_encoder.config.projection_dim + 4
    s = pipe.scheduler.config
    assert (s.beta_start, s.beta_end, s.beta_schedule) == (0.00085, 0.012, "scaled_linear")


# --- The original Zero-1-to-3 (cvlab-columbia/zero123: gradio_new.py, ldm's FrozenCLIPImageEmbedder and
# DDIMSampler), transcribed operation for operation; only the RNG is the project's (a generator per view, seeded
# with the request's seed: initial noise first, then one draw per step when eta > 0), and the models are the tiny
# checkpoint's diffusers modules.

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def _original_input(image: Image.Image) -> torch.Tensor:
    """gradio_new.py: (x / 255.0).astype(float32), transforms.ToTensor(), * 2 - 1."""
    x = (np.asarray(image) / 255.0).astype(np.float32)
    return torch.from_numpy(x.transpose((2, 0, 1))).contiguous()[None] * 2 - 1


def _original_clip_input(x: torch.Tensor, side: int, mean=CLIP_MEAN, std=CLIP_STD) -> torch.Tensor:
    """FrozenCLIPImageEmbedder.preprocess: kornia.geometry.resize(x, (224, 224), interpolation='bicubic',
    align_corners=True, antialias=False), (x + 1) / 2, kornia.enhance.normalize(x, mean, std)."""
    x = torch.nn.functional.interpolate(x, (side, side), mode="bicubic", align_corners=True)
    x = (x + 1.0) / 2.0
    mean, std = torch.Tensor(mean), torch.Tensor(std)
    shape = x.shape
    return ((x.view(shape[0], shape[1], -1) - mean[..., :, None]) / std[..., :, None]).view(shape)


def _ldm_make_schedule(steps: int, eta: float):
    """make_beta_schedule('linear'), register_schedule, make_ddim_timesteps('uniform'),
    make_ddim_sampling_parameters and DDIMSampler.make_schedule, with their numpy / torch mix."""
    betas = (torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2).numpy()
    alphacums = torch.tensor(np.cumprod(1.0 - betas, axis=0), dtype=torch.float32)  # DDPM's to_torch
    c = 1000 // steps
    ddim_timesteps = np.asarray(list(range(0, 1000, c))) + 1
    alphas = alphacums[ddim_timesteps]
    alphas_prev = np.asarray([alphacums[0]] + alphacums[ddim_timesteps[:-1]].tolist())
    sigmas = eta * np.sqrt((1 - alphas_prev) / (1 - alphas) * (1 - alphas / alphas_prev))
    return ddim_timesteps, alphas, alphas_prev, sigmas, np.sqrt(1.0 - alphas)


@torch.no_grad()
def _original_views(pipe, image: Image.Image, poses, seeds, steps: int, scale: float, eta: float,
                    t_start: int | None = None) -> np.ndarray:
    """sample_model + DDIMSampler.sample for one input image, one row per (pose, seed), as uint8 (N, H, W, 3).
    t_start=-1 is ddim_sampling's default (its last, noisiest timestep dropped); None keeps every timestep."""
    input_im = _original_input(image)
    c = pipe.image_encoder(_original_clip_input(input_im, pipe.image_encoder.config.image_size,
                                                pipe.feature_extractor.image_mean,
                                                pipe.feature_extractor.image_std)).image_embeds[:, None]
    n = len(poses)
    c = c.tile(n, 1, 1)
    T = torch.tensor([[math.radians(x), math.sin(math.radians(y)), math.cos(math.radians(y)), z] for x, y, z in poses])
    c = pipe.cc_projection(torch.cat([c, T[:, None, :]], dim=-1))
    c_concat = pipe.vae.encode(input_im).latent_dist.mode().repeat(n, 1, 1, 1)
    uc_concat, uc_crossattn = torch.zeros_like(c_concat), torch.zeros_like(c)

    generators = [torch.Generator().manual_seed(seed) for seed in seeds]

    def randn() -> torch.Tensor:
        return torch.stack([torch.randn(c_concat.shape[1:], generator=g) for g in generators])

    timesteps, alphas, alphas_prev, sigmas, sqrt_one_minus_alphas = _ldm_make_schedule(steps, eta)
    timesteps = timesteps[:t_start]
    img = randn()
    total_steps = timesteps.shape[0]
    for i, step in enumerate(np.flip(timesteps)):
        index = total_steps - i - 1
        t = torch.full((n,), int(step), dtype=torch.long)
        if scale == 1.0:
            e_t = pipe.unet(torch.cat([img, c_concat], 1), t, encoder_hidden_states=c).sample
        else:
            x_in = torch.cat([img] * 2)
            t_in = torch.cat([t] * 2)
            c_in = torch.cat([uc_crossattn, c])
            concat_in = torch.cat([uc_concat, c_concat])
            e_t_uncond, e_t = pipe.unet(torch.cat([x_in, concat_in], 1), t_in, encoder_hidden_states=c_in
                                        ).sample.chunk(2)
            e_t = e_t_uncond + scale * (e_t - e_t_uncond)
        a_t = torch.full((n, 1, 1, 1), alphas[index])
        a_prev = torch.full((n, 1, 1, 1), alphas_prev[index])
        sigma_t = torch.full((n, 1, 1, 1), sigmas[index])
        sqrt_one_minus_at = torch.full((n, 1, 1, 1), sqrt_one_minus_alphas[index])
        pred_x0 = (img - sqrt_one_minus_at * e_t) / a_t.sqrt()
        dir_xt = (1.0 - a_prev - sigma_t ** 2).sqrt() * e_t
        noise = sigma_t * randn() * 1.0 if eta > 0 else 0.0  # temperature 1; the project draws none at eta 0
        img = a_prev.sqrt() * pred_x0 + dir_xt + noise
    x = pipe.vae.decode(1.0 / pipe.vae.config.scaling_factor * img).sample  # decode_first_stage
    x = torch.clamp((x + 1.0) / 2.0, min=0.0, max=1.0)
    return (255.0 * x.permute(0, 2, 3, 1).numpy()).astype(np.uint8)  # the demo: 255.0 * x, truncated


REF_STEPS = 4  # divides 1000: ldm's make_ddim_timesteps gives exactly 4


@pytest.mark.parametrize(("guidance", "eta", "timesteps"), [
    (3.0, 1.0, "ldm"), (3.0, 0.0, "ldm"), (1.0, 1.0, "ldm"), (1.0, 0.0, "ldm"),
    (3.0, 1.0, "diffusers"), (1.0, 0.0, "diffusers"),
])
def test_the_generator_reproduces_the_original_sampler_to_the_pixel(tiny_dir, samples, guidance, eta, timesteps):
    """Zero123Generator.generate, from the sample to the uint8 views, equals the original's arithmetic."""
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=REF_STEPS, size=64, guidance=guidance,
                           eta=eta, timesteps=timesteps)
    poses, seeds = [Pose("left", 0, -90, 0), Pose("other", 30.0, 120.0, 0.3)], [5, 11]
    got = gen.generate([ViewRequest(samples[0], pose, seed) for pose, seed in zip(poses, seeds, strict=True)])
    expected = _original_views(gen.pipeline, gen.prepare(samples[0]), [(p.polar, p.azimuth, p.radius) for p in poses],
                               seeds, REF_STEPS, guidance, eta, t_start=-1 if timesteps == "ldm" else None)
    for view, want in zip(got, expected, strict=True):
        assert np.array_equal(np.asarray(view), want)


def test_clip_input_is_the_original_preprocessing_not_the_image_processor(generator, samples):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    side = pipe.image_encoder.config.image_size
    assert pipe.feature_extractor.image_mean == pytest.approx(CLIP_MEAN)  # the tiny checkpoint keeps CLIP's
    with torch.no_grad():
        got = pipe.clip_input(pipe.pixels([image], 64))
        expected = _original_clip_input(_original_input(image), side)
        assert torch.equal(got, expected)
        embeds, _ = pipe.encode([image], 64)
        assert torch.equal(embeds, pipe.image_encoder(expected).image_embeds[:, None])
    processor = pipe.feature_extractor(images=[image], return_tensors="pt").pixel_values  # what encode used before
    assert processor.shape == got.shape and (processor - got).abs().max() > 0.05


def test_ddim_timesteps_and_table_follow_ldm():
    assert ddim_timesteps(50, "diffusers").tolist() == list(range(1, 1000, 20))  # exactly `steps`, 1 ... 981
    assert ddim_timesteps(50).tolist() == list(range(1, 962, 20))  # ldm, the default: 961 ... 1, 49 steps
    assert len(ddim_timesteps(75, "diffusers")) == 75 and ddim_timesteps(75, "diffusers")[-1] == 963
    assert len(ddim_timesteps(75)) == 76 and ddim_timesteps(75)[-1] == 976  # 77 listed, one dropped
    alphas_cumprod = ldm_alphas_cumprod(reference_scheduler())
    for steps in [2, 4, 10, 50, 100]:
        for eta in [1.0, 0.0]:
            ts, alphas, alphas_prev, sigmas, sqrt_one_minus = _ldm_make_schedule(steps, eta)
            expected = [(int(t), *(torch.full((1,), v[k]).item() for v in (alphas, alphas_prev, sigmas,
                                                                               sqrt_one_minus)))
                        for k, t in enumerate(ts)][::-1]
            # the whole list (steps divides 1000: the diffusers list is ldm's before it drops its noisiest entry)
            assert ddim_table(alphas_cumprod, ddim_timesteps(steps, "diffusers"), eta) == expected


def test_guidance_one_is_a_conditional_only_pass(generator, samples):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    with torch.no_grad():
        embeds, latents_in = pipe.encode([image], 64)
        pose = torch.tensor([pose_embedding(0, -90, 0)])
        calls = []
        hook = pipe.unet.register_forward_hook(lambda m, args, kwargs_out: calls.append(args[0].shape[0]))
        try:
            pipe(embeds, latents_in, pose, [torch.Generator().manual_seed(1)], steps=STEPS, guidance=1.0)
            pipe(embeds, latents_in, pose, [torch.Generator().manual_seed(1)], steps=STEPS, guidance=1.5)
        finally:
            hook.remove()
    assert calls == [1] * STEPS + [2] * STEPS  # guided: the unconditional and conditional halves in one batch


def test_vae_latents_are_the_unscaled_mode(generator, samples):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    with torch.no_grad():
        _, latents = pipe.encode([image], 64)
        expected = pipe.vae.encode(_original_input(image)).latent_dist.mode()
    assert torch.equal(latents, expected)


def test_views_are_seeded_deterministic_and_batch_invariant(generator, samples):
    left, right = Pose("left", 0, -90, 0), Pose("right", 0, 90, 0)
    batch = [ViewRequest(samples[0], left, 1), ViewRequest(samples[0], right, 2), ViewRequest(samples[1], left, 3)]
    first = generator.generate(batch)
    assert [im.size for im in first] == [(64, 64)] * 3
    assert [im.tobytes() for im in generator.generate(batch)] == [im.tobytes() for im in first]
    alone = [generator.generate([r])[0] for r in batch]
    for a, b in zip(alone, first, strict=True):  # batching changes float summation order, nothing else
        assert np.abs(np.asarray(a, int) - np.asarray(b, int)).max() <= 1
    other_seed = generator.generate([ViewRequest(samples[0], left, 99)])[0]
    assert other_seed.tobytes() != first[0].tobytes()


def test_preprocess_pads_on_white_like_the_reference():
    wide = Image.new("RGB", (100, 50), (255, 0, 0))
    padded = np.asarray(preprocess(wide, 64, "pad"))
    assert padded.shape == (64, 64, 3)
    assert (padded[:15] == 255).all() and (padded[-15:] == 255).all()
    assert (padded[20:44] == (255, 0, 0)).all()
    assert np.asarray(preprocess(wide, 64, "resize")).tolist() == np.full((64, 64, 3), (255, 0, 0)).tolist()


def test_fingerprint_names_everything_that_sets_pixels(tiny_dir, generator):
    base = generator.fingerprint()
    assert base["checkpoint"]["weights"] and base["checkpoint"]["model"] == str(tiny_dir)
    for change in [{"steps": 4}, {"guidance": 2.0}, {"eta": 0.0}, {"timesteps": "diffusers"}, {"preprocess": "resize"},
                   {"size": 32}, {"variant": "stable_zero123"}]:
        other = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), **{"steps": STEPS, "size": 64, **change})
        assert other.fingerprint() != base, change


def test_the_cpu_key_names_no_noise_device_and_another_device_does(tiny_dir):
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64)
    cpu = gen.fingerprint()
    assert set(cpu) == {"generator", "variant", "checkpoint", "steps", "guidance", "eta", "timesteps", "size",
                        "sampler", "preprocess", "dtype", "condition_polar", "foreground"}  # what views were cached by
    assert cpu["sampler"] == "ldm_ddim_v2"
    gen.to("meta")  # any device other than the CPU draws another noise stream (CUDA on a GPU machine)
    assert gen.fingerprint() == cpu | {"noise": "meta"}


def test_nothing_is_loaded_until_views_are_generated(tiny_dir, samples, monkeypatch):
    loads = []
    load = Zero123Pipeline.from_pretrained
    monkeypatch.setattr(Zero123Pipeline, "from_pretrained",
                        classmethod(lambda cls, *args, **kwargs: loads.append(args) or load(*args, **kwargs)))
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64)
    assert gen.fingerprint()["checkpoint"]["weights"] and gen.condition_digest(samples[0]) and gen.prepare(samples[0])
    assert not gen.loaded and not loads and len(gen.components) == 0 and not list(gen.parameters())
    gen.to("cpu")  # what Lightning does before predicting
    request = ViewRequest(samples[0], Pose("left", 0, -90, 0), 1)
    assert gen.generate([request])[0].size == (64, 64)
    assert gen.loaded and len(loads) == 1
    assert set(gen.components) == {"unet", "vae", "image_encoder", "cc_projection"}
    assert gen.pipeline is gen.pipeline and len(loads) == 1  # loaded once
    moved = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64).to("meta")
    unet = moved.pipeline.unet  # loaded where .to() put the generator, in channels_last
    assert unet.device.type == "meta" and {p.device.type for p in moved.parameters()} == {"meta"}
    assert unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert moved.pipeline.vae.encoder.conv_in.weight.is_contiguous(memory_format=torch.channels_last)


def test_compile_compiles_the_unet_once_when_loaded_and_keeps_the_key(tiny_dir, samples, monkeypatch):
    compiled, calls = [], []

    def fake_compile(fn, *args, **kwargs):  # records what torch.compile is given; runs it uncompiled
        compiled.append((fn, args, kwargs))

        def run(*a, **k):
            calls.append(1)
            return fn(*a, **k)
        return run

    monkeypatch.setattr(torch, "compile", fake_compile)
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64, compile=True)
    plain = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64)
    assert gen.fingerprint() == plain.fingerprint()  # compile is not in the cache key
    assert not compiled and not gen.loaded
    request = ViewRequest(samples[0], Pose("left", 0, -90, 0), 1)
    view = gen.generate([request])[0]
    assert len(compiled) == 1 and compiled[0][1:] == ((), {})  # default mode
    assert compiled[0][0].__self__ is gen.pipeline.unet
    assert len(calls) == STEPS  # every denoising step ran the compiled UNet
    assert gen.pipeline is gen.pipeline and len(compiled) == 1  # once
    assert plain.pipeline and len(compiled) == 1  # compile=False compiles nothing
    assert view.tobytes() == plain.generate([request])[0].tobytes()


def test_a_hub_checkpoint_is_named_by_its_commit_before_loading_and_loaded_at_it(tiny_dir, tmp_path, monkeypatch):
    import huggingface_hub
    import huggingface_hub.constants

    snapshot = tmp_path / "hub" / "models--org--zero123" / "snapshots" / "c0ffee"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    downloads, loads = [], []

    def download(repo, filename, revision=None):  # the marker file only, as the hub would put it in the cache
        downloads.append((repo, filename, revision))
        (snapshot / filename).parent.mkdir(parents=True)
        (snapshot / filename).write_text("{}")
        (snapshot.parents[1] / "refs").mkdir()
        (snapshot.parents[1] / "refs" / "main").write_text("c0ffee")
        return str(snapshot / filename)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    load = Zero123Pipeline.from_pretrained
    monkeypatch.setattr(Zero123Pipeline, "from_pretrained", classmethod(
        lambda cls, path, revision=None, **kwargs: loads.append((path, revision)) or load(str(tiny_dir), **kwargs)))
    gen = Zero123Generator(name="zero123", model="org/zero123")
    assert gen.fingerprint()["checkpoint"] == {"model": "org/zero123", "revision": None, "weights": "c0ffee"}
    assert downloads == [("org/zero123", MARKER, None)] and not loads and not gen.loaded
    assert gen.pipeline.unet.config.in_channels == 8 and loads == [("org/zero123", "c0ffee")]  # what the key names
    again = Zero123Generator(name="zero123", model="org/zero123")  # in the cache now: nothing fetched
    assert again.checkpoint["weights"] == "c0ffee" and len(downloads) == 1


def test_bad_settings_fail_clearly(tiny_dir, tmp_path):
    with pytest.raises(OSError, match="could not load the Zero-1-to-3 checkpoint"):
        Zero123Generator(name="x", model=str(tmp_path / "missing"))  # neither a folder nor a hub id
    with pytest.raises(ValueError, match="generator.variant"):
        Zero123Generator(name="x", model=str(tiny_dir), variant="zero456")
    with pytest.raises(ValueError, match="generator.preprocess"):
        Zero123Generator(name="x", model=str(tiny_dir), preprocess="crop")
    with pytest.raises(ValueError, match="generator.timesteps"):
        Zero123Generator(name="x", model=str(tiny_dir), timesteps="karras")


def test_preprocess_with_a_foreground_mask_whitens_crops_and_centres_the_object():
    image = np.zeros((40, 80, 3), dtype=np.uint8)
    image[10:30, 20:40] = (0, 0, 255)
    mask = np.zeros((40, 80), dtype=bool)
    mask[10:30, 20:40] = True
    out = np.asarray(preprocess(Image.fromarray(image), 64, "pad", mask=mask, object_scale=0.5))
    blue = (out[..., 2] > 200) & (out[..., 0] < 60)
    rows, cols = np.nonzero(blue)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (16, 47, 16, 47)  # 32 px object, centred
    assert (out[~blue] >= 200).all()  # everything else is white (up to resampling at the edge)


@pytest.fixture(scope="module")
def tiny_segmenter(tmp_path_factory):
    """A tiny random Segformer (real architecture) saved and loaded like a real segmentation checkpoint."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation

    try:
        from transformers import SegformerImageProcessorPil as Processor
    except ImportError:
        from transformers import SegformerImageProcessor as Processor
    torch.manual_seed(0)
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[8, 16],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 1], mlp_ratios=[2, 2],
                             decoder_hidden_size=16, num_labels=2, id2label={0: "background", 1: "object"},
                             label2id={"background": 0, "object": 1})
    path = tmp_path_factory.mktemp("segformer")
    SegformerForSemanticSegmentation(config).save_pretrained(path)
    Processor(size={"height": 64, "width": 64}).save_pretrained(path)
    return path


def test_a_segmenter_removes_the_background_before_generation(tiny_dir, tiny_segmenter, samples):
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64,
                           segmenter=str(tiny_segmenter), background_labels=["background"])
    mask = gen.foreground.mask(samples[0].image)
    assert mask.shape == (96, 96) and mask.dtype == bool
    prepared = gen.prepare(samples[0])
    expected = preprocess(samples[0].image, 64, "pad", mask=mask, object_scale=0.8)
    assert prepared.tobytes() == expected.tobytes()
    assert gen.fingerprint()["foreground"]["segmenter"] == str(tiny_segmenter)
    everything = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=STEPS, size=64,
                                  segmenter=str(tiny_segmenter), background_labels=["background", "object"])
    everything.prepare(samples[0])  # every segment is background: the whole image is used, and counted
    assert everything.counts == {"empty_foreground": 1}


# --- generator.preprocess=reference: the original demo's input preparation.

def _add_margin(pil_img, color, size=256):
    """ldm.util.add_margin."""
    width, height = pil_img.size
    result = Image.new(pil_img.mode, (size, size), color)
    result.paste(pil_img, ((size - width) // 2, (size - height) // 2))
    return result


def _bounding_rect(foreground: np.ndarray) -> tuple[int, int, int, int]:
    """cv2.boundingRect of a uint8 mask: x, y, w, h of the tight box around its nonzero pixels."""
    rows, cols = np.nonzero(foreground)
    return int(cols.min()), int(rows.min()), int(cols.max() - cols.min() + 1), int(rows.max() - rows.min() + 1)


def _load_and_preprocess(foreground: np.ndarray, input_im: Image.Image) -> np.ndarray:
    """ldm.util.load_and_preprocess with the background remover's mask given (carvekit's alpha > 127 there)."""
    image = input_im.convert('RGB')
    image = np.array(image)
    image[~foreground] = [255., 255., 255.]
    x, y, w, h = _bounding_rect(foreground.astype(np.uint8))
    image = image[y:y + h, x:x + w, :]
    image = Image.fromarray(np.array(image))
    image.thumbnail([200, 200], Image.Resampling.LANCZOS)
    image = _add_margin(image, (255, 255, 255), size=256)
    return np.array(image)


def _scene(width: int, height: int, box: tuple[int, int, int, int]) -> tuple[Image.Image, np.ndarray]:
    """A textured non-square image and the mask of a blob-shaped object inside box (x0, y0, x1, y1)."""
    rng = np.random.default_rng(width * height)
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    yy, xx = np.mgrid[:height, :width]
    x0, y0, x1, y1 = box
    cx, cy, rx, ry = (x0 + x1 - 1) / 2, (y0 + y1 - 1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
    return Image.fromarray(image), mask


@pytest.mark.parametrize(("width", "height", "box"), [
    (420, 310, (40, 20, 390, 260)),  # object larger than 200: thumbnailed to 200 x 137 (LANCZOS)
    (300, 180, (100, 60, 161, 101)),  # a 61 x 41 object: never enlarged
])
def test_reference_preparation_is_the_original_load_and_preprocess(width, height, box):
    image, mask = _scene(width, height, box)
    expected = _load_and_preprocess(mask, image)
    got = np.asarray(preprocess(image, 256, "reference", mask=mask))
    assert np.array_equal(got, expected)
    x, y, w, h = _bounding_rect(mask)
    object_pixels = np.nonzero((got != 255).any(-1))
    size = (object_pixels[1].max() - object_pixels[1].min() + 1, object_pixels[0].max() - object_pixels[0].min() + 1)
    scale = min(1.0, 200 / max(w, h))
    assert abs(size[0] - w * scale) <= 1 and abs(size[1] - h * scale) <= 1  # the object's box, thumbnailed


def test_reference_preparation_scales_with_size_and_takes_the_whole_image_without_a_foreground():
    image, mask = _scene(420, 310, (40, 20, 390, 260))
    small = np.asarray(preprocess(image, 64, "reference", mask=mask))  # within 50 x 50 (200 / 256 of 64)
    x, y, w, h = _bounding_rect(mask)
    thumb = Image.fromarray(np.where(mask[..., None], np.asarray(image), 255).astype(np.uint8)[y:y + h, x:x + w])
    thumb.thumbnail((50, 50), Image.Resampling.LANCZOS)
    assert np.array_equal(small, np.asarray(_add_margin(thumb, (255, 255, 255), 64)))
    for empty in [None, np.zeros(mask.shape, dtype=bool)]:
        whole = image.copy()
        whole.thumbnail((200, 200), Image.Resampling.LANCZOS)
        assert np.array_equal(np.asarray(preprocess(image, 256, "reference", mask=empty)),
                              np.asarray(_add_margin(whole, (255, 255, 255), 256)))
    assert image.size == (420, 310)  # the sample's image is left as it was


def test_reference_preparation_end_to_end_with_a_segmenter(tiny_dir, tiny_segmenter, samples):
    with pytest.raises(ValueError, match="generator.segmenter"):
        Zero123Generator(name="x", model=str(tiny_dir), preprocess="reference")
    at_256 = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=2, preprocess="reference",
                              segmenter=str(tiny_segmenter))
    mask = at_256.foreground.mask(samples[0].image)
    assert mask.any() and not mask.all()
    assert np.array_equal(np.asarray(at_256.prepare(samples[0])), _load_and_preprocess(mask, samples[0].image))
    gen = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=2, size=64, preprocess="reference",
                           segmenter=str(tiny_segmenter))
    assert gen.prepare(samples[0]).tobytes() == preprocess(samples[0].image, 64, "reference", mask=mask).tobytes()
    view = gen.generate([ViewRequest(samples[0], Pose("left", 0, -90, 0), 3)])[0]
    assert view.size == (64, 64)
    padded = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=2, size=64,
                              segmenter=str(tiny_segmenter))
    assert padded.fingerprint() != gen.fingerprint()
    assert gen.fingerprint()["preprocess"] == "reference" and gen.fingerprint()["foreground"]["object_scale"] is None
    everything = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), steps=2, size=64, preprocess="reference",
                                  segmenter=str(tiny_segmenter), background_labels=["background", "object"])
    prepared = everything.prepare(samples[0])  # no foreground: the whole image, thumbnailed and centred, counted
    assert everything.counts == {"empty_foreground": 1}
    assert prepared.tobytes() == preprocess(samples[0].image, 64, "reference").tobytes()
