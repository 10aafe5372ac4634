"""Displays that are drawn once and then updated in place, and a figure that blits them.

A display draws its artists into an ``ax`` when it is made, keeps handles on them, and
has an ``update(...)`` that only changes their data (bar widths, colours, texts). It
returns ``True`` when the axes' layout changed as well (limits, title): then the whole
figure must be drawn again. Otherwise only its ``artists`` changed, and
:class:`LiveFigure` draws just those over a cached background. In matplotlib's Agg
backend most of a full draw is text layout (tick labels, titles), so blitting the few
moving artists is several times faster, which is what makes a slider feel live.

Everything here is pure matplotlib: no widgets.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import blended_transform_factory

from ..core.explanation import Explanation
from ..core.validation import as_numpy
from ._explanation import NEGATIVE, POSITIVE, _format_value, _single, _title

__all__ = ["AttributionBars", "LiveDisplay", "LiveFigure", "ProbabilityBars"]

#: Colour of the predicted class and of changed feature values.
ACCENT = "#e07000"
#: Colour of the other classes' bars.
MUTED = "#b9bec6"
#: Colour of the faint reference markers (the original input).
REFERENCE = "#1a1a1a"


class LiveDisplay(Protocol):
    """What :class:`LiveFigure` needs from a display: its moving artists.

    A display may also have ``texts``: texts that change rarely (see
    :class:`LiveFigure`).
    """

    artists: list[Artist]


def _marker_segments(
    values: np.ndarray, positions: np.ndarray, half_height: float
) -> tuple[np.ndarray, np.ndarray]:
    """Vertical ticks at ``values`` (one per row), as one NaN-separated polyline."""
    xs = np.repeat(values, 3).astype(float)
    ys = np.column_stack(
        [positions - half_height, positions + half_height, np.full(len(positions), np.nan)]
    ).reshape(-1)
    xs[2::3] = np.nan
    return xs, ys


class ProbabilityBars:
    """Class probabilities as horizontal bars, with the original input's as faint ticks.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    class_names : sequence of str
        One name per class, shown top to bottom.
    title : str, default="class probabilities"
        The axes title.
    fontsize : float, default=10
        Font size of the labels.

    Attributes
    ----------
    bars : list of Rectangle
    marker : Line2D
        The reference ticks.
    labels : list of Text
        The percentages.
    artists : list
        Everything that moves on update.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> display = ProbabilityBars(plt.figure().add_subplot(), ["no", "yes"])
    >>> display.update([0.2, 0.8], reference=[0.6, 0.4])
    False
    >>> [float(bar.get_width()) for bar in display.bars]
    [0.2, 0.8]
    """

    def __init__(
        self,
        ax: Axes,
        class_names: Sequence[str],
        *,
        title: str = "class probabilities",
        fontsize: float = 10,
    ) -> None:
        self.ax = ax
        self.class_names = list(class_names)
        n = len(self.class_names)
        self._positions = np.arange(n)[::-1].astype(float)
        self.bars = list(ax.barh(self._positions, np.zeros(n), height=0.62, color=MUTED))
        (self.marker,) = ax.plot(
            [], [], color=REFERENCE, alpha=0.8, linewidth=3, solid_capstyle="butt"
        )
        self.labels = [
            ax.text(0, y, "", va="center", fontsize=fontsize - 1) for y in self._positions
        ]
        ax.set_xlim(0, 1.02)  # room for a reference tick at 1
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_yticks(self._positions, self.class_names, fontsize=fontsize)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=fontsize - 1)
        ax.tick_params(axis="y", length=0)
        ax.set_xlabel("probability  (dark tick: original input)", fontsize=fontsize - 1)
        ax.set_title(title, fontsize=fontsize + 1)
        ax.spines[["top", "right"]].set_visible(False)
        self.artists: list[Artist] = [*self.bars, self.marker, *self.labels]

    def update(self, probabilities: Any, reference: Any = None) -> bool:
        """Show ``probabilities`` (and ``reference`` as ticks); the layout never changes.

        Parameters
        ----------
        probabilities : array-like of shape (n_classes,)
        reference : array-like of shape (n_classes,), optional
            For example the probabilities at the original input.

        Returns
        -------
        bool
            Always False: limits and labels are fixed.
        """
        p = self._check(probabilities, "probabilities")
        top = int(np.argmax(p))
        for k, (bar, label, value) in enumerate(zip(self.bars, self.labels, p, strict=True)):
            bar.set_width(value)
            bar.set_color(ACCENT if k == top else MUTED)
            inside = value > 0.82
            # Below 1 % the label is left out: the empty bar says it, and every text
            # drawn costs about a millisecond per frame.
            label.set_text("" if value < 0.01 else f"{100 * value:.0f} %")
            label.set_x(value - 0.015 if inside else value + 0.015)
            label.set_horizontalalignment("right" if inside else "left")
            label.set_color("white" if inside else "0.15")
        if reference is None:
            self.marker.set_data([], [])
        else:
            self.marker.set_data(
                *_marker_segments(self._check(reference, "reference"), self._positions, 0.42)
            )
        return False

    def _check(self, values: Any, name: str) -> np.ndarray:
        array = as_numpy(values, name).astype(float).reshape(-1)
        if array.shape != (len(self.class_names),):
            raise ValueError(
                f"{name} must hold one probability per class ({len(self.class_names)}); "
                f"got shape {array.shape}."
            )
        return array


class AttributionBars:
    """Signed attribution bars in a fixed row order, updated in place.

    Unlike :func:`~xaiwidgets.plotting.plot_bars`, which sorts by magnitude, the rows
    stay where they are, so a bar can be watched as the input moves. Each row shows the
    feature's name and its current value (highlighted where it differs from the
    reference input); a faint tick marks the reference explanation's attribution. The
    x axis is the method's own scale in raw units (no normalization); it is kept while
    the values fit and rescaled (a full redraw) when they outgrow it or shrink below
    a third of it.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    feature_names : sequence of str
        One name per input column.
    rows : sequence of int, optional
        The columns to show, top to bottom; all columns in order when omitted. Columns
        left out are summed into one last row, "N other features".
    show_names : bool, default=True
        Label the rows (turn off for the second and later panels of a comparison).
    show_values : bool, default=True
        Write each feature's current value next to its name.
    compact : bool, default=False
        Short labels for narrow panels: the title on two lines, a short axis label.
    xlabel : str, optional
        The axis label, for values that are not a method's raw attributions (for
        example exact weights); default: says the attributions are in raw units.
    fontsize : float, default=10
        Font size of the labels.

    Attributes
    ----------
    bars : list of Rectangle
    marker : Line2D
        The reference ticks.
    values : list of Text
        The feature values (empty when ``show_values=False``).
    artists : list
        The bars and the reference ticks, which move on every update.
    texts : list of Text
        The feature values, which change only when their feature does (see
        :class:`LiveFigure`).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> display = AttributionBars(plt.figure().add_subplot(), ds.feature_names)
    >>> display.update(xw.explainers.Gradient(m).explain(ds.X_test[0]))
    True
    >>> len(display.bars)
    13
    """

    def __init__(
        self,
        ax: Axes,
        feature_names: Sequence[str],
        rows: Sequence[int] | None = None,
        *,
        show_names: bool = True,
        show_values: bool = True,
        compact: bool = False,
        xlabel: str | None = None,
        fontsize: float = 10,
    ) -> None:
        self.ax = ax
        self.compact = compact
        self.xlabel = xlabel
        self.feature_names = list(feature_names)
        n_columns = len(self.feature_names)
        self.rows = list(range(n_columns)) if rows is None else [int(r) for r in rows]
        if len(set(self.rows)) != len(self.rows) or any(not 0 <= r < n_columns for r in self.rows):
            raise ValueError(
                f"rows must be distinct column indices in [0, {n_columns - 1}]; got {rows!r}."
            )
        shown = set(self.rows)
        self.other = [c for c in range(n_columns) if c not in shown]
        labels = [self.feature_names[r] for r in self.rows]
        if self.other:
            labels.append(f"{len(self.other)} other features")
        n = len(labels)
        self._positions = np.arange(n)[::-1].astype(float)
        self.bars = list(ax.barh(self._positions, np.zeros(n), height=0.7, color=POSITIVE))
        (self.marker,) = ax.plot(
            [], [], color=REFERENCE, alpha=0.5, linewidth=2, solid_capstyle="butt"
        )
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_ylim(-0.6, n - 0.4)
        ax.set_yticks(self._positions, labels if show_names else [], fontsize=fontsize)
        ax.tick_params(axis="y", length=0)
        ax.tick_params(axis="x", labelsize=fontsize - 1)
        ax.grid(axis="x", color="0.9", linewidth=0.8)
        ax.set_axisbelow(True)
        ax.spines[["top", "right"]].set_visible(False)
        self.values: list[Any] = []
        if show_values:
            # Values sit in a column between the names and the axis.
            ax.tick_params(axis="y", pad=6 * fontsize)
            to_axes_x = blended_transform_factory(ax.transAxes, ax.transData)
            self.values = [
                ax.text(
                    -0.02,
                    y,
                    "",
                    transform=to_axes_x,
                    ha="right",
                    va="center",
                    fontsize=fontsize - 1,
                )
                for y in self._positions[: len(self.rows)]
            ]
        self.fontsize = fontsize
        self._scale: tuple[str, float] | None = None
        self.artists: list[Artist] = [*self.bars, self.marker]
        #: The value labels change only when their feature does: redrawn only then.
        self.texts: list[Text] = list(self.values)

    def _row_values(self, values: np.ndarray) -> np.ndarray:
        shown = values[self.rows]
        return np.append(shown, values[self.other].sum()) if self.other else shown

    def update(self, explanation: Explanation, reference: Explanation | None = None) -> bool:
        """Show ``explanation``; ``reference`` (the original input's) as ticks.

        Returns
        -------
        bool
            True when the axes' layout changed (scale, title or axis label) and the
            figure needs a full redraw.
        """
        explanation = _single(explanation)
        values = np.asarray(explanation.values, dtype=float).reshape(-1)
        if values.size != len(self.feature_names):
            raise ValueError(
                f"The explanation has {values.size} attributions; this display shows "
                f"{len(self.feature_names)} features."
            )
        shown = self._row_values(values)
        for bar, value in zip(self.bars, shown, strict=True):
            bar.set_width(value)
            bar.set_color(POSITIVE if value > 0 else NEGATIVE)
        data = np.asarray(explanation.data, dtype=float).reshape(-1)
        reference_data = None
        if reference is None:
            self.marker.set_data([], [])
            reference_shown = shown[:0]
        else:
            reference = _single(reference)
            reference_shown = self._row_values(
                np.asarray(reference.values, dtype=float).reshape(-1)
            )
            self.marker.set_data(*_marker_segments(reference_shown, self._positions, 0.45))
            reference_data = np.asarray(reference.data, dtype=float).reshape(-1)
        for text, column in zip(self.values, self.rows, strict=False):  # none if hidden
            changed = reference_data is not None and data[column] != reference_data[column]
            text.set_text(_format_value(data[column]))
            text.set_color(ACCENT if changed else "0.25")
            text.set_fontweight("bold" if changed else "normal")
        layout_changed = self._rescale(np.concatenate([shown, reference_shown]))
        title = _title(explanation, self.compact)
        if self.xlabel is not None:
            label = self.xlabel
        elif self.compact:
            label = "raw attribution\n(own scale)"
        else:
            label = f"attribution ({explanation.output} units; raw, not normalized)"
        if reference is not None:
            label += "\ndark ticks: the original input's attribution"
        if self.ax.get_title() != title or self.ax.get_xlabel() != label:
            self.ax.set_title(title, fontsize=self.fontsize + 1)
            self.ax.set_xlabel(label, fontsize=self.fontsize - 1)
            layout_changed = True
        return layout_changed

    def _rescale(self, values: np.ndarray) -> bool:
        """Keep the x limits while the values fit; return True when they change."""
        side = "both"
        if np.all(values >= 0):
            side = "positive"
        elif np.all(values <= 0):
            side = "negative"
        magnitude = float(np.max(np.abs(values))) if values.size else 0.0
        if self._scale is not None:
            old_side, old_limit = self._scale
            if old_side == side and old_limit / 3.5 <= magnitude <= old_limit:
                return False
        limit = 1.15 * magnitude if magnitude > 0 else 1.0
        self._scale = (side, limit)
        low = 0.0 if side == "positive" else -limit
        high = 0.0 if side == "negative" else limit
        self.ax.set_xlim(low, high)
        return True


def _text_state(text: Text) -> tuple[Any, ...]:
    """What a text looks like: when this changes it must be redrawn."""
    return (
        text.get_text(),
        text.get_position(),
        text.get_color(),
        text.get_fontweight(),
        text.get_fontsize(),
        text.get_visible(),
    )


class LiveFigure:
    """Draw a figure fully once, then redraw only what moved.

    Two kinds of changing artists come from the displays:

    - ``artists``: redrawn on every render over the cached background (bars, images,
      markers);
    - ``texts`` (optional attribute of a display): texts that change rarely and
      overlap no other changing artist, such as the feature values beside the bars.
      They live in a second cached layer and only a text whose content or style
      changed is erased (from the background) and drawn again, because drawing a
      text (layout and glyph rendering) costs about as much as all the bars together.

    Parameters
    ----------
    figure : matplotlib Figure
        A figure with a canvas that supports blitting (Agg: make it with
        ``matplotlib.figure.Figure()`` and attach ``FigureCanvasAgg(figure)``).
    displays : sequence of displays, optional
        Objects with an ``artists`` list (:class:`ProbabilityBars`,
        :class:`AttributionBars`, :class:`~xaiwidgets.plotting.AttributionImage`).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> from matplotlib.backends.backend_agg import FigureCanvasAgg
    >>> fig = Figure(figsize=(4, 2))
    >>> canvas = FigureCanvasAgg(fig)
    >>> bars = ProbabilityBars(fig.add_subplot(), ["no", "yes"])
    >>> live = LiveFigure(fig, [bars])
    >>> live.render(full=bars.update([0.3, 0.7])).shape
    (200, 400, 4)
    """

    def __init__(self, figure: Figure, displays: Sequence[LiveDisplay] = ()) -> None:
        self.figure = figure
        self.displays = list(displays)
        self._background: Any = None
        self._layer: Any = None
        self._drawn: dict[int, tuple[tuple[Any, ...], Any]] = {}

    @property
    def artists(self) -> list[Artist]:
        """The artists redrawn on every render."""
        return [a for display in self.displays for a in display.artists]

    @property
    def texts(self) -> list[Text]:
        """The rarely changing texts, redrawn only when they change."""
        return [t for display in self.displays for t in getattr(display, "texts", ())]

    def invalidate(self) -> None:
        """Forget the cached background: the next render draws everything."""
        self._background = None

    def render(self, full: bool = False) -> np.ndarray:
        """Draw and return the figure's pixels, an RGBA array of shape (height, width, 4).

        Parameters
        ----------
        full : bool, default=False
            Redraw everything (needed after a display reported a layout change);
            otherwise restore the cached layers and draw only what changed.

        Returns
        -------
        ndarray of uint8
            A view of the canvas buffer, valid until the next render.
        """
        canvas = self.figure.canvas
        artists, texts = self.artists, self.texts
        if full or self._background is None:
            changing = artists + texts
            visible = [a.get_visible() for a in changing]
            for artist in changing:
                artist.set_visible(False)
            canvas.draw()
            self._background = canvas.copy_from_bbox(self.figure.bbox)
            for artist, was_visible in zip(changing, visible, strict=True):
                artist.set_visible(was_visible)
            self._drawn = {}
            self._draw_texts(texts)
        else:
            canvas.restore_region(self._layer)
            changed = [t for t in texts if self._drawn.get(id(t), (None,))[0] != _text_state(t)]
            if changed:
                self._draw_texts(changed)
        renderer = canvas.get_renderer()
        for artist in artists:
            if artist.get_visible():
                artist.draw(renderer)
        return np.asarray(canvas.buffer_rgba())

    def _draw_texts(self, texts: list[Text]) -> None:
        """Erase where ``texts`` were, draw them anew, and cache the resulting layer."""
        canvas = self.figure.canvas
        renderer = canvas.get_renderer()
        height = self.figure.bbox.height
        for text in texts:
            previous = self._drawn.get(id(text))
            if previous is not None and previous[1] is not None:
                # Agg's region coordinates count rows from the top of the figure, and
                # ``xy`` is where the whole region's corner goes (not the box's).
                x0, y0, x1, y1 = previous[1]
                canvas.restore_region(
                    self._background, bbox=(x0, height - y1, x1, height - y0), xy=(0, 0)
                )
        for text in texts:
            extent = None
            if text.get_visible() and text.get_text():
                text.draw(renderer)
                box = text.get_window_extent(renderer)
                extent = (box.x0 - 2, box.y0 - 2, box.x1 + 3, box.y1 + 3)
            self._drawn[id(text)] = (_text_state(text), extent)
        self._layer = canvas.copy_from_bbox(self.figure.bbox)
