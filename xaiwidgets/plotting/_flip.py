"""Matplotlib figures of flip points, flip-point audits and paired bias tests.

Pure functions: ``ax=None`` in (a new figure is made), the axes drawn on out. They read
the result objects of :mod:`xaiwidgets.explainers.flip_points` and
:mod:`xaiwidgets.analysis.flip_audit` by their attributes only. :class:`FlipPathDisplay`
is the in-place version of :func:`plot_flip_path` for widgets and animations: drawn
once per flip point, then only its marker moves along the path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes

from ..core.validation import check_int
from ._explanation import NEGATIVE, POSITIVE

#: Colour of the moving marker at t (neutral: the classes use C0, C1, ...).
MARKER = "0.25"

__all__ = [
    "FlipPathDisplay",
    "plot_bias_test",
    "plot_change_frequency",
    "plot_directions",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_loadings",
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
        f"fraction of inputs whose flip point changes it\n(> {audit.change_threshold:g} of the "
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


def plot_loadings(audit: Any, ax: Axes | None = None, component: int = 1) -> Axes:
    """The loadings of one principal component of the flip directions, by feature.

    PC1's loadings say along which combination of features the decision boundary is
    most often crossed (signs are relative: a component and its negative are the same).

    Parameters
    ----------
    audit : FlipAudit
        As returned by ``xw.flip.audit``.
    ax : matplotlib Axes, optional
        Where to draw.
    component : int, default=1
        Which component (1 = PC1).

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
    >>> len(xw.plotting.plot_loadings(a).patches)
    13
    """
    component = check_int(component, "component", low=1)
    pca = audit.pca(max(2, component) if len(audit.feature_names) > 1 else 1)
    name = f"PC{component}"
    loadings = pca.loadings[name]
    ax = _axes(ax, (5.5, 0.3 * len(loadings) + 1.2))
    positions = np.arange(len(loadings))[::-1]
    values = loadings.to_numpy(dtype=float)
    ax.barh(positions, values, color=[POSITIVE if v > 0 else NEGATIVE for v in values])
    ax.set_yticks(positions, list(loadings.index))
    ax.axvline(0, color="0.3", linewidth=0.8)
    ratio = pca.explained_variance_ratio[component - 1]
    ax.set_xlabel(f"loading on {name} ({100 * ratio:.0f} % of the variance)")
    ax.set_title(f"{name} of the unit flip directions", fontsize=10)
    return ax


class FlipPathDisplay:
    """Class scores and their gap along ``x + t (flip point - x)``, updated in place.

    The in-place version of :func:`plot_flip_path` (see :mod:`xaiwidgets.plotting._live`
    for displays). The upper axes show every class's score (the two tying classes
    bold), the lower one the gap ``z_i - z_j`` of the class of ``x`` over the class it
    ties with, shaded by which of the two is ahead: it crosses zero where the path
    meets the decision boundary. :meth:`update` shows the path of a flip point and
    :meth:`move` the marker at ``t`` (vertical lines and dots on the curves). The
    curves and the marker are the moving ``artists`` that
    :class:`~xaiwidgets.plotting.LiveFigure` blits; the y limits are kept while a new
    path fits them (and fills at least 40 % of them), so a new flip point of the
    same two classes needs no full redraw either.

    Parameters
    ----------
    ax_scores, ax_gap : matplotlib Axes
        Where to draw the scores and the gap.
    class_names : sequence of str
        One name per class.
    fontsize : float, default=10
        Font size of the labels.

    Attributes
    ----------
    lines : list of Line2D
        One score curve per class.
    gap_line : Line2D
    dots : list of Line2D
        The marker's dot on each class's curve.
    gap_dot : Line2D
    message : Text
        Shown instead of a path by :meth:`clear`.
    artists : list
        Everything that moves.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
    >>> display = FlipPathDisplay(*plt.figure().subplots(2, 1), fp.class_names)
    >>> display.update(fp.path(towards="relaxed"), fp.classes)
    True
    >>> display.move(fp.path([0.5], towards="relaxed").iloc[0])
    False
    >>> display.gap_dot.get_xydata().round(1).tolist()[0][0]
    0.5
    """

    #: Share of each axes' height kept free above the curves (for the legend and labels).
    HEADROOM = 0.22

    def __init__(
        self, ax_scores: Axes, ax_gap: Axes, class_names: Sequence[str], *, fontsize: float = 10
    ) -> None:
        self.ax_scores, self.ax_gap = ax_scores, ax_gap
        self.class_names = list(class_names)
        self.fontsize = fontsize
        self.lines = [
            ax_scores.plot([], [], color=f"C{k}", label=name)[0]
            for k, name in enumerate(self.class_names)
        ]
        self.dots = [
            ax_scores.plot([], [], "o", color=f"C{k}", markersize=6, zorder=5)[0]
            for k in range(len(self.class_names))
        ]
        self._guides = []  # the flip point at t = 1, the zero gap, the shading
        for ax in (ax_scores, ax_gap):
            self._guides.append(ax.axvline(1.0, color="0.3", linestyle="--", linewidth=0.9))
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=fontsize - 1)
        self.ahead = ax_gap.axhspan(0, 1, color="C0", alpha=0.08, linewidth=0)
        self.behind = ax_gap.axhspan(-1, 0, color="C1", alpha=0.08, linewidth=0)
        self._guides += [self.ahead, self.behind, ax_gap.axhline(0, color="0.2", linewidth=1.0)]
        (self.gap_line,) = ax_gap.plot([], [], color="0.1", linewidth=2)
        # Which class leads: where the gap curve is not (it starts above zero and
        # crosses it at t = 1).
        self.ahead_label = ax_gap.text(
            0.99,
            0.96,
            "",
            transform=ax_gap.transAxes,
            ha="right",
            va="top",
            fontsize=fontsize - 1,
        )
        self.behind_label = ax_gap.text(
            0.01,
            0.04,
            "",
            transform=ax_gap.transAxes,
            ha="left",
            va="bottom",
            fontsize=fontsize - 1,
        )
        self.t_lines = [
            ax.axvline(0.0, color=MARKER, linewidth=1.4, visible=False)
            for ax in (ax_scores, ax_gap)
        ]
        (self.gap_dot,) = ax_gap.plot([], [], "o", color=MARKER, markersize=7, zorder=5)
        self.message = ax_scores.text(
            0.5,
            0.5,
            "",
            transform=ax_scores.transAxes,
            ha="center",
            va="center",
            fontsize=fontsize + 1,
        )
        self.classes: tuple[int, int] | None = None
        self._layout: tuple[Any, ...] | None = None
        self._zones: dict[Axes, tuple[float, float]] = {}
        self.artists: list[Artist] = [
            *self.lines,
            self.gap_line,
            *self.t_lines,
            *self.dots,
            self.gap_dot,
        ]

    def update(self, path: Any, classes: Sequence[int], output: str = "logit") -> bool:
        """Show one path (a frame of ``FlipPoint.path``); hides the marker.

        Parameters
        ----------
        path : DataFrame
            Column ``t``, one column per class name and ``gap``.
        classes : (int, int)
            ``(i, j)``: the class of ``x`` and the class it ties with.
        output : {"logit", "probability"}, default="logit"
            What the scores are (for the labels).

        Returns
        -------
        bool
            True when limits or labels changed and the figure needs a full redraw.
        """
        i, j = (int(k) for k in classes)
        t = np.asarray(path["t"], dtype=float)
        scores = np.column_stack([np.asarray(path[n], dtype=float) for n in self.class_names])
        gap = np.asarray(path["gap"], dtype=float)
        self.classes = (i, j)
        for k, line in enumerate(self.lines):
            line.set_data(t, scores[:, k])
        self.gap_line.set_data(t, gap)
        for marker in [*self.t_lines, *self.dots, self.gap_dot]:
            marker.set_visible(False)
        changed = self._fit(self.ax_scores, t, scores) | self._fit(
            self.ax_gap, t, np.append(gap, 0.0)
        )
        layout = ((i, j), output, float(t.min()), float(t.max()))
        if changed or layout != self._layout:
            self._layout = layout
            self._relabel(i, j, output)
            return True
        return False

    def _relabel(self, i: int, j: int, output: str) -> None:
        """Titles, labels, legend and shading for the classes (i, j)."""
        self.message.set_text("")
        self._show_axes(True)
        for k, line in enumerate(self.lines):
            bold = k in (i, j)
            line.set_linewidth(2.4 if bold else 0.8)
            line.set_alpha(1.0 if bold else 0.35)
        low, high = self.ax_gap.get_ylim()
        self.ahead.set_color(f"C{i}")
        self.behind.set_color(f"C{j}")
        for span, (y0, y1) in ((self.ahead, (0.0, high)), (self.behind, (low, 0.0))):
            span.set_y(y0)
            span.set_height(y1 - y0)
        for label, k, arrow in ((self.ahead_label, i, "▲"), (self.behind_label, j, "▼")):
            label.set_text(f"{arrow} {self.class_names[k]} ahead")
            label.set_color(f"C{k}")
        # In the headroom above the curves, so that no curve ever crosses it.
        self.ax_scores.legend(
            [self.lines[i], self.lines[j]],
            [self.class_names[i], self.class_names[j]],
            loc="upper center",
            ncol=2,
            frameon=False,
            fontsize=self.fontsize - 1,
        )
        self.ax_scores.set_ylabel(f"class {output}", fontsize=self.fontsize)
        self.ax_scores.set_title(
            f"{self.class_names[i]} → {self.class_names[j]}: scores along x + t (x̂ − x)",
            fontsize=self.fontsize + 1,
        )
        symbol = "z" if output == "logit" else "p"
        self.ax_gap.set_ylabel(f"gap ${symbol}_i - {symbol}_j$", fontsize=self.fontsize)
        self.ax_gap.set_xlabel("t   (0 = input, 1 = flip point)", fontsize=self.fontsize)

    def _fit(self, ax: Axes, t: np.ndarray, values: np.ndarray) -> bool:
        """Keep the y limits while the values fit and fill 40 % of them; else refit.

        Returns whether the limits changed.
        """
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        zone = self._zones.get(ax)
        fits = zone is not None and zone[0] <= low and high <= zone[1]
        if fits and high - low >= 0.4 * (zone[1] - zone[0]):
            return False
        span = high - low if high > low else 1.0
        zone = (low - 0.05 * span, high + 0.05 * span)
        self._zones[ax] = zone
        pad = 0.015 * (float(t.max()) - float(t.min()))  # room for the marker's dots
        ax.set_xlim(float(t.min()) - pad, float(t.max()) + pad)
        room = zone[1] - zone[0]
        ax.set_ylim(zone[0], zone[1] + self.HEADROOM / (1 - self.HEADROOM) * room)
        return True

    def clear(self, message: str) -> bool:
        """Show ``message`` instead of a path (when there is no flip point)."""
        self.classes = None
        self._layout = None
        self._zones.clear()
        for line in [*self.lines, self.gap_line, *self.dots, self.gap_dot]:
            line.set_data([], [])
        for t_line in self.t_lines:
            t_line.set_visible(False)
        for text in (self.ahead_label, self.behind_label):
            text.set_text("")
        legend = self.ax_scores.get_legend()
        if legend is not None:
            legend.remove()
        self.ax_scores.set_title("")
        self.message.set_text(message)
        self._show_axes(False)
        return True

    def _show_axes(self, visible: bool) -> None:
        """Axes, ticks and guides on (a path) or off (only the message)."""
        for ax in (self.ax_scores, self.ax_gap):
            if visible:
                ax.set_axis_on()
            else:
                ax.set_axis_off()
        for guide in self._guides:
            guide.set_visible(visible)

    def move(self, position: Mapping[str, Any]) -> bool:
        """Put the marker at one point of the path (a row of ``FlipPoint.path``).

        Returns
        -------
        bool
            Always False: only the marker moves.
        """
        if self.classes is None:
            raise ValueError("There is no path to move along: call update first.")
        t = float(position["t"])
        for t_line in self.t_lines:
            t_line.set_xdata([t, t])
        for dot, name in zip(self.dots, self.class_names, strict=True):
            dot.set_data([t], [float(position[name])])
        self.gap_dot.set_data([t], [float(position["gap"])])
        for marker in [*self.t_lines, *self.dots, self.gap_dot]:
            marker.set_visible(True)
        return False
