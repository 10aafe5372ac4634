"""Image regions and "switched off" images, shared by LIME and SHAP's partition masker.

Perturbation methods explain an image through regions: superpixels from
scikit-image (SLIC, quickshift) or, for tiny images such as the 8x8 digits, a
regular grid of square patches. A region is switched off by replacing its pixels
with those of a fill image: zeros, the mean intensity, or a blurred copy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..core.dataset import Dataset
from ..core.validation import check_option, check_real

__all__ = ["check_fill", "check_segmentation", "fill_image", "image_shape", "segment"]

SEGMENTATIONS = ("auto", "grid", "slic", "quickshift")
FILLS = ("zero", "mean", "blur")
# "auto" uses a grid of patches for images smaller than this on either side.
_SMALL_IMAGE = 32


def image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """``(channels, height, width)`` of a channels-first image input; error otherwise."""
    if len(input_shape) != 3:
        raise ValueError(
            "Image explanations need inputs of shape (channels, height, width); this model's "
            f"input shape is {input_shape}."
        )
    return tuple(int(s) for s in input_shape)  # type: ignore[return-value]


def check_segmentation(segmentation: Any, input_shape: tuple[int, ...]) -> str | np.ndarray:
    """Validate ``segmentation``: a method name or an int label array of shape (H, W)."""
    if isinstance(segmentation, str):
        return check_option(segmentation, "segmentation", SEGMENTATIONS)
    labels = np.asarray(segmentation)
    _, height, width = image_shape(input_shape)
    if labels.shape != (height, width) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"segmentation must be one of {', '.join(map(repr, SEGMENTATIONS))} or an int "
            f"array of region labels of shape ({height}, {width}); got "
            f"{type(segmentation).__name__} of shape {labels.shape} and dtype {labels.dtype}."
        )
    return np.unique(labels, return_inverse=True)[1].reshape(height, width)


def check_fill(fill: Any) -> str | float:
    """Validate ``fill``: ``"zero"``, ``"mean"``, ``"blur"`` or a number."""
    if isinstance(fill, str):
        return check_option(fill, "fill", FILLS)
    try:
        return check_real(fill, "fill")
    except TypeError:
        raise TypeError(
            f"The 'fill' parameter must be one of {', '.join(map(repr, FILLS))} or a number; "
            f"got {fill!r}."
        ) from None


def segment(
    image: np.ndarray,
    segmentation: str | np.ndarray,
    *,
    patch_size: int = 2,
    n_segments: int = 50,
) -> np.ndarray:
    """Region labels ``0..K-1`` of shape ``(height, width)`` for one ``(C, H, W)`` image.

    Parameters
    ----------
    image : ndarray of shape (channels, height, width)
        The image, values in about ``[0, 1]``.
    segmentation : {"auto", "grid", "slic", "quickshift"} or ndarray
        ``"grid"``: square patches of ``patch_size`` pixels. ``"slic"``: SLIC
        superpixels (Achanta et al. 2012) with about ``n_segments`` regions.
        ``"quickshift"``: quickshift superpixels with LIME's settings (kernel size 4,
        max distance 200, ratio 0.2). ``"auto"``: a grid for images smaller than 32
        pixels on a side, SLIC otherwise. An array is used as given.
    patch_size : int, default=2
        Side of a grid patch.
    n_segments : int, default=50
        Approximate number of SLIC superpixels.

    Returns
    -------
    ndarray of int, shape (height, width)

    Examples
    --------
    >>> segment(np.zeros((1, 8, 8)), "grid", patch_size=4).max()
    np.int64(3)
    """
    if isinstance(segmentation, np.ndarray):
        return segmentation
    channels, height, width = image.shape
    if segmentation == "auto":
        segmentation = "grid" if min(height, width) < _SMALL_IMAGE else "slic"
    if segmentation == "grid":
        rows = np.arange(height) // patch_size
        cols = np.arange(width) // patch_size
        n_cols = (width + patch_size - 1) // patch_size
        return (rows[:, None] * n_cols + cols[None, :]).astype(np.int64)
    from skimage.segmentation import quickshift, slic

    hwc = np.moveaxis(image, 0, -1).astype(np.float64)
    if segmentation == "slic":
        # skimage's default compactness 10 is scaled for CIELAB (0-100); a gray image
        # in [0, 1] needs 100 times less for the same balance of colour and space.
        if channels == 1:
            labels = slic(hwc[..., 0], n_segments=n_segments, compactness=0.1, channel_axis=None)
        else:
            labels = slic(hwc, n_segments=n_segments, channel_axis=-1)
    else:
        rgb = np.repeat(hwc, 3, axis=-1) if channels == 1 else hwc[..., :3]
        labels = quickshift(rgb, kernel_size=4, max_dist=200, ratio=0.2)
    return np.unique(labels, return_inverse=True)[1].reshape(height, width).astype(np.int64)


def fill_image(image: np.ndarray, fill: str | float, dataset: Dataset | None) -> np.ndarray:
    """The image that switched-off regions take their pixels from, shape ``(C, H, W)``.

    ``"zero"``: zeros (the background of the digits). ``"mean"``: each channel's mean
    intensity over the training images, or over this image when the model has no
    data set. ``"blur"``: a Gaussian blur of the image with sigma ``max(1, min(H, W) / 8)``
    pixels (scikit-image). A number: that constant.

    Examples
    --------
    >>> fill_image(np.ones((1, 4, 4)), "zero", None).sum()
    np.float64(0.0)
    """
    if not isinstance(fill, str):
        return np.full(image.shape, float(fill))
    if fill == "zero":
        return np.zeros(image.shape)
    if fill == "mean":
        source = dataset.X_train if dataset is not None else image[None]
        means = source.mean(axis=(0, 2, 3))
        return np.broadcast_to(means[:, None, None], image.shape).copy()
    from skimage.filters import gaussian

    sigma = max(1.0, min(image.shape[1:]) / 8)
    return np.stack([gaussian(channel, sigma=sigma, preserve_range=True) for channel in image])
