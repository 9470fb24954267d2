"""Reward models that run in Flax: MiniLM embedding similarity, a generative judge, Bradley-Terry heads, and
sequence-classification checkpoints, each loadable from a catalog entry with `load_reward_model`; more kinds
register with `register_reward_model_kind`."""

from __future__ import annotations

from rlar_jax.rewards.model_kinds import register_reward_model_kind
from rlar_jax.rewards.models.bert import BertConfig, BertEncoder, SentenceEncoder, load_bert, load_sentence_encoder
from rlar_jax.rewards.models.bt import (BTHead, BTRewardModel, FeatureExtractor, load_head, pairs_from_spec,
                                        pairwise_accuracy, save_head, train_bt)
from rlar_jax.rewards.models.embedding import EmbeddingSimilarity, normalise
from rlar_jax.rewards.models.judge import RUBRIC, GenerativeJudge
from rlar_jax.rewards.models.registry import RewardModelFn, SeqClsRewardModel, load_reward_model

__all__ = [
    "BTHead", "BTRewardModel", "BertConfig", "BertEncoder", "EmbeddingSimilarity", "FeatureExtractor",
    "GenerativeJudge", "RUBRIC", "RewardModelFn", "SentenceEncoder", "SeqClsRewardModel", "load_bert",
    "load_head", "load_reward_model", "load_sentence_encoder", "normalise", "pairs_from_spec", "pairwise_accuracy",
    "register_reward_model_kind", "save_head", "train_bt",
]
