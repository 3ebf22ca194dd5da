"""Data augmentations applied to batches of observations (registry kind ``augmentations``).

Contract: ``cls(**kwargs)`` builds an ``nn.Module`` mapping ``[B, *obs_shape]`` to the same shape.
"""
