"""One adapter for Hugging Face VLMs: AutoModelForImageTextToText + AutoProcessor + the processor's chat template.

Two scoring modes:
- likelihood: one forward pass; p_yes = P(yes-words) / (P(yes-words) + P(no-words)) at the first answer
  position, over the single-token variants of `yes_words` / `no_words` in this tokenizer. Predicts yes when
  p_yes > 0.5 (an exact tie counts as no).
- generate: greedy decoding of `max_new_tokens`, then the word-level parser (answers.py); an answer the
  parser cannot read is unparsed, counted, never guessed.
And caption choice (`choose`, also multiple choice by letter): each option's mean token log-probability as the
answer, the option placed as the assistant would begin it (read off the chat template: " A" after llava-hf's
"ASSISTANT:", "A" after Qwen's "assistant\n"), or given as the processor's `suffix` where it takes one
(PaliGemma's: causal, exactly the option's tokens).

The model input is the processor's chat template around an optional system prompt, the image(s) and the prompt; a
processor without one (InstructBLIP, PaliGemma) gets `prompt_format` instead. The processor is the checkpoint's
(`load_processor`: `processor_class` where its files name one for videos; the PIL image processor whatever is
installed), and `pad_to_square` pads each picture to a square of the processor's mean colour first (LLaVA-1.5's
`image_aspect_ratio: pad`), so that a centre crop cuts no view. A picture is one image, or a list of images for
`layout=separate` (one image entry each, in order). Rows are left-padded, so the answer position is the last.
On CUDA out-of-memory a batch is split in halves and retried, logged, never losing or repeating a sample.

The CPU side (`ModelInputs`: template, processor, tokens) is apart from the model, so the DataLoader's workers
make a batch's `Prepared` input while the device runs the one before. Rows with the same picture and the same
tokens up to where they differ (the statements about one image, the options of one caption choice) share that
prefix: one pass over it, its keys and values expanded over the rows, then each row's own tokens (right-padded,
so every position is what it is alone). Processors with per-token outputs besides the ids cannot be split so and
score every row in full.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
import os
from dataclasses import dataclass

import torch
from PIL import Image
from transformers import BatchFeature

from zerovlm.backbones.answers import NO_VARIANTS, YES_VARIANTS, parse_answer
from zerovlm.backbones.tiny import ensure_tiny_model
from zerovlm.hf_classes import TORCHVISION_HINT

log = logging.getLogger(__name__)
SCORING = ("likelihood", "generate")
QUANTIZATION = (None, "4bit", "8bit")


def _move_padding(inputs, prefix: str, to_front: bool) -> None:
    """Move the padded positions of `prefix`input_ids and every tensor of their shape to the front or the end
    of each row, keeping the order of the real tokens."""
    mask = inputs.get(f"{prefix}attention_mask")
    if mask is None:
        return
    order = torch.argsort(mask if to_front else 1 - mask, dim=1, stable=True)
    if torch.equal(order, torch.arange(mask.shape[1]).expand_as(order)):
        return
    for key, value in list(inputs.items()):
        if key.startswith(prefix) and (prefix or not key.startswith("qformer_")) and torch.is_tensor(value) \
                and value.shape == mask.shape:
            inputs[key] = value.gather(1, order)


def pad_to_square(image: Image.Image, colour: tuple[int, ...]) -> Image.Image:
    """The picture centred on a square of `colour`, as LLaVA-1.5's `expand2square` does before its processor."""
    width, height = image.size
    if width == height:
        return image
    side = max(width, height)
    square = Image.new(image.mode, (side, side), colour)
    square.paste(image, ((side - width) // 2, (side - height) // 2))
    return square


def mean_colour(image_processor) -> tuple[int, ...]:
    """The image processor's mean as a colour, as LLaVA-1.5's code takes it: tuple(int(255 m) for m in mean)."""
    return tuple(int(255 * m) for m in image_processor.image_mean)


def load_processor(name: str, model: str, revision: str | None = None, trust_remote_code: bool = False,
                   processor_class: str | None = None, image_backend: str | None = "pil", **kwargs):
    """The checkpoint's processor (AutoProcessor, or `processor_class` where the checkpoint names one that takes
    no images), its image processor on `image_backend` (pil / torchvision) whatever else is installed."""
    import transformers

    loader = getattr(transformers, processor_class, None) if processor_class else transformers.AutoProcessor
    if loader is None:
        raise ValueError(f"backbone.processor_class={processor_class!r} is no class of transformers "
                         f"{transformers.__version__}")
    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    try:
        if image_backend is not None:  # the image processor alone: video processors have no PIL version
            kwargs["image_processor"] = transformers.AutoImageProcessor.from_pretrained(
                model, backend=image_backend, **common, **kwargs)
        processor = loader.from_pretrained(model, **common, **kwargs)
    except OSError as error:
        raise OSError(f"could not load backbone {name} from {model!r} ({error}). Offline, download it where "
                      f"there is a network (huggingface-cli download {model}) and set backbone.model to the "
                      "local folder.") from None
    except (ImportError, ValueError) as error:  # video processors want torchvision (an ImportError or ValueError)
        if "torchvision" not in str(error):
            raise
        raise ImportError(f"could not load the processor of backbone {name} from {model!r}: {error}\n"
                          f"{TORCHVISION_HINT}" + _image_processor_hint(model)) from None
    if getattr(processor, "image_processor", None) is None and hasattr(processor, "video_processor"):
        raise ValueError(f"backbone {name}: the processor of {model} is {type(processor).__name__}, which takes "
                         f"videos, not images{_image_processor_hint(model)}")
    return processor


def _image_processor_hint(model: str) -> str:
    """How to load the processor for images of a checkpoint whose own names one for videos."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(model)
    except (OSError, ValueError):
        return ""
    images = {"instructblip": "InstructBlipProcessor"}.get(config.model_type)
    return f"; set backbone.processor_class={images} to load the one for images" if images else ""


def _images(picture) -> list[Image.Image]:
    return list(picture) if isinstance(picture, (list, tuple)) else [picture]


def _picture_key(picture) -> tuple:
    return tuple((im.mode, im.size, hashlib.sha1(im.tobytes()).digest()) for im in _images(picture))


def _last_positions(lengths: torch.Tensor, count: int) -> torch.Tensor:
    """(rows, count) indices of each right-padded row's last `count` positions before its own length (clamped at
    0 where a row is shorter)."""
    return (lengths[:, None] - count + torch.arange(count, device=lengths.device)).clamp(min=0)


def _padded(rows: list[list[int]], pad: int, left: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, mask) of rows padded to the longest, on the left or the right."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        where = slice(width - len(r), width) if left else slice(0, len(r))
        ids[i, where], mask[i, where] = torch.tensor(r, dtype=torch.long), 1
    return ids, mask


@dataclass
class Prepared:
    """A batch's model input, made on the CPU (in a DataLoader worker): the processor's tensors and what reading
    the model's output needs. Rows are the samples (scoring) or every option of every sample (caption choice).

    Unshared: `inputs` holds every row in full, left-padded. Shared: `inputs` holds one row per group of rows with
    the same picture and the same tokens before their own (the prefix: image, template, prompt up to where they
    differ), and `suffix` each row's own tokens, right-padded, with `group` naming its prefix row."""

    kind: str  # "score" | "choose"
    texts: list[str]  # per sample: the model input as text
    inputs: BatchFeature
    scored: list[int] | None = None  # choose: per row, how many last tokens are the option's
    counts: list[int] | None = None  # choose: options per sample
    suffix: dict[str, torch.Tensor] | None = None  # ids, mask, group, lengths

    def _tensors(self, fn) -> None:
        self.inputs = BatchFeature({k: fn(v) if torch.is_tensor(v) else v for k, v in self.inputs.items()})
        if self.suffix is not None:
            self.suffix = {k: fn(v) for k, v in self.suffix.items()}

    def pin_memory(self) -> Prepared:
        self._tensors(torch.Tensor.pin_memory)
        return self

    def to(self, device) -> Prepared:
        self._tensors(lambda t: t.to(device, non_blocking=True))
        return self


# what a processor may return for a prefix to be shared: the tokens, their mask, and tensors per image or per row
SHAREABLE_KEYS = {"input_ids", "attention_mask", "pixel_values", "image_sizes", "pixel_attention_mask",
                  "batch_num_images"}


class ModelInputs:
    """The CPU side of a backbone (no model): chat template, processor, tokenizer. Picklable, so the DataLoader's
    workers make the model input while the device runs the previous batch."""

    def __init__(self, name: str, processor, prompt_format: str | None, multi_image: bool, dtype: torch.dtype,
                 share_prefix: bool, generates: bool, system_prompt: str | None = None,
                 pad_to_square: bool = False) -> None:
        self.name, self.processor, self.tokenizer = name, processor, processor.tokenizer
        self.prompt_format, self.multi_image, self.dtype = prompt_format, multi_image, dtype
        self.share_prefix, self.generates, self.system_prompt = share_prefix, generates, system_prompt
        self.square = mean_colour(processor.image_processor) if pad_to_square else None
        self.shares: bool | None = None  # known after the first batch: whether this processor's prefixes can be shared
        # a processor that takes the answer as a suffix (PaliGemma's: after its "\n", attended causally) gets the
        # options so; any other has them appended as the template's assistant turn would begin
        self.suffixed = "suffix" in inspect.signature(processor.__call__).parameters
        self.answer_joint = "" if self.suffixed else self._answer_joint()

    def _messages(self, content: list[dict]) -> list[dict]:
        system = [{"role": "system", "content": [{"type": "text", "text": self.system_prompt}]}] \
            if self.system_prompt else []
        return [*system, {"role": "user", "content": content}]

    def chat_text(self, prompt: str, num_images: int = 1) -> str:
        """The exact text the model is given: the processor's chat template around the system prompt, the
        image(s) and the prompt."""
        if self.prompt_format is not None:
            if self.system_prompt and "{system}" not in self.prompt_format:
                raise ValueError(f"backbone {self.name}: backbone.system_prompt is set, but backbone.prompt_format "
                                 "has no {system} to put it in")
            return self.prompt_format.format(prompt=prompt, system=self.system_prompt or "")
        content = [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": prompt}]
        return self.processor.apply_chat_template(self._messages(content), add_generation_prompt=True)

    def _answer_joint(self) -> str:
        """What stands between the model input and the first word of the assistant's answer, read off the chat
        template: " " after llava-hf's "ASSISTANT:", "" after Qwen's "assistant\n". Without a template: a space,
        unless the prompt format ends in whitespace."""
        if self.prompt_format is not None:
            return "" if self.prompt_format.format(prompt="", system="")[-1:].isspace() else " "
        question = [{"type": "text", "text": "Q"}]
        asked = self.processor.apply_chat_template(self._messages(question), add_generation_prompt=True)
        answer = "Zx9"
        answered = self.processor.apply_chat_template(
            [*self._messages(question), {"role": "assistant", "content": [{"type": "text", "text": answer}]}])
        if not answered.startswith(asked) or answer not in answered[len(asked):]:
            raise ValueError(f"backbone {self.name}: its chat template does not continue the generation prompt "
                             f"with the assistant's turn ({asked!r} vs {answered!r}): the tokens an answer is "
                             "scored as cannot be read off it")
        return answered[len(asked):answered.index(answer, len(asked))]

    def answer_text(self, text: str, option: str) -> str:
        """The model input followed by `option` as the assistant would begin its answer."""
        return f"{text}{self.answer_joint}{option}"

    def _encode(self, pictures: list, texts: list[str], suffixes: list[str] | None = None) -> BatchFeature:
        images = [_images(p) for p in pictures]
        if any(len(i) > 1 for i in images) and not self.multi_image:
            raise ValueError(f"backbone {self.name} takes one image per prompt: use a stitched layout, not "
                             "layout=separate (or set backbone.multi_image=true for a model that takes several)")
        if self.square is not None:
            images = [[pad_to_square(im, self.square) for im in i] for i in images]
        flat = images if self.multi_image else [i[0] for i in images]
        extra = {"suffix": suffixes} if suffixes is not None else {}
        inputs = self.processor(images=flat, text=texts, return_tensors="pt", padding=True, **extra)
        inputs.pop("labels", None)  # some processors (PaliGemma's) add them; nothing here trains
        # Padding must not move a token's position, or results depend on the batch. The LLM's rows are padded on
        # the left (InstructBLIP's processor puts its image tokens before that padding: the pads go to the front);
        # a Q-Former's rows (BERT-style absolute positions) are padded on the right.
        _move_padding(inputs, "", to_front=True)
        _move_padding(inputs, "qformer_", to_front=False)
        if suffixes is not None:  # the eos the processor appends to each suffix: not the option's, not scored
            if not bool((inputs["input_ids"][:, -1] == self.tokenizer.eos_token_id).all()):
                raise ValueError(f"backbone {self.name}: its processor did not end every answer with eos")
            shape = inputs["input_ids"].shape
            for key, value in list(inputs.items()):
                if torch.is_tensor(value) and value.shape == shape:
                    inputs[key] = value[:, :-1]
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        return inputs

    def prepare(self, pictures: list, prompts: list[str], options: list[list[str]] | None = None) -> Prepared:
        """The model input of a batch: each (picture, prompt) to score, or each option of each to choose from."""
        texts = [self.chat_text(p, len(_images(pic))) for pic, p in zip(pictures, prompts, strict=True)]
        if options is None:
            rows, full, scored, counts = pictures, texts, None, None
        elif self.suffixed:  # the processor puts each option after the prompt itself
            rows = [picture for picture, opts in zip(pictures, options, strict=True) for _ in opts]
            full = [text for text, opts in zip(texts, options, strict=True) for _ in opts]
            suffixes = [option for opts in options for option in opts]
            scored = [len(self.tokenizer.encode(option, add_special_tokens=False)) for option in suffixes]
            return Prepared("choose", texts, self._encode(rows, full, suffixes), scored, [len(o) for o in options])
        else:
            rows, full, scored, counts = [], [], [], [len(o) for o in options]
            for picture, text, opts in zip(pictures, texts, options, strict=True):
                prefix = self.tokenizer.encode(text, add_special_tokens=False)  # once per sample
                for option in opts:
                    rows.append(picture)
                    full.append(self.answer_text(text, option))
                    ids = self.tokenizer.encode(full[-1], add_special_tokens=False)
                    if ids[:len(prefix)] != prefix:
                        raise ValueError(f"backbone {self.name}: the option {option!r} changes how the model input "
                                         f"before it is tokenized ({text[-40:]!r}): its tokens cannot be scored")
                    scored.append(len(ids) - len(prefix))
        kind = "score" if options is None else "choose"
        shared = None
        if self.share_prefix and self.shares is not False and not (self.generates and kind == "score"):
            shared = self._shared(kind, texts, rows, full, scored, counts)
        return shared or Prepared(kind, texts, self._encode(rows, full), scored, counts)

    def _shared(self, kind: str, texts, pictures, full: list[str], scored, counts) -> Prepared | None:
        """The rows as shared prefixes and their own suffixes, or None where nothing is shared or this processor's
        output cannot be split (per-token tensors besides the ids, e.g. PaliGemma's token types, InstructBLIP's
        Q-Former text, Qwen2.5-VL's multimodal positions)."""
        keys: dict[tuple, int] = {}
        group = [keys.setdefault(_picture_key(p), len(keys)) for p in pictures]
        if len(keys) == len(group):
            return None
        ids = self.tokenizer(full)["input_ids"]
        members: dict[int, list[int]] = {}
        for row, g in enumerate(group):
            members.setdefault(g, []).append(row)
        cut = {}
        for g, rows in members.items():  # each row keeps at least its answer position (or its option's tokens)
            own = [len(ids[r]) - (scored[r] if scored is not None else 1) for r in rows]
            cut[g] = min(len(os.path.commonprefix([ids[r] for r in rows])), *own)
            if cut[g] < 1:
                return None
        firsts = [members[g][0] for g in range(len(members))]
        encoded = self._encode([pictures[r] for r in firsts], [full[r] for r in firsts])
        per_token = {k for k, v in encoded.items()
                     if torch.is_tensor(v) and v.shape == encoded["input_ids"].shape} - {"input_ids", "attention_mask"}
        if per_token or not set(encoded) <= SHAREABLE_KEYS:
            self.shares = False
            log.info("backbone %s: its processor gives %s beside the tokens: statements about one image are scored "
                     "without sharing their prefix", self.name, sorted(set(encoded) - SHAREABLE_KEYS | per_token))
            return None
        prefixes = []
        for g, r in enumerate(firsts):
            row = encoded["input_ids"][g][encoded["attention_mask"][g].bool()].tolist()
            own = ids[r][cut[g]:]
            if row[len(row) - len(own):] != own:  # the expanded text must end in the same tokens
                return None
            prefixes.append(row[:len(row) - len(own)])
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        prefix_ids, prefix_mask = _padded(prefixes, pad, left=True)
        suffix_ids, suffix_mask = _padded([ids[r][cut[g]:] for r, g in enumerate(group)], pad, left=False)
        inputs = BatchFeature({**encoded, "input_ids": prefix_ids, "attention_mask": prefix_mask})
        self.shares = True
        return Prepared(kind, texts, inputs, scored, counts, {
            "ids": suffix_ids, "mask": suffix_mask, "group": torch.tensor(group), "lengths": suffix_mask.sum(1)})


class HFVisionLanguageModel(torch.nn.Module):
    def __init__(self, name: str, model: str, revision: str | None = None, tiny_random: str | None = None,
                 scoring: str = "likelihood", batch_size: int = 4, max_new_tokens: int = 8,
                 dtype: str = "float32", attn_implementation: str | None = None, device_map: str | None = None,
                 quantization: str | None = None, trust_remote_code: bool = False, processor_kwargs=None,
                 multi_image: bool = False, prompt_format: str | None = None, yes_words=YES_VARIANTS,
                 no_words=NO_VARIANTS, share_prefix: bool = True, processor_class: str | None = None,
                 image_backend: str | None = "pil", pad_to_square: bool = False, system_prompt: str | None = None,
                 seed: int = 0) -> None:
        super().__init__()
        from transformers import AutoModelForImageTextToText

        if scoring not in SCORING:
            raise ValueError(f"backbone.scoring={scoring!r}: choose one of {', '.join(SCORING)}")
        if quantization not in QUANTIZATION:
            raise ValueError(f"backbone.quantization={quantization!r}: choose one of null, 4bit, 8bit")
        if tiny_random:
            ensure_tiny_model(tiny_random, model, seed)
        self.name, self.scoring, self.batch_size, self.max_new_tokens = name, scoring, batch_size, max_new_tokens
        self.tiny_random, self.multi_image, self.prompt_format = bool(tiny_random), multi_image, prompt_format
        self.processor = load_processor(name, model, revision, trust_remote_code, processor_class, image_backend,
                                        **(processor_kwargs or {}))
        tokenizer = self.processor.tokenizer
        tokenizer.padding_side = "left"  # the answer position is the last one in every row
        if tokenizer.pad_token is None:  # e.g. InstructBLIP-Vicuna's: padded positions are masked, any id serves
            tokenizer.pad_token = tokenizer.unk_token or tokenizer.eos_token
            log.info("backbone %s: its tokenizer has no pad token; padding with %s (masked)", name,
                     tokenizer.pad_token)
        if prompt_format is None and not getattr(self.processor, "chat_template", None):
            raise ValueError(f"backbone {name}: the processor of {model} has no chat template; set "
                             "backbone.prompt_format (e.g. '{prompt}') to say how the prompt is given")
        self.inputs = ModelInputs(name, self.processor, prompt_format, multi_image, getattr(torch, dtype),
                                  share_prefix, generates=scoring == "generate", system_prompt=system_prompt,
                                  pad_to_square=pad_to_square)
        self.tokenizer = self.processor.tokenizer
        kwargs = {"revision": revision, "dtype": getattr(torch, dtype), "trust_remote_code": trust_remote_code}
        if attn_implementation:
            kwargs["attn_implementation"] = attn_implementation
        if device_map:
            kwargs["device_map"] = device_map
        if quantization:
            from transformers import BitsAndBytesConfig

            kwargs["quantization_config"] = BitsAndBytesConfig(
                load_in_4bit=quantization == "4bit", load_in_8bit=quantization == "8bit",
                bnb_4bit_compute_dtype=getattr(torch, dtype))
        self.model = AutoModelForImageTextToText.from_pretrained(model, **kwargs).eval()
        # only the logits that are read: the answer position's (likelihood), the options' tokens (caption choice)
        self.keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        self.yes_ids = self._single_token_ids(yes_words, "yes_words")
        self.no_ids = self._single_token_ids(no_words, "no_words")
        if set(self.yes_ids) & set(self.no_ids):
            shared = set(self.yes_ids) & set(self.no_ids)
            raise ValueError(f"backbone {name}: yes_words and no_words share tokens {shared}")

    def _single_token_ids(self, words, key: str) -> list[int]:
        ids = {w: self.tokenizer.encode(w, add_special_tokens=False) for w in words}
        single = sorted({t[0] for t in ids.values() if len(t) == 1})
        if not single:
            raise ValueError(f"backbone {self.name}: none of backbone.{key}={list(words)} is one token in this "
                             f"tokenizer ({ids}); add a variant that is")
        return single

    def chat_text(self, prompt: str, num_images: int = 1) -> str:
        return self.inputs.chat_text(prompt, num_images)

    def _halving_on_oom(self, fn, *columns):
        """fn(*columns) -> list; on CUDA out-of-memory, the two halves separately (recursively), in order."""
        try:
            return fn(*columns)
        except torch.cuda.OutOfMemoryError:
            n = len(columns[0])
            if n == 1:
                raise
            torch.cuda.empty_cache()
            log.warning("backbone %s: CUDA out of memory on a batch of %d; retrying as %d + %d", self.name, n,
                        n // 2, n - n // 2)
            first = self._halving_on_oom(fn, *(c[: n // 2] for c in columns))
            return first + self._halving_on_oom(fn, *(c[n // 2:] for c in columns))

    def score(self, pictures: list, prompts: list[str], samples=None) -> list[dict]:
        """Yes/no for each (picture, prompt); `samples` is unused here (a contrastive backbone reads them)."""
        return self._halving_on_oom(lambda pics, texts: self.answer(self.inputs.prepare(pics, texts)),
                                    pictures, prompts)

    def choose(self, pictures: list, prompts: list[str], options: list[list[str]]) -> list[dict]:
        """Caption choice: each option scored by its mean token log-probability as the model's answer to the
        prompt; the prediction is the index of the best one, or None when two or more share the best score (a
        tie is never broken towards the first option)."""
        return self._halving_on_oom(lambda *c: self.answer(self.inputs.prepare(*c)), pictures, prompts, options)

    def answer_prepared(self, prepared: Prepared, pictures: list, prompts: list[str],
                        options: list[list[str]] | None = None) -> list[dict]:
        """The answers to a batch prepared beforehand (in a DataLoader worker); on CUDA out-of-memory, made again
        in halves."""
        try:
            return self.answer(prepared)
        except torch.cuda.OutOfMemoryError:
            torch.cuda.empty_cache()
            log.warning("backbone %s: CUDA out of memory on a batch of %d; retrying in halves", self.name,
                        len(pictures))
            return self.score(pictures, prompts) if options is None else self.choose(pictures, prompts, options)

    @torch.no_grad()
    def answer(self, prepared: Prepared) -> list[dict]:
        prepared = prepared.to(self.model.device)
        if prepared.kind == "score" and self.scoring == "generate":
            return self._generate(prepared)
        logits = self._next_token_logits(prepared)
        if prepared.kind == "score":
            return self._yes_no(prepared.texts, logits[:, -1])
        return self._options(prepared, logits)

    def _next_token_logits(self, prepared: Prepared) -> torch.Tensor:
        """(rows, positions, vocab): the logits at each row's last positions, the last one predicting the answer
        (all positions from the last of the shared prefix on, or for caption choice from the one before the
        option)."""
        inputs = prepared.inputs
        keep = 1 if prepared.kind == "score" else max(prepared.scored) + 1
        if prepared.suffix is None:
            return self._forward(inputs, keep, use_cache=False).logits[:, -keep:]
        suffix = prepared.suffix
        out = self._forward(inputs, 1, use_cache=True)
        cache, group = out.past_key_values, suffix["group"]
        cache.batch_select_indices(group)  # the prefix's keys and values, once per row of its group
        mask = torch.cat([inputs["attention_mask"][group], suffix["mask"]], dim=1)
        own = self.model(input_ids=suffix["ids"], attention_mask=mask, past_key_values=cache, use_cache=False).logits
        logits = torch.cat([out.logits[group, -1:], own], dim=1)  # position k predicts suffix token k
        # right-padded suffixes: each row's last `keep` positions end at its own length
        index = _last_positions(suffix["lengths"] + 1, keep)  # `logits` has one position more than the suffix
        return logits.gather(1, index[..., None].expand(-1, -1, logits.shape[-1]))

    def _forward(self, inputs, keep: int, use_cache: bool):
        """The model output with the logits of the last `keep` positions (at least): computed for those alone
        where the model can."""
        kwargs = {"logits_to_keep": keep} if self.keeps_logits else {}
        return self.model(**inputs, use_cache=use_cache, **kwargs)

    def _yes_no(self, texts: list[str], logits: torch.Tensor) -> list[dict]:
        logp = torch.log_softmax(logits.float(), dim=-1)
        yes = torch.logsumexp(logp[:, self.yes_ids], dim=-1)
        no = torch.logsumexp(logp[:, self.no_ids], dim=-1)
        p_yes = torch.sigmoid(yes - no).tolist()
        return [{"model_input": t, "p_yes": p, "prediction": p > 0.5, "raw": None}
                for t, p in zip(texts, p_yes, strict=True)]

    def _generate(self, prepared: Prepared) -> list[dict]:
        inputs = prepared.inputs
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        answers = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return [{"model_input": t, "p_yes": None, "prediction": parse_answer(a), "raw": a}
                for t, a in zip(prepared.texts, answers, strict=True)]

    def _options(self, prepared: Prepared, logits: torch.Tensor) -> list[dict]:
        """Each option's mean token log-probability; rows are the options of each sample in turn."""
        keep = logits.shape[1]
        if prepared.suffix is None:
            tokens = prepared.inputs["input_ids"][:, -keep + 1:]
        else:  # each row's last keep - 1 suffix tokens
            tokens = prepared.suffix["ids"].gather(1, _last_positions(prepared.suffix["lengths"], keep - 1))
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        token_logp = logp.gather(-1, tokens[..., None])[..., 0]
        scores = [token_logp[i, -n:].mean().item() for i, n in enumerate(prepared.scored)]
        out, start = [], 0
        for text, count in zip(prepared.texts, prepared.counts, strict=True):
            mine = scores[start:start + count]
            start += count
            winners = [k for k, s in enumerate(mine) if s == max(mine)]
            out.append({"model_input": text, "scores": mine, "prediction": winners[0] if len(winners) == 1 else None,
                        "p_yes": None, "raw": None})
        return out
