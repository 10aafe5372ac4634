"""Debugging tests for explanations: whether the maps reveal a planted bug.

The measures are those of Adebayo's 2022 thesis ("Towards Effective Tools for
Debugging Machine Learning Models", ch. 4), from Adebayo et al. 2020, "Debugging
Tests for Model Explanations" (NeurIPS), and Adebayo et al. 2022, "Post hoc
Explanations may be Ineffective for Detecting Unknown Spurious Correlation" (ICLR).
For a spurious signal, with ``normal`` and ``buggy`` the two models of
:func:`xaiwidgets.bugs.train_pair`:

- **K-SSD** (known spurious signal detection): the buggy model's map of a spurious
  input against the ground truth of where the signal is. High: the method shows the
  signal the model uses.
- **CCM** (cause for concern): the buggy and the normal model's maps of a normal
  input. High: nothing in the maps suggests that the buggy model is buggy.
- **FAM** (false alarm): the normal and the buggy model's maps of a spurious input.
  High: the normal model's map looks like the spurious model's, a false alarm.
- **FAM-GT**: the normal model's map of a spurious input against the ground truth.
  High: the map points at a signal the normal model does not use.

For the other bugs the two models' maps of the same inputs are compared:

- noisy labels (thesis Sec. 4.3): a flipped training point's map under the clean-
  and the noisy-label model ("flipped"), beside the same for training points whose
  label was kept ("not flipped"), the control: a map reveals the flip only if the
  flipped points' maps change more than the others';
- out-of-distribution inputs (thesis Table 4.4) and randomized parameters: "normal
  vs buggy" on the given inputs.

Every similarity is a metric of :mod:`xaiwidgets.analysis.metrics` (the sanity
checks' Spearman rank correlation and SSIM), with its mean and standard error over
the inputs, beside a baseline of random maps (i.i.d. Gaussian values) put through
the same measure.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..core.model import wrap
from ..core.seeding import numpy_rng
from ..core.threads import torch_threads
from ..core.validation import check_int
from . import metrics as metric_library
from .bugs import Bug, NoisyLabels, OutOfDistribution, SpuriousSignal
from .sanity import DEFAULT_METHODS, _explain, _method_specs, _Progress, _similarity_functions

__all__ = [
    "KIND_MEASURES",
    "MEASURES",
    "DebugMaps",
    "explain_pair",
    "measures",
    "report",
    "spurious_score",
]

#: Per measure, the two map sets it compares: (model, inputs) keys, or "ground_truth".
MEASURES: dict[str, tuple[tuple[str, str] | str, tuple[str, str] | str]] = {
    "K-SSD": (("buggy", "spurious"), "ground_truth"),
    "CCM": (("buggy", "normal"), ("normal", "normal")),
    "FAM": (("normal", "spurious"), ("buggy", "spurious")),
    "FAM-GT": (("normal", "spurious"), "ground_truth"),
    "flipped": (("buggy", "flipped"), ("normal", "flipped")),
    "not flipped": (("buggy", "kept"), ("normal", "kept")),
    "normal vs buggy": (("buggy", "normal"), ("normal", "normal")),
}
#: The measures of each bug kind (the others: "normal vs buggy").
KIND_MEASURES = {
    SpuriousSignal.kind: ["K-SSD", "CCM", "FAM", "FAM-GT"],
    NoisyLabels.kind: ["flipped", "not flipped"],
}
_RANDOM = "random"
_NOISY_DEFAULT = 50


def _check_spurious(bug: Any) -> SpuriousSignal:
    if not isinstance(bug, SpuriousSignal):
        raise TypeError(
            "bug must be a spurious-signal bug from xw.bugs.spurious_signal(...); "
            f"got {type(bug).__name__}."
        )
    return bug


def spurious_score(model: Any, bug: SpuriousSignal, X: Any) -> float:
    """How often adding the signal makes the model say the aligned class (Def. 4.2.1).

    Among the inputs that the model does *not* assign to the spurious aligned class,
    the fraction that it assigns to that class once the spurious signal is added.
    The thesis calls a model with a score above 0.85 a *spurious model* and one
    below 0.1 a *normal model*.

    Parameters
    ----------
    model : Model or anything :func:`xaiwidgets.wrap` accepts
        The classifier (for example the buggy or the normal model of
        :func:`xaiwidgets.bugs.train_pair`).
    bug : SpuriousSignal
        The planted signal.
    X : array-like of shape (n, *input_shape)
        Inputs without the signal, in the space of ``bug.dataset`` (for example
        ``bug.clean.X_test``).

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the model assigns every input to the aligned class (the score is then
        undefined).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag")
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    >>> xw.debugging.spurious_score(buggy, bug, bug.clean.X_test) > 0.85
    True
    >>> xw.debugging.spurious_score(normal, bug, bug.clean.X_test) < 0.1
    True
    """
    bug = _check_spurious(bug)
    model = wrap(model, input_shape=bug.dataset.input_shape)
    batch, _ = model.check_input(X, name="X")
    keep = model.predict(batch) != bug.aligned_class
    if not keep.any():
        raise ValueError(
            f"The model assigns every one of the {len(batch)} inputs in X to the aligned "
            f"class {bug.aligned_class}, so the spurious score is undefined; pass inputs "
            "of other classes."
        )
    flipped = model.predict(bug.apply(batch[keep])) == bug.aligned_class
    return float(flipped.mean())


# ============================================================================ the maps
@dataclass(frozen=True, eq=False)
class DebugMaps:
    """The maps a debugging test compares: per method, model and kind of input.

    Made by :func:`explain_pair`; a widget shows them as a grid (rows: methods;
    columns: the ``(model, inputs)`` keys) and :func:`measures` turns them into the
    table. Can also be built by hand from any maps of matching shapes.

    Parameters
    ----------
    maps : dict
        ``{(method, model, inputs): ndarray of shape (n, *input_shape)}`` with
        ``model`` in ``{"normal", "buggy"}`` and ``inputs`` in ``{"normal",
        "spurious"}`` for a spurious signal, ``{"flipped", "kept"}`` for noisy
        labels, ``{"normal"}`` otherwise.
    ground_truth : ndarray of shape (n, *input_shape), optional
        Where the spurious signal is in each input (for K-SSD and FAM-GT).
    inputs : dict, optional
        The explained inputs by kind, for example ``{"normal": X, "spurious":
        X_with_signal}``.
    predictions : dict, optional
        ``{(model, inputs): ndarray of shape (n,)}``: each model's predicted class.
    kind : str, default="spurious_signal"
        The bug kind (:attr:`xaiwidgets.bugs.Bug.kind`); decides the measures.

    Attributes
    ----------
    methods : list of str
        The methods, in the order given.
    measures : list of str
        The measures that apply to this bug kind.

    Examples
    --------
    >>> import numpy as np
    >>> a, b = np.zeros((2, 1, 8, 8)), np.ones((2, 1, 8, 8))
    >>> maps = DebugMaps({("m", "normal", "normal"): a, ("m", "buggy", "normal"): b},
    ...                  kind="out_of_distribution")
    >>> maps.methods, maps.measures
    (['m'], ['normal vs buggy'])
    """

    maps: dict[tuple[str, str, str], np.ndarray]
    ground_truth: np.ndarray | None = None
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    predictions: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)
    kind: str = SpuriousSignal.kind

    def __post_init__(self) -> None:
        shapes = {np.shape(v) for v in self.maps.values()}
        if not self.maps or len(shapes) != 1:
            raise ValueError(
                f"maps must hold at least one map set, all of one shape; got shapes {shapes}."
            )
        if self.ground_truth is not None and np.shape(self.ground_truth) not in shapes:
            raise ValueError(
                f"ground_truth must have the maps' shape {shapes.pop()}; "
                f"got {np.shape(self.ground_truth)}."
            )
        needed = {key for m in self.measures for key in MEASURES[m] if key != "ground_truth"}
        for method in self.methods:
            missing = [key for key in needed if (method, *key) not in self.maps]
            if missing:
                raise ValueError(f"maps lacks the (model, inputs) sets {missing} of {method!r}.")
        uses_truth = "ground_truth" in {k for m in self.measures for k in MEASURES[m]}
        if uses_truth and self.ground_truth is None:
            raise ValueError("A spurious-signal test needs ground_truth maps.")

    @property
    def methods(self) -> list[str]:
        """The methods, in the order of the maps."""
        return list(dict.fromkeys(method for method, _, _ in self.maps))

    @property
    def measures(self) -> list[str]:
        """The measures of this bug kind."""
        return list(KIND_MEASURES.get(self.kind, ["normal vs buggy"]))

    @property
    def n_inputs(self) -> int:
        """How many inputs each map set holds."""
        return len(next(iter(self.maps.values())))

    def __getitem__(self, key: tuple[str, str, str]) -> np.ndarray:
        """The maps of ``(method, model, inputs)``."""
        return self.maps[key]

    @property
    def columns(self) -> list[tuple[str, str]]:
        """The ``(model, inputs)`` map sets, in the order of the grid.

        For a spurious signal: normal model / normal input, buggy model / normal
        input, buggy model / spurious input, normal model / spurious input.
        """
        order = [
            ("normal", "normal"),
            ("buggy", "normal"),
            ("buggy", "spurious"),
            ("normal", "spurious"),
            ("normal", "flipped"),
            ("buggy", "flipped"),
            ("normal", "kept"),
            ("buggy", "kept"),
        ]
        present = {key[1:] for key in self.maps}
        return [key for key in order if key in present]

    def grid_rows(
        self, index: int = 0, *, methods: Sequence[str] | None = None
    ) -> tuple[np.ndarray, dict[str, list[np.ndarray]], list[str]]:
        """What the grid of one input shows, for :class:`~xaiwidgets.plotting.MapStrip`.

        Parameters
        ----------
        index : int, default=0
            Which input.
        methods : sequence of str, optional
            Rows; all methods by default.

        Returns
        -------
        x : ndarray
            The input of the first column's kind (the normal input).
        rows : dict
            ``{method: [map per column of :attr:`columns`]}``.
        labels : list of str
            The column labels.

        Examples
        --------
        >>> import numpy as np
        >>> a = np.zeros((2, 1, 8, 8))
        >>> maps = DebugMaps({("m", "normal", "normal"): a, ("m", "buggy", "normal"): a},
        ...                  inputs={"normal": a}, kind="out_of_distribution")
        >>> x, rows, labels = maps.grid_rows(1)
        >>> [label.splitlines() for label in labels]
        [['normal model', 'normal input'], ['buggy model', 'normal input']]
        """
        index = check_int(index, "index", low=0, high=self.n_inputs - 1)
        methods = self.methods if methods is None else [str(m) for m in methods]
        unknown = sorted(set(methods) - set(self.methods))
        if unknown:
            raise ValueError(f"Unknown methods {unknown}; the maps hold {self.methods}.")
        columns = self.columns
        first_inputs = columns[0][1]
        if first_inputs not in self.inputs:
            raise ValueError("plot_grid needs the explained inputs (DebugMaps.inputs).")
        rows = {m: [self.maps[(m, *key)][index] for key in columns] for m in methods}
        labels = [f"{model} model\n{inputs} input" for model, inputs in columns]
        return self.inputs[first_inputs][index], rows, labels

    def outline_ground_truth(self, fig: Any, index: int = 0) -> list[Any]:
        """Outline the ground truth in green on the spurious-input maps of a grid.

        ``fig`` holds a grid of image maps as :meth:`plot_grid` draws it (a
        :class:`~xaiwidgets.plotting.MapStrip` of :meth:`grid_rows`): one row of
        axes per method, the input first. Only image maps of a spurious signal
        have an outline.

        Parameters
        ----------
        fig : matplotlib Figure
            The grid.
        index : int, default=0
            Whose ground truth (a blur's differs per input).

        Returns
        -------
        list of ContourSet
            The outlines drawn (``remove()`` them before drawing another input's).

        Examples
        --------
        >>> import numpy as np
        >>> a = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
        >>> truth = np.zeros((2, 1, 8, 8))
        >>> truth[:, :, -2:, -2:] = 1
        >>> maps = DebugMaps({(m, i, j): a for m in ["g"] for i in ["normal", "buggy"]
        ...                   for j in ["normal", "spurious"]},
        ...                  ground_truth=truth, inputs={"normal": a, "spurious": a})
        >>> fig = maps.plot_grid(0)
        >>> len(maps.outline_ground_truth(fig, 0))  # again: the two spurious columns
        2
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
        """
        index = check_int(index, "index", low=0, high=self.n_inputs - 1)
        truth = None if self.ground_truth is None else np.asarray(self.ground_truth[index])
        drawn: list[Any] = []
        if truth is None or truth.ndim != 3:
            return drawn
        outline = np.abs(truth).sum(axis=0)
        if np.ptp(outline) == 0:
            return drawn
        columns = self.columns
        axes = np.asarray(fig.axes).reshape(-1, len(columns) + 1)
        # Padded, so that a region touching the border is closed (a corner tag).
        inside = np.pad(outline > outline.max() / 2, 1).astype(float)
        rows_at = np.arange(-1, outline.shape[0] + 1)
        cols_at = np.arange(-1, outline.shape[1] + 1)
        for c, (_, inputs) in enumerate(columns, start=1):
            if inputs != "spurious":
                continue
            for ax in axes[:, c]:
                limits = ax.get_xlim(), ax.get_ylim()
                drawn.append(
                    ax.contour(cols_at, rows_at, inside, levels=[0.5], colors="limegreen")
                )
                ax.set_xlim(limits[0])
                ax.set_ylim(limits[1])
        return drawn

    def plot_grid(
        self,
        index: int = 0,
        *,
        methods: Sequence[str] | None = None,
        mode: str = "absolute",
        clip_percentile: float = 99.0,
        feature_names: Sequence[str] | None = None,
        fig: Any = None,
    ) -> Any:
        """Maps of one input: rows are methods, columns the (model, inputs) sets.

        Built on :func:`~xaiwidgets.plotting.plot_map_strip` (each map scaled on its
        own, the rule written under the grid); the first column shows the normal
        input, and the ground truth of a spurious signal is outlined in green on
        the maps of spurious inputs.

        Parameters
        ----------
        index : int, default=0
            Which input.
        methods : sequence of str, optional
            Rows; all methods by default.
        mode : {"absolute", "diverging"}, default="absolute"
            Magnitude or signed colouring.
        clip_percentile : float, default=99.0
            See :func:`~xaiwidgets.plotting.normalize_for_display`.
        feature_names : sequence of str, optional
            Tabular maps: the names of the features (rows of each panel).
        fig : matplotlib Figure, optional
            Drawn into (cleared first).

        Returns
        -------
        matplotlib Figure

        Examples
        --------
        >>> import numpy as np
        >>> a = np.random.default_rng(0).normal(size=(2, 1, 8, 8))
        >>> maps = DebugMaps({("m", "normal", "normal"): a, ("m", "buggy", "normal"): -a},
        ...                  inputs={"normal": np.zeros((2, 1, 8, 8))},
        ...                  kind="out_of_distribution")
        >>> fig = maps.plot_grid(1)
        >>> len(fig.axes)
        3
        >>> import matplotlib.pyplot as plt
        >>> plt.close(fig)
        """
        from ..plotting import plot_map_strip

        x, rows, labels = self.grid_rows(index, methods=methods)
        fig = plot_map_strip(
            x,
            rows,
            labels,
            feature_names=feature_names,
            mode=mode,
            clip_percentile=clip_percentile,
            fig=fig,
        )
        self.outline_ground_truth(fig, index)
        return fig


def _inputs(bug: Bug, X: Any, model: Any) -> dict[str, np.ndarray]:
    """The explained inputs by kind (see :class:`DebugMaps`)."""
    if isinstance(bug, NoisyLabels):
        n = _NOISY_DEFAULT if X is None else X
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(
                "For noisy labels, X is how many flipped (and as many unflipped) training "
                f"points to explain: an int, or None for {_NOISY_DEFAULT}; got "
                f"{type(X).__name__}."
            )
        n = check_int(int(n), "X", low=1)
        kept = np.flatnonzero(~bug.is_flipped)
        return {
            "flipped": bug.dataset.X_train[bug.flipped[:n]],
            "kept": bug.dataset.X_train[kept[:n]],
        }
    if X is None:
        if not isinstance(bug, OutOfDistribution):
            raise ValueError(
                f"Pass X, the inputs to explain, for a {bug.kind} bug (for example "
                "bug.clean.X_test[:20])."
            )
        X = bug.X_ood
    batch, _ = model.check_input(X, name="X")
    if isinstance(bug, SpuriousSignal):
        return {"normal": batch, "spurious": bug.apply(batch)}
    return {"normal": batch}


def explain_pair(
    normal: Any,
    buggy: Any,
    bug: Bug,
    X: Any = None,
    methods: Sequence[Any] | None = None,
    *,
    target: Any = None,
    output: str = "auto",
    progress: bool | Callable[[int, int], Any] = True,
    threads: int | None = 1,
) -> DebugMaps:
    """Explain the same inputs with the normal and the buggy model, every method.

    For a spurious signal, each model explains the inputs ``X`` and the same inputs
    with the signal added (four map sets per method); for noisy labels, flipped and
    unflipped training points (four sets); for the other bugs, ``X`` (two sets).

    Parameters
    ----------
    normal, buggy : Model or torch.nn.Module
        The models of :func:`xaiwidgets.bugs.train_pair`.
    bug : Bug
        The planted bug.
    X : array-like of shape (n, *input_shape), or int, optional
        Inputs without the bug's signal; default ``bug.X_ood`` for an
        out-of-distribution bug, required for a spurious signal and randomized
        parameters. For noisy labels, how many flipped (and as many unflipped)
        training points to explain (default 50).
    methods : list of str or (name, params) pairs, optional
        Registry names, for example ``["gradient", "ig", ("lime", {"n_samples":
        500})]``; default the gradient family of the sanity checks
        (``xw.sanity.DEFAULT_METHODS``). Any registered explainer that applies to
        the models works.
    target : int or array-like of int, optional
        The class to explain; default each model's own prediction for each input.
    output : {"auto", "logit", "probability"}, default="auto"
        Passed to every explainer.
    progress : bool or callable, default=True
        Show a progress bar; or a callable ``f(done, total)`` called before the
        first map set and after each (``total``: methods x models x input kinds).
    threads : int or None, default=1
        Torch threads while explaining (see
        :func:`~xaiwidgets.core.threads.torch_threads`).

    Returns
    -------
    DebugMaps

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag")
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    >>> maps = xw.debugging.explain_pair(normal, buggy, bug, bug.clean.X_test[:4],
    ...                                  methods=["gradient"], progress=False)
    >>> maps["gradient", "buggy", "spurious"].shape
    (4, 1, 8, 8)
    """
    if not isinstance(bug, Bug):
        raise TypeError(f"bug must be a Bug from xw.bugs; got {type(bug).__name__}.")
    progress = _Progress.check(progress)
    normal = wrap(normal, bug.clean)
    buggy = wrap(buggy, bug.dataset)
    for name, model in (("normal", normal), ("buggy", buggy)):
        if model.input_shape != bug.dataset.input_shape:
            raise ValueError(
                f"The {name} model takes inputs of shape {model.input_shape}; the bug's data "
                f"have {bug.dataset.input_shape}."
            )
    inputs = _inputs(bug, X, buggy)
    ground_truth = bug.ground_truth(inputs["normal"]) if isinstance(bug, SpuriousSignal) else None
    models = {"normal": normal, "buggy": buggy}
    specs = _method_specs(list(DEFAULT_METHODS) if methods is None else methods, buggy, output)
    for _, cls, params in specs:  # the normal model must suit every method too
        cls(normal, **params)
    predictions = {
        (model_name, input_name): model.predict(data)
        for model_name, model in models.items()
        for input_name, data in inputs.items()
    }
    maps: dict[tuple[str, str, str], np.ndarray] = {}
    jobs = [(spec, m, i) for spec in specs for m in models for i in inputs]
    with torch_threads(threads), _Progress(progress, len(jobs), "explaining") as bar:
        bar.start()
        for spec, model_name, input_name in jobs:
            n = len(inputs[input_name])
            targets = (
                predictions[model_name, input_name]
                if target is None
                else np.broadcast_to(np.asarray(target), (n,))
            )
            maps[spec[0], model_name, input_name] = _explain(
                models[model_name], spec, inputs[input_name], targets, model_name
            )
            bar.step(f"{spec[0]}: {model_name} model, {input_name} inputs")
    return DebugMaps(
        maps=maps,
        ground_truth=ground_truth,
        inputs=inputs,
        predictions=predictions,
        kind=bug.kind,
    )


# ============================================================================ the measures
def _default_metrics(map_shape: tuple[int, ...]) -> list[str]:
    """Rank correlation of absolute maps, and SSIM where the maps are images."""
    applicable = metric_library.applicable(map_shape)
    return [name for name in ("spearman_abs", "ssim") if name in applicable]


def _summary(values: np.ndarray) -> tuple[float, float]:
    mean = float(np.mean(values))
    sem = float(stats.sem(values)) if len(values) > 1 else float("nan")
    return mean, sem


def measures(
    maps: DebugMaps,
    metrics: Sequence[str] | None = None,
    *,
    baseline: bool = True,
    seed: int = 0,
) -> pd.DataFrame:
    """The debugging measures of every method, as a tidy table.

    Parameters
    ----------
    maps : DebugMaps
        From :func:`explain_pair` (or built by hand).
    metrics : sequence of str, optional
        Names from ``xw.sanity.metrics.METRICS``; default ``["spearman_abs",
        "ssim"]`` for images and ``["spearman_abs"]`` for tabular maps.
    baseline : bool, default=True
        Add rows for ``method="random"``: the same measures on maps of i.i.d.
        standard normal values, drawn under ``seed``, in place of every map set.
    seed : int, default=0
        Seed of the random maps.

    Returns
    -------
    DataFrame
        Columns ``method``, ``measure``, ``metric``, ``mean``, ``sem`` (standard
        error of the mean over the inputs) and ``n``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(3, 1, 8, 8))
    >>> maps = DebugMaps({("m", "normal", "normal"): a, ("m", "buggy", "normal"): -a},
    ...                  kind="out_of_distribution")
    >>> table = measures(maps, baseline=False)
    >>> table[["metric", "mean"]].round(3).to_dict("records")
    [{'metric': 'spearman_abs', 'mean': 1.0}, {'metric': 'ssim', 'mean': 1.0}]
    """
    if not isinstance(maps, DebugMaps):
        raise TypeError(f"maps must be a DebugMaps from explain_pair; got {type(maps).__name__}.")
    shape = np.shape(next(iter(maps.maps.values())))[1:]
    names = _default_metrics(shape) if metrics is None else [str(m) for m in metrics]
    functions = _similarity_functions(names, shape, argument="metrics")
    seed = check_int(seed, "seed", low=0)

    sources: dict[str, dict[Any, np.ndarray]] = {
        method: {key[1:]: value for key, value in maps.maps.items() if key[0] == method}
        for method in maps.methods
    }
    if baseline:
        rng = numpy_rng(seed)
        keys = next(iter(sources.values()))
        sources[_RANDOM] = {key: rng.standard_normal(np.shape(v)) for key, v in keys.items()}
    rows = []
    for method, sets in sources.items():
        sets = {**sets, "ground_truth": maps.ground_truth}
        for measure in maps.measures:
            first, second = (sets[key] for key in MEASURES[measure])
            for name, function in functions.items():
                values = np.asarray(function(first, second, batch=True), dtype=float)
                mean, sem = _summary(values)
                rows.append(
                    {
                        "method": method,
                        "measure": measure,
                        "metric": name,
                        "mean": mean,
                        "sem": sem,
                        "n": len(values),
                    }
                )
    return pd.DataFrame(rows, columns=["method", "measure", "metric", "mean", "sem", "n"])


def report(
    normal: Any,
    buggy: Any,
    bug: Bug,
    X: Any = None,
    methods: Sequence[Any] | None = None,
    *,
    metrics: Sequence[str] | None = None,
    target: Any = None,
    output: str = "auto",
    baseline: bool = True,
    seed: int = 0,
    progress: bool = True,
    threads: int | None = 1,
) -> pd.DataFrame:
    """Which explanation methods catch the bug: :func:`explain_pair`, then :func:`measures`.

    Parameters
    ----------
    normal, buggy, bug, X, methods, target, output, progress, threads
        As in :func:`explain_pair`.
    metrics, baseline, seed
        As in :func:`measures`.

    Returns
    -------
    DataFrame
        Columns ``method``, ``measure``, ``metric``, ``mean``, ``sem``, ``n``; the
        measures of the bug kind (:data:`KIND_MEASURES`): K-SSD, CCM, FAM and FAM-GT
        for a spurious signal, "flipped" and "not flipped" for noisy labels,
        otherwise "normal vs buggy".

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag")
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    >>> table = xw.debugging.report(normal, buggy, bug, bug.clean.X_test[:10],
    ...                             methods=["gradient", "ig"], progress=False)
    >>> sorted(table["measure"].unique())
    ['CCM', 'FAM', 'FAM-GT', 'K-SSD']
    """
    maps = explain_pair(
        normal,
        buggy,
        bug,
        X,
        methods,
        target=target,
        output=output,
        progress=progress,
        threads=threads,
    )
    return measures(maps, metrics, baseline=baseline, seed=seed)
