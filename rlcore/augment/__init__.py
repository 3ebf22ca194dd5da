"""Data augmentations applied to batches of observations (registry kind ``augmentations``).

Contract: ``cls(**kwargs)`` builds an ``nn.Module`` mapping ``[B, *obs_shape]`` to the same shape.
Inputs are float batches in the observation's own scale (e.g. 0..255 for byte pixels cast with
``.float()``); an augmentation that cannot handle a shape raises a one-sentence RLCoreError.
Image augmentations take ``[B, C, H, W]`` where C may be a stack of frames.
"""

# importing the modules registers the built-ins (shift registers random_shift)
from rlcore.augment import color, geometric, noise, shift  # noqa: F401
