"""Code generation that runs: RunSpec schema, rendering, validation, sandbox, repair.

    from copilot.codegen.generate import generate
    result = generate("Train PPO on CartPole-v1 for 20k steps", settings)
    result.ok, result.manifest["eval"], result.curve_png

Modules: :mod:`~copilot.codegen.catalog` (what rlcore offers, read from its registry),
:mod:`~copilot.codegen.spec` (RunSpec and its JSON schema), :mod:`~copilot.codegen.facts`
and :mod:`~copilot.codegen.numbers` (deterministic reading of what a request states),
:mod:`~copilot.codegen.checks` and :mod:`~copilot.codegen.budget` (reconciling and checking
a spec), :mod:`~copilot.codegen.prompt` (prompt, decoding grammar, doc snippets),
:mod:`~copilot.codegen.render` (spec -> script), :mod:`~copilot.codegen.validate` and
:mod:`~copilot.codegen.validate_calls` (static checks), :mod:`~copilot.codegen.sandbox` and
``sandbox_boot.py`` (running a script in a limited child process),
:mod:`~copilot.codegen.generate` (the request -> run pipeline with repairs) and
:mod:`~copilot.codegen.cli` (``python -m copilot generate`` / ``run``).
"""
