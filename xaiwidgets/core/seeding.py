"""Seeded random number generators: the same ``seed`` gives the same result."""

from __future__ import annotations

import numpy as np
import torch

from .validation import check_int

__all__ = ["numpy_rng", "torch_generator"]


def numpy_rng(seed: int | None, name: str = "seed") -> np.random.Generator:
    """A numpy ``Generator`` for ``seed`` (``None`` draws fresh entropy).

    Examples
    --------
    >>> int(numpy_rng(0).integers(100)) == int(numpy_rng(0).integers(100))
    True
    """
    if seed is not None:
        seed = check_int(seed, name, low=0)
    return np.random.default_rng(seed)


def torch_generator(seed: int | None, name: str = "seed") -> torch.Generator:
    """A CPU ``torch.Generator`` for ``seed``, independent of torch's global state.

    With ``seed=None`` it is seeded from fresh entropy.

    Examples
    --------
    >>> a = torch.randn(2, generator=torch_generator(0))
    >>> b = torch.randn(2, generator=torch_generator(0))
    >>> bool((a == b).all())
    True
    """
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(check_int(seed, name, low=0))
    return generator
