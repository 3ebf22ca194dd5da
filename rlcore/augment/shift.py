"""Random shift: DrQ's pad-and-random-crop image augmentation (Yarats et al., 2021).

Each image is padded by ``pad`` pixels on every side (edge pixels repeated) and a window of
the original size is cut out at a random integer offset, drawn per sample. The crop is done
with one ``grid_sample`` call over the whole batch (sampling exactly at pixel centres, so the
result is an integer translation, not an interpolation), as in DrQ-v2 (arXiv:2107.09645).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rlcore.errors import RLCoreError
from rlcore.registry import register


def _check_images(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise RLCoreError(f"random_shift needs image batches [B, C, H, W]; got shape {list(x.shape)}.")
    if not x.is_floating_point():
        raise RLCoreError(f"random_shift needs a float batch; got {x.dtype} (call .float() first).")


def shift_images(x: torch.Tensor, shifts: torch.Tensor, pad: int) -> torch.Tensor:
    """Translate each image of ``x`` ``[B, C, H, W]`` by an integer offset.

    ``shifts`` is ``[B, 2]`` of integers in ``[0, 2 * pad]`` (x then y): output pixel
    ``(i, j)`` of sample ``b`` is pixel ``(i + shifts[b, 1], j + shifts[b, 0])`` of the image
    padded by ``pad`` with repeated edges. ``shifts == pad`` returns the input unchanged.
    """
    _check_images(x)
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    # normalised coordinates of the centres of the first w (h) pixels of the padded image
    xs = (2 * torch.arange(w, device=x.device, dtype=x.dtype) + 1) / (w + 2 * pad) - 1
    ys = (2 * torch.arange(h, device=x.device, dtype=x.dtype) + 1) / (h + 2 * pad) - 1
    base = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)  # [h, w, 2] as (x, y)
    step = torch.tensor([2.0 / (w + 2 * pad), 2.0 / (h + 2 * pad)], device=x.device, dtype=x.dtype)
    offset = shifts.to(device=x.device, dtype=x.dtype) * step  # [B, 2]
    grid = base.unsqueeze(0) + offset[:, None, None, :]
    return F.grid_sample(padded, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@register("augmentations", "random_shift")
class RandomShift(nn.Module):
    """Pad by ``pad`` pixels (edge-replicated) and crop back at a random per-sample offset.

    Takes a float batch ``[B, C, H, W]`` (any value scale, e.g. 0..255 bytes cast to float) and
    returns the same shape and scale; each sample moves by up to ``pad`` pixels in x and y.
    Non-image batches are refused with an RLCoreError.

    Args:
        pad: maximum shift in pixels (default 4, as in DrQ for 84x84 images).
        generator: optional ``torch.Generator`` for the shifts (else torch's global one).
    """

    def __init__(self, pad: int = 4, generator: torch.Generator | None = None):
        super().__init__()
        if int(pad) < 0:
            raise RLCoreError(f"random_shift pad must be >= 0; got {pad}.")
        self.pad, self.generator = int(pad), generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_images(x)
        if self.pad == 0:
            return x
        device = self.generator.device if self.generator is not None else x.device
        shifts = torch.randint(0, 2 * self.pad + 1, (x.shape[0], 2), generator=self.generator, device=device)
        return shift_images(x, shifts, self.pad)
