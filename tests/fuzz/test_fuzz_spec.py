"""The copilot's spec parser fuzzed with Hypothesis: any JSON ends in a RunSpec or one sentence.

``RunSpec.from_json`` takes what the model (or a user's edited spec) produced; whatever that
is, it must give a spec or a :class:`CodegenError` whose message is one sentence, never
another exception. Bounded: a fixed number of examples, derandomized.
"""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from copilot.codegen.errors import CodegenError
from copilot.codegen.spec import SPEC_KEYS, RunSpec

SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=2), derandomize=True)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=10))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                    max_leaves=12)
KEYS = st.sampled_from([*SPEC_KEYS, "notes", "algo ", "Algo", "extra"])
SPECS = st.dictionaries(KEYS, JSON, max_size=len(SPEC_KEYS) + 2)


def outcome(data) -> None:
    try:
        spec = RunSpec.from_json(data)
    except CodegenError as exc:
        text = str(exc)
        assert text and text.endswith(".") and "\n" not in text and "Traceback" not in text, text
        return
    assert isinstance(spec, RunSpec)
    assert isinstance(spec.config, dict) and isinstance(spec.parts, dict) and isinstance(spec.notes, list)
    json.dumps(spec.to_json(), default=str)


@SETTINGS
@given(JSON)
def test_any_json_value(data):
    outcome(data)


@SETTINGS
@given(SPECS)
def test_objects_with_spec_keys(data):
    outcome(data)


@SETTINGS
@given(st.fixed_dictionaries({"algo": JSON, "env_id": JSON, "total_steps": JSON},
                             optional={"config": JSON, "parts": JSON, "notes": JSON, "seed": JSON}))
def test_objects_with_the_required_keys(data):
    outcome(data)
