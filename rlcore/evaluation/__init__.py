"""Evaluation: deterministic policy evaluation, aggregate metrics with stratified bootstrap
confidence intervals (mean, median, IQM, optimality gap, probability of improvement,
performance profiles), plots, run-folder reports (``python -m rlcore report``), and
reloading a run's checkpoint to evaluate it again (``evaluate_checkpoint``).
"""

from rlcore.evaluation.checkpoint import evaluate_checkpoint, load_agent
from rlcore.evaluation.metrics import (
    Interval,
    iqm,
    mean,
    median,
    optimality_gap,
    performance_profile,
    probability_of_improvement,
    stratified_bootstrap_ci,
)
from rlcore.evaluation.plots import plot_interval_estimates, plot_performance_profiles, plot_sample_efficiency
from rlcore.evaluation.report import report
from rlcore.evaluation.rollout import evaluate_agent, make_eval_env

__all__ = ["evaluate_checkpoint", "load_agent", "evaluate_agent", "make_eval_env", "Interval", "mean", "median", "iqm", "optimality_gap",
           "probability_of_improvement", "performance_profile", "stratified_bootstrap_ci",
           "plot_interval_estimates", "plot_performance_profiles", "plot_sample_efficiency", "report"]
