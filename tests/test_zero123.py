"""Zero-1-to-3 through diffusers: exact conditioning, guidance, seeds, batching, checkpoints, cache keys."""

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
from zerovlm.generators.zero123 import CCProjection, Zero123Generator, Zero123Pipeline, pose_embedding, preprocess
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


def _reference_views(pipe, image: Image.Image, pose, seed: int, guidance: float, eta: float = 1.0) -> torch.Tensor:
    """Zero-1-to-3 sampling written out step by step from the components, as the reference does it."""
    embeds, latents_in = pipe.encode([image], 64)
    cond = pipe.cc_projection(torch.cat([embeds, torch.tensor([[pose_embedding(*pose)]])], dim=-1))
    g = torch.Generator().manual_seed(seed)
    pipe.scheduler.set_timesteps(STEPS)
    latents = torch.randn((1, 4, 32, 32), generator=g) * pipe.scheduler.init_noise_sigma
    for t in pipe.scheduler.timesteps:
        x = pipe.scheduler.scale_model_input(latents, t)
        eps_c = pipe.unet(torch.cat([x, latents_in], 1), t, encoder_hidden_states=cond).sample
        eps_u = pipe.unet(torch.cat([x, torch.zeros_like(latents_in)], 1), t,
                          encoder_hidden_states=torch.zeros_like(cond)).sample
        eps = eps_u + guidance * (eps_c - eps_u)
        noise = torch.randn((1, 4, 32, 32), generator=g)
        latents = pipe.scheduler.step(eps, t, latents, eta=eta, variance_noise=noise).prev_sample
    return ((pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample + 1) / 2).clamp(0, 1)


@pytest.mark.parametrize("guidance", [1.0, 3.0])
def test_sampling_matches_the_reference_conditioning(generator, samples, guidance):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    pose = (0.0, 90.0, 0.0)
    with torch.no_grad():
        expected = _reference_views(pipe, image, pose, seed=5, guidance=guidance)
        embeds, latents_in = pipe.encode([image], 64)
        got = pipe(embeds, latents_in, torch.tensor([pose_embedding(*pose)]), [torch.Generator().manual_seed(5)],
                   steps=STEPS, guidance=guidance)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_guidance_one_equals_a_conditional_only_pass(generator, samples):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    with torch.no_grad():
        embeds, latents_in = pipe.encode([image], 64)
        pose = torch.tensor([pose_embedding(0, -90, 0)])
        guided_by_one = pipe(embeds, latents_in, pose, [torch.Generator().manual_seed(1)], steps=STEPS, guidance=1.0)
        calls = []
        hook = pipe.unet.register_forward_hook(lambda m, args, kwargs_out: calls.append(args[0].shape[0]))
        try:
            pipe(embeds, latents_in, pose, [torch.Generator().manual_seed(1)], steps=STEPS, guidance=1.0)
        finally:
            hook.remove()
    assert calls == [1] * STEPS  # one conditional pass per step, no unconditional branch
    torch.testing.assert_close(guided_by_one, _reference_views(pipe, image, (0, -90, 0), 1, guidance=1.0),
                               atol=1e-5, rtol=0)


def test_vae_latents_are_the_unscaled_mode(generator, samples):
    pipe = generator.pipeline
    image = preprocess(samples[0].image, 64, "pad")
    with torch.no_grad():
        _, latents = pipe.encode([image], 64)
        pixels = torch.from_numpy(np.array(image)).permute(2, 0, 1)[None].float() / 127.5 - 1
        expected = pipe.vae.encode(pixels).latent_dist.mode()
    torch.testing.assert_close(latents, expected)


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
    for change in [{"steps": 4}, {"guidance": 2.0}, {"eta": 0.0}, {"preprocess": "resize"}, {"size": 32},
                   {"variant": "stable_zero123"}]:
        other = Zero123Generator(name="tiny_zero123", model=str(tiny_dir), **{"steps": STEPS, "size": 64, **change})
        assert other.fingerprint() != base, change


def test_bad_settings_fail_clearly(tiny_dir):
    with pytest.raises(ValueError, match="generator.variant"):
        Zero123Generator(name="x", model=str(tiny_dir), variant="zero456")
    with pytest.raises(ValueError, match="generator.preprocess"):
        Zero123Generator(name="x", model=str(tiny_dir), preprocess="crop")


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
