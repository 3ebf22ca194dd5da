"""Code generation that runs: RunSpec schema, rendering, validation, sandbox, repair."""
