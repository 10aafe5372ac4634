"""Figures of an attack on explanations: inputs, maps, probabilities, and its progress.

Pure matplotlib: :func:`plot_explanation_attack` draws a finished
:class:`~xaiwidgets.analysis.explanation_attack.ExplanationAttack`;
:class:`SimilarityCurve` is an in-place display (see :mod:`._live`) of the similarity to
the target while the optimisation runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ._explanation import _to_display_image
from ._live import ACCENT, MUTED, REFERENCE

__all__ = ["SimilarityCurve", "plot_explanation_attack"]


class SimilarityCurve:
    """Similarity of the map to the target against the optimisation step, drawn live.

    Parameters
    ----------
    ax : Axes
    steps : int
        The last step (the x-axis runs from 0 to it).
    before : float, optional
        The similarity of the original input's map (a dashed line).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> curve = SimilarityCurve(Figure().add_subplot(), steps=100, before=0.2)
    >>> curve.update([10, 20], [0.25, 0.31])
    False
    """

    def __init__(self, ax: Axes, steps: int, before: float | None = None) -> None:
        self.ax = ax
        (self.line,) = ax.plot([], [], color=ACCENT, lw=2, label="manipulated")
        self.baseline = ax.axhline(
            np.nan if before is None else before, color=REFERENCE, ls="--", lw=1, label="original"
        )
        ax.set_xlim(0, max(steps, 1))
        ax.set_ylim(-0.05, 1.0)
        ax.set_xlabel("step")
        ax.set_ylabel("similarity to the target (r)")
        ax.legend(loc="lower right", fontsize=8, frameon=False)
        ax.grid(alpha=0.3)
        self.artists = [self.line]

    def reset(self, steps: int, before: float | None) -> None:
        """Start a new run."""
        self.line.set_data([], [])
        self.baseline.set_ydata([np.nan if before is None else before] * 2)
        self.ax.set_xlim(0, max(steps, 1))

    def update(self, steps: Sequence[float], similarity: Sequence[float]) -> bool:
        """Show the curve so far; True when the y-range had to grow (draw everything)."""
        self.line.set_data(np.asarray(steps, float), np.asarray(similarity, float))
        low = min([-0.05, *similarity]) if len(similarity) else -0.05
        if low < self.ax.get_ylim()[0]:
            self.ax.set_ylim(low - 0.05, 1.0)
            return True
        return False


def _pick(value: Any, index: int, batched: bool) -> Any:
    return np.asarray(value)[index] if batched else np.asarray(value)


def plot_explanation_attack(
    result: Any,
    *,
    index: int = 0,
    class_names: Sequence[str] | None = None,
    feature_names: Sequence[str] | None = None,
    fig: Figure | None = None,
) -> Figure:
    """Original and manipulated input, their difference, both maps, the target, outputs.

    Top row: the original input, the manipulated one, their difference and the class
    probabilities of both; bottom row: the explanation of each, the target map and
    the similarity to the target during the optimisation. Maps are unit-mass
    magnitudes, each shown on its own colour scale (white to red, 0 to its maximum).

    Parameters
    ----------
    result : ExplanationAttack
    index : int, default=0
        Which input of a batch.
    class_names : sequence of str, optional
    feature_names : sequence of str, optional
        Labels of the bars of a tabular input (default: column numbers).
    fig : Figure, optional
        Cleared and drawn into.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> t = xw.attacks.explanation_map(m, ds.X_test[1])
    >>> r = xw.attacks.manipulate_explanation(m, ds.X_test[0], t, steps=20)
    >>> len(plot_explanation_attack(r, class_names=ds.class_names).axes)
    8
    """
    shape = tuple(result.meta["input_shape"])
    batched = np.ndim(result.x) > len(shape)
    x = _pick(result.x, index, batched)
    x_adv = _pick(result.x_adv, index, batched)
    p0 = _pick(result.probabilities_before, index, batched)
    p1 = _pick(result.probabilities_after, index, batched)
    maps = [_pick(m, index, batched) for m in (result.map_before, result.map_after)]
    maps.append(_pick(result.target_map, index, batched))
    names = list(class_names) if class_names is not None else [str(k) for k in range(len(p0))]
    if fig is None:
        fig = plt.figure(figsize=(12, 6), layout="constrained")
    else:
        fig.clear()
    axes = fig.subplots(2, 4)
    image = len(shape) == 3
    map_shape = tuple(result.meta["map_shape"])
    difference = x_adv - x
    eps = float(result.params["eps"]) or 1.0
    if image:
        for ax, data, title in (
            (axes[0, 0], x, f"original: {names[int(np.argmax(p0))]}"),
            (axes[0, 1], x_adv, f"manipulated: {names[int(np.argmax(p1))]}"),
        ):
            ax.imshow(_to_display_image(data)[0], cmap="gray", vmin=0, vmax=1)
            ax.set_title(title, fontsize=10)
        axes[0, 2].imshow(_to_display_image(difference)[0], cmap="RdBu_r", vmin=-eps, vmax=eps)
    else:
        positions = np.arange(len(x))
        axes[0, 0].barh(positions, x, color=MUTED)
        axes[0, 0].set_title("original input", fontsize=10)
        axes[0, 1].barh(positions, x_adv, color=ACCENT)
        axes[0, 1].set_title("manipulated input", fontsize=10)
        axes[0, 2].barh(positions, difference.reshape(-1), color=ACCENT)
    axes[0, 2].set_title(f"difference (|Δ| ≤ {eps:g})", fontsize=10)
    order = np.argsort(-(p0 + p1))[: min(5, len(p0))]
    rows = np.arange(len(order))
    axes[0, 3].barh(rows - 0.2, p0[order], height=0.4, color=REFERENCE, label="original")
    axes[0, 3].barh(rows + 0.2, p1[order], height=0.4, color=ACCENT, label="manipulated")
    axes[0, 3].set_yticks(rows, [names[k] for k in order])
    axes[0, 3].invert_yaxis()
    axes[0, 3].set_xlim(0, 1)
    axes[0, 3].set_title("class probabilities", fontsize=10)
    axes[0, 3].legend(fontsize=8, frameon=False, loc="lower right")
    similarity_before = _pick(result.similarity_before, index, batched)
    similarity_after = _pick(result.similarity_after, index, batched)
    titles = (
        f"map of the original (r = {float(similarity_before):.2f})",
        f"map of the manipulated (r = {float(similarity_after):.2f})",
        "target map",
    )
    for ax, values, title in zip(axes[1, :3], maps, titles, strict=True):
        if image:
            values = values.reshape(map_shape)
            ax.imshow(values, cmap="Reds", vmin=0, vmax=max(float(values.max()), 1e-12))
        else:
            ax.barh(np.arange(len(values)), values, color=ACCENT)
        ax.set_title(title, fontsize=10)
    names_of_rows = [
        str(n) for n in (feature_names if feature_names is not None else range(len(x)))
    ]
    for ax in (*axes[0, :3], *axes[1, :3]):
        if image:
            ax.set_xticks([])
            ax.set_yticks([])
        else:
            ax.set_yticks(np.arange(len(x)), names_of_rows, fontsize=7)
            ax.invert_yaxis()
            if ax is not axes[0, 0] and ax is not axes[1, 0]:
                ax.tick_params(labelleft=False)  # the first column names the features
    curve = SimilarityCurve(axes[1, 3], int(result.params["steps"]), float(similarity_before))
    history = result.history
    if len(history):
        rows_of = history[history["input"] == index] if batched else history
        curve.update(rows_of["step"].tolist(), rows_of["similarity"].tolist())
    axes[1, 3].set_title(
        f"{result.params['method']} map, eps {result.params['eps']:g}, "
        f"MSE down {100 * float(_pick(result.fall, index, batched)):.0f} %",
        fontsize=10,
    )
    return fig
