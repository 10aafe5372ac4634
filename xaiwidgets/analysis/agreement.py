"""Agreement between attribution methods on the same input: rank correlation, top-k overlap.

Two measures, computed on the raw attributions (never on display-normalized maps):

- **Spearman rank correlation** of the two attribution vectors, signed (do the
  methods order the features the same way, including the direction of the effect?)
  and on magnitudes (do they find the same features important, whatever the sign?).
  Spearman's rho is Pearson's correlation of the ranks, with tied values given their
  average rank (:func:`scipy.stats.spearmanr`).
- **Top-k overlap**: the fraction of the ``k`` features with the largest
  ``|attribution|`` that both methods put in their top ``k``.

These are the agreement measures of the "disagreement problem" literature (Krishna et
al. 2022, "The Disagreement Problem in Explainable Machine Learning", feature
agreement and rank correlation) and of Adebayo et al. 2018 (Spearman on absolute and
signed maps).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import combinations
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..core.explanation import Explanation
from ..core.validation import as_numpy, check_finite, check_int

__all__ = ["agreement", "spearman", "top_k_overlap"]


def _flat(values: Any, name: str) -> np.ndarray:
    """One attribution map as a flat float vector (an Explanation's ``values`` or an array)."""
    if isinstance(values, Explanation):
        if values.is_batch:
            raise ValueError(
                f"{name} holds {len(values)} inputs; compare the explanations of one input "
                "(index the batch first, for example e[0])."
            )
        values = values.values
    array = as_numpy(values, name).astype(np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError(f"{name} is empty: it holds no attributions.")
    check_finite(array, name)
    return array


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a, b = _flat(a, "a"), _flat(b, "b")
    if a.shape != b.shape:
        raise ValueError(
            f"a and b must attribute the same number of features; got {a.size} and {b.size}."
        )
    return a, b


def spearman(a: Any, b: Any, *, absolute: bool = False) -> float:
    """Spearman rank correlation of two attribution maps.

    Parameters
    ----------
    a, b : Explanation or array-like
        Attributions of the same input (any shape; flattened).
    absolute : bool, default=False
        Rank ``|a|`` and ``|b|`` (agreement on importance, whatever the sign) instead
        of the signed values.

    Returns
    -------
    float
        In ``[-1, 1]``; ``nan`` when either map is constant (ranks are undefined).

    Examples
    --------
    >>> spearman([0.1, 0.5, -0.2], [1.0, 3.0, 0.0])
    1.0
    >>> spearman([0.1, 0.5, -0.2], [-1.0, -3.0, 2.0], absolute=True)
    1.0
    """
    a, b = _pair(a, b)
    if absolute:
        a, b = np.abs(a), np.abs(b)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _top_k(values: np.ndarray, k: int) -> set[int]:
    # A stable sort breaks ties by feature order, so the result is deterministic.
    return set(np.argsort(-np.abs(values), kind="stable")[:k].tolist())


def top_k_overlap(a: Any, b: Any, k: int = 5) -> float:
    """Fraction of the ``k`` most important features (largest ``|attribution|``) shared.

    Parameters
    ----------
    a, b : Explanation or array-like
        Attributions of the same input (any shape; flattened).
    k : int, default=5
        How many top features to compare; at most the number of features. Ties in
        ``|attribution|`` are broken by feature order.

    Returns
    -------
    float
        ``|top_k(a) ∩ top_k(b)| / k``, in ``[0, 1]``.

    Examples
    --------
    >>> top_k_overlap([3.0, -2.0, 1.0, 0.0], [0.0, 5.0, 4.0, 1.0], k=2)
    0.5
    """
    a, b = _pair(a, b)
    k = check_int(k, "k", low=1, high=a.size)
    return len(_top_k(a, k) & _top_k(b, k)) / k


def agreement(explanations: Mapping[str, Any], *, k: int = 5) -> pd.DataFrame:
    """Pairwise agreement between several methods' attributions of the same input.

    Parameters
    ----------
    explanations : mapping of str to Explanation or array-like
        ``{method name: attributions}``, all of the same input and size.
    k : int, default=5
        For the top-k overlap; clipped to the number of features.

    Returns
    -------
    DataFrame
        One row per pair of methods (in the mapping's order) with columns
        ``method_a``, ``method_b``, ``spearman`` (signed), ``spearman_abs`` (on
        magnitudes) and ``top_k_overlap``; ``frame.attrs["k"]`` holds the ``k`` used.

    Raises
    ------
    ValueError
        If fewer than two maps are given or their sizes differ.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> from xaiwidgets.analysis.agreement import agreement
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> x = ds.X_test[0]
    >>> maps = {name: xw.explainers.get(name)(m).explain(x) for name in ["gradient", "ig"]}
    >>> agreement(maps, k=3).columns.tolist()
    ['method_a', 'method_b', 'spearman', 'spearman_abs', 'top_k_overlap']
    """
    if not isinstance(explanations, Mapping):
        raise TypeError(
            "explanations must be a mapping {method name: Explanation or array}; got "
            f"{type(explanations).__name__}."
        )
    if len(explanations) < 2:
        raise ValueError(
            f"agreement needs at least two methods to compare; got {len(explanations)}."
        )
    flat = {
        str(name): _flat(values, f"explanations[{name!r}]")
        for name, values in explanations.items()
    }
    sizes = {name: v.size for name, v in flat.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(
            f"All attributions must have the same number of features; got sizes {sizes}."
        )
    n_features = next(iter(sizes.values()))
    k = min(check_int(k, "k", low=1), n_features)
    rows = [
        {
            "method_a": name_a,
            "method_b": name_b,
            "spearman": spearman(flat[name_a], flat[name_b]),
            "spearman_abs": spearman(flat[name_a], flat[name_b], absolute=True),
            "top_k_overlap": top_k_overlap(flat[name_a], flat[name_b], k),
        }
        for name_a, name_b in combinations(flat, 2)
    ]
    frame = pd.DataFrame(rows)
    frame.attrs["k"] = k
    return frame
