"""Randomization sanity checks for attribution methods (Adebayo et al. 2018).

Julius Adebayo, Justin Gilmer, Michael Muelly, Ian Goodfellow, Moritz Hardt and Been
Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018. An explanation that is meant to
say what *the model* does must change when the model is destroyed:

- **model-parameter randomization** (:func:`model_randomization`): re-initialize the
  layers of the trained network, top layer first, one more layer per stage
  ("cascading") or one layer at a time ("independent"), and compare each method's maps
  with those of the trained model;
- **data randomization** (:func:`data_randomization`): train the same architecture on
  permuted labels until it memorizes them and compare its maps with those of the
  model trained on the true labels.

Similarities come from :mod:`xaiwidgets.analysis.metrics` (rank correlation of
absolute and signed maps, SSIM, HOG), next to a chance band from shuffled maps. All
work happens on deep copies: the caller's model is bit-for-bit unchanged and the
global torch random state is untouched.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.dataset import Dataset
from ..core.explainer import Explainer, available, get
from ..core.model import Model, wrap
from ..core.seeding import numpy_rng
from ..core.threads import torch_threads
from ..core.validation import check_batch, check_int, check_option, check_real, check_targets
from . import metrics

__all__ = [
    "DEFAULT_METHODS",
    "SanityResult",
    "clear_cache",
    "data_randomization",
    "layers",
    "metrics",
    "model_randomization",
    "randomize",
]

DEFAULT_METHODS = ("gradient", "smoothgrad", "gradient_x_input", "ig", "guided_backprop")
"""The methods of the paper that the registry provides, in the order of its figures."""

Init = str | Callable[[torch.nn.Module], None]
Progress = bool | Callable[[int, int], Any]

# Truncated normal re-initialization: N(0, std^2) cut at +-2 std, biases zero.
_TRUNCATED_STD = 0.01
_CACHE_SIZE = 8
_CALIBRATION_ROWS = 512


# ============================================================================ layers
def _torch_model(model: Any, name: str = "model") -> Model:
    wrapped = wrap(model)
    if wrapped.source != "torch":
        raise TypeError(
            f"{name} must be a torch model to randomize its parameters; this one wraps a "
            f"{wrapped.source} predictor ({type(wrapped.predictor).__name__}). Use "
            "data_randomization for models that can only be retrained."
        )
    return wrapped


def _parameterized(module: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """Modules that own parameters, top-down (the last one in definition order first)."""
    found = [
        (name, sub)
        for name, sub in module.named_modules()
        if next(sub.parameters(recurse=False), None) is not None
    ]
    return found[::-1]


def layers(model: Any) -> list[str]:
    """The randomizable layers of a torch model, top-down (logits first).

    A layer is a module that owns parameters itself (``Linear``, ``Conv2d``,
    ``BatchNorm2d``, ...); they are listed in the reverse of the order in which
    ``named_modules()`` meets them, which for sequential networks is output to input.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A torch classifier.

    Returns
    -------
    list of str
        Module names as ``named_modules()`` gives them (``""`` for a root module
        that owns parameters).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> xw.sanity.layers(xw.zoo.train_cnn(ds))
    ['7', '5', '2', '0']
    """
    module = model if isinstance(model, torch.nn.Module) else _torch_model(model).torch_module
    return [name for name, _ in _parameterized(module)]


def _layer_label(name: str, module: torch.nn.Module) -> str:
    kind = type(module).__name__
    return f"{kind} {name}" if name else kind


def _layer_seed(seed: int, index: int) -> int:
    """The torch seed of layer ``index`` (top-down): independent of the order chosen."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _check_init(init: Init, targets: Sequence[tuple[str, torch.nn.Module]]) -> Init:
    if callable(init):
        return init
    check_option(init, "init", ["reset", "truncated_normal"])
    if init == "reset":
        for name, module in targets:
            if not callable(getattr(module, "reset_parameters", None)):
                raise TypeError(
                    f"Layer {name!r} ({type(module).__name__}) has parameters but no "
                    "reset_parameters() method; pass init='truncated_normal' or a callable "
                    "that re-initializes a module in place."
                )
    return init


def _reinitialize(module: torch.nn.Module, init: Init, seed: int) -> None:
    """Re-initialize one layer in place under ``seed``; the global RNG is restored."""
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        if callable(init):
            init(module)
        elif init == "reset":
            module.reset_parameters()
        else:
            for name, parameter in module.named_parameters(recurse=False):
                if name == "bias":
                    parameter.zero_()
                else:
                    torch.nn.init.trunc_normal_(
                        parameter,
                        std=_TRUNCATED_STD,
                        a=-2 * _TRUNCATED_STD,
                        b=2 * _TRUNCATED_STD,
                    )
            if callable(getattr(module, "reset_running_stats", None)):
                module.reset_running_stats()


def _select_layers(
    module: torch.nn.Module, names: Sequence[str] | None
) -> list[tuple[int, str, torch.nn.Module]]:
    """(top-down index, name, module) of the chosen layers, in top-down order."""
    every = _parameterized(module)
    if names is None:
        return [(i, name, sub) for i, (name, sub) in enumerate(every)]
    if isinstance(names, str):
        names = [names]
    known = {name: i for i, (name, _) in enumerate(every)}
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise ValueError(
            f"layers must name randomizable layers of the model, top-down: {list(known)}; "
            f"got {list(names)!r}."
        )
    chosen = sorted({known[n] for n in names})
    return [(i, every[i][0], every[i][1]) for i in chosen]


def randomize(
    model: Any, layers: Sequence[str] | str | None = None, *, init: Init = "reset", seed: int = 0
) -> Model:
    """A copy of ``model`` with some layers re-initialized; the original is untouched.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A torch classifier.
    layers : str, sequence of str or None, default=None
        The layers to re-initialize (names from :func:`layers`); ``None`` means all.
    init : {"reset", "truncated_normal"} or callable, default="reset"
        ``"reset"``: each layer's own ``reset_parameters()``, the initialization
        PyTorch trains from (batch-norm layers also reset their running statistics).
        ``"truncated_normal"``: weights from N(0, 0.01^2) truncated at two standard
        deviations and biases zero, the kind of initializer of the paper's
        TensorFlow models. A callable ``init(module)`` re-initializes a module in place.
    seed : int, default=0
        Each layer is drawn under a seed derived from ``seed`` and its top-down
        position, so a layer gets the same weights whichever other layers are
        randomized with it.

    Returns
    -------
    Model
        A new model around a deep copy of the module.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> r = xw.sanity.randomize(m, ["7"])
    >>> float((r.predict(ds.X_test) == ds.y_test).mean()) < 0.5
    True
    """
    wrapped = _torch_model(model)
    seed = check_int(seed, "seed", low=0)
    module = copy.deepcopy(wrapped.torch_module)
    chosen = _select_layers(module, layers)
    init = _check_init(init, [(name, sub) for _, name, sub in chosen])
    for index, _, sub in chosen:
        _reinitialize(sub, init, _layer_seed(seed, index))
    return wrapped.with_module(module)


def _recompute_batchnorm(module: torch.nn.Module, calibration: np.ndarray) -> None:
    """Re-estimate every batch-norm layer's running statistics on ``calibration``.

    Only the batch-norm layers run in training mode (cumulative averages,
    ``momentum=None``), without gradients; everything else stays in eval mode.
    """
    norms = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    dtype = next(module.parameters()).dtype
    saved = [(m, m.momentum) for m in norms]
    module.eval()
    try:
        for norm in norms:
            norm.reset_running_stats()
            norm.momentum = None
            norm.train()
        with torch.no_grad():
            module(torch.tensor(calibration, dtype=dtype))
    finally:
        for norm, momentum in saved:
            norm.momentum = momentum
        module.eval()


# ============================================================================ the result
class SanityResult:
    """Maps and similarities of a randomization sanity check.

    Returned by :func:`model_randomization` and :func:`data_randomization`. Stage 0
    is the trained model; each later stage is a randomized model (a randomization
    step of the model, or the model trained on random labels).

    Attributes
    ----------
    kind : {"model", "data"}
        Which test produced it.
    order : {"cascading", "independent"} or None
        The layer order of a model-randomization test.
    methods : list of str
        The methods, as labelled in the table.
    metrics : list of str
        The similarity metrics.
    stages : list of int
        ``0 .. n_stages - 1``.
    stage_labels : list of str
        A label per stage: ``"original"`` then the layer randomized at that stage
        (``"Linear 7"``), or ``"true labels"`` / ``"random labels"``.
    layers : list of str
        The module name randomized at each stage (``"none"`` at stage 0).
    X : ndarray of shape (n, *input_shape)
        The explained inputs (read-only).
    targets, predictions : dict of int to ndarray of shape (n,)
        Per stage: the explained classes and the model's predicted classes.
    maps : dict of (method, stage) to ndarray of shape (n, *input_shape)
        The attribution maps, inputs first (read-only arrays).
    table : DataFrame
        One row per (method, stage, layer, input, metric) with the similarity to
        the stage-0 map in column ``value``.
    baseline : DataFrame
        The same metrics between each stage-0 map and shuffles of it: columns
        ``method, input, draw, metric, value`` (computed on first use).
    accuracy : DataFrame or None
        Data randomization: per model, its accuracy on the training labels it was
        fitted to and on the true test labels.
    models : dict of str to Model
        Data randomization: ``{"true labels": ..., "random labels": ...}``.
    params : dict
        The settings of the check.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> r = xw.sanity.model_randomization(m, ds.X_test[:4], ["gradient"], progress=False)
    >>> r.stage_labels
    ['original', 'Linear 7', 'Linear 5', 'Conv2d 2', 'Conv2d 0']
    >>> r.table.columns.tolist()
    ['method', 'stage', 'layer', 'input', 'metric', 'value']
    """

    def __init__(
        self,
        *,
        kind: str,
        order: str | None,
        methods: list[str],
        metrics: list[str],
        stage_labels: list[str],
        layers: list[str],
        X: np.ndarray,
        targets: dict[int, np.ndarray],
        predictions: dict[int, np.ndarray],
        maps: dict[tuple[str, int], np.ndarray],
        table: pd.DataFrame,
        baseline: Callable[[dict[tuple[str, int], np.ndarray]], pd.DataFrame],
        params: dict[str, Any],
        accuracy: pd.DataFrame | None = None,
        models: dict[str, Model] | None = None,
    ) -> None:
        self.kind = kind
        self.order = order
        self.methods = list(methods)
        self.metrics = list(metrics)
        self.stage_labels = list(stage_labels)
        self.layers = list(layers)
        self.X = _read_only(X)
        self.targets = {k: _read_only(v) for k, v in targets.items()}
        self.predictions = {k: _read_only(v) for k, v in predictions.items()}
        self._maps = {k: _read_only(v) for k, v in maps.items()}
        self._table = table
        self._baseline_fn = baseline
        self._baseline: pd.DataFrame | None = None
        self._baseline_lock = threading.Lock()
        self._accuracy = accuracy
        self.models = dict(models or {})
        self.params = dict(params)

    # ------------------------------------------------------------------ data
    @property
    def stages(self) -> list[int]:
        """Stage numbers, ``0`` (trained) to the last randomization."""
        return list(range(len(self.stage_labels)))

    @property
    def maps(self) -> dict[tuple[str, int], np.ndarray]:
        """``{(method, stage): maps of shape (n, *input_shape)}`` (read-only arrays)."""
        return dict(self._maps)

    @property
    def table(self) -> pd.DataFrame:
        """Tidy similarities: method, stage, layer, input, metric, value (a copy)."""
        return self._table.copy()

    @property
    def baseline(self) -> pd.DataFrame:
        """Chance-level similarities: method, input, draw, metric, value (a copy).

        Computed on first use (the shuffles cost about as much as the check itself)
        and kept.
        """
        return self._baseline_table().copy()

    def _baseline_table(self) -> pd.DataFrame:
        with self._baseline_lock:
            if self._baseline is None:
                self._baseline = self._baseline_fn(self._maps)
            return self._baseline

    @property
    def accuracy(self) -> pd.DataFrame | None:
        """Data randomization: train and test accuracy of both models (a copy)."""
        return None if self._accuracy is None else self._accuracy.copy()

    def summary(self, inputs: Sequence[int] | None = None) -> pd.DataFrame:
        """Mean and spread of each similarity over the inputs.

        Parameters
        ----------
        inputs : sequence of int, optional
            Which inputs (rows of :attr:`X`) to average over; all by default.

        Returns
        -------
        DataFrame
            Columns ``method, stage, layer, metric, mean, std, sem, n``, one row per
            (method, stage, metric); ``std`` is the sample standard deviation (0 for
            one input).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_digits()
        >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
        >>> r = xw.sanity.model_randomization(m, ds.X_test[:4], ["gradient"], progress=False)
        >>> r.summary().query("stage == 0")["mean"].tolist()
        [1.0, 1.0, 1.0]
        """
        table = self._select_inputs(self._table, inputs)
        grouped = table.groupby(["method", "stage", "layer", "metric"], sort=False)["value"]
        out = grouped.agg(["mean", "std", "count"]).reset_index()
        out["std"] = out["std"].fillna(0.0)
        out = out.rename(columns={"count": "n"})
        out["sem"] = out["std"] / np.sqrt(out["n"])
        return out[["method", "stage", "layer", "metric", "mean", "std", "sem", "n"]]

    def baseline_band(
        self, level: float = 0.9, inputs: Sequence[int] | None = None
    ) -> pd.DataFrame:
        """The central ``level`` interval of the chance-level similarities.

        Parameters
        ----------
        level : float, default=0.9
            Coverage of the band: 0.9 gives the 5th to 95th percentile of the
            similarities between the original maps and their shuffles.
        inputs : sequence of int, optional
            Which inputs to pool; all by default.

        Returns
        -------
        DataFrame
            Columns ``method, metric, low, median, high``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_digits()
        >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
        >>> r = xw.sanity.model_randomization(m, ds.X_test[:4], ["gradient"], progress=False)
        >>> band = r.baseline_band().set_index("metric")
        >>> bool(band.loc["spearman", "low"] < 0 < band.loc["spearman", "high"])
        True
        """
        level = check_real(level, "level", low=0.0, high=1.0, low_inclusive=False)
        table = self._select_inputs(self._baseline_table(), inputs)
        grouped = table.groupby(["method", "metric"], sort=False)["value"]
        tail = (1 - level) / 2
        return pd.DataFrame(
            {
                "low": grouped.quantile(tail),
                "median": grouped.median(),
                "high": grouped.quantile(1 - tail),
            }
        ).reset_index()

    def _select_inputs(self, table: pd.DataFrame, inputs: Sequence[int] | None) -> pd.DataFrame:
        if inputs is None:
            return table
        rows = [check_int(i, "inputs", low=0, high=len(self.X) - 1) for i in np.atleast_1d(inputs)]
        if not rows:
            raise ValueError("inputs is empty; select at least one input.")
        return table[table["input"].isin(rows)]

    # ------------------------------------------------------------------ plots
    def plot_strip(
        self,
        index: int = 0,
        *,
        methods: Sequence[str] | None = None,
        stages: Sequence[int] | None = None,
        mode: str = "absolute",
        clip_percentile: float = 99.0,
        fig: Any = None,
    ) -> Any:
        """Maps of one input: rows are methods, columns the input and each stage.

        Each map is scaled on its own by
        :func:`~xaiwidgets.plotting.normalize_for_display`, whose rule is printed
        under the figure; the numbers in :attr:`table` come from the raw maps.

        Parameters
        ----------
        index : int, default=0
            Which input (row of :attr:`X`).
        methods : sequence of str, optional
            Rows; all methods by default.
        stages : sequence of int, optional
            Columns after the input; all stages by default.
        mode : {"absolute", "diverging"}, default="absolute"
            Magnitude or signed colouring.
        clip_percentile : float, default=99.0
            See :func:`~xaiwidgets.plotting.normalize_for_display`.
        fig : matplotlib Figure, optional
            Drawn into (cleared first); a new figure is made when omitted.

        Returns
        -------
        matplotlib Figure

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_digits()
        >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
        >>> r = xw.sanity.model_randomization(m, ds.X_test[:2], ["gradient"], progress=False)
        >>> len(r.plot_strip(1).axes)
        6
        """
        from ..plotting import plot_map_strip

        index = check_int(index, "index", low=0, high=len(self.X) - 1)
        methods = self._check_methods(methods)
        stages = self.stages if stages is None else [self._check_stage(s) for s in stages]
        rows = {m: [self._maps[(m, s)][index] for s in stages] for m in methods}
        labels = [self.stage_labels[s] for s in stages]
        return plot_map_strip(
            self.X[index],
            rows,
            labels,
            feature_names=self._feature_names(),
            mode=mode,
            clip_percentile=clip_percentile,
            fig=fig,
        )

    def plot_curves(
        self,
        metrics: Sequence[str] | None = None,
        *,
        methods: Sequence[str] | None = None,
        inputs: Sequence[int] | None = None,
        spread: str = "std",
        level: float = 0.9,
        axes: Any = None,
    ) -> np.ndarray:
        """Each similarity metric against the stage, one line per method.

        Lines are means over the inputs with a shaded ``spread``; a dashed line
        marks where randomization begins; the grey band is the chance level
        (:meth:`baseline_band`, pooled over methods).

        Parameters
        ----------
        metrics : sequence of str, optional
            One panel per metric; all by default.
        methods : sequence of str, optional
            Lines; all methods by default.
        inputs : sequence of int, optional
            Inputs to average over; all by default.
        spread : {"std", "sem", "none"}, default="std"
            The shaded spread around each mean.
        level : float, default=0.9
            Coverage of the baseline band.
        axes : sequence of matplotlib Axes, optional
            One per metric; a new figure with one row of panels is made when omitted.

        Returns
        -------
        ndarray of matplotlib Axes

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_digits()
        >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
        >>> r = xw.sanity.model_randomization(m, ds.X_test[:2], ["gradient"], progress=False)
        >>> [ax.get_title() for ax in r.plot_curves(["spearman", "ssim"])]
        ['Spearman rank correlation (signed)', 'SSIM (|map| / max)']
        """
        import matplotlib.pyplot as plt

        from ..plotting import plot_similarity_curve

        metrics = self._check_metrics(metrics)
        methods = self._check_methods(methods)
        spread = check_option(spread, "spread", ["std", "sem", "none"])
        if axes is None:
            _, axes = plt.subplots(
                1,
                len(metrics),
                figsize=(3.9 * len(metrics) + 1.4, 3.4),
                squeeze=False,
                layout="constrained",
            )
        axes = np.ravel(np.asarray(axes, dtype=object))
        if len(axes) != len(metrics):
            raise ValueError(
                f"axes must hold one Axes per metric ({len(metrics)}); got {len(axes)}."
            )
        summary = self.summary(inputs)
        band = self.baseline_band(level, inputs)
        for i, (ax, metric) in enumerate(zip(axes, metrics, strict=True)):
            plot_similarity_curve(
                summary[summary["method"].isin(methods)],
                metric,
                stage_labels=self.stage_labels,
                band=band,
                spread=spread,
                title=_metric_label(metric),
                colors=self._colors(),
                legend=i == len(metrics) - 1,
                ax=ax,
            )
        return axes

    def plot_bars(
        self,
        stage: int = -1,
        *,
        metrics: Sequence[str] | None = None,
        methods: Sequence[str] | None = None,
        inputs: Sequence[int] | None = None,
        level: float = 0.9,
        ax: Any = None,
    ) -> Any:
        """Similarity to the trained model at one stage: bars per method and metric.

        The data-randomization view (stage 1: the random-label model), usable for any
        stage. Error bars are one standard deviation over the inputs; grey marks
        show each metric's chance band.

        Parameters
        ----------
        stage : int, default=-1
            The stage (negative counts from the end).
        metrics, methods, inputs
            Subsets; all by default.
        level : float, default=0.9
            Coverage of the chance band.
        ax : matplotlib Axes, optional
            Where to draw.

        Returns
        -------
        matplotlib Axes

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_digits()
        >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
        >>> r = xw.sanity.model_randomization(m, ds.X_test[:2], ["gradient"], progress=False)
        >>> len(r.plot_bars(metrics=["spearman"]).patches)
        1
        """
        from ..plotting import plot_similarity_bars

        stage = self._check_stage(stage)
        metrics = self._check_metrics(metrics)
        methods = self._check_methods(methods)
        summary = self.summary(inputs)
        summary = summary[
            (summary["stage"] == stage)
            & summary["method"].isin(methods)
            & summary["metric"].isin(metrics)
        ]
        return plot_similarity_bars(
            summary,
            metrics=metrics,
            methods=methods,
            band=self.baseline_band(level, inputs),
            metric_labels={m: _metric_label(m) for m in metrics},
            colors=self._colors(),
            title=f"{self.stage_labels[stage]} vs {self.stage_labels[0]}",
            ax=ax,
        )

    # ------------------------------------------------------------------ helpers
    def _colors(self) -> dict[str, Any]:
        import matplotlib.pyplot as plt

        cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        return {m: cycle[i % len(cycle)] for i, m in enumerate(self.methods)}

    def _feature_names(self) -> list[str] | None:
        names = self.params.get("feature_names")
        return list(names) if names is not None else None

    def _check_stage(self, stage: Any) -> int:
        n = len(self.stage_labels)
        stage = check_int(stage, "stage", low=-n, high=n - 1)
        return stage % n

    def _check_methods(self, methods: Sequence[str] | None) -> list[str]:
        if methods is None:
            return self.methods
        methods = [methods] if isinstance(methods, str) else list(methods)
        for m in methods:
            check_option(m, "methods", self.methods)
        return methods

    def _check_metrics(self, names: Sequence[str] | None) -> list[str]:
        if names is None:
            return self.metrics
        names = [names] if isinstance(names, str) else list(names)
        for m in names:
            check_option(m, "metrics", self.metrics)
        return names

    def __repr__(self) -> str:
        what = (
            f"{self.order} model randomization" if self.kind == "model" else "data randomization"
        )
        return (
            f"SanityResult({what}: {len(self.methods)} methods x {len(self.stage_labels)} "
            f"stages x {len(self.X)} inputs; metrics {self.metrics})"
        )


def _metric_label(name: str) -> str:
    return metrics.METRICS[name].label if name in metrics.METRICS else name


def _read_only(array: np.ndarray) -> np.ndarray:
    array = np.array(array, copy=True)
    array.flags.writeable = False
    return array


# ============================================================================ shared machinery
MethodSpec = tuple[str, type[Explainer], dict[str, Any]]


def _method_specs(methods: Any, model: Model, output: str) -> list[MethodSpec]:
    """Resolve ``methods`` into (label, explainer class, parameters); checked on ``model``."""
    if methods is None:
        methods = list(DEFAULT_METHODS) if model.differentiable else available(model)
    elif isinstance(methods, str):
        methods = [methods]
    specs: list[MethodSpec] = []
    for item in methods:
        if isinstance(item, str):
            name, params = item, {}
        elif (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Mapping)
        ):
            name, params = item[0], dict(item[1])
        else:
            raise TypeError(
                "methods must be a list of registry names or (name, parameters) pairs, for "
                f"example ['gradient', ('smoothgrad', {{'n_samples': 20}})]; got {item!r}."
            )
        cls = get(name)
        params.setdefault("output", output)
        cls(model, **params)  # validate the parameters once, on the trained model
        specs.append((cls.name, cls, params))
    labels = [label for label, _, _ in specs]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise ValueError(f"methods lists {duplicates} more than once; list each method once.")
    if not specs:
        raise ValueError("methods is empty; name at least one explainer.")
    return specs


def _similarity_functions(
    similarity: Any, map_shape: tuple[int, ...], argument: str = "similarity"
) -> dict[str, Callable]:
    """Resolve ``similarity`` into {name: f(a, b, batch=True)}.

    ``argument`` is the caller's name for it, used in error messages.
    """
    if similarity is None:
        return {name: metrics.METRICS[name].function for name in metrics.applicable(map_shape)}
    if isinstance(similarity, Mapping):
        functions = {}
        for name, function in similarity.items():
            if not isinstance(name, str) or not callable(function):
                raise TypeError(
                    f"{argument} as a mapping must map names to functions f(a, b, batch=True); "
                    f"got {name!r}: {type(function).__name__}."
                )
            functions[name] = function
    else:
        names = [similarity] if isinstance(similarity, str) else list(similarity)
        functions = {}
        for name in names:
            metric = metrics.get(name)
            if not metric.applies_to(map_shape):
                raise ValueError(
                    f"{argument}: the metric {name!r} does not apply to maps of shape "
                    f"{map_shape}; metrics that do: {metrics.applicable(map_shape)}."
                )
            functions[name] = metric.function
    if not functions:
        raise ValueError(f"{argument} is empty; name at least one similarity metric.")
    return functions


def _resolve_targets(target: Any, n: int, n_classes: int) -> Any:
    """'original' / 'predicted' stay strings; anything else becomes class indices."""
    if isinstance(target, str):
        return check_option(target, "target", ["original", "predicted"])
    return check_targets(target, n, n_classes)


def _explain(
    model: Model, spec: MethodSpec, X: np.ndarray, targets: np.ndarray, stage: str
) -> np.ndarray:
    """One method's maps of ``X`` on one stage's model, checked to be finite."""
    _, cls, params = spec
    values = np.asarray(cls(model, **params).explain(X, target=targets).values, dtype=float)
    if not np.all(np.isfinite(values)):
        raise ValueError(
            f"{cls.__name__} gave non-finite attributions for the model at stage {stage!r}; "
            "its outputs are probably too large. Try init='truncated_normal' or "
            "batchnorm='recompute'."
        )
    return values


def _check_outputs(model: Model, X: np.ndarray, stage: str) -> np.ndarray:
    outputs = model.outputs(X, model.default_output)
    if not np.all(np.isfinite(outputs)):
        raise ValueError(
            f"The randomized model at stage {stage!r} gives non-finite outputs. With "
            "batch normalization, pass batchnorm='recompute' to re-estimate its running "
            "statistics; otherwise try init='truncated_normal'."
        )
    return outputs


class _Progress:
    """A tqdm.auto bar, a user callback ``f(done, total)``, or nothing."""

    def __init__(self, progress: Progress, total: int, description: str) -> None:
        self._callback = progress if callable(progress) else None
        self._bar = None
        if progress is True:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=description, leave=False)
        self.done, self.total = 0, total

    @staticmethod
    def check(progress: Any) -> Progress:
        """Raise ``TypeError`` unless ``progress`` is a bool or a callable."""
        if not (isinstance(progress, bool) or callable(progress)):
            raise TypeError(
                f"progress must be True, False or a callable f(done, total); got {progress!r}."
            )
        return progress

    def start(self) -> None:
        """Report that nothing is done yet (a callback learns the total up front)."""
        if self._callback is not None:
            self._callback(0, self.total)

    def step(self, text: str) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.update()
        if self._callback is not None:
            self._callback(self.done, self.total)

    def __enter__(self) -> _Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._bar is not None:
            self._bar.close()


def _similarities(
    maps: dict[tuple[str, int], np.ndarray],
    methods: list[str],
    n_stages: int,
    functions: dict[str, Callable],
    layer_names: list[str],
) -> pd.DataFrame:
    """The tidy table: every stage's maps against stage 0, per method and metric."""
    columns: dict[str, list[Any]] = {k: [] for k in ("method", "stage", "layer", "metric")}
    values, inputs = [], []
    for method in methods:
        reference = maps[(method, 0)]
        n = len(reference)
        for stage in range(n_stages):
            for name, function in functions.items():
                values.append(np.asarray(function(reference, maps[(method, stage)], batch=True)))
                inputs.append(np.arange(n))
                for key, value in zip(
                    columns, (method, stage, layer_names[stage], name), strict=True
                ):
                    columns[key].append(np.repeat(value, n))
    frame = pd.DataFrame({key: np.concatenate(parts) for key, parts in columns.items()})
    frame.insert(3, "input", np.concatenate(inputs))
    frame["value"] = np.concatenate(values).astype(float)
    return frame


def _baseline(
    maps: dict[tuple[str, int], np.ndarray],
    methods: list[str],
    functions: dict[str, Callable],
    n_draws: int,
    seed: int,
) -> pd.DataFrame:
    """Each method's stage-0 maps against shuffles of themselves, for every metric."""
    frames = []
    for method in methods:
        reference = maps[(method, 0)]
        for name, function in functions.items():
            values = metrics.permutation_baseline(
                reference, reference, function, n_draws=n_draws, seed=seed
            )
            inputs, draws = np.indices(values.shape)
            frames.append(
                pd.DataFrame(
                    {
                        "method": method,
                        "input": inputs.ravel(),
                        "draw": draws.ravel(),
                        "metric": name,
                        "value": values.ravel(),
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------------------- cache
_CACHE: OrderedDict[str, tuple[tuple[Any, ...], SanityResult]] = OrderedDict()


def clear_cache() -> None:
    """Forget every cached sanity-check result.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> xw.sanity.clear_cache()
    """
    _CACHE.clear()


def _module_fingerprint(module: torch.nn.Module) -> str:
    digest = hashlib.sha1(repr(module).encode())
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())
    return digest.hexdigest()


def _cache_key(parts: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """A hash of ``parts``; callables count by identity (kept alive with the entry)."""
    import joblib

    held = tuple(p for p in _flatten(parts) if callable(p))
    hashable = _replace_callables(parts)
    return joblib.hash(hashable), held


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, tuple | list):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield value


def _replace_callables(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return type(value)(_replace_callables(v) for v in value)
    if isinstance(value, dict):
        return {k: _replace_callables(v) for k, v in value.items()}
    if callable(value) and not isinstance(value, type):
        return ("callable", id(value))
    return value


def _cached(key: str | None) -> SanityResult | None:
    if key is None or key not in _CACHE:
        return None
    _CACHE.move_to_end(key)
    return _CACHE[key][1]


def _store(key: str | None, held: tuple[Any, ...], result: SanityResult) -> None:
    if key is None:
        return
    _CACHE[key] = (held, result)
    _CACHE.move_to_end(key)
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


# ============================================================================ model randomization
def model_randomization(
    model: Any,
    X: Any,
    methods: Sequence[Any] | None = None,
    *,
    order: str = "cascading",
    seed: int = 0,
    similarity: Sequence[str] | Mapping[str, Callable] | None = None,
    target: Any = "original",
    layers: Sequence[str] | None = None,
    init: Init = "reset",
    batchnorm: str = "keep",
    output: str = "auto",
    n_baseline: int = 16,
    progress: Progress = True,
    cache: bool = True,
    threads: int | None = 1,
) -> SanityResult:
    """Model-parameter randomization test (Adebayo et al. 2018, Sec. 3.1).

    Stage 0 explains the trained model. Layers are then re-initialized top-down
    (logits first): with ``order="cascading"`` stage *k* has the top *k* layers
    random, so the last stage is a fully random network; with
    ``order="independent"`` stage *k* has only the *k*-th layer random and all others
    trained. Every map is compared with the stage-0 map of the same input and method.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A trained torch classifier. Never modified: stages are built on deep copies.
    X : array-like of shape (n, *input_shape) or input_shape
        The inputs to explain.
    methods : sequence, optional
        Registry names (``"gradient"``, ``"ig"``, ``"lime"``, ...) or
        ``(name, parameters)`` pairs such as ``("smoothgrad", {"n_samples": 20})``.
        Each stage builds ``xw.explainers.get(name)(randomized_model, **parameters)``.
        Default: :data:`DEFAULT_METHODS`.
    order : {"cascading", "independent"}, default="cascading"
        How layers are randomized (see above).
    seed : int, default=0
        Seeds the re-initialization (see :func:`randomize`) and the chance band. The
        same seed gives the same result.
    similarity : sequence of str or mapping, optional
        Metric names from :mod:`xaiwidgets.analysis.metrics`, or
        ``{name: f(a, b, batch=True)}``; default: all that apply to the input shape
        (``spearman_abs``, ``spearman``, ``ssim`` for images, ``hog`` from 16x16).
    target : "original", "predicted", int or array-like, default="original"
        The explained class: the trained model's prediction (the same class at every
        stage), each randomized model's own prediction, or given classes.
    layers : sequence of str, optional
        Randomize only these layers (names from :func:`layers`); all by default.
    init : {"reset", "truncated_normal"} or callable, default="reset"
        How a layer is re-initialized (see :func:`randomize`).
    batchnorm : {"keep", "recompute"}, default="keep"
        ``"keep"``: running statistics stay as trained, except in a batch-norm layer
        that is itself re-initialized (it starts from mean 0, variance 1).
        ``"recompute"``: after each stage, re-estimate every batch-norm layer's running
        statistics on the model's training inputs (up to 512; else ``X``), so the
        randomized activations are standardized again. Either way a stage whose
        outputs are not finite raises an error.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output, unless a method's parameters say otherwise.
    n_baseline : int, default=16
        Shuffles per input for the chance band (computed when first used).
    progress : bool or callable, default=True
        A progress bar (``tqdm.auto``), or ``f(done, total)`` called after each step
        (raise from it to cancel).
    cache : bool, default=True
        Reuse the result of an identical earlier call (same weights, inputs and
        settings), so going back to a setting is instant.
    threads : int or None, default=1
        Torch threads while computing (restored after); small models run fastest on
        one (see :func:`~xaiwidgets.core.threads.torch_threads`). ``None`` keeps
        torch's setting.

    Returns
    -------
    SanityResult

    Raises
    ------
    TypeError
        If the model is not a torch model, or ``methods`` / ``init`` are malformed.
    ValueError
        For bad inputs, unknown methods, layers, metrics or options, or a randomized
        model with non-finite outputs.

    Notes
    -----
    Interrupting (``KeyboardInterrupt``, or an exception from ``progress``) leaves
    nothing behind: the caller's model is untouched and nothing is cached.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> r = xw.sanity.model_randomization(m, ds.X_test[:8], ["gradient", "gradient_x_input"],
    ...                                   progress=False)
    >>> s = r.summary().query("metric == 'spearman_abs' and stage == 4").set_index("method")
    >>> bool(s.loc["gradient_x_input", "mean"] > s.loc["gradient", "mean"] + 0.5)
    True
    """
    model = _torch_model(model)
    batch, _ = model.check_input(X, name="X")
    order = check_option(order, "order", ["cascading", "independent"])
    seed = check_int(seed, "seed", low=0)
    batchnorm = check_option(batchnorm, "batchnorm", ["keep", "recompute"])
    n_baseline = check_int(n_baseline, "n_baseline", low=1)
    threads = None if threads is None else check_int(threads, "threads", low=1)
    progress = _Progress.check(progress)
    output = model.resolve_output(output)
    specs = _method_specs(methods, model, output)
    functions = _similarity_functions(similarity, model.input_shape)
    target = _resolve_targets(target, len(batch), model.n_classes)
    chosen = _select_layers(model.torch_module, layers)
    init = _check_init(init, [(name, sub) for _, name, sub in chosen])

    key, held = None, ()
    if cache:
        key, held = _cache_key(
            (
                "model",
                _module_fingerprint(model.torch_module),
                batch,
                [(label, params) for label, _, params in specs],
                order,
                seed,
                list(functions.items()),
                target if isinstance(target, str) else target.tolist(),
                [name for _, name, _ in chosen],
                init,
                batchnorm,
                n_baseline,
                model.class_names,
            )
        )
        found = _cached(key)
        if found is not None:
            return found

    calibration = None
    if batchnorm == "recompute":
        dataset = model.dataset
        calibration = (
            np.asarray(dataset.X_train[:_CALIBRATION_ROWS]) if dataset is not None else batch
        )

    labels = ["original"] + [_layer_label(name, sub) for _, name, sub in chosen]
    layer_names = ["none"] + [name for _, name, _ in chosen]
    n_stages = len(labels)
    method_labels = [label for label, _, _ in specs]
    maps: dict[tuple[str, int], np.ndarray] = {}
    targets: dict[int, np.ndarray] = {}
    predictions: dict[int, np.ndarray] = {}
    bar = _Progress(progress, n_stages * len(specs), f"{order} randomization")
    with bar, torch_threads(threads):
        for stage, stage_model in enumerate(
            _randomized_stages(model, chosen, order, init, seed, calibration)
        ):
            outputs = _check_outputs(stage_model, batch, labels[stage])
            predictions[stage] = np.argmax(outputs, axis=1)
            if isinstance(target, np.ndarray):
                targets[stage] = target
            elif target == "predicted" or stage == 0:
                targets[stage] = predictions[stage]
            else:
                targets[stage] = targets[0]
            for spec in specs:
                maps[(spec[0], stage)] = _explain(
                    stage_model, spec, batch, targets[stage], labels[stage]
                )
                bar.step(f"{labels[stage]}: {spec[0]}")

    result = SanityResult(
        kind="model",
        order=order,
        methods=method_labels,
        metrics=list(functions),
        stage_labels=labels,
        layers=layer_names,
        X=batch,
        targets=targets,
        predictions=predictions,
        maps=maps,
        table=_similarities(maps, method_labels, n_stages, functions, layer_names),
        baseline=functools.partial(
            _baseline,
            methods=method_labels,
            functions=functions,
            n_draws=n_baseline,
            seed=seed,
        ),
        params={
            "order": order,
            "seed": seed,
            "target": target if isinstance(target, str) else "given",
            "init": init if isinstance(init, str) else getattr(init, "__name__", "callable"),
            "batchnorm": batchnorm,
            "methods": {label: dict(params) for label, _, params in specs},
            "n_baseline": n_baseline,
            "feature_names": model.feature_names if len(model.input_shape) == 1 else None,
        },
    )
    _store(key, held, result)
    return result


def _randomized_stages(
    model: Model,
    chosen: list[tuple[int, str, torch.nn.Module]],
    order: str,
    init: Init,
    seed: int,
    calibration: np.ndarray | None,
) -> Iterator[Model]:
    """Yield the trained model, then one randomized copy per stage.

    Cascading re-initializes one more layer of a single running copy per stage;
    independent starts each stage from a fresh copy of the trained module.
    """
    original = model.torch_module
    running = copy.deepcopy(original)
    # Even the trained stage is explained on a copy: guided backprop hooks its ReLUs.
    yield model.with_module(running if order == "cascading" else copy.deepcopy(original))
    for index, name, _ in chosen:
        module = running if order == "cascading" else copy.deepcopy(original)
        _reinitialize(dict(module.named_modules())[name], init, _layer_seed(seed, index))
        if calibration is not None:
            _recompute_batchnorm(module, calibration)
        yield model.with_module(module)


# ============================================================================ data randomization
def data_randomization(
    dataset: Dataset,
    train_fn: Callable[[Dataset], Any],
    methods: Sequence[Any] | None = None,
    *,
    X: Any = None,
    seed: int = 0,
    similarity: Sequence[str] | Mapping[str, Callable] | None = None,
    target: Any = "original",
    min_train_accuracy: float = 0.95,
    output: str = "auto",
    n_baseline: int = 16,
    progress: Progress = True,
    cache: bool = True,
    threads: int | None = 1,
) -> SanityResult:
    """Data randomization test (Adebayo et al. 2018, Sec. 3.2).

    ``train_fn`` trains one model on ``dataset`` and one, of the same architecture,
    on a copy whose training labels are randomly permuted. A network that fits the
    permuted labels has learned nothing that transfers (its test accuracy is at
    chance); a method whose maps stay similar to those of the true-label model is
    blind to what the model learned. Stage 0 is the true-label model, stage 1 the
    random-label model.

    Parameters
    ----------
    dataset : Dataset
        The training and test data. Not modified (the permuted copy is new).
    train_fn : callable
        ``train_fn(dataset) -> model`` (a torch module, scikit-learn classifier or
        :class:`~xaiwidgets.Model`). It must be able to memorize random labels, for
        example ``functools.partial(xw.zoo.train_mlp, hidden=(256, 256), epochs=80,
        weight_decay=0.0)`` on digits (zoo models are cached on disk).
    methods : sequence, optional
        As in :func:`model_randomization`.
    X : array-like, optional
        The inputs to explain; the first 8 test inputs by default.
    seed : int, default=0
        Seed of the label permutation and of the chance band.
    similarity : sequence of str or mapping, optional
        As in :func:`model_randomization`.
    target : "original", "predicted", int or array-like, default="original"
        The true-label model's predicted class for both models, each model's own
        prediction, or given classes.
    min_train_accuracy : float, default=0.95
        The random-label model should reach this accuracy on the labels it was
        trained on; a ``UserWarning`` says so when it does not (train longer).
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output.
    n_baseline : int, default=16
        Shuffles per input for the chance band.
    progress : bool or callable, default=True
        As in :func:`model_randomization`.
    cache : bool, default=True
        Reuse an identical earlier result (same data, ``train_fn`` object, settings).
    threads : int or None, default=1
        Torch threads while training and explaining (restored after); ``None`` keeps
        torch's setting.

    Returns
    -------
    SanityResult
        ``accuracy`` holds both models' train and test accuracy, ``models`` both
        models.

    Examples
    --------
    >>> import functools, xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> train = functools.partial(xw.zoo.train_mlp, hidden=(256, 256), epochs=80,
    ...                           weight_decay=0.0, progress=False)
    >>> r = xw.sanity.data_randomization(ds, train, ["gradient"], progress=False)
    >>> acc = r.accuracy.set_index("model")
    >>> bool(acc.loc["random labels", "train"] >= 0.95 and acc.loc["random labels", "test"] < 0.2)
    True
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"dataset must be an xaiwidgets Dataset (for example xw.datasets.load_digits()); "
            f"got {type(dataset).__name__}."
        )
    if not callable(train_fn):
        raise TypeError(
            "train_fn must be a function train_fn(dataset) -> model, for example "
            f"xw.zoo.train_mlp; got {type(train_fn).__name__}."
        )
    seed = check_int(seed, "seed", low=0)
    min_train_accuracy = check_real(min_train_accuracy, "min_train_accuracy", low=0.0, high=1.0)
    n_baseline = check_int(n_baseline, "n_baseline", low=1)
    threads = None if threads is None else check_int(threads, "threads", low=1)
    progress = _Progress.check(progress)
    batch, _ = check_batch(dataset.X_test[:8] if X is None else X, dataset.input_shape, name="X")
    functions = _similarity_functions(similarity, dataset.input_shape)
    target = _resolve_targets(target, len(batch), dataset.n_classes)

    key, held = None, ()
    if cache:
        key, held = _cache_key(
            (
                "data",
                dataset.name,
                dataset.X_train,
                dataset.y_train,
                dataset.X_test,
                dataset.y_test,
                train_fn,
                methods,
                batch,
                seed,
                list(functions.items()),
                target if isinstance(target, str) else target.tolist(),
                output,
                n_baseline,
            )
        )
        found = _cached(key)
        if found is not None:
            _warn_if_unfitted(found, min_train_accuracy)
            return found

    permuted = numpy_rng(seed).permutation(dataset.y_train)
    shuffled = dataset.replace(name=f"{dataset.name} (random labels)", y_train=permuted)
    bar = _Progress(progress, 4, "data randomization")
    with bar, torch_threads(threads):
        models = {}
        for label, data in (("true labels", dataset), ("random labels", shuffled)):
            models[label] = wrap(train_fn(data), dataset)
            bar.step(f"trained on {label}")
        trained = models["true labels"]
        output = trained.resolve_output(output)
        specs = _method_specs(methods, trained, output)
        maps, targets, predictions = {}, {}, {}
        for stage, label in enumerate(models):
            stage_model = models[label]
            predictions[stage] = stage_model.predict(batch)
            if isinstance(target, np.ndarray):
                targets[stage] = target
            elif target == "predicted" or stage == 0:
                targets[stage] = predictions[stage]
            else:
                targets[stage] = targets[0]
            for spec in specs:
                maps[(spec[0], stage)] = _explain(stage_model, spec, batch, targets[stage], label)
            bar.step(f"explained {label}")

    rows = []
    for label, stage_model, y_train in (
        ("true labels", models["true labels"], dataset.y_train),
        ("random labels", models["random labels"], permuted),
    ):
        rows.append(
            {
                "model": label,
                "train": float(np.mean(stage_model.predict(dataset.X_train) == y_train)),
                "test": float(np.mean(stage_model.predict(dataset.X_test) == dataset.y_test)),
            }
        )
    method_labels = [label for label, _, _ in specs]
    layer_names = ["none", "all (random labels)"]
    result = SanityResult(
        kind="data",
        order=None,
        methods=method_labels,
        metrics=list(functions),
        stage_labels=["true labels", "random labels"],
        layers=layer_names,
        X=batch,
        targets=targets,
        predictions=predictions,
        maps=maps,
        table=_similarities(maps, method_labels, 2, functions, layer_names),
        baseline=functools.partial(
            _baseline,
            methods=method_labels,
            functions=functions,
            n_draws=n_baseline,
            seed=seed,
        ),
        params={
            "seed": seed,
            "target": target if isinstance(target, str) else "given",
            "methods": {label: dict(params) for label, _, params in specs},
            "n_baseline": n_baseline,
            "min_train_accuracy": min_train_accuracy,
            "feature_names": trained.feature_names if len(trained.input_shape) == 1 else None,
        },
        accuracy=pd.DataFrame(rows),
        models=models,
    )
    _store(key, held, result)
    _warn_if_unfitted(result, min_train_accuracy)
    return result


def _warn_if_unfitted(result: SanityResult, min_train_accuracy: float) -> None:
    fitted = float(result.accuracy.set_index("model").loc["random labels", "train"])
    if fitted < min_train_accuracy:
        warnings.warn(
            f"The model trained on random labels fits only {fitted:.1%} of them (wanted "
            f"{min_train_accuracy:.0%}); the test is weaker. Let train_fn train longer, "
            "wider or without weight decay.",
            UserWarning,
            stacklevel=3,
        )
