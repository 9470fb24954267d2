"""`rlar-jax generate`: one chat completion from a model, through the rollout sampler."""

from __future__ import annotations

import argparse
import sys

from rlar_jax.rollout import SamplingConfig


def _generate(args: argparse.Namespace) -> int:
    import jax

    from rlar_jax.models import load_model
    from rlar_jax.rollout import decode_completions, encode_prompts, generate

    if args.max_new_tokens < 1:
        raise SystemExit(f"--max-new-tokens must be >= 1, got {args.max_new_tokens}")
    if args.temperature < 0:
        raise SystemExit(f"--temperature must be >= 0 (0 = greedy), got {args.temperature}")
    lm = load_model(args.model, dtype=args.dtype)
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}]
    ids = encode_prompts(lm.tokenizer, [messages])
    cfg = SamplingConfig(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                         top_k=args.top_k, stop_token_ids=tuple(lm.tokenizer.eos_ids))
    rollout = generate(lm.model, ids, cfg, jax.random.key(args.seed), pad_id=lm.tokenizer.pad_id,
                       eos_ids=lm.tokenizer.eos_ids)
    print(decode_completions(lm.tokenizer, rollout)[0])
    sys.stdout.flush()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `generate` command."""
    p = subparsers.add_parser("generate", help="complete one chat prompt with a model (greedy at temperature 0)")
    p.add_argument("--model", required=True, metavar="NAME_OR_PATH",
                   help="known model name (e.g. smollm2-135m-instruct), GGUF file or HF safetensors directory")
    p.add_argument("--prompt", required=True, help="the user message")
    p.add_argument("--system", default=None, help="system message (default: the chat template's own)")
    p.add_argument("--max-new-tokens", type=int, default=128, help="completion budget in tokens (default 128)")
    p.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default); > 0 samples")
    p.add_argument("--top-p", type=float, default=SamplingConfig.top_p, help="nucleus sampling mass (1 = off)")
    p.add_argument("--top-k", type=int, default=SamplingConfig.top_k, help="keep the k most likely tokens (0 = off)")
    p.add_argument("--seed", type=int, default=0, help="PRNG seed for sampling")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16"), help="parameter/activation dtype")
    p.set_defaults(func=_generate)
