"""`rlar-jax plan` and `rlar-jax library list|show|export`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

DEFAULT_LIBRARY = "runs/default/reward_library.sqlite"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `plan` and `library` commands."""
    p = subparsers.add_parser("plan", help="print the reward plan for a query (offline planner, or the agent "
                                           "when an endpoint is configured)")
    p.add_argument("--query", required=True, help="the training query text")
    p.add_argument("--task", default=None, help="dataset task tag, e.g. gsm8k, mbpp, wmt22-en-de")
    p.add_argument("--reference", default=None, help="reference answer, if the dataset has one")
    p.add_argument("--meta", default=None, help='sample meta as a JSON object, e.g. \'{"test_list": [...]}\'')
    p.add_argument("--library", default=None, help="reward library SQLite file: reuse/store the plan there")
    p.add_argument("--mode", choices=("task", "per_query"), default="task", help="task-signature mode")
    p.add_argument("--base-url", default=None, help="OpenAI-compatible endpoint (or RLAR_JAX_AGENT_BASE_URL)")
    p.add_argument("--model", default=None, help="agent model name (or RLAR_JAX_AGENT_MODEL)")
    p.add_argument("--api-key", default=None, help="API key (or RLAR_JAX_AGENT_API_KEY)")
    p.add_argument("--timeout", type=float, default=None, help="per-request timeout of the agent, seconds")
    p.add_argument("--hub-search", action="store_true",
                   help="let the agent also search the Hugging Face hub (HF_ENDPOINT) for reward models")
    p.set_defaults(func=_plan)

    lib = subparsers.add_parser("library", help="inspect the reward library")
    lsub = lib.add_subparsers(dest="library_command", metavar="ACTION")
    lsub.required = True
    for name, helptext in (("list", "plans and verifiers"), ("show", "one plan (id or signature) or verifier"),
                           ("export", "write the whole library as JSON")):
        sp = lsub.add_parser(name, help=helptext)
        if name == "show":
            sp.add_argument("id", help="plan id, task signature or verifier id")
        if name == "export":
            sp.add_argument("path", help="output JSON file")
        sp.add_argument("--library", default=DEFAULT_LIBRARY, help=f"SQLite file (default {DEFAULT_LIBRARY})")
        sp.set_defaults(func=_library)


def _plan(args: argparse.Namespace) -> int:
    from rlar_jax.rewards.agent import AgentConfig, RewardAgent
    from rlar_jax.rewards.resolver import PlanResolver
    from rlar_jax.rewards.catalog import Catalog
    from rlar_jax.rewards.library import Library
    from rlar_jax.rewards.planner import OfflinePlanner

    if not args.query.strip():
        raise ValueError("--query: the query is empty; pass the training query text to plan a reward for")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        meta = json.loads(args.meta) if args.meta else {}
        if not isinstance(meta, dict):
            raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
    except ValueError as e:
        print(f"error: --meta: {e}", file=sys.stderr)
        return 2
    config = AgentConfig.from_env(base_url=args.base_url, model=args.model, api_key=args.api_key,
                                  timeout_s=args.timeout)
    catalog = Catalog(online=args.hub_search)
    planner = OfflinePlanner(catalog)
    library = Library(args.library or ":memory:")
    sandbox = None
    agent = None
    try:
        if config.enabled:
            sandbox = _LazySandbox()
            agent = RewardAgent(config, library, sandbox, catalog, planner)
        resolver = PlanResolver(library, planner, agent, mode=args.mode)
        item = {"query": args.query, "task": args.task, "reference": args.reference, "meta": meta}
        plan = resolver.resolve([item])[0]
        print(plan.to_json())
        if agent is not None:
            print(f"agent: {json.dumps(agent.stats.snapshot())}", file=sys.stderr)
        return 0
    finally:
        if sandbox is not None:
            sandbox.close()
        library.close()


class _LazySandbox:
    """Starts the WebAssembly sandbox only if the agent writes or tests a verifier."""

    def __init__(self) -> None:
        self._sandbox = None

    def _get(self):
        if self._sandbox is None:
            from rlar_jax.sandbox import Sandbox

            self._sandbox = Sandbox()
        return self._sandbox

    def validate(self, source: str):
        return self._get().validate(source)

    def score_batch(self, source: str, rows: list[dict]):
        return self._get().score_batch(source, rows)

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()


def _library(args: argparse.Namespace) -> int:
    from rlar_jax.rewards.library import Library

    if not Path(args.library).is_file():
        print(f"error: --library: no reward library at {args.library}", file=sys.stderr)
        return 2
    with Library(args.library, seeds=False) as lib:
        if args.library_command == "list":
            print(f"{'plan_id':16}  {'v':>2}  {'status':8} {'by':8} signature: components")
            for p in lib.list_plans():
                print(f"{p['plan_id']:16}  {p['version']:>2}  {p['status']:8} {p['created_by']:8} "
                      f"{p['signature']}: {', '.join(p['components'])}")
            print("\nverifiers:")
            for v in lib.list_verifiers():
                print(f"  {v['id']:24} {v['origin']:9} {v['sha256'][:12]}  tasks={','.join(v['tasks'])}")
            return 0
        if args.library_command == "show":
            record = lib.plan_record(args.id)
            if record is None and lib.list_plans(args.id):
                record = {"signature": args.id, "versions": [lib.plan_record(p["plan_id"])
                                                             for p in lib.list_plans(args.id)]}
            record = record or lib.get_verifier(args.id)
            if record is None:
                print(f"error: id: {args.id!r} is not a plan id, task signature or verifier id in {args.library}",
                      file=sys.stderr)
                return 1
            print(json.dumps(record, indent=2, default=str))
            return 0
        data = lib.export(args.path)
        print(f"exported {len(data['plans'])} plans and {len(data['verifiers'])} verifiers to {args.path}")
        return 0
