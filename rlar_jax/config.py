"""Typed experiment configuration: dataclass schema, YAML files and dotted command-line overrides.

`load_config("configs/default.yaml", ["trainer.steps=20"])` reads the file, applies the overrides and
builds `ExperimentConfig`. Unknown keys and values of the wrong type raise `ConfigError` naming the full
dotted key and the expected type.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import yaml

from rlar_jax.reward_config import AgentSection, EvolutionConfig, RewardsSection  # noqa: F401  (sections)
from rlar_jax.sampling_config import SamplingConfig
from rlar_jax.schema import ConfigError, OneOf, apply_override, build, yaml_error

__all__ = ["ConfigError", "ExperimentConfig", "apply_override", "build", "load_config", "to_dict"]


FLOAT_DTYPES = ("float32", "bfloat16", "float16")  # model.dtype / model.param_dtype
BF16_MAX_B2 = 0.995  # largest optim.b2 with bfloat16 moments (1 - b2 above half of bfloat16's 2^-8 step)


# ---------------------------------------------------------------------------------------------- schema


@dataclasses.dataclass
class LoraSection:
    """LoRA (flax.nnx.LoRA adapters): train low-rank adapters on the frozen model instead of every weight.
    The optimizer holds the adapters only; the KL reference is the base with adapters off."""

    rank: int | None = None  # adapter rank r (>= 1); unset (null): a full fine-tune
    alpha: float = 32.0  # adapter output scale alpha / r (PEFT's lora_alpha)
    # Modules that get an adapter: PEFT names (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj,
    # down_proj) or "all-linear" (all seven)
    targets: list[str] = dataclasses.field(default_factory=lambda: ["all-linear"])
    seed: int = 0  # draws the adapters' A matrices (B starts at zero)

    def __post_init__(self) -> None:
        from rlar_jax.models.lora import resolve_targets

        if self.rank is not None and self.rank < 1:
            raise ValueError(f"rank must be an int >= 1 (leave it unset for a full fine-tune), got {self.rank}")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        resolve_targets(self.targets, "targets")

    @property
    def enabled(self) -> bool:
        """True when adapters are configured."""
        return self.rank is not None


@dataclasses.dataclass
class ModelSection:
    """The policy."""

    name: str = "smollm2-135m-instruct"  # known name, local path (HF dir or .gguf), HF hub id, or "random"
    # Compute dtype (activations, forward and backward, and the weight copy rollouts sample with):
    # float32 | bfloat16 | float16. bfloat16 on accelerators.
    dtype: str = "float32"
    # Master weights and optimizer state: float32 keeps AdamW updates far smaller than a bf16 ulp (lr 1e-6).
    # bfloat16 (pure bf16) halves their memory but rounds small updates away; the trainer warns when
    # optim.learning_rate is too small for it (rlar_jax.precision.min_learning_rate).
    param_dtype: str = "float32"
    remat: bool = False  # rematerialise each layer in the backward pass (saves memory)
    # Train only the top layers: the lowest N decoder layers get no gradient, so the update runs no
    # backward through them and keeps none of their activations (each frozen layer saves about 2/3 of
    # its cost in the update). 0 = full fine-tune. Needs optim.weight_decay 0 (decay would move them).
    frozen_layers: int = 0
    lora: LoraSection = dataclasses.field(default_factory=LoraSection)  # adapters instead of a full fine-tune
    # Only for name == "random": Hugging Face config.json keys of a randomly initialised model.
    random_config: dict[str, Any] = dataclasses.field(default_factory=dict)
    random_seed: int = 0

    def __post_init__(self) -> None:
        for key in ("dtype", "param_dtype"):
            if getattr(self, key) not in FLOAT_DTYPES:
                raise ValueError(f"{key} must be one of {list(FLOAT_DTYPES)}, got {getattr(self, key)!r}")
        if not isinstance(self.frozen_layers, int) or self.frozen_layers < 0:
            raise ValueError(f"frozen_layers must be an int >= 0, got {self.frozen_layers!r}")


@dataclasses.dataclass
class MeshSection:
    """Device mesh over all processes; -1 takes the remaining devices."""

    data: int = -1
    fsdp: int = 1
    tensor: int = 1
    rules: dict[str, Any] = dataclasses.field(default_factory=dict)  # logical axis -> mesh axis overrides


@dataclasses.dataclass
class DistributedSection:
    """Multi-host start-up; leave empty on one host (TPU pods/SLURM discover these themselves)."""

    coordinator: str | None = None  # "host:port" of process 0
    num_processes: int | None = None
    process_id: int | None = None


def _registered_dataset_kinds() -> list[str]:
    from rlar_jax.datasets.kinds import DATASET_KINDS  # imported when a config is built (see _registered_losses)

    return list(DATASET_KINDS)


@dataclasses.dataclass
class TaskSource:
    """One task of the training mixture: where its rows are, how they become prompts, how often it is drawn.

    Paths are registry names `NAME:SPLIT` of the data bundled with the package (e.g. `gsm8k:train`,
    `wmt22:en-de`, `mbpp`; `rlar-jax data list`), local files (JSONL / JSON / text, optionally `.gz`;
    relative ones are found under the config file's directory, else the working directory, else the
    repository root) or Hugging Face dataset names "owner/name[:split]". A local file that does not
    exist fails `load_config` with the key, e.g. `data.tasks[1].path: data file not found: x.jsonl`.
    With `path` alone one file holds both splits: MBPP is split by task_id
    (evaluation = ids 11-510, training = 511-974); any other kind holds out its first `eval_size` rows
    for evaluation and trains on the rest. `train_path` / `eval_path` name the splits explicitly.
    """

    # Row format: gsm8k (question/answer), math (problem/answer), mbpp (text/code/test_list),
    # humaneval (prompt/test/entry_point), wmt (line-aligned source + reference text files, or rows with a
    # `translation` object), hh (HH-RLHF chosen/rejected dialogues), llmbar (input/output_1/output_2/label),
    # constraints (prompt + its ground-truth format constraints, see rlar_jax/datasets/constraints.py),
    # jsonl (any JSONL; see `fields`), or a kind registered by user code with
    # rlar_jax.datasets.kinds.register_dataset_kind before the config is loaded.
    kind: Annotated[str, OneOf(_registered_dataset_kinds,
                               "register more with rlar_jax.datasets.kinds.register_dataset_kind")] = "gsm8k"
    name: str | None = None  # task tag of its examples (per-task metrics, reward routing); default: the kind
    path: str | None = None  # one source holding both splits (see the class docstring)
    train_path: str | None = None  # the training split (overrides `path` for training)
    eval_path: str | None = None  # the evaluation split (overrides `path` for evaluation)
    reference_path: str | None = None  # wmt with `path`: reference file (default: derived from the source name,
    # e.g. generaltest2022.en-de.src.en -> generaltest2022.en-de.ref.A.de)
    weight: float = 1.0  # relative share of the training stream (> 0)
    limit: int | None = None  # cap on this task's training examples (read before mixing)
    eval_size: int | None = None  # held-out examples of this task; default data.eval_size
    # jsonl: example part -> row field, keys: prompt (or messages: a list of {role, content}), reference,
    # system, and meta.<key> for any meta entry (e.g. meta.tests: test_list)
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    language_pair: str | None = None  # wmt: "src-tgt" codes, e.g. en-de; default: read from the file name
    instruction: str | None = None  # replaces the kind's default instruction added to each prompt ("" = none)
    hf_config: str | None = None  # configuration name of a Hugging Face dataset (e.g. "main" for gsm8k)
    reward_model: str | None = None  # `rlar-jax eval`: catalog id scoring open-ended (dialogue) responses;
    # default: the reward model the offline planner picks for the task
    on_error: Literal["raise", "skip"] = "raise"  # malformed row: error naming file:line and field, or skip + count

    def __post_init__(self) -> None:
        if not (self.weight > 0):
            raise ValueError(f"weight must be > 0, got {self.weight}")
        if not (self.path or self.train_path or self.eval_path):
            raise ValueError(f"task {self.name or self.kind!r}: set path, or train_path and/or eval_path")
        for key in ("limit", "eval_size"):
            if getattr(self, key) is not None and getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        if self.kind == "jsonl" and not ({"prompt", "messages"} & set(self.fields)):
            raise ValueError("kind jsonl needs fields.prompt (or fields.messages): the row field holding the prompt")

    @property
    def task(self) -> str:
        """The task tag of this source's examples."""
        return self.name or self.kind


@dataclasses.dataclass
class DataSection:
    """Training and held-out prompts: a task mixture, or (no `tasks`) the single GSM8K source below."""

    # The mixture. Empty: one GSM8K task from source/train_path/eval_path/max_train_examples (tag "math").
    tasks: list[TaskSource] = dataclasses.field(default_factory=list)
    source: str = "gsm8k"  # dataset kind of the single source used when `tasks` is empty: gsm8k
    # Registry name NAME:SPLIT of bundled data (`rlar-jax data list`), local file (relative to the config
    # file's directory, else the working directory, else the repository root) or hub name owner/name[:split].
    train_path: str = "gsm8k:train"
    eval_path: str = "gsm8k:test"
    eval_size: int = 64  # held-out prompts scored before and after training (per task with `tasks`)
    max_train_examples: int | None = None  # cap on training rows read (single source)
    system_prompt: str | None = None  # system message before every prompt (all tasks)
    # Drop examples whose messages total more characters than this (bounds prompt length, hence memory
    # and compiled shapes; long HH dialogues run to thousands); counted in the load report. None = keep all.
    max_prompt_chars: int | None = None
    shuffle_seed: int = 0  # seed of the training order (and of each task's shuffle in a mixture)


@dataclasses.dataclass(frozen=True)
class SamplingSection(SamplingConfig):
    """Rollout sampling: every knob of rlar_jax.sampling_config.SamplingConfig (documented there once), with
    G = 4 by default, plus the temperature of the held-out evaluation."""

    group_size: int = 4  # G completions per prompt
    eval_temperature: float = 0.0  # greedy held-out evaluation

    def rollout(self, eos_ids: Sequence[int]) -> SamplingConfig:
        """The training rollout's sampler settings (the tokenizer's `eos_ids` stop every row)."""
        return self.sampler(tuple(eos_ids))

    def held_out(self, eos_ids: Sequence[int]) -> SamplingConfig:
        """The held-out evaluation's: eval_temperature, one completion per prompt, no top-k/top-p cut, and one
        attention window: an evaluation batch's cache is several times a rollout's, and a window's copy of it
        would be the run's largest buffer (630 MB at 64 x (160 + 96)), and the default's whole evaluation took
        no longer without it (BENCHMARKS.md, "Memory of the default run")."""
        return self.sampler(tuple(eos_ids), temperature=self.eval_temperature, group_size=1, top_p=1.0, top_k=0,
                            decode_chunk=0)


def _registered_losses() -> list[str]:
    from rlar_jax.losses import LOSSES  # imported when a config is built, so importing config needs no jax

    return list(LOSSES)


def _registered_advantages() -> list[str]:
    from rlar_jax.advantages import ADVANTAGES

    return list(ADVANTAGES)


@dataclasses.dataclass(frozen=True)
class LossSection:
    """The GRPO objective; each knob is documented here once. `rlar_jax.grpo_config.GRPOConfig` is this
    section plus the two settings it reads from `sampling` (G and the completion length)."""

    # Loss normalisation, a registered loss (rlar_jax.losses.LOSSES): "grpo" (sequence mean then batch
    # mean), "dr_grpo" (sum / (N * max_completion_length)), "dapo" (token mean over the batch, TRL's
    # default), "bnpo" (token mean per micro-batch), or one registered by user code with
    # rlar_jax.losses.register_loss before the config is loaded. Exact definitions: rlar_jax/losses.py.
    loss_type: Annotated[str, OneOf(_registered_losses, "register more with rlar_jax.losses.register_loss")] = "dapo"
    # How rewards become advantages, a registered estimator (rlar_jax.advantages.ADVANTAGES): "grpo" (reward
    # minus the group mean) or "rloo" (reward minus the mean of the group's other rewards), both then
    # scaled as scale_rewards says, or one registered with rlar_jax.advantages.register_advantage
    advantage_estimator: Annotated[str, OneOf(_registered_advantages,
                                              "register more with rlar_jax.advantages.register_advantage")] = "grpo"
    # Advantage scaling after subtracting the baseline: divide by the group's std ("group"), by the std of
    # all valid rewards of the batch ("batch", more robust for low-variance groups) or not at all ("none",
    # Dr. GRPO).
    scale_rewards: Literal["group", "batch", "none"] = "group"
    # Lower clip: the ratio is clipped at 1 - epsilon_low. Must be in [0, 1).
    epsilon_low: float = 0.2
    # Upper clip: the ratio is clipped at 1 + epsilon_high; above epsilon_low it is DAPO's "clip-higher".
    epsilon_high: float = 0.28
    # Dual clip constant c > 1 (e.g. 3.0): caps the loss of negative-advantage tokens at -c * A so a huge
    # ratio cannot blow up the update. None disables it.
    dual_clip: float | None = None
    # KL coefficient against the reference model; 0.0 (as in TRL/DAPO) skips the reference model entirely.
    beta: float = 0.0
    # KL estimator per token: "k1" = logp - ref_logp, "k3" = exp(ref - logp) - (ref - logp) - 1 (unbiased,
    # always >= 0; the usual GRPO choice).
    kl_estimator: Literal["k1", "k3"] = "k3"
    # μ: optimizer updates per generation batch. With μ > 1 the batch carries old_logp (from the policy that
    # sampled it); with μ = 1 the ratio is exp(logp - stop_grad(logp)).
    num_iterations: int = 1
    # Drop completions that hit the completion length without EOS from the loss (DAPO overlong filter).
    mask_truncated_completions: bool = False
    # Truncated importance sampling for the sampler/trainer mismatch (bf16 rollouts, fp32 update): each
    # token's policy loss is weighted by min(exp(trainer logp - sampler logp), rollout_is_cap), per token
    # ("token") or with one weight per sequence from its summed log-ratio ("sequence"); "none" keeps the
    # sampler's log-probs as the ratio's old policy. With it, old_logp is the trainer's own (absent with
    # num_iterations 1: the step's forward pass). See rlar_jax/rollout_correction.py.
    rollout_is: Literal["none", "token", "sequence"] = "none"
    rollout_is_cap: float = 2.0  # > 0

    def __post_init__(self) -> None:
        if not self.rollout_is_cap > 0:
            raise ValueError(f"rollout_is_cap must be > 0, got {self.rollout_is_cap!r}")


@dataclasses.dataclass
class OptimSection:
    """AdamW with global-norm clipping; linear warmup, then the learning-rate schedule."""

    learning_rate: float = 1e-6
    warmup_steps: int = 0
    # After warmup: "cosine" decays to 0 at trainer.steps; "linear" falls to 0 in a straight line;
    # "constant" holds learning_rate (a short run keeps its full step size to the end).
    lr_schedule: Literal["cosine", "linear", "constant"] = "cosine"
    weight_decay: float = 0.0
    b1: float = 0.9
    b2: float = 0.99
    max_grad_norm: float = 1.0
    # Storage of AdamW's two moments; the update itself runs in float32. "bfloat16" halves them: for the
    # 135M default, -0.48 GB resident between updates, but the update's float32 copies of them take most of
    # it back at its peak (-0.31 GB XLA, -0.18 GB run peak; BENCHMARKS.md). Needs b2 <= 0.995: a step moves
    # the second moment by (1 - b2), which must stay above bfloat16's resolution.
    moment_dtype: Literal["float32", "bfloat16"] = "float32"

    def __post_init__(self) -> None:
        if self.moment_dtype == "bfloat16" and self.b2 > BF16_MAX_B2:
            raise ValueError(f"optim.b2 ({self.b2}) with optim.moment_dtype bfloat16: each step changes the second "
                             f"moment by 1 - b2 = {1 - self.b2:.3g}, below bfloat16's resolution (2^-8); use "
                             f"b2 <= {BF16_MAX_B2} or moment_dtype float32")


@dataclasses.dataclass
class TrainerSection:
    """The loop."""

    steps: int = 20
    prompts_per_step: int = 4  # B: prompts per step (B*G completions)
    micro_batch_size: int = 0  # completions per gradient micro-batch; 0 = all at once
    seed: int = 0
    run_dir: str = "runs/default"
    checkpoint_every: int = 10  # 0 disables checkpoints
    keep_checkpoints: int = 2
    resume: bool = True  # continue from the latest checkpoint in run_dir
    eval_before: bool = True  # score the whole held-out set before training (and keep per-prompt scores)
    eval_after: bool = True  # ...and after: summary.json gets the per-task gain table with bootstrap CIs
    # Every `eval_every` steps (0 = off) score a fixed slice of the held-out set greedily and log
    # eval/reward_mean, eval/accuracy, eval/n, eval/failed and eval/task/<task>/... in the record of
    # step s (params after s updates: the ones step s samples from); steps 0 and `steps` reuse the
    # eval_before / eval_after scores when those ran, and `steps` gets a record of its own.
    eval_every: int = 0
    # The slice: the first eval_every_size // n_tasks held-out prompts of each task (the first tasks
    # take one more each for the remainder); 0 = the whole held-out set.
    eval_every_size: int = 64
    # Held-out prompts generated at once (greedy). On CPU a decode step costs about the same from 16 to
    # 64 rows (it is bound by reading the weights), so larger batches evaluate several times faster.
    eval_batch_size: int = 64
    tensorboard: bool = True
    plot: bool = True  # PNG of reward and loss curves at the end
    progress: bool = True
    # Score step t's completions on a host thread while step t+1's rollout is generated (and step t's
    # update runs), so reward time (sandbox, reward models, agent calls) leaves the critical path.
    # Step t+1's rollout then comes from the params before update t: one step off-policy, which the
    # clipped importance ratio against the sampler's log-probs accounts for. On resume, the in-flight
    # rollout is generated again from the restored params.
    overlap_rewards: bool = False
    # Update only on groups whose advantages are not all zero (padded to rows/8, /4 or /2), adding the
    # other rows' share of the loss denominator back: the same gradient for less compute. Needs beta 0
    # and a row-additive loss (rlar_jax.losses: grpo, dr_grpo, dapo, not bnpo), otherwise ignored. The
    # step's entropy/clip metrics then cover the live rows; `update_rows` says how many rows the update ran on.
    drop_zero_advantage_groups: bool = True

    def __post_init__(self) -> None:
        for key in ("eval_every", "eval_every_size"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0 (0 = {'off' if key == 'eval_every' else 'all'}), "
                                 f"got {getattr(self, key)}")
        if self.eval_batch_size < 1:
            raise ValueError(f"eval_batch_size must be >= 1, got {self.eval_batch_size}")


@dataclasses.dataclass
class ExperimentConfig:
    """One training experiment."""

    model: ModelSection = dataclasses.field(default_factory=ModelSection)
    mesh: MeshSection = dataclasses.field(default_factory=MeshSection)
    distributed: DistributedSection = dataclasses.field(default_factory=DistributedSection)
    data: DataSection = dataclasses.field(default_factory=DataSection)
    sampling: SamplingSection = dataclasses.field(default_factory=SamplingSection)
    loss: LossSection = dataclasses.field(default_factory=LossSection)
    optim: OptimSection = dataclasses.field(default_factory=OptimSection)
    rewards: RewardsSection = dataclasses.field(default_factory=RewardsSection)
    trainer: TrainerSection = dataclasses.field(default_factory=TrainerSection)

    def __post_init__(self) -> None:
        if self.model.frozen_layers and self.optim.weight_decay:
            raise ValueError(f"model.frozen_layers ({self.model.frozen_layers}) needs optim.weight_decay 0, got "
                             f"{self.optim.weight_decay}: decay would move the frozen layers")


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentConfig:
    """Read a YAML experiment file (or start from defaults), apply dotted overrides, validate."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file not found: {path}")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as e:
            raise ConfigError(yaml_error(path, e)) from e
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
        data = loaded or {}
    for o in overrides:
        try:
            apply_override(data, o)
        except yaml.YAMLError as e:
            raise ConfigError(f"override {o!r}: invalid YAML value: {getattr(e, 'problem', None) or e}") from e
    cfg = build(ExperimentConfig, data)
    resolve_data_paths(cfg.data, Path(path).resolve().parent if path is not None else None)
    return cfg


def resolve_data_paths(data: DataSection, config_dir: Path | None) -> None:
    """Check every data path of `data` and make relative local files absolute (found under `config_dir`,
    the working directory, then the repository root); registry and hub names stay as written. A missing
    file or unknown registry split is a ConfigError naming the key, e.g. `data.tasks[1].path: ...`."""
    from rlar_jax.datasets.registry import PROJECT_ROOT, DatasetError, parse_spec, resolve

    bases = [b for b in (config_dir, Path.cwd(), PROJECT_ROOT) if b is not None]
    slots = [("data", data, ("train_path", "eval_path"))]
    slots += [(f"data.tasks[{i}]", t, ("path", "train_path", "eval_path", "reference_path"))
              for i, t in enumerate(data.tasks)]
    for prefix, obj, keys in slots:
        for key in keys:
            value = getattr(obj, key)
            if not value:
                continue
            try:
                found = resolve(value, bases)
            except DatasetError as e:
                raise ConfigError(f"{prefix}.{key}: {e}") from e
            if parse_spec(value) is None and found != value:
                setattr(obj, key, found)  # a local file: absolute from here on


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-dict form of a config (for logging and for saving next to checkpoints)."""
    return dataclasses.asdict(cfg)
