"""Code generation that runs: RunSpec schema, rendering, validation, sandbox, repair.

    from copilot.codegen.generate import generate
    result = generate("Train PPO on CartPole-v1 for 20k steps", settings)
    result.ok, result.manifest["eval"], result.curve_png

Modules: :mod:`~copilot.codegen.catalog` (what rlcore offers, read from its registry),
:mod:`~copilot.codegen.spec` (RunSpec, its JSON schema and checks),
:mod:`~copilot.codegen.facts` (deterministic reading of explicit facts in a request),
:mod:`~copilot.codegen.render` (spec -> script), :mod:`~copilot.codegen.validate` (static
checks), :mod:`~copilot.codegen.sandbox` (running a script in a child process),
:mod:`~copilot.codegen.generate` (the request -> run pipeline with repairs).
"""
