"""One adapter for Hugging Face VLMs: AutoModelForImageTextToText + AutoProcessor + the processor's chat template.

Two scoring modes:
- likelihood: one forward pass; p_yes = P(yes-words) / (P(yes-words) + P(no-words)) at the first answer
  position, over the single-token variants of `yes_words` / `no_words` in this tokenizer. Predicts yes when
  p_yes > 0.5 (an exact tie counts as no).
- generate: greedy decoding of `max_new_tokens`, then the word-level parser (answers.py); an answer the
  parser cannot read is unparsed, counted, never guessed.
"""

from __future__ import annotations

import torch
from PIL import Image

from zerovlm.backbones.answers import parse_answer
from zerovlm.backbones.tiny import ensure_tiny_model

SCORING = ("likelihood", "generate")


class HFVisionLanguageModel(torch.nn.Module):
    def __init__(self, name: str, model: str, revision: str | None = None, tiny_random: str | None = None,
                 scoring: str = "likelihood", batch_size: int = 4, max_new_tokens: int = 8,
                 dtype: str = "float32", yes_words=("yes", "Yes"), no_words=("no", "No"), seed: int = 0) -> None:
        super().__init__()
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if scoring not in SCORING:
            raise ValueError(f"backbone.scoring={scoring!r}: choose one of {', '.join(SCORING)}")
        if tiny_random:
            ensure_tiny_model(tiny_random, model, seed)
        self.name, self.scoring, self.batch_size, self.max_new_tokens = name, scoring, batch_size, max_new_tokens
        self.tiny_random = bool(tiny_random)
        self.processor = AutoProcessor.from_pretrained(model, revision=revision)
        self.tokenizer = self.processor.tokenizer
        self.tokenizer.padding_side = "left"  # the answer position is the last one in every row
        self.model = AutoModelForImageTextToText.from_pretrained(
            model, revision=revision, dtype=getattr(torch, dtype)
        ).eval()
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

    def chat_text(self, prompt: str) -> str:
        """The exact text the model is given: the processor's chat template around one image and the prompt."""
        conversation = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        return self.processor.apply_chat_template(conversation, add_generation_prompt=True)

    def _inputs(self, images: list[Image.Image], texts: list[str]):
        inputs = self.processor(images=images, text=texts, return_tensors="pt", padding=True).to(self.model.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.model.dtype)
        return inputs

    @torch.no_grad()
    def score(self, images: list[Image.Image], prompts: list[str]) -> list[dict]:
        texts = [self.chat_text(p) for p in prompts]
        inputs = self._inputs(images, texts)
        if self.scoring == "likelihood":
            logits = self.model(**inputs).logits[:, -1].float()
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

    @torch.no_grad()
    def choose(self, images: list[Image.Image], prompts: list[str], options: list[list[str]]) -> list[dict]:
        """Caption choice: each option scored by its mean token log-probability as the model's answer to the
        prompt; the prediction is the index of the best one, or None when two or more share the best score (a
        tie is never broken towards the first option)."""
        prefixes = [self.chat_text(p) for p in prompts]
        rows = [(image, prefix, f"{prefix} {option}") for image, prefix, opts in zip(images, prefixes, options,
                                                                                      strict=True) for option in opts]
        inputs = self._inputs([r[0] for r in rows], [r[2] for r in rows])
        lengths = [len(self.tokenizer.encode(full, add_special_tokens=False))
                   - len(self.tokenizer.encode(prefix, add_special_tokens=False)) for _, prefix, full in rows]
        logp = torch.log_softmax(self.model(**inputs).logits[:, :-1].float(), dim=-1)
        token_logp = logp.gather(-1, inputs["input_ids"][:, 1:, None])[..., 0]
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
