"""Evaluation: deterministic policy evaluation, aggregate metrics with bootstrap CIs, plots."""

from rlcore.evaluation.rollout import evaluate_agent, make_eval_env

__all__ = ["evaluate_agent", "make_eval_env"]
