"""Code generation knows every registered agent from the registry, PPG and DAAC included."""

from __future__ import annotations

import pytest

from copilot.codegen import catalog, checks
from copilot.codegen.facts import read_facts


@pytest.mark.parametrize("request_text,algo", [("Train PPG on CartPole-v1 for 20000 steps", "ppg"),
                                               ("train phasic policy gradient on CartPole-v1", "ppg"),
                                               ("Train DAAC on Pendulum-v1 with adv_coef 0.5", "daac")])
def test_a_registered_agent_is_understood_not_refused(request_text, algo):
    facts = read_facts(request_text)
    assert facts.algo == algo and checks.missing_algo(facts) is None


def test_an_algorithm_rlcore_lacks_is_still_refused():
    assert checks.missing_algo(read_facts("train rainbow on CartPole-v1")) == "rainbow"


def test_their_config_fields_come_from_the_registry():
    assert {"n_policy_iters", "aux_epochs", "clone_coef", "clip_range"} <= set(catalog.config_info("ppg"))
    assert {"adv_coef", "value_epochs", "value_freq"} <= set(catalog.config_info("daac"))
    assert catalog.is_on_policy("ppg") and catalog.is_on_policy("daac")
