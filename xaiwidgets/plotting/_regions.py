"""Matplotlib figures of exact linear regions: the 2-D region map and the 1-D curve.

Pure functions: they take ``ax=None`` and return the axes, like every plot here. The
numbers come from :class:`~xaiwidgets.explainers.LinearRegion`. :class:`CurveDisplay`
and :class:`RegionMapMarker` draw the same things once and update them in place (see
:mod:`xaiwidgets.plotting._live`), for widgets and animations.
"""

from __future__ import annotations

from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, TwoSlopeNorm
from matplotlib.patches import Patch, Polygon, Rectangle

from ..core.validation import check_option
from ..explainers.linear_region import Curve, RegionMap

__all__ = ["CurveDisplay", "RegionMapMarker", "plot_curve", "plot_region_map"]

_EDGE = "0.25"
_LINE, _TARGET_LINE = 1.6, 2.6
#: Colour of the highlighted segment on a region map (the accent of the widgets).
SEGMENT = "#e07000"


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
        RegionMapMarker(ax).update(region_map)
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

    See Also
    --------
    CurveDisplay : the same drawing, updated in place (for widgets and animations).

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
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    display = CurveDisplay(ax, curve.class_names, classes=classes, breakpoints=breakpoints)
    display.update(curve)
    ax.set_title(f"exact logits: {len(curve.breakpoints)} breakpoints", fontsize=10)
    return ax


class CurveDisplay:
    """The exact logits along one feature, drawn once and updated in place.

    Draws what :func:`plot_curve` draws (one line per class logit, the current linear
    piece as a yellow band, every breakpoint as a tick along the bottom, the input as
    dots on a dotted line), but keeps the artists so that a new :class:`Curve` only
    changes their data. The axis limits are kept while the curve fits them; a curve
    that leaves them, or shrinks to under a third of their height, rescales them.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    class_names : sequence of str
        One name per class logit.
    classes : int, list of int or None
        Which logits to draw; default all (at most 10).
    breakpoints : bool, default=True
        Tick every breakpoint along the bottom.
    fontsize : float, default=10
        Font size of the labels.

    Attributes
    ----------
    lines : list of Line2D
        One per drawn class.
    band : Rectangle
        The current linear piece.
    ticks, cursor, points : Line2D
        Breakpoints, the input's position, the logits there.
    artists : list
        Everything that moves on update (see :class:`~xaiwidgets.plotting.LiveFigure`).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> display = CurveDisplay(plt.figure().add_subplot(), ds.class_names)
    >>> display.update(lr.curve(ds.X_test[0], "income"), target=1)
    True
    >>> x = ds.X_test[0].copy()
    >>> x[0] += 0.5
    >>> display.update(lr.curve(x, "income"), target=1)  # same limits: no full redraw
    False
    """

    def __init__(
        self,
        ax: Axes,
        class_names: Any,
        *,
        classes: Any = None,
        breakpoints: bool = True,
        fontsize: float = 10,
    ) -> None:
        self.ax = ax
        self.class_names = list(class_names)
        n_classes = len(self.class_names)
        if classes is None:
            classes = list(range(min(n_classes, 10)))
        self.classes = [int(c) for c in np.atleast_1d(classes)]
        if any(not 0 <= c < n_classes for c in self.classes):
            raise ValueError(f"classes must be in [0, {n_classes - 1}]; got {self.classes}.")
        self.breakpoints = breakpoints
        palette = plt.get_cmap("tab10")
        self.band = Rectangle(
            (0.0, 0.0),
            0.0,
            1.0,
            transform=ax.get_xaxis_transform(),
            color="#ffd54f",
            alpha=0.35,
            linewidth=0,
            label="current linear piece",
        )
        ax.add_patch(self.band)
        self.lines = [
            ax.plot([], [], color=palette(c % 10), linewidth=_LINE, label=self.class_names[c])[0]
            for c in self.classes
        ]
        (self.ticks,) = ax.plot(
            [],
            [],
            linestyle="none",
            marker="|",
            markersize=8,
            color="0.35",
            transform=ax.get_xaxis_transform(),
            clip_on=False,
        )
        (self.cursor,) = ax.plot(
            [], [], color="black", linewidth=0.8, linestyle=":", transform=ax.get_xaxis_transform()
        )
        (self.points,) = ax.plot([], [], linestyle="none", marker="o", color="black", markersize=5)
        ax.set_ylabel("logit", fontsize=fontsize)
        ax.tick_params(labelsize=fontsize - 1)
        ax.legend(handles=[self.band, *self.lines], fontsize=fontsize - 2, loc="best")
        self.artists: list[Any] = [self.band, *self.lines, self.ticks, self.cursor, self.points]
        self._fontsize = fontsize
        self._scaled = False

    def update(self, curve: Curve, target: int | None = None) -> bool:
        """Show ``curve``; the ``target`` logit's line is drawn thicker.

        Returns
        -------
        bool
            True when the axes' layout changed (limits or label) and the figure needs
            a full redraw.
        """
        if not isinstance(curve, Curve):
            raise TypeError(f"Expected a Curve; got {type(curve).__name__}.")
        if curve.logits.shape[1] != len(self.class_names):
            raise ValueError(
                f"The curve has {curve.logits.shape[1]} logits; this display shows "
                f"{len(self.class_names)} classes."
            )
        low, high = curve.interval
        self.band.set_x(low)
        self.band.set_width(high - low)
        for c, line in zip(self.classes, self.lines, strict=True):
            line.set_data(curve.positions, curve.logits[:, c])
            line.set_linewidth(_TARGET_LINE if c == target else _LINE)
        shown = curve.breakpoints if self.breakpoints else curve.breakpoints[:0]
        self.ticks.set_data(shown, np.zeros_like(shown))
        self.cursor.set_data([curve.current, curve.current], [0.0, 1.0])
        self.points.set_data(
            np.full(len(self.classes), curve.current), curve(curve.current)[0, self.classes]
        )
        changed = False
        span = (float(curve.positions[0]), float(curve.positions[-1]))
        if self.ax.get_xlim() != span:
            self.ax.set_xlim(*span)
            changed = True
        label = curve.feature or "t"
        if self.ax.get_xlabel() != label:
            self.ax.set_xlabel(label, fontsize=self._fontsize)
            changed = True
        return self._rescale(curve.logits[:, self.classes]) or changed

    def _rescale(self, values: np.ndarray) -> bool:
        """Keep the y limits while the logits fit; True when they change."""
        lowest, highest = float(values.min()), float(values.max())
        bottom, top = self.ax.get_ylim()
        fits = bottom <= lowest and highest <= top
        if self._scaled and fits and highest - lowest >= (top - bottom) / 3:
            return False
        pad = 0.08 * (highest - lowest) or 1.0
        self.ax.set_ylim(lowest - pad, highest + pad)
        self._scaled = True
        return True


class RegionMapMarker:
    """The input on a region map: a star, its region's outline, and a segment, in place.

    :func:`plot_region_map` draws the regions; this marks the input on them. In a
    widget the map stays (a cached background) while the marker moves.

    Parameters
    ----------
    ax : matplotlib Axes
        The axes of a region map.

    Attributes
    ----------
    star : Line2D
    outline : Polygon
        The input's region.
    segment : Line2D
        An optional highlighted segment, for example where one feature can move
        without leaving the region.
    artists : list

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds, hidden=(8, 8)), ds))
    >>> rm = lr.region_map(ds.X_test[0], ("x1", "x2"))
    >>> ax = xw.plotting.plot_region_map(rm, mark=False)
    >>> marker = RegionMapMarker(ax)
    >>> marker.update(rm)
    False
    >>> bool((marker.outline.get_xy()[:-1] == rm.polygons[rm.current]).all())
    True
    """

    def __init__(self, ax: Axes) -> None:
        self.ax = ax
        self.outline = Polygon(
            np.zeros((3, 2)), closed=True, fill=False, edgecolor="black", linewidth=2.0
        )
        ax.add_patch(self.outline)
        (self.segment,) = ax.plot(
            [], [], color=SEGMENT, linewidth=3.5, solid_capstyle="butt", alpha=0.9
        )
        (self.star,) = ax.plot(
            [],
            [],
            marker="*",
            color="black",
            markersize=13,
            markeredgecolor="white",
            linestyle="none",
        )
        self.artists: list[Any] = [self.outline, self.segment, self.star]

    def update(self, region_map: RegionMap, segment: Any = None) -> bool:
        """Mark ``region_map.x`` and outline ``region_map.current``.

        Parameters
        ----------
        region_map : RegionMap
        segment : array-like of shape (2, 2), optional
            The two end points of a segment to highlight, in the features' units.

        Returns
        -------
        bool
            Always False: the marker never changes the axes' layout.
        """
        if not isinstance(region_map, RegionMap):
            raise TypeError(f"Expected a RegionMap; got {type(region_map).__name__}.")
        i, j = region_map.columns
        self.star.set_data([region_map.x[i]], [region_map.x[j]])
        self.outline.set_xy(region_map.polygons[region_map.current])
        if segment is None:
            self.segment.set_data([], [])
        else:
            ends = np.asarray(segment, dtype=float)
            if ends.shape != (2, 2):
                raise ValueError(f"segment must have shape (2, 2); got {ends.shape}.")
            self.segment.set_data(ends[:, 0], ends[:, 1])
        return False
