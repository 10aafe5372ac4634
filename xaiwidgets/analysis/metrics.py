"""Similarity of attribution maps: one small library shared by every analysis.

Each metric compares two raw maps (or two batches of maps, pair by pair) and
returns a number where 1 means "the same map" and 0 "unrelated". They are the
measures of Adebayo et al. 2018, "Sanity Checks for Saliency Maps" (NeurIPS), Sec. 3:

- :func:`spearman_abs`: Spearman rank correlation of the absolute values, "do the
  two maps rank the pixels by importance alike?" (what a heat map of magnitudes shows);
- :func:`spearman`: Spearman rank correlation of the signed values (sign matters);
- :func:`ssim`: structural similarity (scikit-image) of the maps as they are seen;
- :func:`hog_pearson`: Pearson correlation of histogram-of-oriented-gradients
  features (scikit-image), for images large enough to hold HOG blocks.

**Normalization.** Rank correlations are invariant to any increasing rescaling, so
they see the raw values. The two image metrics (SSIM, HOG) need a fixed intensity
scale and use one rule, :func:`normalize_abs`: channels summed in absolute value,
divided by the map's maximum, so each map lies in ``[0, 1]`` (the paper's
``abs_grayscale_norm``). No other normalization is applied anywhere.

**Undefined correlations.** A constant map carries no ranking; its correlation
with any map is reported as ``0.0`` (never NaN), so tables and plots stay finite.

:func:`permutation_baseline` gives the chance level of any metric: the similarity
between a reference and maps whose values were randomly shuffled over the pixels.

Examples
--------
>>> import numpy as np
>>> from xaiwidgets.analysis import metrics
>>> a = np.arange(16.0).reshape(4, 4)
>>> metrics.spearman(a, a), metrics.spearman(a, -a)
(1.0, -1.0)
>>> metrics.spearman_abs(a, -a)
1.0
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

from ..core.seeding import numpy_rng
from ..core.validation import as_numpy, check_finite, check_int, check_option

__all__ = [
    "METRICS",
    "Metric",
    "applicable",
    "compare",
    "get",
    "hog_pearson",
    "normalize_abs",
    "permutation_baseline",
    "spearman",
    "spearman_abs",
    "ssim",
    "ssim_window",
]


# ---------------------------------------------------------------------------- input handling
def _pair(a: Any, b: Any, batch: bool) -> tuple[np.ndarray, np.ndarray]:
    """Validate two maps (or batches of maps) of the same shape; return float batches."""
    a, b = as_numpy(a, "a").astype(np.float64), as_numpy(b, "b").astype(np.float64)
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must be maps of the same shape; got shapes {a.shape} and {b.shape}."
        )
    if batch and a.ndim < 2:
        raise ValueError(
            f"With batch=True, a and b must have shape (n, *map_shape); got shape {a.shape}."
        )
    if a.size == 0:
        raise ValueError("a and b are empty; a map needs at least one value.")
    check_finite(a, "a")
    check_finite(b, "b")
    if not batch:
        a, b = a[None], b[None]
    return a, b


def _result(values: np.ndarray, batch: bool) -> float | np.ndarray:
    return values if batch else float(values[0])


def _images(maps: np.ndarray) -> np.ndarray:
    """(n, H, W) or (n, C, H, W) maps -> (n, H, W); anything else is an error."""
    if maps.ndim in (3, 4):
        return maps
    raise ValueError(
        "Image metrics need image maps of shape (H, W) or (C, H, W) (a batch adds a "
        f"leading axis); got a map of shape {maps.shape[1:]}. Use spearman or "
        "spearman_abs for tabular maps."
    )


# ---------------------------------------------------------------------------- normalization
def normalize_abs(maps: Any, *, batch: bool = False) -> np.ndarray:
    """The one normalization used before the image metrics: ``|v|`` scaled to ``[0, 1]``.

    Channels are summed in absolute value, ``m = sum_c |v_c|``, and the 2-D map is
    divided by its maximum (a map that is zero everywhere stays zero). This is the
    grey-scale rule of Adebayo et al. 2018 (``abs_grayscale_norm`` in their code).

    Parameters
    ----------
    maps : array-like of shape (H, W) or (C, H, W)
        One map, or with ``batch=True`` a batch ``(n, H, W)`` / ``(n, C, H, W)``.
    batch : bool, default=False
        Whether the first axis indexes maps.

    Returns
    -------
    ndarray of shape (H, W), or (n, H, W) with ``batch=True``

    Examples
    --------
    >>> normalize_abs(np.array([[[-2.0, 1.0], [0.0, 4.0]]])).tolist()
    [[0.5, 0.25], [0.0, 1.0]]
    """
    array, _ = _pair(maps, maps, batch)
    images = np.abs(_images(array))
    if images.ndim == 4:
        images = images.sum(axis=1)
    peak = images.reshape(len(images), -1).max(axis=1)
    scale = np.where(peak > 0, peak, 1.0)[:, None, None]
    normalized = images / scale
    return normalized if batch else normalized[0]


# ---------------------------------------------------------------------------- rank metrics
def _row_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair; 0.0 where a row is constant."""
    defined = (np.ptp(a, axis=1) > 0) & (np.ptp(b, axis=1) > 0)
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    out = np.zeros(len(a))
    out[defined] = (a * b).sum(axis=1)[defined] / norm[defined]
    return np.clip(out, -1.0, 1.0)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # Spearman's rho is Pearson's r of the ranks; ties get their average rank, as in
    # scipy.stats.spearmanr.
    flat_a, flat_b = a.reshape(len(a), -1), b.reshape(len(b), -1)
    return _row_pearson(rankdata(flat_a, axis=1), rankdata(flat_b, axis=1))


def spearman(a: Any, b: Any, *, batch: bool = False) -> float | np.ndarray:
    """Spearman rank correlation of two signed maps, over all their values.

    Parameters
    ----------
    a, b : array-like of the same shape
        Two raw maps (any shape: tabular or image), or two batches with ``batch=True``.
    batch : bool, default=False
        Whether the first axis indexes map pairs; then one value per pair is returned.

    Returns
    -------
    float in [-1, 1], or ndarray of shape (n,) with ``batch=True``
        Equal to ``scipy.stats.spearmanr`` of the flattened maps; 0.0 where a map
        is constant.

    Examples
    --------
    >>> spearman([1.0, 2.0, 3.0], [10.0, 30.0, 20.0])
    0.5
    """
    a, b = _pair(a, b, batch)
    return _result(_spearman_rows(a, b), batch)


def spearman_abs(a: Any, b: Any, *, batch: bool = False) -> float | np.ndarray:
    """Spearman rank correlation of the absolute values of two maps.

    Same as :func:`spearman` on ``|a|`` and ``|b|``: whether the maps agree on which
    features matter most, whatever the sign.

    Examples
    --------
    >>> spearman_abs([-3.0, 1.0, 2.0], [3.0, -1.0, 2.0])
    1.0
    """
    a, b = _pair(a, b, batch)
    return _result(_spearman_rows(np.abs(a), np.abs(b)), batch)


# ---------------------------------------------------------------------------- image metrics
def ssim_window(height: int, width: int) -> int:
    """The SSIM window used for an image of this size.

    scikit-image's default 7x7 window, shrunk for small images so that at least 4x4
    window positions fit (the mean SSIM is taken over those positions only): the
    largest odd size ``<= 7`` and ``<= min(height, width) - 3``. 8x8 digits get 5.

    Raises
    ------
    ValueError
        If the image is smaller than 6x6 (not even a 3x3 window leaves 4x4 positions).

    Examples
    --------
    >>> ssim_window(8, 8), ssim_window(28, 28), ssim_window(6, 9)
    (5, 7, 3)
    """
    side = min(int(height), int(width))
    size = min(7, side - 3)
    size -= 1 - size % 2  # largest odd number not above it
    if size < 3:
        raise ValueError(
            f"SSIM needs images of at least 6x6 pixels (a 3x3 window at 4x4 positions); "
            f"got {height}x{width}."
        )
    return size


def ssim(
    a: Any, b: Any, *, batch: bool = False, win_size: int | None = None
) -> float | np.ndarray:
    """Structural similarity (Wang et al. 2004) of two maps, by scikit-image.

    Both maps are first normalized by :func:`normalize_abs` (so ``data_range=1``),
    then compared with ``skimage.metrics.structural_similarity`` using a uniform
    window of :func:`ssim_window` pixels; the mean SSIM over the window positions is
    returned.

    Parameters
    ----------
    a, b : array-like of shape (H, W) or (C, H, W)
        Two raw image maps, or batches ``(n, ...)`` with ``batch=True``.
    batch : bool, default=False
        Whether the first axis indexes map pairs.
    win_size : int, optional
        An odd window size; by default :func:`ssim_window` of the image.

    Returns
    -------
    float in [-1, 1], or ndarray of shape (n,)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = rng.random((8, 8))
    >>> ssim(m, 3 * m)  # normalization removes the scale
    1.0
    """
    from skimage.metrics import structural_similarity

    a, b = _pair(a, b, batch)
    images_a = normalize_abs(_images(a), batch=True)
    images_b = normalize_abs(_images(b), batch=True)
    height, width = images_a.shape[1:]
    if win_size is None:
        win_size = ssim_window(height, width)
    else:
        win_size = check_int(win_size, "win_size", low=3, high=min(height, width))
        if win_size % 2 == 0:
            raise ValueError(f"The 'win_size' parameter must be odd; got {win_size}.")
    values = np.array(
        [
            structural_similarity(x, y, data_range=1.0, win_size=win_size)
            for x, y in zip(images_a, images_b, strict=True)
        ]
    )
    return _result(values, batch)


def hog_pearson(
    a: Any,
    b: Any,
    *,
    batch: bool = False,
    pixels_per_cell: tuple[int, int] = (8, 8),
    cells_per_block: tuple[int, int] = (2, 2),
    orientations: int = 9,
) -> float | np.ndarray:
    """Pearson correlation of the HOG features of two maps (scikit-image's ``hog``).

    Histograms of oriented gradients (Dalal & Triggs 2005) describe the edges of a
    map; Adebayo et al. 2018 correlate them to compare saliency maps. Both maps are
    normalized by :func:`normalize_abs` first.

    Parameters
    ----------
    a, b : array-like of shape (H, W) or (C, H, W)
        Two raw image maps, or batches with ``batch=True``.
    batch : bool, default=False
        Whether the first axis indexes map pairs.
    pixels_per_cell, cells_per_block, orientations
        Passed to ``skimage.feature.hog`` (its defaults, except 9 orientations).

    Returns
    -------
    float in [-1, 1], or ndarray of shape (n,)

    Raises
    ------
    ValueError
        If the image is smaller than one HOG block
        (``pixels_per_cell * cells_per_block`` pixels on a side): 8x8 digits are,
        at the default settings.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> m = rng.random((16, 16))
    >>> round(hog_pearson(m, m), 6)
    1.0
    """
    from skimage.feature import hog

    a, b = _pair(a, b, batch)
    images_a = normalize_abs(_images(a), batch=True)
    images_b = normalize_abs(_images(b), batch=True)
    block = np.multiply(pixels_per_cell, cells_per_block)
    height, width = images_a.shape[1:]
    if height < block[0] or width < block[1]:
        raise ValueError(
            f"{height}x{width} maps are too small for HOG with {pixels_per_cell} pixels "
            f"per cell and {cells_per_block} cells per block (at least "
            f"{block[0]}x{block[1]} needed); pass smaller pixels_per_cell or use ssim."
        )

    def features(image: np.ndarray) -> np.ndarray:
        return hog(
            image,
            orientations=orientations,
            pixels_per_cell=pixels_per_cell,
            cells_per_block=cells_per_block,
            feature_vector=True,
        )

    features_a = np.stack([features(x) for x in images_a])
    features_b = np.stack([features(y) for y in images_b])
    return _result(_row_pearson(features_a, features_b), batch)


# ---------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class Metric:
    """A named similarity measure: ``function(a, b, batch=True) -> ndarray (n,)``.

    Attributes
    ----------
    name : str
        The short name used in tables (``"spearman_abs"``, ``"ssim"``, ...).
    label : str
        A longer name for plots.
    function : callable
        The metric, for example :func:`ssim`.
    needs_image : bool
        Whether the metric only applies to image maps.
    min_side : int
        The smallest image side it applies to by default.

    Examples
    --------
    >>> get("ssim").label
    'SSIM (|map| / max)'
    """

    name: str
    label: str
    function: Callable[..., Any]
    needs_image: bool = False
    min_side: int = 1

    def applies_to(self, map_shape: Sequence[int]) -> bool:
        """Whether the metric applies to maps of this shape (without a batch axis).

        Examples
        --------
        >>> get("hog").applies_to((1, 8, 8)), get("hog").applies_to((3, 32, 32))
        (False, True)
        """
        if not self.needs_image:
            return True
        if len(map_shape) not in (2, 3):
            return False
        return min(map_shape[-2:]) >= self.min_side

    def __call__(self, a: Any, b: Any, *, batch: bool = False) -> float | np.ndarray:
        """Compare ``a`` and ``b`` (batches with ``batch=True``)."""
        return self.function(a, b, batch=batch)


METRICS: dict[str, Metric] = {
    metric.name: metric
    for metric in (
        Metric("spearman_abs", "Spearman rank correlation (|map|)", spearman_abs),
        Metric("spearman", "Spearman rank correlation (signed)", spearman),
        Metric("ssim", "SSIM (|map| / max)", ssim, needs_image=True, min_side=6),
        Metric(
            "hog",
            "Pearson correlation of HOG features",
            hog_pearson,
            needs_image=True,
            min_side=16,
        ),
    )
}


def get(name: str) -> Metric:
    """The metric registered under ``name``.

    Examples
    --------
    >>> get("spearman").function is spearman
    True
    """
    check_option(name, "metric", list(METRICS))
    return METRICS[name]


def applicable(map_shape: Sequence[int]) -> list[str]:
    """Names of the metrics that apply to maps of ``map_shape``, in registry order.

    Tabular maps get the two rank correlations; images from 6x6 add SSIM, and
    images from 16x16 (one HOG block of 2x2 cells of 8x8 pixels) add HOG.

    Examples
    --------
    >>> applicable((13,))
    ['spearman_abs', 'spearman']
    >>> applicable((1, 8, 8))
    ['spearman_abs', 'spearman', 'ssim']
    """
    return [name for name, metric in METRICS.items() if metric.applies_to(tuple(map_shape))]


def compare(
    a: Any, b: Any, metrics: Sequence[str] | None = None, *, batch: bool = False
) -> dict[str, float | np.ndarray]:
    """Several metrics at once: ``{name: value}`` (arrays of shape (n,) with ``batch``).

    Parameters
    ----------
    a, b : array-like of the same shape
        Two maps, or two batches with ``batch=True``.
    metrics : sequence of str, optional
        Metric names; by default every metric that :func:`applicable` lists.
    batch : bool, default=False
        Whether the first axis indexes map pairs.

    Examples
    --------
    >>> m = np.arange(64.0).reshape(1, 8, 8)
    >>> {k: round(v, 3) for k, v in compare(m, m).items()}
    {'spearman_abs': 1.0, 'spearman': 1.0, 'ssim': 1.0}
    """
    shape = np.shape(a)[1:] if batch else np.shape(a)
    names = applicable(shape) if metrics is None else [get(name).name for name in metrics]
    return {name: METRICS[name](a, b, batch=batch) for name in names}


def permutation_baseline(
    reference: Any,
    maps: Any,
    metric: str | Callable[..., Any],
    *,
    n_draws: int = 16,
    seed: int | None = 0,
) -> np.ndarray:
    """Chance-level similarity: ``reference`` against randomly shuffled ``maps``.

    Each map's values are permuted over its positions (all channels together), so a
    random map keeps the value distribution of the real one and loses only its
    arrangement; the metric then compares ``reference[i]`` with each shuffle of
    ``maps[i]``. With ``reference = maps`` this is the band a randomized model's
    map should fall into if it were unrelated to the original.

    Parameters
    ----------
    reference, maps : array-like of shape (n, *map_shape)
        Batches of maps (the same shape).
    metric : str or callable
        A registered metric name, or ``f(a, b, batch=True) -> ndarray (n,)``.
    n_draws : int, default=16
        Shuffles per map.
    seed : int or None, default=0
        Seed of the shuffles.

    Returns
    -------
    ndarray of shape (n, n_draws)

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> maps = rng.normal(size=(4, 1, 8, 8))
    >>> base = permutation_baseline(maps, maps, "spearman", n_draws=50)
    >>> base.shape, bool(abs(base.mean()) < 0.05)
    ((4, 50), True)
    """
    function = get(metric).function if isinstance(metric, str) else metric
    reference, maps = _pair(reference, maps, batch=True)
    n_draws = check_int(n_draws, "n_draws", low=1)
    rng = numpy_rng(seed)
    n = len(maps)
    flat = maps.reshape(n, -1)
    # One permutation per (draw, map): argsort of uniform keys shuffles each row.
    order = np.argsort(rng.random((n_draws, n, flat.shape[1])), axis=2)
    shuffled = np.take_along_axis(np.broadcast_to(flat, order.shape), order, axis=2)
    shuffled = shuffled.reshape((n_draws * n, *maps.shape[1:]))
    repeated = np.broadcast_to(reference, (n_draws, *reference.shape)).reshape(shuffled.shape)
    values = np.asarray(function(repeated, shuffled, batch=True), dtype=float)
    return values.reshape(n_draws, n).T
