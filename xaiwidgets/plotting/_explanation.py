"""Matplotlib figures of an :class:`~xaiwidgets.core.explanation.Explanation`.

Pure functions: they take ``ax=None`` (a new figure is made) and return the axes they
drew on, so widgets, notebooks and paper figures share them.
"""

from __future__ import annotations

from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from ..core.explanation import Explanation
from ..core.validation import check_int, check_option
from ._normalize import normalize_for_display

__all__ = ["AttributionImage", "plot", "plot_bars", "plot_image"]

POSITIVE = "#ff0051"  # SHAP's colours: red pushes the output up
NEGATIVE = "#008bfb"  # blue pushes it down


def _single(explanation: Explanation) -> Explanation:
    if not isinstance(explanation, Explanation):
        raise TypeError(f"Expected an xaiwidgets Explanation; got {type(explanation).__name__}.")
    if explanation.is_batch:
        raise ValueError(
            f"This explanation holds {len(explanation)} inputs; plot one of them, for "
            "example xw.plot(e[0])."
        )
    return explanation


def _title(explanation: Explanation, compact: bool = False) -> str:
    """The method and the explained output; on two lines for narrow panels."""
    from ..core.explainer import get

    try:
        label = get(explanation.method).label or explanation.method
    except ValueError:
        label = explanation.method
    separator = "\n" if compact else ": "
    return f"{label}{separator}{explanation.output} of {explanation.target_name!r}"


def _format_value(value: float) -> str:
    if float(value).is_integer():
        return f"{value:.0f}"
    return f"{value:.3g}"


def plot_bars(explanation: Explanation, ax: Axes | None = None, max_features: int = 12) -> Axes:
    """Signed horizontal bars, largest magnitude on top, the feature value in the label.

    Parameters
    ----------
    explanation : Explanation
        One tabular explanation.
    ax : matplotlib Axes, optional
        Where to draw; a new figure is made when omitted.
    max_features : int, default=12
        Show this many features; the rest are summed into one "other features" bar.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> e = xw.explainers.Gradient(xw.wrap(xw.zoo.train_mlp(ds), ds)).explain(ds.X_test[0])
    >>> ax = xw.plotting.plot_bars(e, max_features=5)
    >>> len(ax.patches)  # four features and "9 other features"
    5
    """
    explanation = _single(explanation)
    max_features = check_int(max_features, "max_features", low=1)
    values = np.asarray(explanation.values, dtype=float).reshape(-1)
    data = np.asarray(explanation.data, dtype=float).reshape(-1)
    order = np.argsort(-np.abs(values), kind="stable")
    labels = [f"{explanation.feature_names[i]} = {_format_value(data[i])}" for i in order]
    shown = list(values[order])
    if len(order) > max_features:
        rest = len(order) - max_features + 1
        shown = [*shown[: max_features - 1], float(values[order[max_features - 1 :]].sum())]
        labels = [*labels[: max_features - 1], f"{rest} other features"]
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.35 * len(shown) + 1.2))
    positions = np.arange(len(shown))[::-1]
    ax.barh(positions, shown, color=[POSITIVE if v > 0 else NEGATIVE for v in shown])
    ax.set_yticks(positions, labels)
    ax.axvline(0, color="0.3", linewidth=0.8)
    # A method whose values are not in output units says so in meta["units"].
    units = explanation.meta.get("units", f"{explanation.output} units")
    ax.set_xlabel(f"attribution ({units})")
    ax.set_title(_title(explanation), fontsize=10)
    return ax


def _to_display_image(data: np.ndarray) -> tuple[np.ndarray, str | None]:
    """(C, H, W) input -> (H, W) grey or (H, W, 3) colour image and its colour map."""
    if data.ndim == 3 and data.shape[0] == 3:
        return np.clip(np.moveaxis(data, 0, -1), 0, 1), None
    # Dark strokes on white paper: grey levels reversed, so 0 (background) is white.
    return data.reshape(data.shape[-2:]) if data.ndim == 3 else data, "gray_r"


class AttributionImage:
    """An image attribution drawn once and then updated in place.

    Shows the input in grey and/or the attribution map (channels summed, signed),
    scaled by :func:`~xaiwidgets.plotting.normalize_for_display`; the scaling rule is
    written under the image. The artists are made on the first :meth:`update`;
    later updates only replace their pixels (``set_data``), so a widget can redraw
    without rebuilding the figure.

    Parameters
    ----------
    ax : matplotlib Axes
        Where to draw.
    style : {"overlay", "heatmap", "input"}, default="overlay"
        The map over the grey input, the map alone, or only the input.
    mode : {"absolute", "diverging"}, default="absolute"
        Magnitude (white to red) or signed (blue-white-red).
    clip_percentile : float, default=99.0
        See :func:`~xaiwidgets.plotting.normalize_for_display`.
    alpha : float, default=0.85
        Opacity of the strongest attributions in the overlay; each pixel's opacity is
        ``alpha`` times its normalized magnitude, so the input shows through where the
        attribution is small.
    title : str, optional
        A fixed title; by default the method and the explained output (for
        ``style="input"``: the predicted class).
    compact : bool, default=False
        Put the method and the output on two title lines (narrow panels).
    title_size, label_size : float, default=9, 8
        Font sizes of the title and of the normalization note.

    Attributes
    ----------
    artists : list of matplotlib artists
        The images whose data change on update, and the frame drawn over them.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> explainer = xw.explainers.Gradient(m)
    >>> display = xw.plotting.AttributionImage(plt.figure().add_subplot())
    >>> display.update(explainer.explain(ds.X_test[0]))  # first draw
    True
    >>> display.update(explainer.explain(0.9 * ds.X_test[0]))  # new pixels, same layout
    False
    """

    def __init__(
        self,
        ax: Axes,
        *,
        style: Literal["overlay", "heatmap", "input"] = "overlay",
        mode: Literal["absolute", "diverging"] = "absolute",
        clip_percentile: float = 99.0,
        alpha: float = 0.85,
        title: str | None = None,
        compact: bool = False,
        title_size: float = 9,
        label_size: float = 8,
    ) -> None:
        self.ax = ax
        self.title = title
        self.compact = compact
        self.style = check_option(style, "style", ["overlay", "heatmap", "input"])
        self.mode = check_option(mode, "mode", ["absolute", "diverging"])
        self.clip_percentile = clip_percentile
        self.alpha = alpha
        self.title_size, self.label_size = title_size, label_size
        self.artists: list[Any] = []
        self._input_image: Any = None
        self._heat_image: Any = None

    def _create(self, image: np.ndarray, cmap: str | None, normalized: np.ndarray) -> None:
        ax = self.ax
        heat_cmap, low = ("Reds", 0.0) if self.mode == "absolute" else ("RdBu_r", -1.0)
        if self.style != "heatmap":
            # Under an overlay the input is drawn faint (strokes at most mid-grey) so the
            # colours of the map stay readable.
            faint = 2.2 if self.style == "overlay" and cmap is not None else 1.0
            self._input_image = ax.imshow(
                image, cmap=cmap, vmin=0, vmax=faint, interpolation="nearest"
            )
        if self.style != "input":
            self._heat_image = ax.imshow(
                normalized,
                cmap=heat_cmap,
                vmin=low,
                vmax=1.0,
                interpolation="nearest",
            )
        images = [a for a in (self._input_image, self._heat_image) if a is not None]
        # The frame is redrawn over the images so that blitting keeps it visible.
        self.artists = [*images, *ax.spines.values()]
        ax.set_xticks([])
        ax.set_yticks([])

    def update(self, explanation: Explanation) -> bool:
        """Show ``explanation``; return True when the layout changed (title, first draw)."""
        explanation = _single(explanation)
        image, cmap = _to_display_image(np.asarray(explanation.data, dtype=float))
        values = np.asarray(explanation.values, dtype=float)
        summed = values.sum(axis=0) if values.ndim == 3 else values
        normalized, rule = normalize_for_display(summed, self.mode, self.clip_percentile)
        changed = not self.artists
        if changed:
            self._create(image, cmap, normalized)
        else:
            if self._input_image is not None:
                self._input_image.set_data(image)
            if self._heat_image is not None:
                self._heat_image.set_data(normalized)
        if self.style == "overlay":
            # Each pixel's opacity follows its normalized magnitude, so the input shows
            # through where the attribution is small.
            self._heat_image.set_alpha(self.alpha * np.abs(normalized))
        label = rule.replace(", clipped", "\nclipped") if self.style != "input" else ""
        if self.title is not None:
            title = self.title
        elif self.style == "input":
            predicted = explanation.class_names[int(np.argmax(explanation.prediction))]
            title = f"input (predicted {predicted!r})"
        else:
            title = _title(explanation, self.compact)
        if self.ax.get_xlabel() != label or self.ax.get_title() != title:
            self.ax.set_xlabel(label, fontsize=self.label_size)
            self.ax.set_title(title, fontsize=self.title_size)
            changed = True
        return changed


def plot_image(
    explanation: Explanation,
    ax: Axes | None = None,
    style: Literal["overlay", "heatmap", "input"] = "overlay",
    mode: Literal["absolute", "diverging"] = "absolute",
    clip_percentile: float = 99.0,
    alpha: float = 0.85,
) -> Axes:
    """An image attribution as a heatmap, alone or over the input.

    Channels are summed (signed) into one map. The map is scaled by
    :func:`~xaiwidgets.plotting.normalize_for_display`, and the rule is written under
    the image. To redraw in place with new explanations use :class:`AttributionImage`.

    Parameters
    ----------
    explanation : Explanation
        One image explanation.
    ax : matplotlib Axes, optional
        Where to draw.
    style : {"overlay", "heatmap", "input"}, default="overlay"
        The map over the grey input, the map alone, or only the input.
    mode : {"absolute", "diverging"}, default="absolute"
        Magnitude (white to red) or signed (blue-white-red).
    clip_percentile : float, default=99.0
        See :func:`~xaiwidgets.plotting.normalize_for_display`.
    alpha : float, default=0.85
        Opacity of the strongest attribution in the overlay; weaker ones fade out.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> e = xw.explainers.Gradient(xw.wrap(xw.zoo.train_cnn(ds), ds)).explain(ds.X_test[0])
    >>> ax = xw.plotting.plot_image(e, mode="diverging")
    >>> print(ax.get_xlabel())
    diverging: v / p99(|v|)
    clipped to [-1, 1]
    """
    explanation = _single(explanation)
    check_option(style, "style", ["overlay", "heatmap", "input"])  # before making a figure
    display = AttributionImage(
        ax if ax is not None else plt.subplots(figsize=(3.2, 3.4))[1],
        style=style,
        mode=mode,
        clip_percentile=clip_percentile,
        alpha=alpha,
    )
    display.update(explanation)
    return display.ax


def plot(explanation: Explanation, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Plot one explanation: bars for tabular data, a heatmap overlay for images.

    Parameters
    ----------
    explanation : Explanation
        One explanation (index a batch first: ``e[0]``).
    ax : matplotlib Axes, optional
        Where to draw.
    **kwargs
        Passed to :func:`plot_bars` or :func:`plot_image`.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> ax = xw.plot(xw.explainers.IntegratedGradients(m).explain(ds.X_test[0]))
    """
    explanation = _single(explanation)
    if explanation.kind == "image":
        return plot_image(explanation, ax=ax, **kwargs)
    return plot_bars(explanation, ax=ax, **kwargs)
