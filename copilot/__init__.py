"""RL Copilot: a local, offline retrieval-augmented assistant for rlcore and RL."""

__version__ = "0.1.0"
