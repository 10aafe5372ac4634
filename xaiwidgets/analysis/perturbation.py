"""Perturbations of one image input, for probing how a prediction and its explanation react.

The widgets' image controls call :func:`perturb_image`; it is a plain function so that a
notebook (or a test) can reproduce exactly what a widget showed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.seeding import numpy_rng
from ..core.validation import as_numpy, check_finite, check_int, check_real

__all__ = ["perturb_image"]


def perturb_image(
    image: Any,
    *,
    brightness: float = 1.0,
    contrast: float = 1.0,
    occlusion: tuple[int, int, int, float] | None = None,
    noise: float = 0.0,
    seed: int | None = 0,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> np.ndarray:
    """Apply brightness, contrast, an occluding patch and Gaussian noise, in that order.

    1. brightness: ``x * brightness`` (torchvision's ``adjust_brightness``);
    2. contrast: ``mean + contrast * (x - mean)`` with ``mean`` the image's mean value
       (torchvision's ``adjust_contrast`` blends with the mean of the grey image);
    3. occlusion: the square patch of side ``size`` whose top-left pixel is
       ``(row, col)`` is set to ``fill`` in every channel (cut at the image border);
    4. noise: ``x + N(0, noise^2)`` per pixel, drawn from a generator seeded with
       ``seed``;

    clipping to ``value_range`` after steps 2 and 4. With the defaults nothing changes.

    Parameters
    ----------
    image : array-like of shape (channels, height, width)
        One image. Not modified.
    brightness : float, default=1.0
        Multiplicative brightness factor, >= 0.
    contrast : float, default=1.0
        Contrast factor, >= 0 (0 gives a flat grey image at the mean).
    occlusion : tuple (row, col, size, fill), optional
        The patch to cover; ``fill`` in ``value_range``.
    noise : float, default=0.0
        Standard deviation of the additive Gaussian noise, in the image's units.
    seed : int or None, default=0
        Seed of the noise; the same seed gives the same noise.
    value_range : tuple of float, default=(0.0, 1.0)
        The valid pixel range, used for clipping.

    Returns
    -------
    ndarray of shape (channels, height, width), float64
        A new array.

    Raises
    ------
    ValueError
        If the image is not 3-dimensional, a factor is negative, or the patch lies
        outside the image.

    Examples
    --------
    >>> img = np.full((1, 4, 4), 0.5)
    >>> perturb_image(img, occlusion=(0, 0, 2, 0.0))[0, :2, :2].tolist()
    [[0.0, 0.0], [0.0, 0.0]]
    >>> float(perturb_image(img, brightness=3.0).max())
    1.0
    """
    x = as_numpy(image, "image").astype(np.float64)
    if x.ndim != 3:
        raise ValueError(f"image must have shape (channels, height, width); got shape {x.shape}.")
    check_finite(x, "image")
    low, high = (check_real(v, "value_range") for v in value_range)
    if not low < high:
        raise ValueError(f"value_range must be (low, high) with low < high; got {value_range}.")
    brightness = check_real(brightness, "brightness", low=0.0)
    contrast = check_real(contrast, "contrast", low=0.0)
    noise = check_real(noise, "noise", low=0.0)
    x = x * brightness
    if contrast != 1.0:
        mean = x.mean()
        x = mean + contrast * (x - mean)
    x = np.clip(x, low, high)
    if occlusion is not None:
        if len(occlusion) != 4:
            raise ValueError(f"occlusion must be (row, col, size, fill); got {occlusion!r}.")
        row, col, size, fill = occlusion
        height, width = x.shape[1:]
        row = check_int(row, "occlusion row", low=0, high=height - 1)
        col = check_int(col, "occlusion col", low=0, high=width - 1)
        size = check_int(size, "occlusion size", low=0)
        fill = check_real(fill, "occlusion fill", low=low, high=high)
        x[:, row : row + size, col : col + size] = fill
    if noise > 0:
        x = np.clip(x + numpy_rng(seed).normal(0.0, noise, size=x.shape), low, high)
    return x
