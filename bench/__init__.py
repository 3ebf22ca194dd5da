"""Performance suites (not tests): ``python -m bench.rl`` and ``python -m bench.copilot``."""
