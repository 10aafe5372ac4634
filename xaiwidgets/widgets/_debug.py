"""``DebugWidget``: the debugging lab (Adebayo 2022) as a widget.

The widget owns controls and layout; every model, map and number comes from
:mod:`xaiwidgets.bugs` (the planted bug and :func:`~xaiwidgets.bugs.train_pair`),
:mod:`xaiwidgets.debugging` (spurious score, :func:`~xaiwidgets.debugging.explain_pair`,
:func:`~xaiwidgets.debugging.measures`), :mod:`xaiwidgets.influence`
(:class:`~xaiwidgets.influence.InfluenceFunction`) and the plots of
:mod:`xaiwidgets.plotting`.
"""

from __future__ import annotations

import html
import operator
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import torch
import traitlets

from .. import bugs, debugging, influence
from ..analysis.sanity import DEFAULT_METHODS
from ..core.dataset import Dataset
from ..core.explainer import available
from ..core.model import Model, wrap
from ..core.validation import check_int, check_option, check_real
from ..plotting import (
    MapStrip,
    TrainingExamples,
    detection_curve,
    plot_debug_measures,
    plot_detection_curve,
)
from ..plotting._debugging import FLAG_COLOR
from ..zoo import accuracy, train_cnn, train_logreg, train_mlp
from ._base import COLOUR_MODES, FigureView, WidgetBase, _check_dataset, colour_mode_picker
from ._explainer import method_label
from ._flip import _badge, _fmt
from ._sanity import _remember, show_progress

__all__ = ["ARCHITECTURES", "BUGS", "DebugWidget"]

#: The bugs the picker offers, with their labels.
BUGS = {
    "spurious_signal": "spurious signal",
    "noisy_labels": "noisy labels",
    "out_of_distribution": "out of distribution",
}
#: The trainers of the architecture picker: (label, xw.zoo trainer).
ARCHITECTURES: dict[str, tuple[str, Callable[..., Any]]] = {
    "cnn": ("CNN", train_cnn),
    "mlp": ("MLP", train_mlp),
    "logreg": ("logistic regression", train_logreg),
}
_TABS = ("maps", "influence")
_PLACES = ("bottom-right", "bottom-left", "top-right", "top-left")
#: Pairs, map sets and influence objects remembered per widget.
_KEPT = 8
_NOTE = "font-size:0.9em;color:#555"


def _option_defaults(bug: str, dataset: Dataset) -> dict[str, Any]:
    """The options the picker starts from: keyword arguments of the ``xw.bugs`` function."""
    if bug == "spurious_signal":
        if dataset.kind == "image":
            return {
                "kind": "tag",
                "aligned_class": 0,
                "relabel": 0.05,
                "size": None,
                "place": "bottom-right",
                "sigma": 1.0,
                "seed": 0,
            }
        return {"kind": "column", "aligned_class": 0, "relabel": 0.05, "noise": 0.1, "seed": 0}
    if bug == "noisy_labels":
        return {"fraction": 0.2, "seed": 0}
    return {"in_classes": list(range(dataset.n_classes // 2))}


_MAKERS: dict[str, Callable[..., bugs.Bug]] = {
    "spurious_signal": bugs.spurious_signal,
    "noisy_labels": bugs.noisy_labels,
    "out_of_distribution": bugs.out_of_distribution,
}


def _architecture_hint(model: Any, dataset: Dataset) -> tuple[str | None, tuple[int, ...]]:
    """Which ``xw.zoo`` trainer resembles ``model``: (architecture, MLP hidden widths).

    A torch module with a ``Conv2d`` is a CNN; one ``Linear`` layer a logistic
    regression; several an MLP with the hidden widths of all but the last. Other
    models (scikit-learn, callables) give no hint.
    """
    if model is None:
        return None, ()
    wrapped = wrap(model, dataset)
    if wrapped.source != "torch":
        return None, ()
    modules = list(wrapped.torch_module.modules())
    if any(isinstance(m, torch.nn.Conv2d) for m in modules) and dataset.kind == "image":
        return "cnn", ()
    linear = [m for m in modules if isinstance(m, torch.nn.Linear)]
    if len(linear) == 1:
        return "logreg", ()
    if len(linear) > 1:
        return "mlp", tuple(m.out_features for m in linear[:-1])
    return None, ()


class _Artists:
    """A display of :class:`FigureView` made of given artists, drawn on every render."""

    def __init__(self) -> None:
        self.artists: list[Any] = []


class DebugWidget(WidgetBase):
    """The debugging lab: plant a bug, train a normal and a buggy model, compare.

    Julius Adebayo's thesis ("Towards Effective Tools for Debugging Machine Learning
    Models", MIT 2022) and Adebayo et al., "Debugging Tests for Model Explanations"
    (NeurIPS 2020), ask whether explanations reveal a bug planted in the training
    data. The widget walks through that test:

    1. **Pick a bug** and its options (the keyword arguments of the ``xw.bugs``
       function): a *spurious signal* aligned with one class (``"tag"``,
       ``"stripe"`` or ``"blur"`` on images, a ``"column"`` on tables), *noisy
       labels* (a fraction flipped), or *out of distribution* (the buggy model
       sees only some classes). Its description is shown.
    2. **Train** a normal model on the clean data and a buggy one of the same
       architecture on the contaminated data (:func:`xaiwidgets.bugs.train_pair`,
       cached; a progress bar runs meanwhile, on the widget's worker thread, so the
       notebook never blocks). Both models' test accuracy and, for a spurious
       signal, their spurious scores (thesis Def. 4.2.1; above 0.85: spurious,
       below 0.1: normal) are shown.
    3. **Maps** tab: the grid of one input's maps (rows: methods; columns: normal
       model / normal input, buggy / normal, buggy / spurious, normal / spurious;
       the ground truth outlined in green), from
       :func:`xaiwidgets.debugging.explain_pair`; under it the K-SSD / CCM / FAM
       (FAM-GT) table of :func:`xaiwidgets.debugging.measures` for one metric, with
       bars and the random-map baseline. Noisy labels compare flipped and kept
       training points, the other bugs "normal vs buggy".
    4. **Influence** tab: for the selected test input (with the spurious signal
       added, optionally), the top helpful and harmful training examples of the
       buggy or the normal model (Koh & Liang 2017, last layer, exact), with their
       labels; flipped labels (noisy labels) and inputs that carry the planted
       signal are marked. For noisy labels also the detection curve: the fraction
       of flipped labels found against the fraction of training data checked in
       order of self-influence, beside the training-loss order, with AUROC.

    Everything is remembered, so going back to a setting is instant. Errors
    appear inside the widget, which keeps working; nothing passed in is changed.

    Parameters
    ----------
    dataset : Dataset, optional
        The clean data (images or tables); defaults to the data set ``model`` was
        wrapped with.
    model : optional
        Used only as a hint for the architecture (never changed, never retrained):
        a torch module with a convolution selects the CNN of ``xw.zoo``, one with
        a single linear layer the logistic regression, other ReLU networks an MLP
        with the same hidden widths. Scikit-learn models and callables are
        ignored. So a Workbench builds its tab as ``DebugWidget(dataset, model)``.
    bug : {"spurious_signal", "noisy_labels", "out_of_distribution"}
    options : dict, optional
        Keyword arguments of the bug's function (for example ``{"kind":
        "stripe"}`` for :func:`~xaiwidgets.bugs.spurious_signal`, ``{"fraction":
        0.3}`` for :func:`~xaiwidgets.bugs.noisy_labels`, ``{"in_classes": [0, 1,
        2]}`` for :func:`~xaiwidgets.bugs.out_of_distribution`); the rest keep
        the widget's defaults.
    architecture : {"cnn", "mlp", "logreg"}, optional
        The ``xw.zoo`` trainer of both models; default the hint of ``model``, else
        ``"cnn"`` for images and ``"mlp"`` for tables (a CNN needs images).
    methods : sequence of str, optional
        Registry names of the explanation methods (rows of the grid); default the
        gradient family of the sanity checks.
    n_inputs : int, default=12
        How many inputs are explained: test inputs of the other classes for a
        spurious signal (the signal on an aligned-class input proves nothing),
        the first held-out inputs out of distribution, and that many flipped and
        as many kept training points for noisy labels.
    index : int, default=0
        Which of them the grid shows.
    mode : {"absolute", "diverging"}, default="absolute"
    metric : {"ssim", "spearman_abs"}, optional
        The metric of the table and bars; default SSIM for images.
    tab : {"maps", "influence"}, default="maps"
        The influence tab is computed when it is shown.
    influence_model : {"buggy", "normal"}, default="buggy"
    test_row : int, default=0
        The test input of the influence tab (a row of ``dataset.X_test``).
    with_signal : bool, default=True
        Spurious signal: explain the test input with the signal added.
    k : int, default=5
        Helpful and harmful training examples listed.
    damping : float, default=1e-3
        Of the influence function's Hessian.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.

    Attributes
    ----------
    planted : Bug
        The bug of the current options.
    normal, buggy : Model or None
        The trained pair shown.
    scores : dict
        ``{"normal": float, "buggy": float}``: spurious scores on the clean test
        set (spurious signal only; empty otherwise).
    accuracies : dict
        Test accuracy of each model on the clean test set.
    maps : DebugMaps or None
        The map sets of the grid and table.
    table : DataFrame
        :func:`~xaiwidgets.debugging.measures` of ``maps`` (what :meth:`wait`
        returns).
    top : DataFrame
        Influence tab: :meth:`~xaiwidgets.influence.InfluenceFunction.top` with a
        column ``flagged`` (flipped label or planted signal).
    detection : dict
        Noisy labels, influence tab: ``{"self-influence": AUROC, "training loss":
        AUROC}``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> w = xw.DebugWidget(xw.datasets.load_digits(), methods=["gradient", "ig"], n_inputs=4)
    >>> sorted(w.wait()["measure"].unique())
    ['CCM', 'FAM', 'FAM-GT', 'K-SSD']
    >>> w.scores["buggy"] > 0.85 > 0.1 > w.scores["normal"]
    True
    >>> w.set_bug("noisy_labels", fraction=0.2)
    >>> sorted(w.wait()["measure"].unique())
    ['flipped', 'not flipped']
    >>> w.close()
    """

    bug = traitlets.Unicode("spurious_signal", help="the bug kind")
    options = traitlets.Dict(help="keyword arguments of the bug's xw.bugs function")
    architecture = traitlets.Unicode("cnn", help="'cnn', 'mlp' or 'logreg'")
    methods = traitlets.List(traitlets.Unicode(), help="registry names of the methods")
    n_inputs = traitlets.Any(12, help="how many inputs are explained (an int)")
    index = traitlets.Any(0, help="the explained input the grid shows (an int)")
    mode = traitlets.Unicode("absolute", help="'absolute' or 'diverging' colours")
    metric = traitlets.Unicode("ssim", help="the metric of the table and bars")
    tab = traitlets.Unicode("maps", help="'maps' or 'influence'")
    influence_model = traitlets.Unicode("buggy", help="'buggy' or 'normal'")
    test_row = traitlets.Any(0, help="the test row of the influence tab (an int)")
    with_signal = traitlets.Bool(True, help="add the spurious signal to the test input")
    k = traitlets.Any(5, help="helpful and harmful training examples listed (an int)")
    damping = traitlets.Any(1e-3, help="damping of the influence function")
    planted = traitlets.Instance(bugs.Bug, read_only=True, help="the bug of the options")

    def __init__(
        self,
        dataset: Dataset | None = None,
        model: Any = None,
        *,
        bug: str = "spurious_signal",
        options: Mapping[str, Any] | None = None,
        architecture: str | None = None,
        methods: Sequence[str] | None = None,
        n_inputs: int = 12,
        index: int = 0,
        mode: str = "absolute",
        metric: str | None = None,
        tab: str = "maps",
        influence_model: str = "buggy",
        test_row: int = 0,
        with_signal: bool = True,
        k: int = 5,
        damping: float = 1e-3,
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(debounce_s=debounce_s, slow_s=slow_s)
        if dataset is not None and not isinstance(dataset, Dataset):
            raise TypeError(
                "dataset must be an xaiwidgets Dataset, the first argument: "
                f"DebugWidget(dataset, model=None); got {type(dataset).__name__}."
            )
        self.dataset = _check_dataset(dataset, model)
        hint, self._hidden = _architecture_hint(model, self.dataset)
        self._pairs: OrderedDict[Any, tuple[Model, Model]] = OrderedDict()
        self._summaries: OrderedDict[Any, dict[str, Any]] = OrderedDict()
        self._maps: OrderedDict[Any, tuple[debugging.DebugMaps, pd.DataFrame]] = OrderedDict()
        self._influences: OrderedDict[Any, influence.InfluenceFunction] = OrderedDict()
        self._detections: OrderedDict[Any, tuple[dict, dict[str, float]]] = OrderedDict()
        self._drawn: dict[str, Any] = {}
        self._strip: MapStrip | None = None
        self._examples: TrainingExamples | None = None
        self._outlines = _Artists()
        self._outlined: np.ndarray | None = None
        self._syncing = False
        self.normal: Model | None = None
        self.buggy: Model | None = None
        self.scores: dict[str, float] = {}
        self.accuracies: dict[str, float] = {}
        self.maps: debugging.DebugMaps | None = None
        self._table = pd.DataFrame()
        self._top = pd.DataFrame()
        self.detection: dict[str, float] = {}

        # ---------------------------------------------------------- state
        self.architecture = architecture or hint or self._architectures()[0]
        self.methods = list(DEFAULT_METHODS) if methods is None else list(methods)
        self.n_inputs = n_inputs
        self.index = index
        self.mode = mode
        self.metric = metric or ("ssim" if self.dataset.kind == "image" else "spearman_abs")
        self.tab = tab
        self.influence_model = influence_model
        self.test_row = test_row
        self.with_signal = with_signal
        self.k = k
        self.damping = damping
        self._setting_bug = False
        self.bug = bug
        self.options = {} if options is None else dict(options)
        self.set_trait("planted", self._make_bug(self.bug, self.options))

        self._build()
        self.observe(self._on_bug, names="bug")
        self.observe(self._on_options, names="options")
        self.observe(self._on_index, names=["index", "n_inputs"])
        self._recompute_on(
            [
                "options",
                "architecture",
                "methods",
                "n_inputs",
                "index",
                "mode",
                "metric",
                "tab",
                "influence_model",
                "test_row",
                "with_signal",
                "k",
                "damping",
            ]
        )
        self._request()

    # ------------------------------------------------------------------ controls
    def _architectures(self) -> list[str]:
        return ["cnn", "mlp", "logreg"] if self.dataset.kind == "image" else ["mlp", "logreg"]

    def _build(self) -> None:
        narrow = {"description_width": "86px"}
        names = self.dataset.class_names
        self.bug_picker = ipywidgets.ToggleButtons(
            options=[(label, key) for key, label in BUGS.items()],
            style={"button_width": "140px"},
            tooltips=[
                "a signal that predicts one class in the training data",
                "a fraction of the training labels replaced by another class",
                "the buggy model sees only some classes",
            ],
        )
        traitlets.link((self, "bug"), (self.bug_picker, "value"))
        self.architecture_picker = ipywidgets.Dropdown(
            options=[(ARCHITECTURES[a][0], a) for a in self._architectures()],
            description="architecture",
            style=narrow,
            layout=ipywidgets.Layout(width="260px"),
        )
        traitlets.link((self, "architecture"), (self.architecture_picker, "value"))

        # One control per option; each bug shows its own.
        signals = ("tag", "stripe", "blur") if self.dataset.kind == "image" else ("column",)
        slider = {"continuous_update": False, "style": narrow}
        self.option_controls: dict[str, ipywidgets.Widget] = {
            "kind": ipywidgets.ToggleButtons(
                options=signals, description="signal", style=narrow | {"button_width": "80px"}
            ),
            "aligned_class": ipywidgets.Dropdown(
                options=[(n, c) for c, n in enumerate(names)],
                description="aligned class",
                style=narrow,
                layout=ipywidgets.Layout(width="220px"),
            ),
            "relabel": ipywidgets.FloatSlider(
                min=0.0, max=0.2, step=0.01, description="relabel", **slider
            ),
            "size": ipywidgets.IntSlider(min=1, max=4, description="size (px)", **slider),
            "place": ipywidgets.Dropdown(
                options=_PLACES,
                description="place",
                style=narrow,
                layout=ipywidgets.Layout(width="220px"),
            ),
            "sigma": ipywidgets.FloatSlider(
                min=0.5, max=2.0, step=0.1, description="blur sigma", **slider
            ),
            "noise": ipywidgets.FloatSlider(
                min=0.0, max=0.5, step=0.05, description="noise", **slider
            ),
            "fraction": ipywidgets.FloatSlider(
                min=0.05, max=0.5, step=0.05, description="fraction", **slider
            ),
            "in_classes": ipywidgets.SelectMultiple(
                options=[(n, c) for c, n in enumerate(names)],
                rows=min(5, len(names)),
                description="in classes",
                style=narrow,
                layout=ipywidgets.Layout(width="220px"),
            ),
            "seed": ipywidgets.BoundedIntText(
                min=0,
                max=2**31 - 1,
                description="seed",
                style=narrow,
                layout=ipywidgets.Layout(width="170px"),
            ),
        }
        for name, control in self.option_controls.items():
            control.observe(self._reporting(self._on_option_control(name)), names="value")
        self.options_box = ipywidgets.VBox(layout=ipywidgets.Layout(width="330px"))
        self.bug_info = ipywidgets.HTML()
        self.scores_box = ipywidgets.HTML()
        self.progress = ipywidgets.IntProgress(
            value=0,
            min=0,
            max=1,
            style={"description_width": "initial", "bar_color": "#4c8bd6"},
            layout=ipywidgets.Layout(width="330px"),
        )

        # ---------------------------------------------------------- maps tab
        self.method_buttons = {
            name: ipywidgets.ToggleButton(
                description=method_label(name),
                tooltip=f"explain with {name}",
                layout=ipywidgets.Layout(width="auto"),
            )
            for name in dict.fromkeys([*DEFAULT_METHODS, *self.methods])
        }
        for button in self.method_buttons.values():
            button.observe(self._reporting(self._on_method_button), names="value")
        self.index_picker = ipywidgets.Dropdown(
            description="input",
            style={"description_width": "40px"},
            layout=ipywidgets.Layout(width="260px"),
        )
        self.index_picker.observe(self._reporting(self._on_index_picker), names="value")
        self.n_picker = ipywidgets.BoundedIntText(
            min=2,
            max=200,
            description="inputs",
            style={"description_width": "46px"},
            layout=ipywidgets.Layout(width="130px"),
            tooltip="how many inputs the table averages over",
        )
        traitlets.link((self, "n_inputs"), (self.n_picker, "value"))
        self.mode_picker = colour_mode_picker(description="")
        traitlets.link((self, "mode"), (self.mode_picker, "value"))
        metrics = ["ssim", "spearman_abs"] if self.dataset.kind == "image" else ["spearman_abs"]
        self.metric_picker = ipywidgets.Dropdown(
            options=[("SSIM", "ssim"), ("Spearman |map|", "spearman_abs")][-len(metrics) :],
            description="metric",
            style={"description_width": "46px"},
            layout=ipywidgets.Layout(width="200px"),
        )
        traitlets.link((self, "metric"), (self.metric_picker, "value"))
        self.grid_view = FigureView((6.0, 5.0))
        self.table_box = ipywidgets.HTML()
        self.bars_view = FigureView((5.6, 2.6))
        row = {"flex_flow": "row wrap", "align_items": "center"}
        maps_tab = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    list(self.method_buttons.values()), layout=ipywidgets.Layout(**row)
                ),
                ipywidgets.HBox(
                    [self.index_picker, self.n_picker, self.mode_picker, self.metric_picker],
                    layout=ipywidgets.Layout(**row),
                ),
                self.grid_view.image,
                self.table_box,
                self.bars_view.image,
            ]
        )

        # ---------------------------------------------------------- influence tab
        self.influence_model_picker = ipywidgets.ToggleButtons(
            options=[("buggy model", "buggy"), ("normal model", "normal")],
            style={"button_width": "100px"},
        )
        traitlets.link((self, "influence_model"), (self.influence_model_picker, "value"))
        self.test_row_picker = ipywidgets.BoundedIntText(
            min=0,
            max=len(self.dataset.X_test) - 1,
            description="test row",
            style={"description_width": "56px"},
            layout=ipywidgets.Layout(width="140px"),
        )
        traitlets.link((self, "test_row"), (self.test_row_picker, "value"))
        self.signal_box = ipywidgets.Checkbox(description="add the spurious signal", indent=False)
        traitlets.link((self, "with_signal"), (self.signal_box, "value"))
        self.k_picker = ipywidgets.BoundedIntText(
            min=1,
            max=20,
            description="top",
            style={"description_width": "30px"},
            layout=ipywidgets.Layout(width="100px"),
        )
        traitlets.link((self, "k"), (self.k_picker, "value"))
        self.input_info = ipywidgets.HTML()
        self.examples_view = FigureView((6.0, 3.0))
        self.examples_table = ipywidgets.HTML()
        self.detection_view = FigureView((4.4, 3.2))
        self.detection_note = ipywidgets.HTML()
        influence_tab = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [
                        self.influence_model_picker,
                        self.test_row_picker,
                        self.signal_box,
                        self.k_picker,
                    ],
                    layout=ipywidgets.Layout(**row),
                ),
                self.input_info,
                self.examples_view.image,
                self.examples_table,
                self.detection_note,
                self.detection_view.image,
            ]
        )
        self.tabs = ipywidgets.Tab(
            children=[maps_tab, influence_tab], titles=["maps", "influence"]
        )
        self.tabs.observe(self._reporting(self._on_tabs), names="selected_index")
        self.observe(self._on_tab, names="tab")

        heading = '<div style="margin:6px 0 2px 0;color:#555">{}</div>'.format
        panel = ipywidgets.VBox(
            [
                ipywidgets.HTML(heading("planted bug")),
                self.options_box,
                ipywidgets.HTML(heading("both models")),
                self.architecture_picker,
            ],
            layout=ipywidgets.Layout(width="340px", min_width="340px"),
        )
        self.children = [
            self.bug_picker,
            ipywidgets.HBox(
                [panel, ipywidgets.VBox([self.bug_info, self.scores_box])],
                layout=ipywidgets.Layout(align_items="flex-start"),
            ),
            ipywidgets.HBox([self.progress, self.status], layout=ipywidgets.Layout(**row)),
            self.error_box,
            self.tabs,
        ]
        self._sync_controls()

    def _sync_controls(self) -> None:
        """Show the current bug's options, the methods, the tab and the inputs."""
        self._syncing = True
        try:
            for name, value in self.options.items():
                control = self.option_controls[name]
                if name == "size":
                    value = value or (1 if self.options.get("kind") == "stripe" else 2)
                elif name == "in_classes":
                    value = tuple(value)
                control.value = value
            shown = [self.option_controls[name] for name in self.options]
            kind = self.options.get("kind")
            hidden = {"tag": ("sigma",), "stripe": ("place", "sigma"), "blur": ("size", "place")}
            self.options_box.children = [
                c
                for name, c in zip(self.options, shown, strict=True)
                if name not in hidden.get(kind, ())
            ]
            for name, button in self.method_buttons.items():
                button.value = name in self.methods
            self.tabs.selected_index = _TABS.index(self.tab)
            self.signal_box.layout.display = None if self.bug == "spurious_signal" else "none"
            self.index_picker.options = self._input_options()
            self.index_picker.value = self.index
        finally:
            self._syncing = False

    def _input_options(self) -> list[tuple[str, int]]:
        names = self.dataset.class_names
        if self.bug == "noisy_labels":
            n = min(self.n_inputs, len(self.planted.flipped))
            return [
                (f"{i}: flipped training point {self.planted.flipped[i]}", i) for i in range(n)
            ]
        rows = self._test_rows(self.planted, self.n_inputs)
        y = self.dataset.y_test
        return [(f"{i}: test row {r} (true: {names[int(y[r])]})", i) for i, r in enumerate(rows)]

    def _on_option_control(self, name: str) -> Callable[[Any], None]:
        def changed(change: Any) -> None:
            if self._syncing:
                return
            value = change["new"]
            if name == "in_classes":
                value = list(value)
            options = {**self.options, name: value}
            if name == "kind":
                options["size"] = None  # each signal's own default size
            self.options = options

        return changed

    def _on_method_button(self, change: Any) -> None:
        if self._syncing:
            return
        chosen = [m for m, b in self.method_buttons.items() if b.value]
        if not chosen:  # the last method cannot be switched off
            change["owner"].value = True
            return
        self.methods = chosen

    def _on_index_picker(self, change: Any) -> None:
        if not self._syncing and change["new"] is not None:
            self.index = change["new"]

    def _on_tabs(self, change: Any) -> None:
        if not self._syncing:
            self.tab = _TABS[change["new"]]

    def _on_tab(self, change: Any) -> None:
        self._sync_controls()

    def _on_bug(self, change: Any) -> None:
        if not self._setting_bug:
            self.options = {}  # the new bug's defaults (recomputes)

    def _on_options(self, change: Any) -> None:
        self.set_trait("planted", self._make_bug(self.bug, change["new"]))
        if self.index >= self.n_inputs:
            self.index = 0
        self._sync_controls()

    def _on_index(self, change: Any) -> None:
        if change["name"] == "n_inputs":
            if self.index >= self.n_inputs:
                self.index = self.n_inputs - 1
            self._sync_controls()
            return
        self._syncing = True
        try:
            self.index_picker.value = change["new"]
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ validation
    def _make_bug(self, bug: str, options: Mapping[str, Any]) -> bugs.Bug:
        given = {k: v for k, v in options.items() if v is not None}
        return _MAKERS[bug](self.dataset, **given)

    @traitlets.validate("bug")
    def _valid_bug(self, proposal: Any) -> str:
        return check_option(proposal.value, "bug", list(BUGS))

    @traitlets.validate("options")
    def _valid_options(self, proposal: Any) -> dict[str, Any]:
        defaults = _option_defaults(self.bug, self.dataset)
        unknown = sorted(set(proposal.value) - set(defaults))
        if unknown:
            raise ValueError(
                f"options {unknown} do not apply to the bug {self.bug!r}; its options are "
                f"{sorted(defaults)}."
            )
        options = {**defaults, **proposal.value}
        self._make_bug(self.bug, options)  # bad values raise here, naming the option
        return options

    @traitlets.validate("architecture")
    def _valid_architecture(self, proposal: Any) -> str:
        return check_option(proposal.value, "architecture", self._architectures())

    @traitlets.validate("methods")
    def _valid_methods(self, proposal: Any) -> list[str]:
        names = list(dict.fromkeys(proposal.value))
        for name in names:
            check_option(name, "methods", available())
        if not names:
            raise ValueError("methods is empty; explain with at least one method.")
        return names

    @traitlets.validate("n_inputs")
    def _valid_n_inputs(self, proposal: Any) -> int:
        return check_int(proposal.value, "n_inputs", low=2, high=200)

    @traitlets.validate("index")
    def _valid_index(self, proposal: Any) -> int:
        return check_int(proposal.value, "index", low=0, high=self.n_inputs - 1)

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        return check_option(proposal.value, "mode", COLOUR_MODES)

    @traitlets.validate("metric")
    def _valid_metric(self, proposal: Any) -> str:
        metrics = ["ssim", "spearman_abs"] if self.dataset.kind == "image" else ["spearman_abs"]
        return check_option(proposal.value, "metric", metrics)

    @traitlets.validate("tab")
    def _valid_tab(self, proposal: Any) -> str:
        return check_option(proposal.value, "tab", list(_TABS))

    @traitlets.validate("influence_model")
    def _valid_influence_model(self, proposal: Any) -> str:
        return check_option(proposal.value, "influence_model", ["buggy", "normal"])

    @traitlets.validate("test_row")
    def _valid_test_row(self, proposal: Any) -> int:
        return check_int(proposal.value, "test_row", low=0, high=len(self.dataset.X_test) - 1)

    @traitlets.validate("k")
    def _valid_k(self, proposal: Any) -> int:
        return check_int(proposal.value, "k", low=1, high=20)

    @traitlets.validate("damping")
    def _valid_damping(self, proposal: Any) -> float:
        return check_real(proposal.value, "damping", low=0.0)

    # ------------------------------------------------------------------ public API
    def set_bug(self, bug: str, **options: Any) -> None:
        """Pick a bug and its options at once (the others keep their defaults).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> w = xw.DebugWidget(xw.datasets.load_digits(), methods=["gradient"], n_inputs=2)
        >>> w.set_bug("spurious_signal", kind="stripe", aligned_class=3)
        >>> w.planted.signal, w.planted.aligned_class
        ('stripe', 3)
        >>> w.close()
        """
        bug = check_option(bug, "bug", list(BUGS))
        defaults = _option_defaults(bug, self.dataset)
        unknown = sorted(set(options) - set(defaults))
        if unknown:
            raise ValueError(
                f"options {unknown} do not apply to the bug {bug!r}; its options are "
                f"{sorted(defaults)}."
            )
        self._make_bug(bug, {**defaults, **options})  # check before changing anything
        self._setting_bug = True
        try:
            self.bug = bug
        finally:
            self._setting_bug = False
        self.options = options

    @property
    def table(self) -> pd.DataFrame:
        """The debugging measures of the shown maps (a copy)."""
        return self._table.copy()

    @property
    def top(self) -> pd.DataFrame:
        """The influence tab's training examples (a copy), with column ``flagged``."""
        return self._top.copy()

    @property
    def inputs(self) -> np.ndarray:
        """The explained inputs without the signal (test inputs, or flipped points)."""
        if self.maps is None:
            return np.zeros((0, *self.dataset.input_shape))
        return self.maps.inputs[self.maps.columns[0][1]].copy()

    def _result(self) -> pd.DataFrame:
        return self.table

    # ------------------------------------------------------------------ computation
    def _trainer(self, architecture: str) -> tuple[Callable[..., Any], dict[str, Any]]:
        train_fn = ARCHITECTURES[architecture][1]
        if architecture != "mlp":
            return train_fn, {}
        default = (64, 64) if self.dataset.kind == "image" else (32, 32)
        return train_fn, {"hidden": self._hidden or default}

    @staticmethod
    def _test_rows(bug: bugs.Bug, n: int) -> np.ndarray:
        """Test rows explained: other classes than the aligned one, or held-out classes."""
        y = bug.clean.y_test
        if isinstance(bug, bugs.SpuriousSignal):
            return np.flatnonzero(y != bug.aligned_class)[:n]
        if isinstance(bug, bugs.OutOfDistribution):
            return np.flatnonzero(~np.isin(y, bug.in_classes))[:n]
        return np.arange(min(n, len(y)))

    def _state(self) -> dict[str, Any]:
        planted = self.planted
        pair = (planted.key, self.architecture)
        maps = (*pair, tuple(self.methods), self.n_inputs)
        return {
            "bug": planted,
            "pair": pair,
            "maps": maps,
            "influence": (*pair, self.influence_model, self.damping),
            "index": self.index,
            "mode": self.mode,
            "metric": self.metric,
            "methods": tuple(self.methods),
            "n_inputs": self.n_inputs,
            "architecture": self.architecture,
            "tab": self.tab,
            "influence_model": self.influence_model,
            "test_row": self.test_row,
            "with_signal": self.with_signal,
            "k": self.k,
            "damping": self.damping,
        }

    def _reporter(self, state: dict[str, Any], what: str, key: str) -> Callable[[int, int], None]:
        """Progress of ``what``, abandoned when a request with another ``state[key]`` waits."""
        return self._abandoning(
            state,
            operator.itemgetter(key),
            lambda done, total: show_progress(self.progress, done, total, what),
        )

    def _compute(self, state: dict[str, Any]) -> dict[str, Any]:
        start = time.perf_counter()
        bug = state["bug"]
        out: dict[str, Any] = {"steps": []}  # what was computed, not remembered, and how long
        if state["pair"] not in self._pairs:
            train_fn, kwargs = self._trainer(state["architecture"])
            report = self._reporter(state, "training", "pair")
            pair = bugs.train_pair(bug, train_fn, progress=report, **kwargs)
            _remember(self._pairs, state["pair"], pair, _KEPT)
        normal, buggy = out["pair"] = self._pairs[state["pair"]]
        if state["pair"] not in self._summaries:
            summary: dict[str, Any] = {
                "accuracies": {
                    name: accuracy(model.torch_module, bug.clean)["test"]
                    for name, model in (("normal", normal), ("buggy", buggy))
                },
                "scores": {},
            }
            if isinstance(bug, bugs.SpuriousSignal):
                summary["scores"] = {
                    name: debugging.spurious_score(model, bug, bug.clean.X_test)
                    for name, model in (("normal", normal), ("buggy", buggy))
                }
            _remember(self._summaries, state["pair"], summary, _KEPT)
            out["steps"].append(f"models {time.perf_counter() - start:.2f} s")
        out["summary"] = self._summaries[state["pair"]]
        if state["maps"] not in self._maps:
            step = time.perf_counter()
            n = state["n_inputs"]
            X = (
                n
                if isinstance(bug, bugs.NoisyLabels)
                else bug.clean.X_test[self._test_rows(bug, n)]
            )
            maps = debugging.explain_pair(
                normal,
                buggy,
                bug,
                X,
                list(state["methods"]),
                progress=self._reporter(state, "explaining", "maps"),
            )
            _remember(self._maps, state["maps"], (maps, debugging.measures(maps)), _KEPT)
            out["steps"].append(f"maps {time.perf_counter() - step:.2f} s")
        out["maps"], out["table"] = self._maps[state["maps"]]
        if state["tab"] == "influence":
            step = time.perf_counter()
            show_progress(self.progress, 0, 1, "influence")
            out.update(self._compute_influence(state, normal, buggy))
            show_progress(self.progress, 1, 1, "influence")
            out["steps"].append(f"influence {time.perf_counter() - step:.2f} s")
        return out

    def _influence_for(self, key: Any, model: Model, data: Dataset, damping: float) -> Any:
        if key not in self._influences:
            fitted = influence.InfluenceFunction(
                model, data.X_train, data.y_train, damping=damping, layers="last"
            )
            _remember(self._influences, key, fitted, _KEPT)
        return self._influences[key]

    def _compute_influence(
        self, state: dict[str, Any], normal: Model, buggy: Model
    ) -> dict[str, Any]:
        bug = state["bug"]
        role = state["influence_model"]
        model, data = (buggy, bug.dataset) if role == "buggy" else (normal, bug.clean)
        x = bug.clean.X_test[state["test_row"]]
        signal = isinstance(bug, bugs.SpuriousSignal) and state["with_signal"]
        if signal:
            x = bug.apply(x)
        out: dict[str, Any] = {"x": x, "signal": signal, "data": data}
        fitted = self._influence_for(state["influence"], model, data, state["damping"])
        top = fitted.top(x, k=state["k"])
        out["predictions"] = {
            "normal": int(normal.predict(x)[0]),
            "buggy": int(buggy.predict(x)[0]),
        }
        # What a mark means: a flipped label, or an input that carries the signal.
        flags = np.zeros(len(data.y_train), dtype=bool)
        if isinstance(bug, bugs.NoisyLabels):
            flags = bug.is_flipped
        elif isinstance(bug, bugs.SpuriousSignal) and role == "buggy":
            flags[bug.contaminated] = True
        out["flags"] = flags
        out["top"] = top.assign(flagged=flags[top["index"].to_numpy()])
        if isinstance(bug, bugs.NoisyLabels):
            key = (*state["pair"], state["damping"])
            if key not in self._detections:
                noisy = self._influence_for(
                    (*state["pair"], "buggy", state["damping"]),
                    buggy,
                    bug.dataset,
                    state["damping"],
                )
                y = bug.dataset.y_train
                proba = buggy.predict_proba(bug.dataset.X_train)[np.arange(len(y)), y]
                curves = {
                    "self-influence": (noisy.self_influence(), bug.is_flipped),
                    # The plain baseline of Koh & Liang's Fig. 6: cross-entropy -log p(y|x).
                    "training loss": (-np.log(np.maximum(proba, 1e-300)), bug.is_flipped),
                }
                # The AUROC of each curve, once (the tab reads it on every draw).
                aurocs = {
                    label: detection_curve(scores, flipped)[2]
                    for label, (scores, flipped) in curves.items()
                }
                _remember(self._detections, key, (curves, aurocs), _KEPT)
            out["curves"], out["aurocs"] = self._detections[key]
        return out

    # ------------------------------------------------------------------ display
    def _show(self, state: dict[str, Any], out: dict[str, Any]) -> None:
        start = time.perf_counter()
        bug = state["bug"]
        self.normal, self.buggy = out["pair"]
        self.scores = dict(out["summary"]["scores"])
        self.accuracies = dict(out["summary"]["accuracies"])
        self.maps, self._table = out["maps"], out["table"]
        self.bug_info.value = (
            f'<div style="max-width:560px;margin:6px 0">{html.escape(bug.description)}</div>'
        )
        self.scores_box.value = self._scores_html(state)
        self._show_maps(state, out)
        if "top" in out:
            self._show_influence(state, out)
        steps = " · ".join(out["steps"]) or "models and maps remembered"
        self._set_status(f"{steps} · drawn in {1000 * (time.perf_counter() - start):.0f} ms")

    def _scores_html(self, state: dict[str, Any]) -> str:
        cell = "padding:1px 10px;text-align:right"
        header = f'<th style="{cell}">model</th><th style="{cell}">test accuracy</th>'
        if self.scores:
            header += f'<th style="{cell}">spurious score</th>'
        rows = ""
        for name in ("normal", "buggy"):
            row = (
                f'<td style="{cell}">{name}</td>'
                f'<td style="{cell}">{self.accuracies[name]:.1%}</td>'
            )
            if self.scores:
                score = self.scores[name]
                verdict = (
                    _badge("spurious", FLAG_COLOR, "#fdecea")
                    if score > 0.85
                    else _badge("normal", "#2a7d2a", "#eaf6ea")
                    if score < 0.1
                    else ""
                )
                row += f'<td style="{cell}">{score:.3f} {verdict}</td>'
            rows += f"<tr>{row}</tr>"
        label = ARCHITECTURES[state["architecture"]][0]
        note = (
            "spurious score (thesis Def. 4.2.1): of the clean test inputs the model does not "
            "assign to the aligned class, the fraction it does once the signal is added"
            if self.scores
            else "accuracy on the clean test set"
        )
        return (
            f'<table style="font-size:0.92em;margin:4px 0"><tr>{header}</tr>{rows}</table>'
            f'<div style="{_NOTE};max-width:560px">{html.escape(label)}s trained by '
            f"xw.bugs.train_pair; {note}.</div>"
        )

    def _show_maps(self, state: dict[str, Any], out: dict[str, Any]) -> None:
        maps: debugging.DebugMaps = out["maps"]
        self._show_grid(state, maps)
        bars = (state["maps"], state["metric"])
        if self._drawn.get("bars") != bars:
            view = self.bars_view
            view.clear()
            table = out["table"]
            ax = plot_debug_measures(table, state["metric"], ax=view.figure.add_subplot())
            handles, names = ax.get_legend_handles_labels()
            ax.legend(
                handles,
                [method_label(n) if n in maps.methods else n for n in names],
                fontsize=7,
                loc="upper left",
                bbox_to_anchor=(1.02, 1.0),
                frameon=False,
            )
            view.render(full=True)
            self.table_box.value = self._table_html(table, state["metric"], maps)
            self._drawn["bars"] = bars

    def _show_grid(self, state: dict[str, Any], maps: debugging.DebugMaps) -> None:
        """The grid, drawn in place: a new input or colouring only replaces pixels."""
        view = self.grid_view
        index = state["index"]
        x, rows, labels = maps.grid_rows(index)
        full = False
        if self._drawn.get("grid") != state["maps"]:
            view.clear()
            size = MapStrip.figsize(list(rows), len(labels), self.dataset.input_shape)
            view.figure.set_size_inches(min(size[0], 8.0), size[1])
            tabular = self.dataset.kind != "image"
            names = state["bug"].dataset.feature_names if tabular else None
            self._strip = view.add(MapStrip(view.figure, list(rows), labels, feature_names=names))
            # The outlines are drawn over the maps on every render (a blur's differs
            # per input).
            self._outlines = view.add(_Artists())
            self._outlined = None
            self._drawn["grid"] = state["maps"]
        full = self._strip.update(x, rows, mode=state["mode"])
        truth = None if maps.ground_truth is None else maps.ground_truth[index]
        if full or (truth is not None and not np.array_equal(truth, self._outlined)):
            for outline in self._outlines.artists:
                outline.remove()
            self._outlines.artists = maps.outline_ground_truth(view.figure, index)
            self._outlined = truth
        view.render(full)

    @staticmethod
    def _table_html(table: pd.DataFrame, metric: str, maps: debugging.DebugMaps) -> str:
        rows = table[table["metric"] == metric]
        measures = list(dict.fromkeys(rows["measure"]))
        cell = "padding:1px 8px;text-align:right"
        head = "".join(f'<th style="{cell}">{html.escape(m)}</th>' for m in measures)
        body = ""
        indexed = rows.set_index(["method", "measure"])
        for method in [*maps.methods, "random"]:
            name = "random maps" if method == "random" else method_label(method)
            style = ' style="color:#777"' if method == "random" else ""
            cells = "".join(
                f'<td style="{cell}">{indexed.at[(method, m), "mean"]:.3f} '
                f'<span style="color:#888">± {indexed.at[(method, m), "sem"]:.3f}'
                "</span></td>"
                for m in measures
            )
            body += f"<tr{style}><td>{html.escape(name)}</td>{cells}</tr>"
        return (
            f'<table style="font-size:0.9em;margin:6px 0"><tr><th>{html.escape(metric)}, '
            f"mean ± s.e.m. over {maps.n_inputs} inputs</th>{head}</tr>{body}</table>"
        )

    def _show_influence(self, state: dict[str, Any], out: dict[str, Any]) -> None:
        names = self.dataset.class_names
        row = state["test_row"]
        predictions = out["predictions"]
        signal = " with the spurious signal" if out["signal"] else ""
        self.input_info.value = (
            f'<div style="font-size:0.92em">test row {row}{signal}: true class '
            f"<b>{html.escape(names[int(self.dataset.y_test[row])])}</b> · normal model predicts "
            f"<b>{html.escape(names[predictions['normal']])}</b> · buggy model predicts "
            f"<b>{html.escape(names[predictions['buggy']])}</b> · influence on the "
            f"{state['influence_model']} model's loss at its prediction</div>"
        )
        self._top = out["top"]
        flag_label = "flipped" if isinstance(state["bug"], bugs.NoisyLabels) else "signal"
        data: Dataset = out["data"]
        if self.dataset.kind == "image":
            self.examples_view.image.layout.display = None
            view = self.examples_view
            layout = (state["k"], flag_label)
            if self._drawn.get("examples") != layout:
                view.clear()
                view.figure.set_size_inches(1.15 * state["k"] + 0.4, 3.0)
                self._examples = view.add(
                    TrainingExamples(
                        view.figure, state["k"], flag_label=flag_label, class_names=names
                    )
                )
                self._drawn["examples"] = layout
            view.render(self._examples.update(self._top, data.X_train, out["flags"]))
        else:
            self.examples_view.image.layout.display = "none"
        self.examples_table.value = self._examples_html(self._top, data, flag_label)
        curves = out.get("curves")
        self.detection = {}
        if curves is None:
            self.detection_view.image.layout.display = "none"
            self.detection_note.value = (
                f'<div style="{_NOTE}">The detection curve (flipped labels found by '
                "self-influence) needs the noisy-labels bug.</div>"
            )
            return
        self.detection_view.image.layout.display = None
        self.detection = dict(out["aurocs"])
        key = (*state["pair"], state["damping"])
        if self._drawn.get("detection") != key:
            self.detection_view.clear()
            plot_detection_curve(curves, ax=self.detection_view.figure.add_subplot())
            self.detection_view.render(full=True)
            self._drawn["detection"] = key
        self.detection_note.value = (
            f'<div style="{_NOTE}">Checking the training points of the buggy model in order '
            "of self-influence (Koh &amp; Liang 2017, Sec. 5.4) or of training loss: the "
            "fraction of flipped labels found.</div>"
        )

    def _examples_html(self, top: pd.DataFrame, data: Dataset, flag_label: str) -> str:
        names = self.dataset.class_names
        tabular = self.dataset.kind != "image"
        features = data.feature_names if tabular else []
        cell = "padding:1px 6px;text-align:right"
        head = "".join(
            f'<th style="{cell}">{html.escape(h)}</th>'
            for h in ["", "rank", "training row", "label", "influence", *features]
        )
        body = ""
        for r in top.itertuples():
            flag = f' style="color:{FLAG_COLOR}"' if r.flagged else ""
            values = (
                "".join(f'<td style="{cell}">{_fmt(v)}</td>' for v in data.X_train[r.index])
                if tabular
                else ""
            )
            mark = f" ({flag_label})" if r.flagged else ""
            body += (
                f"<tr{flag}><td>{r.role}</td><td style='{cell}'>{r.rank}</td>"
                f"<td style='{cell}'>{r.index}</td><td style='{cell}'>"
                f"{html.escape(names[r.label])}{mark}</td><td style='{cell}'>{_fmt(r.score)}"
                f"</td>{values}</tr>"
            )
        return (
            f'<table style="font-size:0.85em;margin:4px 0"><tr>{head}</tr>{body}</table>'
            f'<div style="{_NOTE}">influence: I_up,loss (Koh &amp; Liang 2017, last layer); '
            "negative: helpful (up-weighting the point lowers the test loss), positive: "
            "harmful.</div>"
        )

    def _clear(self) -> None:
        self._drawn.clear()
