"""Hyperparameter tuning: Optuna studies whose trials run on the experiment runner.

``python -m rlcore tune ppo CartPole-v1 --trials 20 --param lr=log:1e-5:1e-2 --seeds 2`` or
:class:`Tuner` from Python; see :mod:`rlcore.tune.study`.
"""

from __future__ import annotations

from rlcore.tune.params import FORMS, KINDS, Param, check_params, parse_param, parse_params
from rlcore.tune.study import Tuner, config_key

__all__ = ["Tuner", "Param", "parse_param", "parse_params", "check_params", "config_key", "FORMS", "KINDS"]
