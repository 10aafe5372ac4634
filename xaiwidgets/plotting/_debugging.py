"""Figures of the debugging lab: the measures table as bars, and influence detection.

Pure matplotlib: each function draws into the ``ax`` it is given (or a new one) and
returns it; the numbers come from :mod:`xaiwidgets.analysis.debugging` and
:mod:`xaiwidgets.analysis.influence`.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..core.validation import as_numpy

__all__ = [
    "TrainingExamples",
    "detection_curve",
    "plot_debug_measures",
    "plot_detection_curve",
    "plot_training_examples",
]


def plot_debug_measures(
    table: pd.DataFrame,
    metric: str,
    *,
    methods: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars of one metric: a group per measure, a bar per method, the random baseline.

    Parameters
    ----------
    table : DataFrame
        From :func:`xaiwidgets.debugging.report` or :func:`~xaiwidgets.debugging.measures`
        (columns ``method, measure, metric, mean, sem``).
    metric : str
        Which metric to show (for example ``"ssim"``).
    methods : sequence of str, optional
        The bars, in order; default every method but ``"random"``, which is drawn
        as a dashed line per group instead.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, pandas as pd, xaiwidgets as xw
    >>> t = pd.DataFrame({"method": ["g", "random"], "measure": "K-SSD", "metric": "ssim",
    ...                   "mean": [0.4, 0.0], "sem": [0.05, 0.01]})
    >>> ax = xw.plotting.plot_debug_measures(t, "ssim")
    >>> len(ax.patches)
    1
    >>> plt.close(ax.figure)
    """
    rows = table[table["metric"] == metric]
    if rows.empty:
        raise ValueError(
            f"The table has no rows for metric {metric!r}; it has {sorted(set(table['metric']))}."
        )
    measures = list(dict.fromkeys(rows["measure"]))
    if methods is None:
        methods = [m for m in dict.fromkeys(rows["method"]) if m != "random"]
    if ax is None:
        _, ax = plt.subplots(figsize=(2.4 + 1.5 * len(measures), 3.2), layout="constrained")
    indexed = rows.set_index(["measure", "method"])
    width = 0.8 / max(len(methods), 1)
    for j, method in enumerate(methods):
        means = [indexed["mean"].get((m, method), np.nan) for m in measures]
        errors = [indexed["sem"].get((m, method), 0.0) for m in measures]
        positions = np.arange(len(measures)) - 0.4 + width * (j + 0.5)
        ax.bar(positions, means, width, yerr=np.nan_to_num(errors), label=method, capsize=2)
    for i, measure in enumerate(measures):
        if (measure, "random") in indexed.index:
            level = indexed["mean"][(measure, "random")]
            label = "random maps" if i == 0 else None
            ax.hlines(level, i - 0.45, i + 0.45, colors="0.3", linestyles="--", label=label)
    ax.set_xticks(range(len(measures)), measures, fontsize=8)
    ax.axhline(0, color="0.3", linewidth=0.8)
    ax.set_ylim(min(-0.2, ax.get_ylim()[0]), 1.05)
    ax.set_ylabel(f"{metric} (mean ± SEM)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return ax


def detection_curve(scores: object, flipped: object) -> tuple[np.ndarray, np.ndarray, float]:
    """Recall of flipped labels against the fraction of training data inspected.

    Training points are inspected in decreasing order of ``scores`` (for example
    self-influence); the curve is the fraction of flipped labels found after each
    inspection (Koh & Liang 2017, Fig. 6). AUROC (scikit-learn's ``roc_auc_score``)
    summarizes the ranking.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Larger means "inspect first".
    flipped : array-like of bool, shape (n,)
        Which labels were flipped.

    Returns
    -------
    fraction_checked, recall : ndarray of shape (n + 1,)
    auroc : float

    Examples
    --------
    >>> f, r, auc = detection_curve([3.0, 2.0, 1.0, 0.0], [True, False, True, False])
    >>> r.tolist(), auc
    ([0.0, 0.5, 0.5, 1.0, 1.0], 0.75)
    """
    from sklearn.metrics import roc_auc_score

    scores = as_numpy(scores, "scores").astype(float).ravel()
    flipped = as_numpy(flipped, "flipped").astype(bool).ravel()
    if scores.shape != flipped.shape:
        raise ValueError(
            f"scores and flipped must have the same length; got {scores.shape} and "
            f"{flipped.shape}."
        )
    if flipped.all() or not flipped.any():
        raise ValueError("flipped must mark some points, but not all, as flipped.")
    order = np.argsort(-scores, kind="stable")
    found = np.concatenate([[0], np.cumsum(flipped[order])]) / flipped.sum()
    checked = np.arange(len(scores) + 1) / len(scores)
    return checked, found, float(roc_auc_score(flipped, scores))


def plot_detection_curve(
    curves: dict[str, tuple[object, object]], *, ax: Axes | None = None
) -> Axes:
    """Detection curves of flipped labels, one line per ranking, AUROC in the legend.

    Parameters
    ----------
    curves : dict of str to (scores, flipped)
        For example ``{"self-influence": (inf.self_influence(), bug.is_flipped),
        "training loss": (losses, bug.is_flipped)}``.
    ax : Axes, optional
        Where to draw.

    Returns
    -------
    Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np, xaiwidgets as xw
    >>> flipped = np.arange(10) < 3
    >>> ax = xw.plotting.plot_detection_curve({"ideal": (-np.arange(10), flipped)})
    >>> len(ax.lines)
    2
    >>> plt.close(ax.figure)
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.4), layout="constrained")
    if not curves:
        raise ValueError("curves is empty; pass at least one {label: (scores, flipped)}.")
    for label, (scores, flipped) in curves.items():
        checked, recall, auroc = detection_curve(scores, flipped)
        ax.plot(checked, recall, label=f"{label} (AUROC {auroc:.2f})")
    ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label="random order")
    ax.set_xlabel("fraction of training data checked")
    ax.set_ylabel("fraction of flipped labels found")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, loc="lower right")
    return ax


#: Colour of a flagged training example (a flipped label, a planted signal).
FLAG_COLOR = "#d62728"


class TrainingExamples:
    """Training images of an influence ranking, updated in place (for widgets).

    A grid of one row per role (``"helpful"``, ``"harmful"``) and ``k`` columns;
    :meth:`update` replaces the pixels, titles and frames, so
    :class:`~xaiwidgets.plotting.LiveFigure` redraws it by blitting.
    :func:`plot_training_examples` draws one in a new figure.

    Parameters
    ----------
    fig : matplotlib Figure
        An empty figure to draw into.
    k : int
        Columns: the training points shown per role.
    roles : sequence of str, default=("helpful", "harmful")
        The rows, as in the ``role`` column of the ranking.
    flag_label : str, default="flipped"
        The word for a flagged point (a flipped label, a planted signal).
    class_names : sequence of str, optional
        Names of the labels.

    Attributes
    ----------
    artists : list
        The images and frames (redrawn on every render).
    texts : list of Text
        The titles (redrawn when they change).

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np, pandas as pd
    >>> top = pd.DataFrame({"role": ["helpful", "harmful"], "rank": [1, 1], "index": [0, 1],
    ...                     "label": [3, 5], "score": [-2.0, 1.5]})
    >>> display = TrainingExamples(plt.figure(), k=1)
    >>> display.update(top, np.zeros((2, 1, 8, 8)), flagged=[False, True])
    True
    >>> [t.get_text().splitlines()[-1] for t in display.texts]
    ['label 3', 'label 5 · flipped']
    """

    def __init__(
        self,
        fig: Figure,
        k: int,
        *,
        roles: Sequence[str] = ("helpful", "harmful"),
        flag_label: str = "flipped",
        class_names: Sequence[str] | None = None,
    ) -> None:
        self.figure = fig
        self.roles = list(roles)
        self.flag_label = flag_label
        self.class_names = None if class_names is None else list(class_names)
        # Margins in inches, set here: the titles change on blits, so a layout engine
        # (which measures them on a full draw, where they are hidden) cannot place them.
        fig.set_layout_engine(None)
        width, height = fig.get_size_inches()
        n = len(self.roles)
        title, bottom, left = 0.4, 0.05, 0.3
        cell = (height - bottom - n * title) / n
        self.axes = np.asarray(
            fig.subplots(
                n,
                k,
                squeeze=False,
                gridspec_kw={
                    "left": left / width,
                    "right": 1 - 0.05 / width,
                    "top": 1 - title / height,
                    "bottom": bottom / height,
                    "hspace": title / cell,
                    "wspace": 0.15,
                },
            )
        )
        self.images, self.titles = [], []
        for r, role in enumerate(self.roles):
            for ax in self.axes[r]:
                self.images.append(ax.imshow(np.zeros((2, 2)), cmap="gray_r"))
                # A plain text, not the axes title: matplotlib moves a title on each
                # full draw (where a blitting display hides it).
                self.titles.append(
                    ax.text(
                        0.5, 1.04, "", transform=ax.transAxes, fontsize=7, ha="center", va="bottom"
                    )
                )
                ax.set_xticks([])
                ax.set_yticks([])
            self.axes[r, 0].set_ylabel(role, fontsize=8)
        self.spines = [spine for ax in self.axes.ravel() for spine in ax.spines.values()]
        self.artists = [*self.images, *self.spines]
        self.texts = self.titles
        self._shape: tuple[int, ...] | None = None

    def update(self, top: pd.DataFrame, X_train: object, flagged: object = None) -> bool:
        """Show a ranking: ``top`` from ``InfluenceFunction.top``, images ``X_train``.

        ``flagged`` (boolean, one per training image) marks points in red. Returns
        True when the layout changed (the first images, or images of another size)
        and the figure needs a full redraw.
        """
        X = as_numpy(X_train, "X_train")
        if X.ndim != 4:
            raise ValueError(
                f"X_train must be images of shape (n, channels, height, width); got {X.shape}."
            )
        flags = np.zeros(len(X), dtype=bool) if flagged is None else as_numpy(flagged, "flagged")
        if flags.shape != (len(X),):
            raise ValueError(f"flagged must have one entry per training image ({len(X)}).")
        low, high = float(X.min()), float(X.max())
        shape = X.shape[2:]
        changed = shape != self._shape
        if changed:  # the first images: fit the axes to their size
            self._shape = shape
            extent = (-0.5, shape[1] - 0.5, shape[0] - 0.5, -0.5)
            for image in self.images:
                image.set_extent(extent)
            for ax in self.axes.ravel():
                ax.set_xlim(extent[:2])
                ax.set_ylim(extent[2:])
        k = self.axes.shape[1]
        for r, role in enumerate(self.roles):
            rows = list(top[top["role"] == role].sort_values("rank").itertuples())[:k]
            for c in range(k):
                at = r * k + c
                image, title = self.images[at], self.titles[at]
                spines = self.axes[r, c].spines.values()
                if c >= len(rows):
                    image.set_visible(False)
                    title.set_text("")
                    for spine in spines:
                        spine.set_visible(False)
                    continue
                row = rows[c]
                flag = bool(flags[row.index])
                name = row.label if self.class_names is None else self.class_names[row.label]
                image.set_data(X[row.index].mean(axis=0))
                image.set_clim(low, high)
                image.set_visible(True)
                title.set_text(
                    f"#{row.index}\nlabel {name}" + (f" · {self.flag_label}" if flag else "")
                )
                title.set_color(FLAG_COLOR if flag else "black")
                for spine in spines:
                    spine.set_visible(True)
                    spine.set_color(FLAG_COLOR if flag else "0.7")
                    spine.set_linewidth(2.5 if flag else 0.8)
        return changed


def plot_training_examples(
    top: pd.DataFrame,
    X_train: object,
    *,
    flagged: object = None,
    flag_label: str = "flipped",
    class_names: Sequence[str] | None = None,
    fig: Figure | None = None,
) -> Figure:
    """The training images of an influence ranking: one row per role, ranked.

    Parameters
    ----------
    top : DataFrame
        From :meth:`xaiwidgets.influence.InfluenceFunction.top` (columns ``role``,
        ``rank``, ``index``, ``label``, ``score``).
    X_train : array-like of shape (n, channels, height, width)
        The training images the ``index`` column points into.
    flagged : array-like of bool, shape (n,), optional
        Training points to mark (for example ``bug.is_flipped``): framed and titled
        in red with ``flag_label``.
    flag_label : str, default="flipped"
        The word for a flagged point.
    class_names : sequence of str, optional
        Names of the labels.
    fig : Figure, optional
        Cleared and drawn into; a new figure is made when omitted.

    Returns
    -------
    Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt, numpy as np, pandas as pd, xaiwidgets as xw
    >>> top = pd.DataFrame({"role": ["helpful", "harmful"], "rank": [1, 1], "index": [0, 1],
    ...                     "label": [3, 5], "score": [-2.0, 1.5]})
    >>> fig = xw.plotting.plot_training_examples(top, np.zeros((2, 1, 8, 8)),
    ...                                          flagged=[False, True])
    >>> [ax.texts[0].get_text().splitlines()[-1] for ax in fig.axes]
    ['label 3', 'label 5 · flipped']
    >>> plt.close(fig)
    """
    roles = list(dict.fromkeys(top["role"]))
    k = int(top.groupby("role").size().max())
    if fig is None:
        fig = plt.figure(figsize=(1.15 * k + 0.4, 1.5 * len(roles)))
    else:
        fig.clear()
    display = TrainingExamples(fig, k, roles=roles, flag_label=flag_label, class_names=class_names)
    display.update(top, X_train, flagged)
    return fig
