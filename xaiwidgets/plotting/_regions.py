"""Matplotlib figures of exact linear regions: the 2-D region map and the 1-D curve.

Pure functions: they take ``ax=None`` and return the axes, like every plot here. The
numbers come from :class:`~xaiwidgets.explainers.LinearRegion`.
"""

from __future__ import annotations

from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm
from matplotlib.patches import Patch, Polygon

from ..core.validation import check_option
from ..explainers.linear_region import Curve, RegionMap

__all__ = ["plot_curve", "plot_region_map"]

_EDGE = "0.25"


def plot_region_map(
    region_map: RegionMap,
    color: Literal["class", "weight", "rank"] = "class",
    feature: Any = None,
    target: int | None = None,
    normalized: bool | None = None,
    ax: Axes | None = None,
    mark: bool = True,
    colorbar: bool = True,
) -> Axes:
    """Draw the linear regions of a 2-D slice, coloured by class, weight or rank.

    Parameters
    ----------
    region_map : RegionMap
        From :meth:`~xaiwidgets.explainers.LinearRegion.region_map`.
    color : {"class", "weight", "rank"}, default="class"
        ``"class"``: the predicted class (regions split exactly along the decision
        boundary); ``"weight"``: the chosen feature's weight in each region (diverging,
        centred at 0); ``"rank"``: the rank of its absolute weight among all columns
        (1 = the most important).
    feature : int or str, optional
        The column for ``"weight"`` and ``"rank"``; default the first free feature.
    target : int, optional
        The logit whose weights are shown; default the class predicted at the input.
    normalized : bool, optional
        Use weights times the training standard deviation (Definition 2 of Dethise &
        Canini). Default: False for ``"weight"``, True for ``"rank"`` where the
        standard deviations are known.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    mark : bool, default=True
        Mark the input with a star and outline its region.
    colorbar : bool, default=True
        Add a legend (classes) or colour bar (weights, ranks).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds, hidden=(8, 8)), ds))
    >>> rm = lr.region_map(ds.X_test[0], ("x1", "x2"))
    >>> ax = xw.plotting.plot_region_map(rm, color="rank", feature="x1")
    >>> ax.get_xlabel()
    'x1'
    """
    if not isinstance(region_map, RegionMap):
        raise TypeError(f"Expected a RegionMap; got {type(region_map).__name__}.")
    color = check_option(color, "color", ["class", "weight", "rank"])
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.5))
    figure = ax.figure
    if color == "class":
        cells = region_map.class_cells()
        palette = plt.get_cmap("tab10")
        classes = np.array([c for _, c, _ in cells])
        ax.add_collection(
            PolyCollection(
                [cell for _, _, cell in cells],
                facecolors=[palette(c % 10) for c in classes],
                edgecolors="none",
                alpha=0.55,
            )
        )
        title = "predicted class"
        if colorbar:
            shown = sorted(set(classes.tolist()))
            ax.legend(
                handles=[
                    Patch(color=palette(c % 10), alpha=0.55, label=region_map.class_names[c])
                    for c in shown
                ],
                loc="upper right",
                fontsize=8,
                framealpha=0.8,
            )
    else:
        feature = region_map.features[0] if feature is None else feature
        name = feature if isinstance(feature, str) else region_map.feature_names[int(feature)]
        if normalized is None:
            normalized = color == "rank" and region_map.scale is not None
        if color == "weight":
            values = region_map.feature_weights(feature, target, normalized=normalized)
            limit = float(np.max(np.abs(values))) or 1.0
            cmap, norm = plt.get_cmap("RdBu_r"), TwoSlopeNorm(0.0, -limit, limit)
            label = f"{'normalized ' if normalized else ''}weight of {name}"
        else:
            values = region_map.feature_ranks(feature, target, normalized=normalized)
            clipped = values.max() > 10
            n_ranks = int(min(values.max(), 10))
            cmap = ListedColormap(plt.get_cmap("viridis")(np.linspace(0, 1, n_ranks)))
            norm = BoundaryNorm(np.arange(0.5, n_ranks + 1.5), n_ranks)
            values = np.minimum(values, n_ranks)
            label = f"rank of {name} ({'normalized ' if normalized else ''}|weight|)"
        collection = PolyCollection(
            region_map.polygons, array=values, cmap=cmap, norm=norm, edgecolors="none"
        )
        ax.add_collection(collection)
        title = label
        if colorbar:
            bar = figure.colorbar(collection, ax=ax, label=label)
            if color == "rank":
                labels = [str(rank) for rank in range(1, n_ranks + 1)]
                if clipped:
                    labels[-1] += "+"
                bar.set_ticks(np.arange(1, n_ranks + 1), labels=labels)
    ax.add_collection(
        PolyCollection(region_map.polygons, facecolors="none", edgecolors=_EDGE, linewidths=0.4)
    )
    if mark:
        i, j = region_map.columns
        ax.add_patch(
            Polygon(
                region_map.polygons[region_map.current],
                closed=True,
                fill=False,
                edgecolor="black",
                linewidth=2.0,
            )
        )
        ax.plot(
            region_map.x[i],
            region_map.x[j],
            marker="*",
            color="black",
            markersize=13,
            markeredgecolor="white",
            linestyle="none",
        )
    ax.set_xlim(region_map.low[0], region_map.high[0])
    ax.set_ylim(region_map.low[1], region_map.high[1])
    ax.set_xlabel(region_map.features[0])
    ax.set_ylabel(region_map.features[1])
    state = "" if region_map.complete else ", incomplete"
    ax.set_title(f"{len(region_map)} linear regions{state}: {title}", fontsize=10)
    return ax


def plot_curve(
    curve: Curve,
    classes: Any = None,
    ax: Axes | None = None,
    breakpoints: bool = True,
) -> Axes:
    """Draw the exact logits along a feature, its breakpoints and the current interval.

    Parameters
    ----------
    curve : Curve
        From :meth:`~xaiwidgets.explainers.LinearRegion.curve`.
    classes : int, list of int or None
        Which logits to draw; default all (at most 10).
    ax : matplotlib Axes, optional
        Where to draw.
    breakpoints : bool, default=True
        Tick every breakpoint along the bottom.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> ax = xw.plotting.plot_curve(lr.curve(ds.X_test[0], "income"))
    >>> ax.get_xlabel()
    'income'
    """
    if not isinstance(curve, Curve):
        raise TypeError(f"Expected a Curve; got {type(curve).__name__}.")
    n_classes = curve.logits.shape[1]
    if classes is None:
        classes = list(range(min(n_classes, 10)))
    classes = [int(c) for c in np.atleast_1d(classes)]
    if any(not 0 <= c < n_classes for c in classes):
        raise ValueError(f"classes must be in [0, {n_classes - 1}]; got {classes}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    palette = plt.get_cmap("tab10")
    low, high = curve.interval
    ax.axvspan(low, high, color="#ffd54f", alpha=0.35, linewidth=0, label="current linear piece")
    for c in classes:
        ax.plot(
            curve.positions,
            curve.logits[:, c],
            color=palette(c % 10),
            linewidth=1.6,
            label=curve.class_names[c],
        )
    if breakpoints and len(curve.breakpoints):
        ax.plot(
            curve.breakpoints,
            np.zeros_like(curve.breakpoints),
            linestyle="none",
            marker="|",
            markersize=8,
            color="0.35",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
        )
    current = curve(curve.current)[0]
    ax.plot(
        np.full(len(classes), curve.current),
        current[classes],
        linestyle="none",
        marker="o",
        color="black",
        markersize=5,
    )
    ax.axvline(curve.current, color="black", linewidth=0.8, linestyle=":")
    ax.set_xlim(curve.positions[0], curve.positions[-1])
    ax.set_xlabel(curve.feature or "t")
    ax.set_ylabel("logit")
    ax.set_title(f"exact logits: {len(curve.breakpoints)} breakpoints", fontsize=10)
    ax.legend(fontsize=8, loc="best")
    return ax
