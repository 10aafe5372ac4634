"""The one normalization used to display attribution maps (never used by metrics)."""

from __future__ import annotations

from typing import Literal

import numpy as np

from ..core.validation import check_option, check_real

__all__ = ["normalize_for_display"]


def normalize_for_display(
    values: np.ndarray,
    mode: Literal["absolute", "diverging"] = "absolute",
    clip_percentile: float = 99.0,
) -> tuple[np.ndarray, str]:
    """Scale attributions for display, and describe the rule in words for the figure.

    - ``"absolute"``: ``|v| / p``, clipped to ``[0, 1]``;
    - ``"diverging"``: ``v / p``, clipped to ``[-1, 1]`` (sign kept);

    where ``p`` is the ``clip_percentile``-th percentile of ``|v|`` over the whole
    map, so a few extreme pixels do not wash out the rest. A map that is all zero
    stays zero. Metrics (rank correlation, SSIM) never see these values: they work on
    the raw attributions.

    Parameters
    ----------
    values : ndarray
        Raw attributions of one input.
    mode : {"absolute", "diverging"}, default="absolute"
        Magnitude only, or signed.
    clip_percentile : float, default=99.0
        Percentile of ``|v|`` mapped to 1 (100 means the maximum).

    Returns
    -------
    normalized : ndarray
        The same shape as ``values``.
    description : str
        The rule, to print next to the heatmap.

    Examples
    --------
    >>> scaled, text = normalize_for_display(np.array([-2.0, 1.0, 0.0]), "diverging", 100)
    >>> scaled.tolist(), text
    ([-1.0, 0.5, 0.0], 'diverging: v / max|v|, clipped to [-1, 1]')
    """
    mode = check_option(mode, "mode", ["absolute", "diverging"])
    clip_percentile = check_real(clip_percentile, "clip_percentile", low=0.0, high=100.0)
    values = np.asarray(values, dtype=float)
    magnitude = np.abs(values)
    scale = float(np.percentile(magnitude, clip_percentile)) if values.size else 0.0
    reference = "max|v|" if clip_percentile == 100 else f"p{clip_percentile:g}(|v|)"
    if mode == "absolute":
        normalized = np.clip(magnitude / scale, 0.0, 1.0) if scale > 0 else magnitude * 0.0
        return normalized, f"absolute: |v| / {reference}, clipped to [0, 1]"
    normalized = np.clip(values / scale, -1.0, 1.0) if scale > 0 else values * 0.0
    return normalized, f"diverging: v / {reference}, clipped to [-1, 1]"
