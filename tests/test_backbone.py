"""The Hugging Face adapter on a tiny random LLaVA saved with save_pretrained and loaded with from_pretrained."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from zerovlm.backbones.answers import parse_answer
from zerovlm.backbones.hf import HFVisionLanguageModel
from zerovlm.backbones.tiny import NEEDS_TORCHVISION, build_tiny_llava
from zerovlm.data.synthetic import SyntheticDataset

PROMPTS = ["Is it true? Answer yes or no.", "Is the red cube to the left of the blue sphere? Answer yes or no.",
           "This is the original image. Is the following statement about the image true? "
           '"The green cylinder is behind the purple cube." Answer yes or no.', "yes or no?"]


@pytest.fixture(scope="module")
def images():
    ds = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"])
    return [ds[i].image for i in range(4)]


def test_tiny_checkpoint_is_a_real_checkpoint(tiny_llava_dir, tiny_llava):
    names = {p.name for p in tiny_llava_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "processor_config.json"} <= names
    assert type(tiny_llava.model).__name__ == "LlavaForConditionalGeneration"
    fresh, _ = build_tiny_llava(seed=0)  # the same seed gives the same weights the file holds
    loaded = tiny_llava.model.state_dict()
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, loaded[name]), name


def test_model_input_is_the_processors_chat_template(tiny_llava):
    assert tiny_llava.chat_text("Is it true?") == "USER: <image>\nIs it true? ASSISTANT:"


def test_likelihood_is_the_next_token_probability(tiny_llava, images):
    out = tiny_llava.score(images[:1], PROMPTS[:1])[0]
    inputs = tiny_llava.processor(images=images[:1], text=[tiny_llava.chat_text(PROMPTS[0])], return_tensors="pt")
    with torch.no_grad():
        probs = tiny_llava.model(**inputs).logits[0, -1].softmax(-1)
    tok = tiny_llava.tokenizer
    yes = sum(probs[tok.encode(w, add_special_tokens=False)[0]] for w in ["yes", "Yes", " yes", " Yes"])
    no = sum(probs[tok.encode(w, add_special_tokens=False)[0]] for w in ["no", "No", " no", " No"])
    assert out["p_yes"] == pytest.approx(float(yes / (yes + no)), abs=1e-6)
    assert out["prediction"] == (out["p_yes"] > 0.5)
    assert out["raw"] is None and out["model_input"].endswith("ASSISTANT:")


def test_likelihood_does_not_depend_on_the_batch(tiny_llava, images):
    batched = tiny_llava.score(images, PROMPTS)
    alone = [tiny_llava.score([im], [p])[0] for im, p in zip(images, PROMPTS, strict=True)]
    for b, a in zip(batched, alone, strict=True):
        assert b["p_yes"] == pytest.approx(a["p_yes"], abs=1e-5)
        assert b["prediction"] == a["prediction"]


def test_generate_mode_parses_greedy_text(tiny_llava_dir, images):
    gen = HFVisionLanguageModel(name="tiny", model=str(tiny_llava_dir), scoring="generate", max_new_tokens=6)
    batched = gen.score(images, PROMPTS)
    alone = [gen.score([im], [p])[0] for im, p in zip(images, PROMPTS, strict=True)]
    for b, a in zip(batched, alone, strict=True):
        assert isinstance(b["raw"], str) and b["p_yes"] is None
        assert b["prediction"] is parse_answer(b["raw"])
        assert b["raw"] == a["raw"]  # greedy decoding with left padding: the batch changes nothing


def test_bad_settings_fail_clearly(tiny_llava_dir):
    with pytest.raises(ValueError, match="backbone.scoring"):
        HFVisionLanguageModel(name="t", model=str(tiny_llava_dir), scoring="vote")
    with pytest.raises(ValueError, match="none of backbone.yes_words"):
        HFVisionLanguageModel(name="t", model=str(tiny_llava_dir), yes_words=["affirmative, captain"])
    with pytest.raises(ValueError, match="share tokens"):
        HFVisionLanguageModel(name="t", model=str(tiny_llava_dir), yes_words=["yes"], no_words=["yes", "no"])


def test_any_image_size_is_accepted(tiny_llava):
    out = tiny_llava.score([Image.new("RGB", (520, 264), (255, 255, 255))], ["Is it? Answer yes or no."])
    assert 0.0 <= out[0]["p_yes"] <= 1.0


def test_caption_choice_scores_each_caption_by_its_mean_log_probability(tiny_llava, images):
    options = [["A red cube on a table", "A red cube under a table", "A cube", "A red cube to the left of a table"],
               ["yes", "no", "A sphere behind a cube", "A sphere in front of a cube"]]
    prompts = ["Describe the image in one short sentence."] * 2
    out = tiny_llava.choose(images[:2], prompts, options)
    tok = tiny_llava.tokenizer
    for image, prompt, opts, result in zip(images, prompts, options, out, strict=False):
        prefix = tiny_llava.chat_text(prompt)
        assert result["model_input"] == prefix
        for option, score in zip(opts, result["scores"], strict=True):
            inputs = tiny_llava.processor(images=[image], text=[f"{prefix} {option}"], return_tensors="pt")
            n = len(tok.encode(f"{prefix} {option}", add_special_tokens=False)) - len(tok.encode(prefix,
                                                                                          add_special_tokens=False))
            with torch.no_grad():
                logp = tiny_llava.model(**inputs).logits[0, :-1].log_softmax(-1)
            targets = inputs["input_ids"][0, 1:]
            expected = logp[-n:].gather(-1, targets[-n:, None]).mean().item()
            assert score == pytest.approx(expected, abs=1e-4)
        assert result["prediction"] == max(range(4), key=lambda k: result["scores"][k])


def test_caption_choice_never_breaks_a_tie_towards_the_first_option(tiny_llava, images):
    out = tiny_llava.choose(images[:1], ["Describe the image."], [["A cube", "A cube", "A sphere", "A cone"]])[0]
    assert out["scores"][0] == out["scores"][1]
    if max(out["scores"]) == out["scores"][0]:
        assert out["prediction"] is None  # a tie at the top is no answer, counted as such
    else:
        assert out["prediction"] in (2, 3)


def test_several_images_per_prompt_need_a_multi_image_backbone(tiny_llava_dir, tiny_llava, images):
    with pytest.raises(ValueError, match="layout=separate"):
        tiny_llava.score([images[:2]], ["Is it? Answer yes or no."])
    multi = HFVisionLanguageModel(name="t", model=str(tiny_llava_dir), multi_image=True)
    assert multi.chat_text("Q", num_images=2) == "USER: <image>\n<image>\nQ ASSISTANT:"
    out = multi.score([images[:2], images[2:4]], ["Is it? Answer yes or no.", "And this? Answer yes or no."])
    assert all(0 <= o["p_yes"] <= 1 for o in out)


def test_processors_without_a_chat_template_need_a_prompt_format(tiny_llava_dir, tmp_path, images):
    import shutil

    plain = tmp_path / "no_template"
    shutil.copytree(tiny_llava_dir, plain)
    (plain / "chat_template.jinja").unlink()
    with pytest.raises(ValueError, match="backbone.prompt_format"):
        HFVisionLanguageModel(name="t", model=str(plain))
    formatted = HFVisionLanguageModel(name="t", model=str(plain), prompt_format="<image>\nQuestion: {prompt} Answer:")
    assert formatted.chat_text("Is it?") == "<image>\nQuestion: Is it? Answer:"
    assert 0 <= formatted.score(images[:1], ["Is it?"])[0]["p_yes"] <= 1


def test_out_of_memory_halves_the_batch_and_keeps_every_sample_in_order(tiny_llava, images, monkeypatch, caplog):
    real = tiny_llava.answer
    sizes = []

    def flaky(prepared):
        sizes.append(len(prepared.texts))
        if len(prepared.texts) > 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(prepared)

    expected = [tiny_llava.score([im], [p])[0]["p_yes"] for im, p in zip(images, PROMPTS, strict=True)]
    monkeypatch.setattr(tiny_llava, "answer", flaky)
    out = tiny_llava.score(images, PROMPTS)
    assert [o["p_yes"] for o in out] == pytest.approx(expected, abs=1e-6)
    assert sizes == [4, 2, 1, 1, 2, 1, 1]
    assert "CUDA out of memory on a batch of 4; retrying as 2 + 2" in caplog.text
    # a batch prepared in a loader worker: made again in halves
    sizes.clear()
    out = tiny_llava.answer_prepared(tiny_llava.inputs.prepare(images, PROMPTS), images, PROMPTS)
    assert [o["p_yes"] for o in out] == pytest.approx(expected, abs=1e-6)
    assert sizes == [4, 4, 2, 1, 1, 2, 1, 1]


@pytest.fixture(scope="module")
def tiny_clip():
    from conftest import SESSION_CACHE

    from zerovlm.backbones.clip import CLIPBackbone

    return CLIPBackbone(name="tiny_clip", model=str(SESSION_CACHE / "models" / "tiny_clip"), tiny_random="clip")


def test_clip_chooses_the_caption_most_similar_to_the_image(tiny_clip, images):
    options = [["A red cube on a table", "A red cube under a table", "A cube", "A sphere"],
               ["A sphere behind a cube", "A sphere in front of a cube", "yes", "no"]]
    out = tiny_clip.choose(images[:2], ["ignored", "ignored"], options)
    for image, opts, result in zip(images, options, out, strict=False):
        inputs = tiny_clip.processor(text=opts, images=[image], return_tensors="pt", padding=True)
        with torch.no_grad():
            expected = tiny_clip.model(**inputs).logits_per_image[0].tolist()
        assert result["scores"] == pytest.approx(expected, abs=1e-5)
        assert result["prediction"] == max(range(4), key=lambda k: expected[k])
    tokenizer = tiny_clip.processor.tokenizer
    ids = tokenizer("a cube")["input_ids"]
    assert ids[0] == tokenizer.bos_token_id and ids[-1] == tokenizer.eos_token_id  # CLIP pools at end of text


def test_clip_scores_a_statement_against_its_opposite_and_never_guesses(tiny_clip, images):
    ds = SyntheticDataset(num_scenes=4, splits=["train", "dev", "test"])
    samples = [ds[0], ds[1]]
    odd = ds[2]
    odd.relation, odd.statement = "touching", "The red sphere is touching the green cube."  # no opposite
    out = tiny_clip.score(images[:3], ["ignored"] * 3, samples + [odd])
    opposite = {"left of": "right of", "right of": "left of", "in front of": "behind", "behind": "in front of",
                "on": "under", "under": "on"}
    for k, (sample, result) in enumerate(zip(samples, out, strict=False)):
        statement, counterpart = result["model_input"].split(" | ")
        assert statement == sample.statement
        assert counterpart == sample.statement.replace(sample.relation, opposite[sample.relation])
        sims = tiny_clip.choose([images[k]], ["x"], [[statement, counterpart]])[0]["scores"]
        assert result["p_yes"] == pytest.approx(float(torch.softmax(torch.tensor(sims), 0)[0]))
        assert result["prediction"] == (result["p_yes"] > 0.5)
    assert out[2]["prediction"] is None and out[2]["p_yes"] is None  # unparsed, counted, not guessed


def test_a_real_checkpoint_offline_fails_saying_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match=r"(?s)could not load backbone llava15_7b .*set backbone.model to the local"):
        HFVisionLanguageModel(name="llava15_7b", model="llava-hf/llava-1.5-7b-hf")


FAMILIES = {"instructblip": ("{prompt}", "InstructBlipForConditionalGeneration", False),
            "paligemma": ("<image>answer en {prompt}", "PaliGemmaForConditionalGeneration", False),
            "llava_next": (None, "LlavaNextForConditionalGeneration", False),
            "smolvlm": (None, "Idefics3ForConditionalGeneration", True),
            "qwen2_5_vl": (None, "Qwen2_5_VLForConditionalGeneration", True),
            "llava_onevision": (None, "LlavaOnevisionForConditionalGeneration", True)}


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.torchvision) if f in NEEDS_TORCHVISION else f
                                    for f in sorted(FAMILIES)])
def test_other_families_through_the_same_adapter_batch_invariant(family, images):
    from conftest import SESSION_CACHE

    prompt_format, architecture, multi_image = FAMILIES[family]
    # single images, and (multi-image families) two images per prompt, which layout=separate gives
    pictures = [images, [images[:2], images[2:], images[1:3], images[::-1][:2]]] if multi_image else [images]
    for scoring in ("likelihood", "generate"):
        backbone = HFVisionLanguageModel(name=f"tiny_{family}", tiny_random=family, prompt_format=prompt_format,
                                         model=str(SESSION_CACHE / "models" / f"tiny_{family}"), scoring=scoring,
                                         multi_image=multi_image)
        assert type(backbone.model).__name__ == architecture
        if prompt_format:
            assert backbone.chat_text("Is it?") == prompt_format.format(prompt="Is it?")
        for picture in pictures:
            batched = backbone.score(picture, PROMPTS)
            alone = [backbone.score([im], [p])[0] for im, p in zip(picture, PROMPTS, strict=True)]
            if scoring == "likelihood":
                assert [b["p_yes"] for b in batched] == pytest.approx([a["p_yes"] for a in alone], abs=1e-5)
            else:
                assert [b["raw"] for b in batched] == [a["raw"] for a in alone]
    choice = backbone.choose(images[:1], ["Describe the image."], [["A cube", "A sphere on a cube"]])[0]
    assert len(choice["scores"]) == 2


@pytest.mark.torchvision
@pytest.mark.parametrize("family", sorted(NEEDS_TORCHVISION))
def test_every_image_reaches_a_multi_image_model(family, images):
    """Changing the second of two images changes p_yes: the model sees both, not only the first."""
    from conftest import SESSION_CACHE

    backbone = HFVisionLanguageModel(name=f"tiny_{family}", tiny_random=family, multi_image=True,
                                     model=str(SESSION_CACHE / "models" / f"tiny_{family}"))
    first, second = backbone.score([[images[0], images[1]], [images[0], images[2]]], PROMPTS[:1] * 2)
    assert first["p_yes"] != pytest.approx(second["p_yes"], abs=1e-4)


@pytest.mark.parametrize("family", sorted(NEEDS_TORCHVISION))
def test_a_family_that_needs_torchvision_says_how_to_get_it(family, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "torchvision", None)  # as where it is not installed
    hint = r'pip install -e "\.\[torchvision\]"'
    with pytest.raises(ImportError, match=rf"tiny_random={family} needs torchvision.*{hint}"):
        HFVisionLanguageModel(name="t", model=str(tmp_path / "m"), tiny_random=family)
    assert not (tmp_path / "m").exists()


@pytest.mark.torchvision
def test_processor_options_reach_the_processor(tmp_path):
    """backbone.processor_kwargs go to AutoProcessor: Qwen's max_pixels caps the image tokens of a large image."""
    from conftest import SESSION_CACHE
    from omegaconf import OmegaConf

    model = str(SESSION_CACHE / "models" / "tiny_qwen2_5_vl")
    big = [Image.new("RGB", (520, 264), (255, 255, 255))]

    def image_tokens(**kwargs):
        backbone = HFVisionLanguageModel(name="t", model=model, tiny_random="qwen2_5_vl", multi_image=True, **kwargs)
        ids = backbone.inputs.prepare(big, ["Is it?"]).inputs["input_ids"][0].tolist()
        return ids.count(backbone.tokenizer.convert_tokens_to_ids("<|image_pad|>"))

    # one token per 16 x 16 pixels: the tiny processor allows up to 16, a cap of 6 x 16 x 16 pixels at most 6
    assert image_tokens(processor_kwargs=OmegaConf.create({"max_pixels": 16 * 16 * 6})) <= 6 < image_tokens()


@pytest.mark.parametrize("family", [pytest.param(f, marks=pytest.mark.torchvision) if f in NEEDS_TORCHVISION else f
                                    for f in ["llava", *sorted(FAMILIES)]])
def test_only_the_logits_read_are_computed_with_the_same_answers(family, images):
    """logits_to_keep (the answer position; the options' tokens) gives the scores of the full forward pass."""
    from conftest import SESSION_CACHE

    prompt_format, _, multi_image = FAMILIES.get(family, (None, None, False))
    backbone = HFVisionLanguageModel(name=f"tiny_{family}", tiny_random=family, prompt_format=prompt_format,
                                     model=str(SESSION_CACHE / "models" / f"tiny_{family}"), multi_image=multi_image)
    options = [["A cube", "A red sphere on a cube"], ["Two spheres", "A sphere"]]
    kept = backbone.score(images, PROMPTS), backbone.choose(images[:2], PROMPTS[:2], options)
    if family in ("llava", "llava_next", "paligemma", "smolvlm"):
        assert backbone.keeps_logits  # these families compute the kept positions alone
    backbone.keeps_logits = False  # the full forward pass: every position's logits
    full = backbone.score(images, PROMPTS), backbone.choose(images[:2], PROMPTS[:2], options)
    assert [r["p_yes"] for r in kept[0]] == pytest.approx([r["p_yes"] for r in full[0]], abs=1e-5)
    for a, b in zip(kept[1], full[1], strict=True):
        assert a["scores"] == pytest.approx(b["scores"], abs=1e-5) and a["prediction"] == b["prediction"]
