"""Figures of randomization sanity checks: map strips, similarity curves and bars.

Pure matplotlib: each function draws into the ``fig`` or ``ax`` it is given (or a new
one) and returns it. They take plain arrays and the tidy tables of
:class:`~xaiwidgets.analysis.sanity.SanityResult`, so a widget can redraw them with
its own selection.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.validation import check_option
from ._explanation import _to_display_image
from ._normalize import normalize_for_display

__all__ = ["plot_map_strip", "plot_similarity_bars", "plot_similarity_curve"]

_CMAPS = {"absolute": ("Reds", 0.0), "diverging": ("RdBu_r", -1.0)}


def _to_map_image(values: np.ndarray) -> np.ndarray:
    """(C, H, W) or (H, W) map -> (H, W), channels summed with their sign."""
    values = np.asarray(values, dtype=float)
    return values.sum(axis=0) if values.ndim == 3 else values


def plot_map_strip(
    x: np.ndarray,
    rows: Mapping[str, Sequence[np.ndarray]],
    column_labels: Sequence[str],
    *,
    feature_names: Sequence[str] | None = None,
    mode: str = "absolute",
    clip_percentile: float = 99.0,
    fig: Figure | None = None,
) -> Figure:
    """A grid of attribution maps of one input: one row per method, one column per model.

    Image maps: the first column shows the input, then one heat map per column,
    each scaled on its own by :func:`~xaiwidgets.plotting.normalize_for_display`
    (the rule is written under the grid). Tabular maps (1-D): one panel per method
    with features down and columns across, each column scaled on its own.

    Parameters
    ----------
    x : ndarray
        The input, of the maps' shape.
    rows : mapping of str to sequence of ndarray
        ``{row label: [map per column]}``.
    column_labels : sequence of str
        One label per map column.
    feature_names : sequence of str, optional
        Tabular maps: names for the rows of each panel.
    mode : {"absolute", "diverging"}, default="absolute"
        Magnitude (white to red) or signed (blue-white-red) colouring.
    clip_percentile : float, default=99.0
        See :func:`~xaiwidgets.plotting.normalize_for_display`.
    fig : Figure, optional
        Cleared and drawn into; a new figure is made when omitted.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import numpy as np, xaiwidgets as xw
    >>> rng = np.random.default_rng(0)
    >>> maps = {"a": [rng.normal(size=(1, 8, 8)) for _ in range(3)]}
    >>> fig = xw.plotting.plot_map_strip(np.zeros((1, 8, 8)), maps, ["s0", "s1", "s2"])
    >>> len(fig.axes)
    4
    """
    mode = check_option(mode, "mode", list(_CMAPS))
    rows = {label: [np.asarray(m, dtype=float) for m in maps] for label, maps in rows.items()}
    if not rows:
        raise ValueError("rows is empty; pass at least one row of maps.")
    n_columns = len(column_labels)
    for label, maps in rows.items():
        if len(maps) != n_columns:
            raise ValueError(
                f"Row {label!r} has {len(maps)} maps but there are {n_columns} column labels."
            )
    cmap, low = _CMAPS[mode]
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        return _tabular_strip(x, rows, column_labels, feature_names, mode, clip_percentile, fig)
    if fig is None:
        fig = plt.figure(figsize=(1.25 * (n_columns + 1) + 0.6, 1.35 * len(rows) + 0.7))
    else:
        fig.clear()
    axes = fig.subplots(len(rows), n_columns + 1, squeeze=False)
    image, image_cmap = _to_display_image(x)
    rule = ""
    for r, (label, maps) in enumerate(rows.items()):
        axes[r, 0].imshow(image, cmap=image_cmap, vmin=0, vmax=1, interpolation="nearest")
        axes[r, 0].set_ylabel(label, fontsize=9)
        for c, values in enumerate(maps, start=1):
            normalized, rule = normalize_for_display(_to_map_image(values), mode, clip_percentile)
            axes[r, c].imshow(normalized, cmap=cmap, vmin=low, vmax=1.0, interpolation="nearest")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for c, title in enumerate(["input", *column_labels]):
        axes[0, c].set_title(title, fontsize=8)
    fig.text(0.5, 0.005, f"each map: {rule}", ha="center", va="bottom", fontsize=7)
    fig.subplots_adjust(wspace=0.05, hspace=0.08, bottom=0.06)
    return fig


def _tabular_strip(
    x: np.ndarray,
    rows: dict[str, list[np.ndarray]],
    column_labels: Sequence[str],
    feature_names: Sequence[str] | None,
    mode: str,
    clip_percentile: float,
    fig: Figure | None,
) -> Figure:
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(len(x))]
    if len(names) != len(x):
        raise ValueError(f"feature_names must have {len(x)} names; got {len(names)}.")
    cmap, low = _CMAPS[mode]
    if fig is None:
        fig = plt.figure(figsize=(2.2 + 2.0 * len(rows), 0.25 * len(x) + 1.6))
    else:
        fig.clear()
    axes = fig.subplots(1, len(rows), squeeze=False)[0]
    rule = ""
    for i, (ax, (label, maps)) in enumerate(zip(axes, rows.items(), strict=True)):
        columns = []
        for values in maps:
            normalized, rule = normalize_for_display(values, mode, clip_percentile)
            columns.append(normalized)
        ax.imshow(np.stack(columns, axis=1), cmap=cmap, vmin=low, vmax=1.0, aspect="auto")
        ax.set_xticks(range(len(column_labels)), column_labels, rotation=90, fontsize=7)
        labels = [f"{n} = {v:.3g}" for n, v in zip(names, x, strict=True)] if i == 0 else []
        ax.set_yticks(range(len(names)) if i == 0 else [], labels, fontsize=7)
        ax.set_title(label, fontsize=9)
    fig.text(0.5, 0.005, f"each column: {rule}", ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return fig


def _band_for(band: pd.DataFrame | None, metric: str) -> tuple[float, float] | None:
    if band is None:
        return None
    rows = band[band["metric"] == metric]
    if rows.empty:
        return None
    return float(rows["low"].min()), float(rows["high"].max())


def plot_similarity_curve(
    summary: pd.DataFrame,
    metric: str,
    *,
    stage_labels: Sequence[str],
    band: pd.DataFrame | None = None,
    spread: str = "std",
    title: str | None = None,
    colors: Mapping[str, Any] | None = None,
    legend: bool = True,
    ax: Axes | None = None,
) -> Axes:
    """One similarity metric against the randomization stage, one line per method.

    Parameters
    ----------
    summary : DataFrame
        Columns ``method, stage, metric, mean`` and the ``spread`` column, as
        :meth:`SanityResult.summary <xaiwidgets.analysis.sanity.SanityResult.summary>`
        gives.
    metric : str
        Which metric to draw.
    stage_labels : sequence of str
        Tick labels, one per stage.
    band : DataFrame, optional
        Columns ``metric, low, high`` (``baseline_band()``); the chance band is drawn
        from the lowest ``low`` to the highest ``high`` of the metric's rows.
    spread : {"std", "sem", "none"}, default="std"
        Shaded around each line.
    title : str, optional
        Panel title; the metric name by default.
    colors : mapping of str to colour, optional
        A colour per method.
    legend : bool, default=True
        Draw the legend, to the right of the axes.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd, xaiwidgets as xw
    >>> s = pd.DataFrame({"method": "g", "stage": [0, 1], "metric": "ssim",
    ...                   "mean": [1.0, 0.2], "std": [0.0, 0.1]})
    >>> ax = xw.plotting.plot_similarity_curve(s, "ssim", stage_labels=["original", "fc"])
    >>> len(ax.lines)
    2
    """
    spread = check_option(spread, "spread", ["std", "sem", "none"])
    if ax is None:
        _, ax = plt.subplots(figsize=(5.8, 3.4), layout="constrained")
    rows = summary[summary["metric"] == metric]
    if rows.empty:
        raise ValueError(f"summary has no rows for metric {metric!r}.")
    limits = _band_for(band, metric)
    if limits is not None:
        ax.axhspan(*limits, color="0.85", zorder=0, label="random-map band")
    for method, part in rows.groupby("method", sort=False):
        part = part.sort_values("stage")
        color = None if colors is None else colors.get(method)
        (line,) = ax.plot(part["stage"], part["mean"], marker="o", ms=3, label=method, color=color)
        if spread != "none":
            ax.fill_between(
                part["stage"],
                part["mean"] - part[spread],
                part["mean"] + part[spread],
                color=line.get_color(),
                alpha=0.15,
                linewidth=0,
            )
    ax.axvline(0.5, color="0.3", linestyle="--", linewidth=0.9)
    ax.set_xticks(range(len(stage_labels)), stage_labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlim(-0.2, len(stage_labels) - 0.8)
    ax.set_ylim(min(-0.2, float(rows["mean"].min()) - 0.1), 1.05)
    ax.set_ylabel("similarity to original")
    ax.set_title(title or metric, fontsize=9)
    if legend:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return ax


def plot_similarity_bars(
    summary: pd.DataFrame,
    *,
    metrics: Sequence[str],
    methods: Sequence[str],
    band: pd.DataFrame | None = None,
    metric_labels: Mapping[str, str] | None = None,
    colors: Mapping[str, Any] | None = None,
    title: str = "",
    ax: Axes | None = None,
) -> Axes:
    """Grouped bars: one group per metric, one bar per method, with chance bands.

    Parameters
    ----------
    summary : DataFrame
        Columns ``method, metric, mean, std`` for one stage.
    metrics, methods : sequence of str
        Groups and bars, in order.
    band : DataFrame, optional
        Columns ``metric, low, high``; drawn as a grey box behind each group.
    metric_labels : mapping of str to str, optional
        Tick labels for the metrics.
    colors : mapping of str to colour, optional
        A colour per method.
    title : str, default=""
        Axes title.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import pandas as pd, xaiwidgets as xw
    >>> s = pd.DataFrame({"method": ["g", "ig"], "metric": "ssim", "mean": [0.1, 0.6],
    ...                   "std": [0.05, 0.1]})
    >>> ax = xw.plotting.plot_similarity_bars(s, metrics=["ssim"], methods=["g", "ig"])
    >>> len(ax.patches)
    2
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(2.8 + 1.6 * len(metrics), 3.4), layout="constrained")
    width = 0.8 / max(len(methods), 1)
    indexed = summary.set_index(["metric", "method"])
    for j, method in enumerate(methods):
        means, errors = [], []
        for metric in metrics:
            row = indexed.loc[(metric, method)] if (metric, method) in indexed.index else None
            means.append(np.nan if row is None else float(row["mean"]))
            errors.append(0.0 if row is None else float(row["std"]))
        color = None if colors is None else colors.get(method)
        positions = np.arange(len(metrics)) - 0.4 + width * (j + 0.5)
        ax.bar(positions, means, width, yerr=errors, label=method, color=color, capsize=2)
    for i, metric in enumerate(metrics):
        limits = _band_for(band, metric)
        if limits is not None:
            ax.fill_between(
                [i - 0.45, i + 0.45],
                *limits,
                color="0.85",
                zorder=0,
                linewidth=0,
                label="random-map band" if i == 0 else None,
            )
    labels = [metric_labels.get(m, m) if metric_labels else m for m in metrics]
    ax.set_xticks(range(len(metrics)), labels, fontsize=7, rotation=15)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylim(min(-0.2, ax.get_ylim()[0]), 1.05)
    ax.set_ylabel("similarity to original")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return ax
