"""Structured configs: the schema every yaml in conf/ is checked against.

Each option of a group with its own class (dataset, generator, backbone) starts its defaults list with the
schema stored here under ``schema/<group>/<name>``; the groups that share one shape (views, layout, prompt,
trainer, paths) are typed by the top-level ``Config``. A misspelt key or a value of the wrong type fails at
composition with Hydra's error. This module imports nothing heavy: ``zerovlm --cfg job`` never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, OmegaConf

from zerovlm.backbones.answers import NO_VARIANTS, YES_VARIANTS


@dataclass
class SyntheticDatasetConfig:
    _target_: str = "zerovlm.data.synthetic.SyntheticDataset"
    name: str = "synthetic"
    num_scenes: int = 24
    splits: list[str] = field(default_factory=lambda: ["dev", "test"])
    split_fractions: dict[str, float] = field(
        default_factory=lambda: {"train": 0.5, "dev": 0.25, "test": 0.25}
    )
    image_size: int = 256
    seed: int = 0
    limit: int | None = None  # keep the first N samples of each selected split (quick runs, odd sizes)


@dataclass
class VSRDatasetConfig:
    _target_: str = "zerovlm.data.vsr.VSRDataset"
    name: str = MISSING
    hf_repo: str = MISSING  # cambridgeltl/vsr_random | cambridgeltl/vsr_zeroshot
    revision: str | None = None
    annotations_dir: str | None = None  # a local folder with train/dev/test.jsonl instead of the hub
    splits: list[str] = field(default_factory=lambda: ["test"])
    image_root: str | None = None  # COCO 2017: train2017/ + val2017/, or one merged folder
    download_images: bool = False
    image_cache_dir: str | None = None
    on_missing: str = "error"  # error | skip (skipped samples are counted in metrics.json)
    task: str = "original"  # original | zerovlm
    negatives: list[str] = field(default_factory=lambda: ["relation_swap", "object_swap"])
    seed: int = 0
    limit: int | None = None


@dataclass
class WhatsUpDatasetConfig:
    _target_: str = "zerovlm.data.whatsup.WhatsUpDataset"
    name: str = MISSING
    subset: str = MISSING  # A (controlled images) | B (controlled CLEVR)
    data_dir: str | None = None
    splits: list[str] = field(default_factory=lambda: ["test"])
    split_fractions: dict[str, float] = field(default_factory=lambda: {"dev": 0.5, "test": 0.5})
    task: str = "verify"  # verify | original (4-way caption choice) | zerovlm
    negatives: list[str] = field(default_factory=lambda: ["relation_swap", "object_swap"])
    on_missing: str = "error"
    seed: int = 0
    limit: int | None = None


@dataclass
class WhatsUpSpatialDatasetConfig:
    _target_: str = "zerovlm.data.whatsup_spatial.WhatsUpSpatialDataset"
    name: str = MISSING
    subset: str = MISSING  # coco_one | coco_two | gqa_one | gqa_two
    data_dir: str | None = None  # the release's json files (and val2017/, vg_images/)
    image_dir: str | None = None  # the images elsewhere: COCO val2017/ or Visual Genome's images
    task: str = "original"  # original (two-way caption choice) | verify
    on_missing: str = "error"
    limit: int | None = None


@dataclass
class PoseConfig:
    """A camera pose relative to the input view, in Zero-1-to-3's convention (degrees, radius offset).

    ``random: true`` draws polar = arcsin(U(-1, 1))·160/π and azimuth = U(-150, 150) from a seed derived
    from (run seed, sample id, pose name), as the reference demo does, so every run and rank agrees.
    The pose named ``origin`` is the input image itself and is never generated.
    """

    name: str = MISSING
    polar: float = 0.0
    azimuth: float = 0.0
    radius: float = 0.0
    random: bool = False
    label: str | None = None  # how prompts name the view; default "<name> view image"


@dataclass
class ViewSetConfig:
    name: str = MISSING
    poses: list[PoseConfig] = MISSING


@dataclass
class LayoutConfig:
    """How the views become the picture the VLM sees (see zerovlm/stitch.py)."""

    name: str = MISSING
    kind: str = "grid"  # single | horizontal | vertical | grid | separate
    cell_size: int = 256  # pixels per view in a stitched canvas; one view (or separate views) is given as it is
    gap: int = 8
    background: list[int] = field(default_factory=lambda: [255, 255, 255])
    labels: bool = False
    label_height: int = 20


@dataclass
class PromptConfig:
    """Prompt templates (str.format fields in braces); see zerovlm/prompts.py for the fields."""

    name: str = MISSING
    question: str = MISSING
    view_prompt: bool = False
    single_original: str = "{question}"
    single_generated: str = "{question}"
    multi: str = "{question}"
    multi_item: str = "the {label} {position}"
    with_prior: str = "{prior}\n{question}"  # where a 3D prior's text goes (prior=spatialpin)
    choice_question: str = "Describe the image in one short sentence."  # caption choice: captions answer this
    # multiple choice: {prompt} = the question with its options as the benchmark words it ({question} bare,
    # {options} lettered); the answer scored is the option's letter or its text
    multiple_choice: str = "{prompt}\nAnswer with the option's letter from the given choices directly."
    choice_answer: str = "letter"  # letter | text


@dataclass
class OracleGeneratorConfig:
    _target_: str = "zerovlm.generators.oracle.OracleRenderer"
    name: str = "oracle"


@dataclass
class Zero123GeneratorConfig:
    _target_: str = "zerovlm.generators.zero123.Zero123Generator"
    name: str = MISSING
    model: str = MISSING  # hub id (kxic/zero123-xl) or a local diffusers-format folder
    revision: str | None = None
    variant: str = "zero123"  # zero123 | stable_zero123 (pose embedding's 4th value)
    condition_polar: float = 90.0  # stable_zero123: the input image's polar angle, degrees (90: from the horizon)
    steps: int = 50
    guidance: float = 3.0
    eta: float = 1.0  # the original demo's DDIM eta; 0.0: the diffusers community pipeline's (deterministic)
    timesteps: str = "ldm"  # ldm: the original DDIMSampler's list (49 steps at 50) | diffusers: exactly `steps`
    # (range(0, 1000, 1000 // steps) + 1 without its noisiest step: 49 steps at 50, 76 at 75)
    size: int = 256
    # pad: the whole image centred on white | resize: squashed to size x size | reference: the original demo's
    # load_and_preprocess (needs segmenter): background white, cropped to the object, PIL thumbnail (LANCZOS, never
    # enlarging) to 200/256 of size, centred on white
    preprocess: str = "pad"
    dtype: str = "float32"  # float16 / bfloat16 on CUDA
    batch_size: int = 8  # views per denoising batch
    compile: bool = False  # torch.compile the UNet (default mode): worth its minute of compiling on long renders
    segmenter: str | None = None  # a transformers image-segmentation model: remove the background first
    background_labels: list[str] = field(default_factory=lambda: ["background"])
    object_scale: float = 0.8  # pad/resize with a segmenter: the object's longer side as a fraction of the input
    tiny_random: bool = False
    seed: int = 0  # seed of the tiny random weights


@dataclass
class HFBackboneConfig:
    _target_: str = "zerovlm.backbones.hf.HFVisionLanguageModel"
    name: str = MISSING
    model: str = MISSING  # hub id or local directory
    revision: str | None = None
    tiny_random: str | None = None  # architecture family: write tiny random weights to `model` if absent
    scoring: str = "likelihood"  # likelihood | generate
    batch_size: int = 4
    max_new_tokens: int = 8
    dtype: str = "float32"  # float16 / bfloat16 on GPUs (see the README on what changes then)
    attn_implementation: str | None = None  # null: transformers picks (SDPA where it can) | eager | sdpa | flash_..._2
    device_map: str | None = None  # null: Lightning places the model; "auto": split one big model over GPUs
    quantization: str | None = None  # 4bit | 8bit (bitsandbytes, CUDA)
    trust_remote_code: bool = False
    processor_kwargs: dict[str, Any] = field(default_factory=dict)  # to AutoProcessor, e.g. Qwen's max_pixels
    multi_image: bool = False  # takes several images per prompt (needed by layout=separate)
    prompt_format: str | None = None  # for processors without a chat template, e.g. "{prompt}"
    # statements about one picture compute the picture and the prompt before them once (likelihood scoring and
    # caption choice; the same scores as apart, where the processor's output allows it)
    share_prefix: bool = True
    yes_words: list[str] = field(default_factory=lambda: list(YES_VARIANTS))
    no_words: list[str] = field(default_factory=lambda: list(NO_VARIANTS))
    # the processor class to load, where the checkpoint's processor_config.json names one that does not take
    # images (InstructBLIP's names InstructBlipVideoProcessor); null: AutoProcessor, as the checkpoint says
    processor_class: str | None = None
    # image processors come in a PIL and a torchvision version, and transformers picks torchvision where it is
    # installed: pil (the checkpoints' reference numerics) gives the same pixels whatever is installed
    image_backend: str | None = "pil"
    # pad each picture to a square with the image processor's mean colour before the processor (LLaVA-1.5's own
    # `image_aspect_ratio: pad`): a processor that centre-crops then cuts no view of a wide canvas
    pad_to_square: bool = False
    system_prompt: str | None = None  # a system turn before the question, through the checkpoint's chat template
    seed: int = 0  # seed of the tiny random weights


@dataclass
class CLIPBackboneConfig:
    _target_: str = "zerovlm.backbones.clip.CLIPBackbone"
    name: str = MISSING
    model: str = MISSING
    revision: str | None = None
    tiny_random: str | None = None
    batch_size: int = 16
    dtype: str = "float32"
    scoring: str = "similarity"
    image_backend: str | None = "pil"
    pad_to_square: bool = False  # as the HF backbone's: no centre crop cuts a view of a wide canvas
    seed: int = 0


@dataclass
class PriorTemplates:
    """The wording of a 3D prior (conf/prior_wording/); fields in braces (see zerovlm/priors/spatialpin.py)."""

    preamble: str = MISSING
    units_metric: str = MISSING
    units_relative: str = MISSING
    unit_metric: str = MISSING
    unit_relative: str = MISSING
    object: str = MISSING
    closest: str = MISSING
    no_neighbour: str = MISSING
    missing: str = MISSING
    shot: str = MISSING


@dataclass
class SpatialPriorConfig:
    _target_: str = "zerovlm.priors.spatialpin.SpatialPrior"
    name: str = MISSING
    depth: str = "oracle"  # oracle | a transformers depth-estimation model (hub id or path)
    detector: str = "oracle"  # oracle | a transformers zero-shot object detector (OWLv2, Grounding DINO)
    depth_revision: str | None = None
    detector_revision: str | None = None
    depth_tiny_random: bool = False
    detector_tiny_random: bool = False
    detector_threshold: float = 0.1
    segmenter: str | None = None  # SAM (transformers SamModel): boxes refined to masks
    segmenter_revision: str | None = None
    segmenter_tiny_random: bool = False
    fov: float = 60.0  # vertical field of view, degrees: focal = H / (2 tan(fov / 2))
    shot_tilted: float = 30.0  # pitch (degrees) beyond which the shot is bottom-up
    shot_steep: float = 60.0  # pitch beyond which it is top-down
    cache_dir: str = "${paths.cache_root}/priors"
    templates: PriorTemplates = field(default_factory=PriorTemplates)
    seed: int = 0


@dataclass
class TrainerConfig:
    """Keyword arguments of ``lightning.pytorch.Trainer``; add others with ``+trainer.key=value``."""

    _target_: str = "lightning.pytorch.Trainer"
    accelerator: str = "cpu"
    devices: Any = 1
    num_nodes: int = 1
    strategy: str = "auto"
    precision: Any = "32-true"
    enable_progress_bar: bool = True  # "job 3/8 evaluate" with samples/s and views/s (console.JobProgressBar)
    enable_model_summary: bool = False
    enable_checkpointing: bool = False
    logger: bool = False


@dataclass
class PathsConfig:
    output_dir: str | None = MISSING  # the Hydra job directory (null in `zerovlm --cfg job --resolve`: no job yet)
    cache_root: str = MISSING  # $ZEROVLM_CACHE, else .cache/zerovlm in the working directory
    cache_dir: str = MISSING  # generated views, content-addressed
    model_dir: str = MISSING  # tiny random models written on first use
    data_dir: str = MISSING  # datasets: where a downloaded image cache lives
    # Where the real datasets are, so one sweep over several datasets needs one override each:
    coco_dir: str | None = None  # COCO 2017 images (VSR): train2017/ + val2017/ or merged
    vsr_splits_dir: str | None = None  # VSR's data/splits (random/ and zeroshot/); null: the Hugging Face hub
    whatsup_dir: str | None = None  # What'sUp release: the json files and the image folders
    # the multiple-choice benchmarks: a local copy of each one's files; null: read from the Hugging Face hub's cache
    cv_bench_dir: str | None = None  # nyu-visionx/CV-Bench: README.md, test_2d.parquet, test_3d.parquet
    blink_dir: str | None = None  # BLINK-Benchmark/BLINK: README.md, <subtask>/val-*.parquet
    threedsr_dir: str | None = None  # ccvl/3DSRBench: 3dsrbench_v1_vlmevalkit_circular.tsv
    embspatial_dir: str | None = None  # Phineas476/EmbSpatial-Bench: embspatial_bench.json


@dataclass
class Config:
    dataset: Any = MISSING
    views: ViewSetConfig = MISSING
    generator: Any = MISSING
    layout: LayoutConfig = MISSING
    prompt: PromptConfig = MISSING
    backbone: Any = MISSING
    trainer: TrainerConfig = MISSING
    logger: Any = None
    prior: Any = None
    paths: PathsConfig = field(default_factory=PathsConfig)
    stage: str = "evaluate"  # evaluate | render (fill the view cache) | compare_views (generator vs oracle)
    seed: int = 0
    sort_by_length: bool = True  # batches of similar text length (less padding); results do not change
    # processes preparing batches (views from the cache, stitching, prompts, the processor) beside the model;
    # null: up to 4 per rank on GPUs, 0 on the CPU
    num_workers: int | None = None
    num_sample_images: int = 8  # stitched inputs kept in inputs/ and shown in samples.png and W&B
    # the system prompt the LLaVA-1.5 configs take (their backbone.system_prompt); the paper presets set LLaVA's
    # llava_v1 one (conf/system_prompt/llava_v1.yaml), other backbones keep their own conversation
    llava_system_prompt: str | None = None


def _subdir(base: str | None, name: str) -> str | None:
    return None if base is None else f"{base}/{name}"


def _slurm_tasks(devices) -> int:
    """trainer.devices as SLURM's tasks per node: one task per device, a number."""
    if isinstance(devices, (list, tuple)) or str(devices).startswith("["):
        return len(devices)
    if str(devices).strip().lstrip("-").isdigit() and int(devices) > 0:
        return int(devices)
    raise ValueError(f"trainer.devices={devices!r}: under hydra/launcher=slurm SLURM starts one task per device, "
                     "so say how many: trainer.devices=<GPUs per node>")


def _slurm_gpus(accelerator: str, devices) -> int | None:
    """The GPUs per node to ask SLURM for: one per task on GPUs, none on the CPU."""
    return None if accelerator == "cpu" else _slurm_tasks(devices)


def register_configs() -> None:
    if not OmegaConf.has_resolver("subdir"):  # ${subdir:${paths.x},name}: null stays null
        OmegaConf.register_new_resolver("subdir", _subdir)
    if not OmegaConf.has_resolver("slurm_tasks"):  # conf/hydra/launcher/slurm.yaml
        OmegaConf.register_new_resolver("slurm_tasks", _slurm_tasks)
        OmegaConf.register_new_resolver("slurm_gpus", _slurm_gpus)
    cs = ConfigStore.instance()
    cs.store(name="schema", node=Config)
    cs.store(group="schema/dataset", name="synthetic", node=SyntheticDatasetConfig)
    cs.store(group="schema/dataset", name="vsr", node=VSRDatasetConfig)
    cs.store(group="schema/dataset", name="whatsup", node=WhatsUpDatasetConfig)
    cs.store(group="schema/dataset", name="whatsup_spatial", node=WhatsUpSpatialDatasetConfig)
    cs.store(group="schema/generator", name="oracle", node=OracleGeneratorConfig)
    cs.store(group="schema/generator", name="zero123", node=Zero123GeneratorConfig)
    cs.store(group="schema/backbone", name="hf", node=HFBackboneConfig)
    cs.store(group="schema/backbone", name="clip", node=CLIPBackboneConfig)
    cs.store(group="schema/prior", name="spatialpin", node=SpatialPriorConfig)
