"""Hub reward models end to end on loopback: the agent's search finds a sequence-classification model on
a stand-in Hugging Face hub, plans with it, and the reward system downloads it and scores in Flax.

`huggingface_hub` reads HF_ENDPOINT when imported, so the client side runs in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from tests.rewards.conftest import tool_call
from tests.rewards.fake_hub import FakeHub
from tests.rewards.models.conftest import save_tiny

ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/tiny-reward-qwen3"

CLIENT = r"""
import json, sys
from rlar_jax.rewards.agent import AgentConfig, RewardAgent
from rlar_jax.rewards.catalog import Catalog, CatalogEntry
from rlar_jax.rewards.library import Library
from rlar_jax.rewards.models.registry import load_reward_model
from rlar_jax.rewards.planner import OfflinePlanner
from rlar_jax.rewards.system import RewardModels

base_url, local_ckpt = sys.argv[1], sys.argv[2]
catalog = Catalog(online=True)
agent = RewardAgent(AgentConfig(base_url=base_url, model="scripted", max_retries=0), Library(":memory:"), None,
                    catalog, OfflinePlanner(catalog))
plan, outcome = agent.plan_for("How do I politely decline a wedding invitation?")
prompts, responses = ["w5 w6", "w7", "w8 w9 w10"], ["w20", "w21 w22 w23", "w24 w25"]
hub_fn = RewardModels(Catalog())(plan.components[0].id)  # a fresh catalog: the entry was persisted
local = load_reward_model(CatalogEntry(id="local", kind="hf_seq_cls", architecture="qwen3", source=local_ckpt,
                                       normalisation={"type": "sigmoid"}))
print(json.dumps({"status": outcome.status, "components": [c.id for c in plan.components],
                  "hub": [float(x) for x in hub_fn(prompts, responses, [""] * 3, [{}] * 3)],
                  "local": [float(x) for x in local(prompts, responses, [""] * 3, [{}] * 3)]}))
"""


def test_agent_finds_hub_reward_model_and_system_scores_with_it(tmp_path, scripted):
    ckpt = save_tiny("qwen3_seq_cls", tmp_path / "rm")
    repos = {REPO: (ckpt, ["qwen3", "text-classification", "reward-model"]),
             "acme/deberta-reward": (ckpt, ["deberta-v2", "text-classification", "reward-model"])}
    plan = {"plan": {"task_family": "dialogue", "rationale": "hub reward model",
                     "components": [{"kind": "reward_model", "id": f"hf:{REPO}", "weight": 1.0}]}}
    script = [{"calls": [tool_call("search_reward_models", {"query": "reward"})]},
              {"calls": [tool_call("submit_plan", plan)]}]
    env = {**os.environ, "HF_HUB_OFFLINE": "0", "HF_HOME": str(tmp_path / "hf"),
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    with FakeHub(repos) as hub, scripted(script) as server:
        env["HF_ENDPOINT"] = hub.url
        proc = subprocess.run([sys.executable, "-c", CLIENT, server.base_url, str(ckpt)], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-4000:]
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        found = json.loads(server.tool_results(1)[-1])
    # Only the architecture our Flax decoder supports is offered; the deberta model is not.
    assert [f["id"] for f in found if f["id"].startswith("hf:")] == [f"hf:{REPO}"]
    assert out["status"] == "agent" and out["components"] == [f"hf:{REPO}"]
    assert any(r.startswith(f"GET /{REPO}/resolve/") and r.endswith("/model.safetensors") for r in hub.requests)
    registered = json.loads((Path(os.environ["RLAR_JAX_HOME"]) / "reward_models" / "hf_acme_tiny-reward-qwen3.json")
                            .read_text())
    assert registered["kind"] == "hf_seq_cls" and registered["architecture"] == "qwen3"
    # The downloaded model scores exactly like the same checkpoint loaded from disk (itself checked
    # against transformers in tests/rewards/models/test_rm_registry.py).
    np.testing.assert_allclose(out["hub"], out["local"], rtol=0, atol=1e-7)
    assert np.ptp(out["hub"]) > 0.01
