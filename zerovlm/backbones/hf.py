"""One adapter for Hugging Face VLMs: AutoModelForImageTextToText + AutoProcessor + the processor's chat template.

Two scoring modes:
- likelihood: one forward pass; p_yes = P(yes-words) / (P(yes-words) + P(no-words)) at the first answer
  position, over the single-token variants of `yes_words` / `no_words` in this tokenizer. Predicts yes when
  p_yes > 0.5 (an exact tie counts as no).
- generate: greedy decoding of `max_new_tokens`, then the word-level parser (answers.py); an answer the
  parser cannot read is unparsed, counted, never guessed.
And caption choice (`choose`): each caption's mean token log-probability as the answer.

The model input is the processor's chat template around the image(s) and the prompt; a processor without one
(InstructBLIP, PaliGemma) gets `prompt_format` instead. A picture is one image, or a list of images for
`layout=separate` (one image entry each, in order). Rows are left-padded, so the answer position is the last.
On CUDA out-of-memory a batch is split in halves and retried, logged, never losing or repeating a sample.
"""

from __future__ import annotations

import inspect
import logging

import torch
from PIL import Image

from zerovlm.backbones.answers import parse_answer
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


def _images(picture) -> list[Image.Image]:
    return list(picture) if isinstance(picture, (list, tuple)) else [picture]


class HFVisionLanguageModel(torch.nn.Module):
    def __init__(self, name: str, model: str, revision: str | None = None, tiny_random: str | None = None,
                 scoring: str = "likelihood", batch_size: int = 4, max_new_tokens: int = 8,
                 dtype: str = "float32", attn_implementation: str | None = None, device_map: str | None = None,
                 quantization: str | None = None, trust_remote_code: bool = False, processor_kwargs=None,
                 multi_image: bool = False, prompt_format: str | None = None, yes_words=("yes", "Yes"),
                 no_words=("no", "No"), seed: int = 0) -> None:
        super().__init__()
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if scoring not in SCORING:
            raise ValueError(f"backbone.scoring={scoring!r}: choose one of {', '.join(SCORING)}")
        if quantization not in QUANTIZATION:
            raise ValueError(f"backbone.quantization={quantization!r}: choose one of null, 4bit, 8bit")
        if tiny_random:
            ensure_tiny_model(tiny_random, model, seed)
        self.name, self.scoring, self.batch_size, self.max_new_tokens = name, scoring, batch_size, max_new_tokens
        self.tiny_random, self.multi_image, self.prompt_format = bool(tiny_random), multi_image, prompt_format
        try:
            self.processor = AutoProcessor.from_pretrained(model, revision=revision,
                                                           trust_remote_code=trust_remote_code,
                                                           **(processor_kwargs or {}))
        except OSError as error:
            raise OSError(f"could not load backbone {name} from {model!r} ({error}). Offline, download it where "
                          f"there is a network (huggingface-cli download {model}) and set backbone.model to the "
                          "local folder.") from None
        except ImportError as error:  # e.g. Qwen2.5-VL's and LLaVA-OneVision's video processors want torchvision
            raise ImportError(f"could not load the processor of backbone {name} from {model!r}: {error}\n"
                              f"If it names torchvision: {TORCHVISION_HINT}") from None
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # the answer position is the last one in every row
        if prompt_format is None and not getattr(self.processor, "chat_template", None):
            raise ValueError(f"backbone {name}: the processor of {model} has no chat template; set "
                             "backbone.prompt_format (e.g. '{prompt}') to say how the prompt is given")
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
        """The exact text the model is given: the processor's chat template around the image(s) and the prompt."""
        if self.prompt_format is not None:
            return self.prompt_format.format(prompt=prompt)
        content = [{"type": "image"} for _ in range(num_images)] + [{"type": "text", "text": prompt}]
        return self.processor.apply_chat_template([{"role": "user", "content": content}], add_generation_prompt=True)

    def _inputs(self, pictures: list, texts: list[str]):
        images = [_images(p) for p in pictures]
        if any(len(i) > 1 for i in images) and not self.multi_image:
            raise ValueError(f"backbone {self.name} takes one image per prompt: use a stitched layout, not "
                             "layout=separate (or set backbone.multi_image=true for a model that takes several)")
        flat = images if self.multi_image else [i[0] for i in images]
        inputs = self.processor(images=flat, text=texts, return_tensors="pt", padding=True)
        inputs.pop("labels", None)  # some processors (PaliGemma's) add them; nothing here trains
        # Padding must not move a token's position, or results depend on the batch. The LLM's rows are padded on
        # the left (InstructBLIP's processor puts its image tokens before that padding: the pads go to the front);
        # a Q-Former's rows (BERT-style absolute positions) are padded on the right.
        _move_padding(inputs, "", to_front=True)
        _move_padding(inputs, "qformer_", to_front=False)
        inputs = inputs.to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        return inputs

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

    def _logits(self, inputs, keep: int) -> torch.Tensor:
        """The logits of the last `keep` positions (at least): computed for those alone where the model can."""
        if self.keeps_logits:
            return self.model(**inputs, logits_to_keep=keep).logits
        return self.model(**inputs).logits

    def score(self, pictures: list, prompts: list[str], samples=None) -> list[dict]:
        """Yes/no for each (picture, prompt); `samples` is unused here (a contrastive backbone reads them)."""
        return self._halving_on_oom(self._score, pictures, prompts)

    @torch.no_grad()
    def _score(self, pictures: list, prompts: list[str]) -> list[dict]:
        texts = [self.chat_text(p, len(_images(pic))) for pic, p in zip(pictures, prompts, strict=True)]
        inputs = self._inputs(pictures, texts)
        if self.scoring == "likelihood":
            logits = self._logits(inputs, 1)[:, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            yes = torch.logsumexp(logp[:, self.yes_ids], dim=-1)
            no = torch.logsumexp(logp[:, self.no_ids], dim=-1)
            p_yes = torch.sigmoid(yes - no).tolist()
            return [{"model_input": t, "p_yes": p, "prediction": p > 0.5, "raw": None}
                    for t, p in zip(texts, p_yes, strict=True)]
        out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
        answers = self.tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        return [{"model_input": t, "p_yes": None, "prediction": parse_answer(a), "raw": a}
                for t, a in zip(texts, answers, strict=True)]

    def choose(self, pictures: list, prompts: list[str], options: list[list[str]]) -> list[dict]:
        """Caption choice: each option scored by its mean token log-probability as the model's answer to the
        prompt; the prediction is the index of the best one, or None when two or more share the best score (a
        tie is never broken towards the first option)."""
        return self._halving_on_oom(self._choose, pictures, prompts, options)

    @torch.no_grad()
    def _choose(self, pictures: list, prompts: list[str], options: list[list[str]]) -> list[dict]:
        prefixes = [self.chat_text(p, len(_images(pic))) for pic, p in zip(pictures, prompts, strict=True)]
        rows = [(picture, prefix, f"{prefix} {option}")
                for picture, prefix, opts in zip(pictures, prefixes, options, strict=True) for option in opts]
        inputs = self._inputs([r[0] for r in rows], [r[2] for r in rows])
        lengths = [len(self.tokenizer.encode(full, add_special_tokens=False))
                   - len(self.tokenizer.encode(prefix, add_special_tokens=False)) for _, prefix, full in rows]
        keep = max(lengths) + 1  # the options' tokens are last (left padding), and the position before each
        logits = self._logits(inputs, keep)[:, -keep:]
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)
        token_logp = logp.gather(-1, inputs["input_ids"][:, -keep + 1:, None])[..., 0]
        scores = [token_logp[i, -n:].mean().item() for i, n in enumerate(lengths)]
        out, start = [], 0
        for prefix, opts in zip(prefixes, options, strict=True):
            mine = scores[start:start + len(opts)]
            start += len(opts)
            best = max(mine)
            winners = [k for k, s in enumerate(mine) if s == best]
            out.append({"model_input": prefix, "scores": mine, "prediction": winners[0] if len(winners) == 1 else None,
                        "p_yes": None, "raw": None})
        return out
