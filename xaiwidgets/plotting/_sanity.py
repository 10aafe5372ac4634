"""Figures of randomization sanity checks: map strips, similarity curves and bars.

Pure matplotlib: each function draws into the ``fig`` or ``ax`` it is given (or a new
one) and returns it. They take plain arrays and the tidy tables of
:class:`~xaiwidgets.analysis.sanity.SanityResult`, so a widget can redraw them with
its own selection.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from ..core.validation import check_int, check_option
from ._explanation import _to_display_image
from ._live import ACCENT
from ._normalize import normalize_for_display

__all__ = ["MapStrip", "plot_map_strip", "plot_similarity_bars", "plot_similarity_curve"]

_CMAPS = {"absolute": ("Reds", 0.0), "diverging": ("RdBu_r", -1.0)}
#: Colour of the frames of columns not shown yet.
_FADED = "0.72"
#: Margins of an image strip, in inches: titles above, the normalization note below.
_TOP_IN, _BOTTOM_IN, _RIGHT_IN = 0.3, 0.25, 0.1


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
    with features down and columns across, each column scaled on its own. The
    figure is drawn by a :class:`MapStrip`, the form a widget updates in place.

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
    x = np.asarray(x, dtype=float)
    if fig is None:
        fig = plt.figure(figsize=MapStrip.figsize(list(rows), len(column_labels), x.shape))
    else:
        fig.clear()
    strip = MapStrip(
        fig,
        list(rows),
        column_labels,
        feature_names=feature_names,
        clip_percentile=clip_percentile,
    )
    strip.update(x, rows, mode=mode)
    return fig


class MapStrip:
    """Attribution maps of one input, one row per method, drawn once and updated in place.

    The display behind :func:`plot_map_strip`, for widgets and animations: the
    axes and images are made on the first :meth:`update`; later updates replace
    pixels, colour maps and the emphasis of columns, so
    :class:`~xaiwidgets.plotting.LiveFigure` can redraw them by blitting. Image maps
    fill a grid (the input, then one column per model), each map scaled on its own
    by :func:`~xaiwidgets.plotting.normalize_for_display` with the rule written
    under the grid; tabular maps (1-D) get one panel per row label, features down
    and columns across. The strip sets the figure's margins itself (its layout
    engine is switched off).

    Parameters
    ----------
    fig : matplotlib Figure
        An empty figure to draw into.
    row_labels : sequence of str
        One label per row (method).
    column_labels : sequence of str
        One label per map column (model).
    feature_names : sequence of str, optional
        Tabular maps: the feature names (``x0, x1, ...`` by default).
    clip_percentile : float, default=99.0
        See :func:`~xaiwidgets.plotting.normalize_for_display`.

    Attributes
    ----------
    artists : list of matplotlib artists
        What changes on update: the images, the column frames (images) or the
        highlight boxes (tabular).
    texts : list of Text
        The normalization note, which changes rarely.

    Examples
    --------
    >>> import numpy as np, matplotlib.pyplot as plt
    >>> rng = np.random.default_rng(0)
    >>> strip = MapStrip(plt.figure(), ["gradient"], ["original", "random"])
    >>> strip.update(np.zeros((1, 8, 8)), {"gradient": rng.normal(size=(2, 1, 8, 8))})
    True
    >>> strip.update(np.ones((1, 8, 8)), {"gradient": rng.normal(size=(2, 1, 8, 8))},
    ...              shown=1, highlight=0)  # only the pixels and the emphasis change
    False
    """

    def __init__(
        self,
        fig: Figure,
        row_labels: Sequence[str],
        column_labels: Sequence[str],
        *,
        feature_names: Sequence[str] | None = None,
        clip_percentile: float = 99.0,
    ) -> None:
        self.figure = fig
        self.row_labels = [str(label) for label in row_labels]
        self.column_labels = [str(label) for label in column_labels]
        if not self.row_labels:
            raise ValueError("rows is empty; pass at least one row of maps.")
        if not self.column_labels:
            raise ValueError("column_labels is empty; pass at least one column.")
        self.feature_names = None if feature_names is None else list(feature_names)
        self.clip_percentile = clip_percentile
        self.artists: list[Any] = []
        self.texts: list[Text] = []
        self._kind: str | None = None
        self._shape: tuple[int, ...] | None = None
        self._x: np.ndarray | None = None
        self._mode: str | None = None

    # ------------------------------------------------------------------ sizing
    @staticmethod
    def figsize(
        row_labels: Sequence[str],
        n_columns: int,
        input_shape: tuple[int, ...],
        cell: float = 1.1,
    ) -> tuple[float, float]:
        """A figure size (inches) that gives square map cells of ``cell`` inches.

        Examples
        --------
        >>> MapStrip.figsize(["gradient"], 3, (1, 8, 8), cell=1.0)
        (4.95, 1.55)
        """
        if len(input_shape) == 1:
            return (2.2 + 2.0 * len(row_labels), 0.25 * input_shape[0] + 1.6)
        left = _label_width(row_labels)
        return (
            round(left + cell * (n_columns + 1) + _RIGHT_IN, 2),
            round(_TOP_IN + _BOTTOM_IN + cell * len(row_labels), 2),
        )

    # ------------------------------------------------------------------ update
    def update(
        self,
        x: np.ndarray,
        rows: Mapping[str, Sequence[np.ndarray]],
        *,
        mode: str = "absolute",
        shown: int | None = None,
        highlight: int | None = None,
    ) -> bool:
        """Show the maps of input ``x``.

        Parameters
        ----------
        x : ndarray
            The input, of the maps' shape.
        rows : mapping of str to sequence of ndarray
            ``{row label: [map per column]}`` for every row label.
        mode : {"absolute", "diverging"}, default="absolute"
            Magnitude or signed colouring.
        shown : int, optional
            Show only the first ``shown`` map columns (the others stay empty, with a
            faint frame); all by default. For stepping through randomization stages.
        highlight : int, optional
            A map column to frame in the accent colour.

        Returns
        -------
        bool
            True when the layout changed (first draw; tabular: new feature values)
            and the figure needs a full redraw.
        """
        mode = check_option(mode, "mode", list(_CMAPS))
        x = np.asarray(x, dtype=float)
        n = len(self.column_labels)
        shown = n if shown is None else check_int(shown, "shown", low=0, high=n)
        if highlight is not None:
            highlight = check_int(highlight, "highlight", low=0, high=n - 1)
        maps = self._check_rows(rows)
        changed = self._kind is None
        if changed:
            self._build(x, maps)
        elif x.shape != self._shape:
            raise ValueError(
                f"x has shape {x.shape}, but this strip was built for inputs of shape "
                f"{self._shape}; make a new MapStrip."
            )
        if self._kind == "image":
            self._update_images(x, maps, mode, shown, highlight)
        else:
            changed |= self._update_tabular(x, maps, mode, shown, highlight)
        return changed

    def _set_mode(self, mode: str) -> Any:
        """A function that gives an image the colours of ``mode`` (a no-op if unchanged).

        A colour map set on every update would rebuild its lookup table on every draw.
        """
        if mode == self._mode:
            return lambda image: None
        self._mode = mode
        cmap, low = _CMAPS[mode]

        def recolour(image: Any) -> None:
            image.set_cmap(cmap)
            image.set_clim(low, 1.0)

        return recolour

    def _check_rows(self, rows: Mapping[str, Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
        missing = [label for label in self.row_labels if label not in rows]
        extra = [label for label in rows if label not in self.row_labels]
        if missing or extra:
            raise ValueError(
                f"rows must have exactly the row labels {self.row_labels}; got {list(rows)}."
            )
        out = []
        for label in self.row_labels:
            maps = [np.asarray(m, dtype=float) for m in rows[label]]
            if len(maps) != len(self.column_labels):
                raise ValueError(
                    f"Row {label!r} has {len(maps)} maps but there are "
                    f"{len(self.column_labels)} column labels."
                )
            out.append(maps)
        return out

    # ------------------------------------------------------------------ images
    def _build(self, x: np.ndarray, maps: list[list[np.ndarray]]) -> None:
        fig = self.figure
        fig.set_layout_engine(None)
        self._shape = x.shape
        if x.ndim == 1:
            self._build_tabular(x)
            return
        self._kind = "image"
        n_rows, n_columns = len(self.row_labels), len(self.column_labels)
        axes = fig.subplots(n_rows, n_columns + 1, squeeze=False)
        image, image_cmap = _to_display_image(x)
        blank = np.zeros(_to_map_image(maps[0][0]).shape)
        self._inputs, self._maps = [], []
        # interpolation="none": Agg scales the pixels itself, as crisp as "nearest" and
        # a quarter faster to redraw (35 small images per frame).
        for r, label in enumerate(self.row_labels):
            self._inputs.append(
                axes[r, 0].imshow(image, cmap=image_cmap, vmin=0, vmax=1, interpolation="none")
            )
            axes[r, 0].set_ylabel(_wrap(label), fontsize=9, rotation=0, ha="right", va="center")
            self._maps.append(
                [axes[r, c].imshow(blank, interpolation="none") for c in range(1, n_columns + 1)]
            )
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
        for c, title in enumerate(["input", *self.column_labels]):
            axes[0, c].set_title(title, fontsize=8)
        self._frames = [
            [list(axes[r, c].spines.values()) for r in range(n_rows)]
            for c in range(1, n_columns + 1)
        ]
        self._rule = fig.text(0.5, 0.005, "", ha="center", va="bottom", fontsize=7)
        width, height = fig.get_size_inches()
        fig.subplots_adjust(
            left=min(0.45, _label_width(self.row_labels) / width),
            right=1 - _RIGHT_IN / width,
            top=1 - _TOP_IN / height,
            bottom=_BOTTOM_IN / height,
            wspace=0.06,
            hspace=0.08,
        )
        spines = [s for column in self._frames for row in column for s in row]
        self.artists = [*self._inputs, *(im for row in self._maps for im in row), *spines]
        # Titles stay out of the blitted texts: matplotlib places an axes title
        # wrongly when it was hidden during the draw of the background.
        self.texts = [self._rule]

    def _update_images(
        self,
        x: np.ndarray,
        maps: list[list[np.ndarray]],
        mode: str,
        shown: int,
        highlight: int | None,
    ) -> None:
        recolour = self._set_mode(mode)
        image, _ = _to_display_image(x)
        rule = ""
        for r, row in enumerate(maps):
            self._inputs[r].set_data(image)
            for c, values in enumerate(row):
                normalized, rule = normalize_for_display(
                    _to_map_image(values), mode, self.clip_percentile
                )
                im = self._maps[r][c]
                im.set_data(normalized)
                recolour(im)
                im.set_visible(c < shown)
        for c, column in enumerate(self._frames):
            for spines in column:
                for spine in spines:
                    if c == highlight:
                        spine.set_edgecolor(ACCENT)
                    else:
                        spine.set_edgecolor("black" if c < shown else _FADED)
                    spine.set_linewidth(2.2 if c == highlight else 0.8)
        self._rule.set_text(f"each map: {rule}")

    # ------------------------------------------------------------------ tabular
    def _build_tabular(self, x: np.ndarray) -> None:
        self._kind = "tabular"
        names = self.feature_names or [f"x{i}" for i in range(len(x))]
        if len(names) != len(x):
            raise ValueError(f"feature_names must have {len(x)} names; got {len(names)}.")
        self.feature_names = names
        n_columns = len(self.column_labels)
        self._panels = list(self.figure.subplots(1, len(self.row_labels), squeeze=False)[0])
        self._maps, self._boxes = [], []
        blank = np.zeros((len(x), n_columns))
        for i, (ax, label) in enumerate(zip(self._panels, self.row_labels, strict=True)):
            self._maps.append(ax.imshow(blank, aspect="auto", interpolation="nearest"))
            box = Rectangle((-0.5, -0.5), 1, len(x), fill=False, edgecolor=ACCENT, linewidth=2.2)
            ax.add_patch(box)
            self._boxes.append(box)
            ax.set_xticks(range(n_columns), self.column_labels, rotation=90, fontsize=7)
            if i:
                ax.set_yticks([])
            ax.set_title(label, fontsize=9)
        self._rule = self.figure.text(0.5, 0.005, "", ha="center", va="bottom", fontsize=7)
        self.artists = [*self._maps, *self._boxes]
        self.texts = [self._rule]

    def _update_tabular(
        self,
        x: np.ndarray,
        maps: list[list[np.ndarray]],
        mode: str,
        shown: int,
        highlight: int | None,
    ) -> bool:
        recolour = self._set_mode(mode)
        rule = ""
        for im, box, row in zip(self._maps, self._boxes, maps, strict=True):
            columns = []
            for c, values in enumerate(row):
                normalized, rule = normalize_for_display(values, mode, self.clip_percentile)
                columns.append(normalized if c < shown else np.full(len(x), np.nan))
            im.set_data(np.stack(columns, axis=1))
            recolour(im)
            box.set_visible(highlight is not None)
            box.set_x((highlight or 0) - 0.5)
        self._rule.set_text(f"each column: {rule}")
        if self._x is not None and np.array_equal(self._x, x):
            return False
        self._x = x.copy()
        labels = [f"{n} = {v:.3g}" for n, v in zip(self.feature_names, x, strict=True)]
        self._panels[0].set_yticks(range(len(x)), labels, fontsize=7)
        self.figure.tight_layout(rect=(0, 0.03, 1, 1))
        return True


def _wrap(label: str, width: int = 12) -> str:
    """A row label on at most a few short lines (long single words stay whole)."""
    return textwrap.fill(label, width, break_long_words=False)


def _label_width(labels: Sequence[str]) -> float:
    """Inches taken by the row labels at 9 pt, left of the grid."""
    longest = max((len(line) for label in labels for line in _wrap(label).split("\n")), default=4)
    return 0.25 + 0.075 * longest


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
