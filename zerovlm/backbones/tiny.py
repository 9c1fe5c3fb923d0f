"""Tiny randomly initialised checkpoints of real architectures, for tests, benchmarks and the embedded default.

They are written once with `save_pretrained` and then loaded with `from_pretrained` by the same adapter that
loads a real checkpoint, so the whole path (processor, chat template, image tokens, model) is exercised
offline. Their weights are random: they answer at chance.

The tokenizer is a byte-level BPE trained on a fixed corpus of this project's prompt words, so it can encode
any text and has whole-word tokens for yes/no.
"""

from __future__ import annotations

import os
from pathlib import Path

from zerovlm.files import ensure_pretrained
from zerovlm.hf_classes import image_processor_class, require_torchvision

# LLaVA-1.5's conversation format ("USER: <image>\n... ASSISTANT:"), as the llava-hf processors template it.
LLAVA_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': ' }}{% endif %}"
    "{% for item in message['content'] %}{% if item['type'] == 'image' %}{{ '<image>\n' }}"
    "{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}{% endfor %}"
    "{% if message['role'] == 'user' %}{{ ' ' }}{% else %}{{ eos_token }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)

# Weights drawn with std 0.2 rather than the usual 0.02: the answers then vary with the input (p_yes spreads
# over (0, 1)) instead of being one near-constant 0.5, so a run shows that its inputs reach the model. They are
# still random weights, and still answer at chance.
INIT_STD = 0.2
def random_model(model_class, config, tokenizer, seed: int):
    """A generative model of `config` with weights drawn from `seed`, padding as its tokenizer does."""
    import torch

    torch.manual_seed(seed)
    model = model_class(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model


# The tiny towers every family shares: vision 2 layers of 32, language 2 layers of 64.
TINY_VISION = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def tiny_language_model(config_class, tokenizer, **extra):
    """A family's language-model config at the tiny size, with the tokenizer's vocabulary and special ids."""
    return config_class(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=4, pad_token_id=tokenizer.pad_token_id,
                        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                        initializer_range=INIT_STD, **extra)

# LLaVA-NeXT with Mistral's conversation format ("[INST] <image>\n... [/INST]"), as llava-hf's 1.6-mistral
# processor templates it: images first, then the text.
LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'system' %}"
    "{{ '<<SYS>>\n' + message['content'][0]['text'] + '\n<</SYS>>\n\n' }}"
    "{% elif message['role'] == 'user' %}{{ '[INST] ' }}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{{ ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' ' + message['content'][0]['text'] + '</s> ' }}"
    "{% endif %}{% endfor %}"
)

# SmolVLM-Instruct's conversation format (Idefics3): "<|im_start|>User:<image>...<end_of_utterance>\nAssistant:".
SMOLVLM_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)

CORPUS = [
    "\n".join(["yes", "Yes", "YES", "no", "No", "NO", "true", "True", "false", "False"]),
    "USER: ASSISTANT: yes no Yes No YES NO true false True False correct incorrect",
    "Is the following statement about the image true? Answer yes or no.",
    "This is the original image. This is a 3D single-view image generated from the original image. Centered on the",
    "The original image in the upper left corner, the left view image in the upper right corner, the right view "
    "image in the lower left corner, and the random view image in the lower right corner. Based on these four images.",
    "The red green blue yellow purple orange cube sphere cylinder is to the left of right of in front of behind on "
    "under above below the",
]


def build_tiny_tokenizer(wrap_in_bos_eos: bool = False, image_token: bool = True, padding_side: str = "left"):
    """The tiny byte-level BPE tokenizer; `wrap_in_bos_eos` adds <s> ... </s> around every text, as CLIP's does
    (its text tower pools at the end-of-text token); `image_token` names <image> as the tokenizer's image token,
    as LLaVA's do (InstructBLIP's processor adds its own)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=["<unk>", "<s>", "</s>", "<pad>", "<image>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    if wrap_in_bos_eos:
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A </s>", special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>",
        extra_special_tokens={"image_token": "<image>"} if image_token else {}, padding_side=padding_side,
    )


def build_tiny_llava(seed: int = 0):
    """(model, processor) of a LLaVA with a 2-layer CLIP vision tower and a 2-layer Llama, random weights."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    CLIPImageProcessor = image_processor_class("CLIPImageProcessor")

    tokenizer = build_tiny_tokenizer()
    image_size, patch = 32, 8
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size},
    )
    processor = LlavaProcessor(
        image_processor=image_processor, tokenizer=tokenizer, patch_size=patch,
        vision_feature_select_strategy="default", num_additional_image_tokens=1,
        chat_template=LLAVA_CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=CLIPVisionConfig(**TINY_VISION, image_size=image_size, patch_size=patch,
                                       initializer_range=INIT_STD),
        text_config=tiny_language_model(LlamaConfig, tokenizer, num_key_value_heads=4, max_position_embeddings=512),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    config.initializer_range = INIT_STD
    return random_model(LlavaForConditionalGeneration, config, tokenizer, seed), processor


def build_tiny_clip(seed: int = 0):
    """(model, processor) of a CLIP with 2-layer text and vision towers, random weights."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPProcessor, CLIPTextConfig, CLIPVisionConfig

    CLIPImageProcessor = image_processor_class("CLIPImageProcessor")

    tokenizer = build_tiny_tokenizer(wrap_in_bos_eos=True, padding_side="right")
    text = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, max_position_embeddings=77, pad_token_id=tokenizer.pad_token_id,
                          bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          initializer_range=INIT_STD)
    vision = CLIPVisionConfig(**TINY_VISION, image_size=32, patch_size=8, initializer_range=INIT_STD)
    torch.manual_seed(seed)
    model = CLIPModel(CLIPConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=16)).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    return model, CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer)


def build_tiny_instructblip(seed: int = 0):
    """(model, processor) of an InstructBLIP (vision tower, Q-Former with 4 queries, Llama as its Vicuna)."""
    from transformers import (
        InstructBlipConfig,
        InstructBlipForConditionalGeneration,
        InstructBlipProcessor,
        InstructBlipQFormerConfig,
        InstructBlipVisionConfig,
        LlamaConfig,
    )

    BlipImageProcessor = image_processor_class("BlipImageProcessor")

    tokenizer = build_tiny_tokenizer(image_token=False)
    qformer_tokenizer = build_tiny_tokenizer(image_token=False, padding_side="right")
    queries = 4
    processor = InstructBlipProcessor(image_processor=BlipImageProcessor(size={"height": 32, "width": 32}),
                                      tokenizer=tokenizer, qformer_tokenizer=qformer_tokenizer,
                                      num_query_tokens=queries)
    config = InstructBlipConfig(
        vision_config=InstructBlipVisionConfig(**TINY_VISION, image_size=32, patch_size=8,
                                               initializer_range=INIT_STD).to_dict(),
        qformer_config=InstructBlipQFormerConfig(vocab_size=len(qformer_tokenizer), hidden_size=32,
                                                 num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                                                 encoder_hidden_size=32, max_position_embeddings=128,
                                                 pad_token_id=qformer_tokenizer.pad_token_id,
                                                 initializer_range=INIT_STD).to_dict(),
        text_config=tiny_language_model(LlamaConfig, tokenizer, num_key_value_heads=4).to_dict(),
        num_query_tokens=queries, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        initializer_range=INIT_STD,
    )
    return random_model(InstructBlipForConditionalGeneration, config, tokenizer, seed), processor


def build_tiny_paligemma(seed: int = 0):
    """(model, processor) of a PaliGemma 2 (SigLIP vision tower, Gemma 2), random weights; no chat template."""
    from transformers import (
        Gemma2Config,
        PaliGemmaConfig,
        PaliGemmaForConditionalGeneration,
        PaliGemmaProcessor,
        SiglipVisionConfig,
    )

    SiglipImageProcessor = image_processor_class("SiglipImageProcessor")

    tokenizer = build_tiny_tokenizer()
    image_processor = SiglipImageProcessor(size={"height": 32, "width": 32})
    image_processor.image_seq_length = 16  # (32 / 8) ** 2 patches
    processor = PaliGemmaProcessor(image_processor=image_processor, tokenizer=tokenizer)  # adds <loc>/<seg> tokens
    config = PaliGemmaConfig(
        vision_config=SiglipVisionConfig(**TINY_VISION, image_size=32, patch_size=8).to_dict(),
        text_config=tiny_language_model(Gemma2Config, tokenizer, num_key_value_heads=2, head_dim=16).to_dict(),
        image_token_index=tokenizer.convert_tokens_to_ids("<image>"), projection_dim=64,
    )
    return random_model(PaliGemmaForConditionalGeneration, config, tokenizer, seed), processor


def build_tiny_llava_next(seed: int = 0):
    """(model, processor) of a LLaVA-NeXT (any-resolution tiles of a 2-layer CLIP tower, Mistral), random."""
    from transformers import (
        CLIPVisionConfig,
        LlavaNextConfig,
        LlavaNextForConditionalGeneration,
        LlavaNextProcessor,
        MistralConfig,
    )

    LlavaNextImageProcessor = image_processor_class("LlavaNextImageProcessor")

    tokenizer = build_tiny_tokenizer()
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64]]
    image_processor = LlavaNextImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32},
                                              image_grid_pinpoints=pinpoints)
    processor = LlavaNextProcessor(image_processor=image_processor, tokenizer=tokenizer, patch_size=8,
                                   vision_feature_select_strategy="default", num_additional_image_tokens=1,
                                   chat_template=LLAVA_NEXT_MISTRAL_CHAT_TEMPLATE)
    config = LlavaNextConfig(
        vision_config=CLIPVisionConfig(**TINY_VISION, image_size=32, patch_size=8,
                                       initializer_range=INIT_STD).to_dict(),
        text_config=tiny_language_model(MistralConfig, tokenizer, num_key_value_heads=2).to_dict(),
        image_grid_pinpoints=pinpoints, image_token_index=tokenizer.convert_tokens_to_ids("<image>"),
        vision_feature_select_strategy="default", vision_feature_layer=-1,
    )
    config.initializer_range = INIT_STD
    return random_model(LlavaNextForConditionalGeneration, config, tokenizer, seed), processor


def build_tiny_smolvlm(seed: int = 0):
    """(model, processor) of a SmolVLM (Idefics3: image split into tiles + a global view, Llama), random."""
    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3Processor,
        Idefics3VisionConfig,
        LlamaConfig,
    )

    Idefics3ImageProcessor = image_processor_class("Idefics3ImageProcessor")

    tokenizer = build_tiny_tokenizer(image_token=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<fake_token_around_image>", "<global-img>",
                                                                "<end_of_utterance>", "<|im_start|>"]})
    image_processor = Idefics3ImageProcessor(size={"longest_edge": 64}, max_image_size={"longest_edge": 32},
                                             do_image_splitting=True)
    processor = Idefics3Processor(image_processor=image_processor, tokenizer=tokenizer, image_seq_len=4,
                                  chat_template=SMOLVLM_CHAT_TEMPLATE)
    config = Idefics3Config(
        vision_config=Idefics3VisionConfig(**TINY_VISION, image_size=32, patch_size=8,
                                           initializer_range=INIT_STD).to_dict(),
        text_config=tiny_language_model(LlamaConfig, tokenizer, num_key_value_heads=4).to_dict(),
        scale_factor=2, image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
    )
    return random_model(Idefics3ForConditionalGeneration, config, tokenizer, seed), processor


# Qwen2.5-VL-Instruct's conversation format (its chat_template.json): a default system turn, then
# "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>...<|im_end|>\n<|im_start|>assistant\n".
QWEN2_VL_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: "
    "{% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

# LLaVA-OneVision's conversation format, as llava-hf's conversion script gives its processors: images first,
# one "<image>\n" each, then the text.
LLAVA_ONEVISION_CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}{{ '<image>\n' }}{% endfor %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}{{ '<video>\n' }}{% endfor %}"
    "{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def build_tiny_qwen2_5_vl(seed: int = 0):
    """(model, processor) of a Qwen2.5-VL (window-attention ViT with 2x2 patch merging, Qwen2 LLM with
    multimodal rotary positions), random weights. Its processor needs torchvision (the video processor)."""
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLVideoProcessor,
    )
    from transformers.models.qwen2_5_vl.configuration_qwen2_5_vl import Qwen2_5_VLTextConfig, Qwen2_5_VLVisionConfig

    Qwen2VLImageProcessor = image_processor_class("Qwen2VLImageProcessor")

    tokenizer = build_tiny_tokenizer(image_token=False)
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>", "<|vision_start|>",
                                                                "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]})
    patch, merge = 8, 2  # a 16 x 16 pixel block becomes one LLM token
    pixels = {"shortest_edge": 16 * 16 * 4, "longest_edge": 16 * 16 * 16}  # 4 to 16 image tokens
    image_processor = Qwen2VLImageProcessor(size=pixels, patch_size=patch, merge_size=merge, temporal_patch_size=2)
    video_processor = Qwen2VLVideoProcessor(size=pixels, patch_size=patch, merge_size=merge, temporal_patch_size=2)
    processor = Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                    video_processor=video_processor, chat_template=QWEN2_VL_CHAT_TEMPLATE)
    ids = tokenizer.convert_tokens_to_ids
    vision = Qwen2_5_VLVisionConfig(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, patch_size=patch,
                                    spatial_merge_size=merge, temporal_patch_size=2, window_size=patch * merge * 2,
                                    out_hidden_size=64, fullatt_block_indexes=[1], initializer_range=INIT_STD)
    text = tiny_language_model(Qwen2_5_VLTextConfig, tokenizer, num_key_value_heads=2, max_position_embeddings=512,
                               rope_parameters={"rope_type": "default", "rope_theta": 10000.0,
                                                "mrope_section": [2, 3, 3]})  # head_dim 16: 8 frequencies
    config = Qwen2_5_VLConfig(vision_config=vision.to_dict(), text_config=text.to_dict(),
                              image_token_id=ids("<|image_pad|>"), video_token_id=ids("<|video_pad|>"),
                              vision_start_token_id=ids("<|vision_start|>"), vision_end_token_id=ids("<|vision_end|>"))
    config.initializer_range = INIT_STD
    return random_model(Qwen2_5_VLForConditionalGeneration, config, tokenizer, seed), processor


def build_tiny_llava_onevision(seed: int = 0):
    """(model, processor) of a LLaVA-OneVision (any-resolution tiles of a 2-layer SigLIP tower, Qwen2), random.
    Its processor needs torchvision (the video processor)."""
    from transformers import (
        LlavaOnevisionConfig,
        LlavaOnevisionForConditionalGeneration,
        LlavaOnevisionProcessor,
        LlavaOnevisionVideoProcessor,
        Qwen2Config,
        SiglipVisionConfig,
    )

    LlavaOnevisionImageProcessor = image_processor_class("LlavaOnevisionImageProcessor")

    tokenizer = build_tiny_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<video>", "<|im_start|>", "<|im_end|>"]})
    pinpoints = [[32, 32], [32, 64], [64, 32], [64, 64]]
    image_processor = LlavaOnevisionImageProcessor(size={"height": 32, "width": 32}, image_grid_pinpoints=pinpoints)
    video_processor = LlavaOnevisionVideoProcessor(size={"height": 32, "width": 32})
    processor = LlavaOnevisionProcessor(image_processor=image_processor, tokenizer=tokenizer,
                                        video_processor=video_processor, num_image_tokens=16,  # (32 / 8) ** 2
                                        vision_feature_select_strategy="full",
                                        chat_template=LLAVA_ONEVISION_CHAT_TEMPLATE)
    ids = tokenizer.convert_tokens_to_ids
    config = LlavaOnevisionConfig(
        vision_config=SiglipVisionConfig(**TINY_VISION, image_size=32, patch_size=8, vision_use_head=False).to_dict(),
        text_config=tiny_language_model(Qwen2Config, tokenizer, num_key_value_heads=2).to_dict(),
        image_grid_pinpoints=pinpoints, image_token_index=ids("<image>"), video_token_index=ids("<video>"),
        vision_feature_select_strategy="full", vision_feature_layer=-1,
    )
    config.initializer_range = INIT_STD
    return random_model(LlavaOnevisionForConditionalGeneration, config, tokenizer, seed), processor


BUILDERS = {"llava": build_tiny_llava, "clip": build_tiny_clip, "instructblip": build_tiny_instructblip,
            "paligemma": build_tiny_paligemma, "llava_next": build_tiny_llava_next, "smolvlm": build_tiny_smolvlm,
            "qwen2_5_vl": build_tiny_qwen2_5_vl, "llava_onevision": build_tiny_llava_onevision}
NEEDS_TORCHVISION = {"qwen2_5_vl", "llava_onevision"}  # their processors carry a video processor on torchvision


def ensure_tiny_model(family: str, path: str | os.PathLike, seed: int = 0) -> Path:
    """Write the tiny random `family` checkpoint to `path` unless it is already there (atomically)."""
    if family not in BUILDERS:
        raise ValueError(f"backbone.tiny_random={family!r}: tiny random models exist for {sorted(BUILDERS)}")
    if family in NEEDS_TORCHVISION:
        require_torchvision(f"backbone.tiny_random={family}")

    return ensure_pretrained(path, lambda: BUILDERS[family](seed))
