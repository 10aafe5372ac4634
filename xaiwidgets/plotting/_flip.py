"""Matplotlib figures of flip points, flip-point audits and paired bias tests.

Pure functions: ``ax=None`` in (a new figure is made), the axes drawn on out. They read
the result objects of :mod:`xaiwidgets.explainers.flip_points` and
:mod:`xaiwidgets.analysis.flip_audit` by their attributes only.
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..core.validation import check_int
from ._explanation import NEGATIVE, POSITIVE

__all__ = [
    "plot_bias_test",
    "plot_change_frequency",
    "plot_directions",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_ranking",
]


def _axes(ax: Axes | None, size: tuple[float, float]) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size)
    return ax


def _feasible(flip_point: Any) -> Any:
    if not getattr(flip_point, "feasible", False):
        raise ValueError(
            f"There is no flip point to plot: {getattr(flip_point, 'reason', flip_point)!r}"
        )
    return flip_point


def plot_flip_path(
    flip_point: Any, ax: Axes | None = None, t: Any = None, towards: str = "relaxed"
) -> Axes:
    """Class scores along the segment ``x + t (flip point - x)``, ``t`` from 0 to 1.2.

    The two tying classes are drawn bold; the dashed line at ``t = 1`` is the flip point.
    Towards the relaxed point (the default) their scores meet exactly there; towards a
    discrete point past the boundary they cross before it.

    Parameters
    ----------
    flip_point : FlipPoint
        A feasible flip point that holds its model (as returned by ``xw.flip.closest``).
    ax : matplotlib Axes, optional
        Where to draw.
    t : array-like of float, optional
        Positions along the segment (default 61 points from 0 to 1.2).
    towards : {"relaxed", "point"}, default="relaxed"
        Walk to the relaxed flip point (an exact tie) or to ``point``.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
    >>> ax = xw.plotting.plot_flip_path(fp)
    >>> len(ax.lines)
    3
    """
    fp = _feasible(flip_point)
    ax = _axes(ax, (5.5, 3.2))
    path = fp.path(t, towards=towards)
    i, j = fp.classes
    for k, name in enumerate(fp.class_names):
        bold = k in (i, j)
        ax.plot(
            path["t"],
            path[name],
            linewidth=2.2 if bold else 0.8,
            alpha=1.0 if bold else 0.4,
            label=name if bold else None,
        )
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=0.9)
    ax.set_xlabel("t  (0 = input, 1 = flip point)")
    output = "logit" if fp.model is not None and fp.model.has_logits else "probability"
    ax.set_ylabel(f"class {output}")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(
        f"{fp.class_labels[0]} → {fp.class_labels[1]}: scores along the path", fontsize=10
    )
    return ax


def plot_flip_changes(flip_point: Any, ax: Axes | None = None, max_features: int = 12) -> Axes:
    """The scaled change of each changed feature, largest on top, values in the labels.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
    >>> ax = xw.plotting.plot_flip_changes(fp)
    >>> ax.get_xlabel()
    'scaled change (flip value - original) / scale'
    """
    fp = _feasible(flip_point)
    max_features = check_int(max_features, "max_features", low=1)
    table = fp.changes(include_relaxed=False)
    table = table.reindex(table["scaled change"].abs().sort_values(ascending=False).index)
    table = table.head(max_features)
    ax = _axes(ax, (6, 0.35 * max(len(table), 1) + 1.2))
    positions = np.arange(len(table))[::-1]
    values = table["scaled change"].to_numpy(dtype=float)
    labels = [
        f"{row['feature']}: {_short(row['original'])} → {_short(row['flip value'])}"
        for row in table.to_dict("records")
    ]
    ax.barh(positions, values, color=[POSITIVE if v > 0 else NEGATIVE for v in values])
    ax.set_yticks(positions, labels)
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("scaled change (flip value - original) / scale")
    ax.set_title(f"What flips {fp.class_labels[0]!r} to {fp.class_labels[1]!r}", fontsize=10)
    return ax


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = float(value)
    return f"{value:.0f}" if value.is_integer() else f"{value:.3g}"


def plot_ranking(audit: Any, ax: Axes | None = None, top: int | None = None) -> Axes:
    """Features in pivoted-QR order of the flip directions (first pivot on top).

    Bars show ``pivot``, the size of the part of each feature's column not explained
    by the features ranked before it, relative to the first.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
    >>> len(xw.plotting.plot_ranking(a, top=5).patches)
    5
    """
    ranking = audit.ranking()
    if top is not None:
        ranking = ranking.head(check_int(top, "top", low=1))
    ax = _axes(ax, (5.5, 0.3 * len(ranking) + 1.2))
    positions = np.arange(len(ranking))[::-1]
    ax.barh(positions, ranking["pivot"], color="#4c72b0")
    ax.set_yticks(
        positions, [f"{r}. {f}" for r, f in zip(ranking["rank"], ranking["feature"], strict=True)]
    )
    ax.set_xlabel("|R_kk| / |R_11|  (pivoted QR of the flip directions)")
    ax.set_title(
        f"Feature ranking over {int(audit.table['feasible'].sum())} flip points", fontsize=10
    )
    return ax


def plot_directions(audit: Any, ax: Axes | None = None) -> Axes:
    """The flip directions on their first two principal components, by flip direction.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
    >>> xw.plotting.plot_directions(a).get_xlabel()[:3]
    'PC1'
    """
    pca = audit.pca(2)
    ax = _axes(ax, (4.8, 4.2))
    labels = np.array(pca.labels)
    for k, name in enumerate(sorted(set(labels))):
        rows = labels == name
        ax.scatter(
            pca.scores[rows, 0], pca.scores[rows, 1], s=14, alpha=0.7, color=f"C{k}", label=name
        )
    ratio = pca.explained_variance_ratio
    top = pca.loadings["PC1"].abs().sort_values(ascending=False).index[:3]
    ax.set_xlabel(f"PC1 ({100 * ratio[0]:.0f} %): {', '.join(top)}", fontsize=9)
    ax.set_ylabel(f"PC2 ({100 * ratio[1]:.0f} %)", fontsize=9)
    ax.axhline(0, color="0.8", linewidth=0.6)
    ax.axvline(0, color="0.8", linewidth=0.6)
    ax.legend(fontsize=8, title="flip direction", title_fontsize=8)
    ax.set_title("Unit flip directions, principal components", fontsize=10)
    return ax


def plot_change_frequency(audit: Any, ax: Axes | None = None) -> Axes:
    """How often each feature changes in the flip points (a fraction of the inputs).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
    >>> len(xw.plotting.plot_change_frequency(a).patches)
    13
    """
    frequency = audit.change_frequency().sort_values("frequency", kind="stable")
    ax = _axes(ax, (5.5, 0.3 * len(frequency) + 1.2))
    positions = np.arange(len(frequency))
    ax.barh(positions, frequency["frequency"], color="#55a868")
    ax.set_yticks(positions, frequency["feature"])
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"fraction of inputs whose flip point changes it (> {audit.change_threshold:g} of the "
        "largest change)",
        fontsize=8,
    )
    ax.set_title("How often each feature changes", fontsize=10)
    return ax


def plot_bias_test(bias: Any, ax: Axes | None = None) -> Axes:
    """Histogram of the attribute's effect on the score, one colour per original value.

    The effect of each input is its positive-class score with the attribute's high value
    minus with its low value (paired counterfactuals); a biased model puts the mass away
    from zero.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> t = xw.flip.bias_test(m, ds.X_test[:50], "group", distances=False, progress=False)
    >>> xw.plotting.plot_bias_test(t).get_xlabel()[:6]
    'effect'
    """
    table = bias.table
    ax = _axes(ax, (5.5, 3.2))
    effects = table["effect"].to_numpy(dtype=float)
    bins: Any = 10
    if len(effects) and np.nanmin(effects) < np.nanmax(effects):
        bins = np.linspace(np.nanmin(effects), np.nanmax(effects), 31)
    for k, name in enumerate(sorted(table["direction"].unique())):
        part = table.loc[table["direction"] == name, "effect"]
        ax.hist(
            part,
            bins=bins,
            alpha=0.6,
            color=f"C{k}",
            label=f"{bias.attribute} {name} (n={len(part)})",
        )
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel(f"effect on the score: {bias.attribute} high minus low value")
    ax.set_ylabel("inputs")
    ax.legend(fontsize=8)
    ax.set_title(f"Paired counterfactuals: flipping {bias.attribute!r}", fontsize=10)
    return ax
