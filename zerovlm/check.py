"""`zerovlm-check`: known answers for the first real run.

Before a long sweep, a researcher wants to know that this install gives the real checkpoints' published outputs.
This runs each backbone family's reference input from transformers' own integration tests (the checkpoint, the
image, the exact text, the dtype and quantisation the test used) through this project's processor loading
(`load_processor`: the PIL image processor, as every run here) and compares with the published output: the greedy
continuation word for word, or a 3 x 3 corner of the logits within the test's tolerance. One line per
checkpoint: matches, or differs with the numbers. It needs the Hugging Face hub (checkpoints and images) and, for
the 4-bit and 8-bit references, a CUDA GPU with bitsandbytes; offline it says so and exits non-zero.

    zerovlm-check                       # every reference
    zerovlm-check --only llava-hf/llava-1.5-7b-hf
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field

COCO_CATS = "http://images.cocodataset.org/val2017/000000039769.jpg"
VIEW = "https://llava-vl.github.io/static/images/view.jpg"
RADAR = ("https://github.com/haotian-liu/LLaVA/blob/1a91fc274d7c35a9b50b3cb29c4247ae5837ce39/images/"
         "llava_v1_5_radar.jpg?raw=true")
IRONING = "https://raw.githubusercontent.com/salesforce/LAVIS/main/docs/_static/Confusing-Pictures.jpg"
DOG = "https://qianwen-res.oss-accelerate-overseas.aliyuncs.com/Qwen2-VL/demo_small.jpg"


@dataclass(frozen=True)
class Reference:
    """One published input and output of a checkpoint (transformers' tests/models/<family>)."""

    checkpoint: str
    source: str
    images: tuple[str, ...]  # one per text, in order (a batch where the test ran one)
    texts: tuple[str, ...]
    compared: int = 0  # which row of the batch the published output is
    dtype: str = "float16"
    quantization: str | None = None  # as the test loads it: 4bit / 8bit (bitsandbytes, CUDA)
    expected_text: str | None = None  # the greedy continuation (new tokens only)
    max_new_tokens: int = 20
    expected_logits: tuple[tuple[float, ...], ...] | None = None  # logits[row, :3, :3]
    atol: float = 1e-3
    processor: dict = field(default_factory=dict)  # load_processor's options (e.g. processor_class)
    chat: bool = False  # the text is the user's turn, through the processor's chat template


REFERENCES = (
    Reference("llava-hf/llava-1.5-7b-hf", "tests/models/llava (test_small_model_integration_test_llama_batched)",
              (VIEW, COCO_CATS),
              ("USER: <image>\nWhat are the things I should be cautious about when I visit this place? What should I "
               "bring with me? ASSISTANT:", "USER: <image>\nWhat is this? ASSISTANT:"),
              compared=1, quantization="4bit", max_new_tokens=20,
              expected_text="The image features two cats lying down on a pink couch. One cat is located on"),
    Reference("llava-hf/llava-v1.6-mistral-7b-hf", "tests/models/llava_next (test_small_model_integration_test)",
              (RADAR,), ("[INST] <image>\nWhat is shown in this image? [/INST]",), quantization="4bit",
              expected_logits=((-4.7695, -4.5664, -0.2786), (-10.6250, -10.8906, -2.5254),
                               (-6.7383, -7.2461, -0.6787))),
    Reference("Qwen/Qwen2.5-VL-7B-Instruct", "tests/models/qwen2_5_vl (test_small_model_integration_test)",
              (DOG,), ("What kind of dog is this?",), dtype="bfloat16", chat=True, max_new_tokens=30,
              expected_text="The dog in the picture appears to be a Labrador Retriever. Labradors are known for their "
                            "friendly and energetic nature, which is evident in"),
    Reference("Salesforce/instructblip-vicuna-7b", "tests/models/instructblip (test_inference_vicuna_7b)",
              (IRONING,), ("What is unusual about this image?",), quantization="8bit",
              processor={"processor_class": "InstructBlipProcessor"},
              expected_logits=((-3.3926, -12.2969, 8.4922), (-5.0195, -11.9531, 8.1406),
                               (-4.0039, -13.3594, 9.2578))),
)


@dataclass
class Outcome:
    checkpoint: str
    matches: bool
    detail: str

    def line(self) -> str:
        return f"{self.checkpoint}: {'matches' if self.matches else 'differs'} ({self.detail})"


def compare(reference: Reference, got: dict) -> Outcome:
    """The published output against `got` ({"text": ...} or {"logits": 3 x 3}), as the test compares them."""
    if reference.expected_text is not None:
        text = got["text"].strip()
        if text == reference.expected_text:
            return Outcome(reference.checkpoint, True, f"{reference.max_new_tokens} new tokens word for word")
        same = len(_common_words(text, reference.expected_text))
        return Outcome(reference.checkpoint, False, f"first {same} words agree; got {text!r}, published "
                                                    f"{reference.expected_text!r}")
    expected = [v for row in reference.expected_logits for v in row]
    values = [float(v) for row in got["logits"] for v in row]
    worst = max(abs(a - b) for a, b in zip(values, expected, strict=True))
    shown = ", ".join(f"{v:.4f}" for v in values)
    return Outcome(reference.checkpoint, worst <= reference.atol,
                   f"logits[{reference.compared}, :3, :3] within {worst:.4g} of the published values (tolerance "
                   f"{reference.atol}): "
                   f"[{shown}]")


def _common_words(a: str, b: str) -> list[str]:
    out = []
    for x, y in zip(a.split(), b.split(), strict=False):
        if x != y:
            break
        out.append(x)
    return out


def run(reference: Reference, device: str) -> dict:
    """The checkpoint's output on the reference input (downloads the checkpoint and the images)."""
    import io
    import urllib.request

    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, BitsAndBytesConfig

    from zerovlm.backbones.hf import load_processor

    processor = load_processor(reference.checkpoint, reference.checkpoint, **reference.processor)
    images = [Image.open(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())).convert("RGB")
              for url in reference.images]
    texts = list(reference.texts)
    if reference.chat:
        texts = [processor.apply_chat_template([{"role": "user", "content": [
            {"type": "image"}, {"type": "text", "text": t}]}], add_generation_prompt=True) for t in texts]
    kwargs = {"dtype": getattr(torch, reference.dtype)}
    if reference.quantization:
        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=reference.quantization == "4bit",
                                                           load_in_8bit=reference.quantization == "8bit")
        kwargs["device_map"] = device
    model = AutoModelForImageTextToText.from_pretrained(reference.checkpoint, **kwargs).eval()
    if not reference.quantization:
        model.to(device)
    processor.tokenizer.padding_side = "left"
    inputs = processor(images=images, text=texts, return_tensors="pt", padding=True).to(model.device)
    if "pixel_values" in inputs:
        inputs["pixel_values"] = inputs["pixel_values"].to(kwargs["dtype"])
    row = reference.compared
    with torch.no_grad():
        if reference.expected_text is not None:
            out = model.generate(**inputs, max_new_tokens=reference.max_new_tokens, do_sample=False)
            new = out[row, inputs["input_ids"].shape[1]:]
            return {"text": processor.tokenizer.decode(new, skip_special_tokens=True)}
        return {"logits": model(**inputs).logits[row, :3, :3].float().cpu().tolist()}


def hub_unreachable() -> str | None:
    """Why the hub cannot be reached from here, or None where it can."""
    import os

    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return "HF_HUB_OFFLINE is set"
    from huggingface_hub import model_info

    try:
        model_info(REFERENCES[0].checkpoint, timeout=10)
    except Exception as error:  # no network, a proxy, a refused connection: all the same here
        return f"{type(error).__name__}: {error}"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="zerovlm-check", description=__doc__.split("\n\n")[1])
    parser.add_argument("--only", action="append", metavar="CHECKPOINT", help="check these checkpoints only")
    parser.add_argument("--device", default="cuda", help="torch device (default cuda)")
    args = parser.parse_args(argv)
    references = [r for r in REFERENCES if not args.only or r.checkpoint in args.only]
    if args.only and len(references) < len(args.only):
        known = ", ".join(r.checkpoint for r in REFERENCES)
        parser.error(f"--only names a checkpoint without a reference; they are: {known}")
    if (why := hub_unreachable()) is not None:
        print(f"zerovlm-check needs the Hugging Face hub to download the checkpoints and the reference images, and "
              f"cannot reach it ({why}). Run it where the hub is reachable (and a CUDA GPU for the 4-bit and 8-bit "
              "references).", file=sys.stderr)
        return 2
    outcomes = []
    for reference in references:
        try:
            outcome = compare(reference, run(reference, args.device))
        except Exception as error:  # one checkpoint that cannot run must not hide the others' answers
            outcome = Outcome(reference.checkpoint, False, f"could not run: {type(error).__name__}: {error}")
        print(outcome.line(), flush=True)
        outcomes.append(outcome)
    return 0 if all(o.matches for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
