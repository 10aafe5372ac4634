"""``SanityCheckWidget``: randomization sanity checks (Adebayo et al. 2018), inline.

The widget owns controls and layout; every map and number comes from
:mod:`xaiwidgets.sanity` (:func:`~xaiwidgets.sanity.model_randomization`,
:func:`~xaiwidgets.sanity.data_randomization` and their
:class:`~xaiwidgets.sanity.SanityResult`).
"""

from __future__ import annotations

import functools
import html
import re
import textwrap
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import traitlets

from .. import sanity
from ..analysis.sanity import SanityResult, _method_specs
from ..core.dataset import Dataset
from ..core.model import Model, wrap
from ..core.validation import check_int, check_option
from ..plotting import MapStrip
from ..plotting._live import ACCENT
from ..zoo import train_mlp
from ._base import (
    COLOUR_MODES,
    FigureView,
    WidgetBase,
    _check_dataset,
    _Superseded,
    colour_mode_picker,
)
from ._explainer import method_label

__all__ = ["MEMORIZER", "SanityCheckWidget", "format_rows", "parse_rows", "show_progress"]

MEMORIZER = functools.partial(
    train_mlp, hidden=(256, 256), epochs=80, weight_decay=0.0, progress=False
)
"""The default ``train_fn`` of the data-randomization tab: a wide ReLU MLP without
weight decay, which memorizes permuted digit labels (100 % training accuracy) in 80
epochs, about 6 s per model on one core the first time; ``xw.zoo`` caches both models."""

#: Results remembered per widget (model randomization; data randomization keeps 4).
_RESULTS_KEPT = 16
#: Curve figures kept drawn, so that going back to a setting only blits the marker.
_CURVES_KEPT = 4
#: Size of a map cell in the strip, in inches.
_CELL_IN = 0.74
_PANEL_WIDTH = "235px"


def parse_rows(text: str, n_rows: int) -> list[int]:
    """Test rows from text such as ``"0-7, 12, 20-23"`` (ranges include both ends).

    Parameters
    ----------
    text : str
        Comma- or space-separated row numbers and ranges ``a-b``.
    n_rows : int
        Rows available (``len(dataset.X_test)``).

    Returns
    -------
    list of int
        In the order given, each row once.

    Raises
    ------
    ValueError
        For text that is not rows and ranges, or rows out of range.

    Examples
    --------
    >>> parse_rows("0-3, 7 9", 100)
    [0, 1, 2, 3, 7, 9]
    """
    rows: list[int] = []
    for part in [p for p in re.split(r"[,\s]+", text.strip()) if p]:
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if match is None:
            raise ValueError(
                f"rows must be test-row numbers and ranges such as '0-7, 12'; could not read "
                f"{part!r}."
            )
        low = int(match.group(1))
        high = low if match.group(2) is None else int(match.group(2))
        if high < low:
            raise ValueError(f"rows: the range {part!r} runs backwards; write it as {high}-{low}.")
        rows += range(low, high + 1)
    return _check_rows(rows, n_rows)


def format_rows(rows: Sequence[int]) -> str:
    """Rows as short text, runs of consecutive rows as ranges (the inverse of parse_rows).

    Examples
    --------
    >>> format_rows([0, 1, 2, 3, 7, 9, 10])
    '0-3, 7, 9-10'
    """
    parts: list[str] = []
    start = previous = None
    for row in [*rows, None]:
        if row is not None and previous is not None and row == previous + 1:
            previous = row
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = row
    return ", ".join(parts)


def _check_rows(rows: Any, n_rows: int) -> list[int]:
    if isinstance(rows, str) or not isinstance(rows, Sequence | np.ndarray):
        raise TypeError(f"rows must be a list of test-row numbers; got {rows!r}.")
    checked = [check_int(r, "rows", low=0, high=n_rows - 1) for r in rows]
    if not checked:
        raise ValueError("rows is empty; select at least one test row.")
    return list(dict.fromkeys(checked))


class _StageMarkers:
    """A translucent vertical band at the current stage in each curve panel (blitted)."""

    def __init__(self, axes: Sequence[Any]) -> None:
        self.artists = [
            ax.axvline(0, color=ACCENT, linewidth=7, alpha=0.22, zorder=0) for ax in axes
        ]

    def update(self, stage: int) -> bool:
        for line in self.artists:
            line.set_xdata([stage, stage])
        return False


class SanityCheckWidget(WidgetBase):
    """Randomization sanity checks of attribution methods, inline (Adebayo et al. 2018).

    Julius Adebayo, Justin Gilmer, Michael Muelly, Ian Goodfellow, Moritz Hardt and
    Been Kim, "Sanity Checks for Saliency Maps", NeurIPS 2018: a map that is meant to
    explain *the model* must change when the model is destroyed.

    **Model randomization** tab. The strip shows one input's maps: rows are methods,
    columns the input, the trained model ("original") and each randomization stage,
    labelled with the layer randomized there (top layer first). The stage slider and
    its play button walk down the layers: columns after the current stage stay empty
    and the current one is framed. *Cascading* randomizes one more layer per stage,
    *independent* only that layer. Under the strip, each similarity metric against
    the stage, one line per method: the mean over the selected test rows with one
    standard deviation (or error) shaded, a dashed line where randomization begins,
    the similarity of shuffled maps (chance level) as a grey band, and the current
    stage marked.

    **Data randomization** tab (trained on demand with its button, since it takes
    seconds): the maps of a model trained on the true labels next to those of the same
    architecture trained on permuted labels, both models' train and test accuracy, and
    per-method bars of the similarity metrics.

    On the left: which test rows are explained (``"0-7, 12"``), which of them the strip
    shows, absolute or diverging colours, which methods are shown, the seed of the
    re-initialization and the spread of the curves. A progress bar runs while a check
    is computed; results are remembered, so switching back to a setting is instant.
    The model passed in is never changed (every stage is a deep copy); errors appear in
    the widget, which keeps working.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A trained torch classifier (its layers are re-initialized on copies).
    dataset : Dataset, optional
        Test rows come from ``dataset.X_test``; defaults to the model's data set.
    methods : sequence, optional
        Registry names or ``(name, parameters)`` pairs, as in
        :func:`~xaiwidgets.sanity.model_randomization`; default
        :data:`~xaiwidgets.sanity.DEFAULT_METHODS`.
    rows : sequence of int, optional
        The test rows explained; the first 8 by default.
    index : int, optional
        The test row the strip shows; the first of ``rows`` by default. A row not in
        ``rows`` is added to them.
    order : {"cascading", "independent"}, default="cascading"
    mode : {"absolute", "diverging"}, default="absolute"
        Colour the maps' magnitude or their sign.
    stage : int, optional
        The stage shown; the last (every layer random) by default.
    seed : int, default=0
        Seed of the re-initialization and of the chance band.
    train_fn : callable, optional
        ``train_fn(dataset) -> model`` for the data-randomization tab; it must be able
        to memorize random labels. Default :data:`MEMORIZER`.
    interval_ms : int, default=900
        Milliseconds per stage of the play button.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.

    Attributes
    ----------
    methods : list of str
        The methods' registry names, in row order.
    rows : list of int
    index, stage, seed : int
    order, mode, spread : str
    shown_methods : list of str
        The methods drawn (a subset of ``methods``; all by default).
    result : SanityResult or None
        The model-randomization check shown (after :meth:`wait`).
    data_result : SanityResult or None
        The data-randomization check, once trained (:meth:`train`).
    strip_maps : dict
        ``{(method, stage): map}`` of the maps the strip shows.
    curves : DataFrame
        The means and spreads the curves show (``result.summary()`` of the shown
        methods).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> model = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> w = xw.SanityCheckWidget(model, ds, methods=["gradient", "ig"], rows=[0, 1, 2, 3])
    >>> w.wait().stage_labels
    ['original', 'Linear 7', 'Linear 5', 'Conv2d 2', 'Conv2d 0']
    >>> w.order = "independent"
    >>> w.wait().order
    'independent'
    >>> w.close()
    """

    # Any + a validator: numpy integers are welcome, and errors name the argument.
    rows = traitlets.Any([], help="the test rows explained (a list of int)")
    index = traitlets.Any(0, help="the test row shown in the strip (an int)")
    order = traitlets.Unicode("cascading", help="'cascading' or 'independent'")
    mode = traitlets.Unicode("absolute", help="'absolute' or 'diverging' colours")
    stage = traitlets.Any(0, help="the randomization stage shown (an int; 0: trained)")
    seed = traitlets.Any(0, help="seed of the re-initialization (an int)")
    spread = traitlets.Unicode("std", help="shaded around the curves: 'std', 'sem' or 'none'")
    shown_methods = traitlets.List(traitlets.Unicode(), help="the methods drawn")
    result = traitlets.Instance(SanityResult, allow_none=True, read_only=True)
    data_result = traitlets.Instance(SanityResult, allow_none=True, read_only=True)

    def __init__(
        self,
        model: Any,
        dataset: Dataset | None = None,
        methods: Sequence[Any] | None = None,
        rows: Sequence[int] | None = None,
        *,
        index: int | None = None,
        order: str = "cascading",
        mode: str = "absolute",
        stage: int | None = None,
        seed: int = 0,
        train_fn: Callable[[Dataset], Any] | None = None,
        interval_ms: int = 900,
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(debounce_s=debounce_s, slow_s=slow_s)
        dataset = _check_dataset(dataset, model)
        self.model: Model = wrap(model, dataset)
        self.dataset = dataset
        self._n_stages = len(sanity.layers(self.model)) + 1  # TypeError unless torch
        specs = _method_specs(methods, self.model, self.model.resolve_output("auto"))
        self.methods = [label for label, _, _ in specs]
        self._methods_arg = list(sanity.DEFAULT_METHODS) if methods is None else list(methods)
        if train_fn is not None and not callable(train_fn):
            raise TypeError(
                "train_fn must be a function train_fn(dataset) -> model, for example "
                f"xw.zoo.train_mlp; got {type(train_fn).__name__}."
            )
        self.train_fn = MEMORIZER if train_fn is None else train_fn
        interval_ms = check_int(interval_ms, "interval_ms", low=50)
        self._results: OrderedDict[Any, SanityResult] = OrderedDict()
        self._data_results: OrderedDict[Any, SanityResult] = OrderedDict()
        self._data_wanted = False
        self._forget = False
        self._curves: OrderedDict[Any, tuple[FigureView, _StageMarkers, pd.DataFrame]] = (
            OrderedDict()
        )
        self._strip: MapStrip | None = None
        self._strip_layout: Any = None
        self._data_strip: MapStrip | None = None
        self._data_layout: Any = None
        self._bars_drawn: Any = None
        self._strip_maps: dict[tuple[str, int], np.ndarray] = {}
        self._curve_table = pd.DataFrame()

        # ---------------------------------------------------------- state
        self._syncing = False
        self.rows = list(range(min(8, len(dataset.X_test)))) if rows is None else rows
        self.index = self.rows[0] if index is None else index
        self.order = order
        self.mode = mode
        self.stage = self._n_stages - 1 if stage is None else stage
        self.seed = seed
        self.shown_methods = list(self.methods)

        # ---------------------------------------------------------- controls (left)
        narrow = {"description_width": "62px"}
        self.rows_text = ipywidgets.Text(
            value=format_rows(self.rows),
            description="test rows",
            placeholder="0-7, 12",
            continuous_update=False,
            style=narrow,
            layout=ipywidgets.Layout(width="225px"),
            tooltip="the test rows explained: numbers and ranges, e.g. 0-7, 12",
        )
        self.rows_text.observe(self._reporting(self._on_rows_text), names="value")
        self.index_picker = ipywidgets.Dropdown(
            options=self._row_options(),
            description="show row",
            style=narrow,
            layout=ipywidgets.Layout(width="225px"),
        )
        self.index_picker.value = self.index
        # Linked by hand: a Dropdown given new options may jump to its first one.
        self.index_picker.observe(self._reporting(self._on_index_picker), names="value")
        self.observe(self._on_index, names="index")
        self.mode_picker = colour_mode_picker(description="")
        traitlets.link((self, "mode"), (self.mode_picker, "value"))
        self.method_buttons = {
            name: ipywidgets.ToggleButton(
                value=True,
                description=method_label(name),
                tooltip=f"show {name}",
                layout=ipywidgets.Layout(width="200px", height="28px"),
            )
            for name in self.methods
        }
        for button in self.method_buttons.values():
            button.observe(self._reporting(self._on_method_button), names="value")
        self.seed_picker = ipywidgets.BoundedIntText(
            value=self.seed,
            min=0,
            max=2**31 - 1,
            description="seed",
            style=narrow,
            layout=ipywidgets.Layout(width="160px"),
        )
        traitlets.link((self, "seed"), (self.seed_picker, "value"))
        self.spread_picker = ipywidgets.Dropdown(
            options=[("± 1 std", "std"), ("± 1 s.e.m.", "sem"), ("none", "none")],
            description="spread",
            style=narrow,
            layout=ipywidgets.Layout(width="180px"),
        )
        traitlets.link((self, "spread"), (self.spread_picker, "value"))
        heading = '<div style="margin:6px 0 2px 0;color:#555">{}</div>'.format
        panel = ipywidgets.VBox(
            [
                self.rows_text,
                self.index_picker,
                ipywidgets.HTML(heading("colours")),
                self.mode_picker,
                ipywidgets.HTML(heading("methods")),
                *self.method_buttons.values(),
                ipywidgets.HTML(heading("randomization")),
                self.seed_picker,
                self.spread_picker,
            ],
            layout=ipywidgets.Layout(width=_PANEL_WIDTH, min_width=_PANEL_WIDTH),
        )

        # ---------------------------------------------------------- model tab
        self.order_picker = ipywidgets.ToggleButtons(
            options=["cascading", "independent"],
            style={"button_width": "96px"},
            tooltips=[
                "stage k: the top k layers random",
                "stage k: only layer k random, the others trained",
            ],
        )
        traitlets.link((self, "order"), (self.order_picker, "value"))
        last = self._n_stages - 1
        self.stage_slider = ipywidgets.IntSlider(
            min=0,
            max=last,
            readout=False,
            description="stage",
            style={"description_width": "40px"},
            layout=ipywidgets.Layout(width="190px"),
        )
        traitlets.link((self, "stage"), (self.stage_slider, "value"))
        self.play = ipywidgets.Play(
            min=0,
            max=last,
            interval=interval_ms,
            show_repeat=False,
            tooltip="walk down the layers",
            layout=ipywidgets.Layout(width="auto"),
        )
        traitlets.link((self.stage_slider, "value"), (self.play, "value"))
        self.stage_label = ipywidgets.HTML(layout=ipywidgets.Layout(min_width="170px"))
        self.row_info = ipywidgets.HTML()
        self.strip_view = FigureView((6.0, 4.0))
        self.curves_image = ipywidgets.Image(format="png")
        model_tab = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [self.order_picker, self.play, self.stage_slider, self.stage_label],
                    layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.row_info,
                self.strip_view.image,
                self.curves_image,
            ]
        )

        # ---------------------------------------------------------- data tab
        self.train_button = ipywidgets.Button(
            description="train on random labels",
            icon="play",
            button_style="primary",
            layout=ipywidgets.Layout(width="210px"),
            tooltip="train the same architecture on true and on permuted labels",
        )
        self.train_button.on_click(self._reporting(lambda _: self.train()))
        self.data_note = ipywidgets.HTML(self._data_note())
        self.data_view = FigureView((3.4, 4.0))
        self.accuracy_box = ipywidgets.HTML()
        self.bars_view = FigureView((4.2, 2.7))
        self.data_box = ipywidgets.HBox(
            [self.data_view.image, ipywidgets.VBox([self.accuracy_box, self.bars_view.image])],
            layout=ipywidgets.Layout(display="none", align_items="flex-start"),
        )
        data_tab = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [self.train_button, self.data_note],
                    layout=ipywidgets.Layout(align_items="center"),
                ),
                self.data_box,
            ]
        )

        self.tabs = ipywidgets.Tab(
            children=[model_tab, data_tab],
            titles=["model randomization", "data randomization"],
        )
        self.progress = ipywidgets.IntProgress(
            value=0,
            min=0,
            max=1,
            description="",
            style={"description_width": "initial", "bar_color": "#4c8bd6"},
            layout=ipywidgets.Layout(width="330px"),
        )
        self.children = [
            ipywidgets.HBox(
                [
                    panel,
                    ipywidgets.VBox(
                        [
                            self.tabs,
                            ipywidgets.HBox(
                                [self.progress, self.status],
                                layout=ipywidgets.Layout(align_items="center"),
                            ),
                            self.error_box,
                        ],
                        layout=ipywidgets.Layout(flex="1 1 auto"),
                    ),
                ],
                layout=ipywidgets.Layout(align_items="flex-start"),
            )
        ]
        self.observe(self._on_rows, names="rows")
        self.observe(self._on_shown_methods, names="shown_methods")
        self._recompute_on(
            ["rows", "index", "order", "mode", "stage", "seed", "spread", "shown_methods"]
        )
        self._request()

    # ------------------------------------------------------------------ validation
    @traitlets.validate("rows")
    def _valid_rows(self, proposal: Any) -> list[int]:
        return _check_rows(proposal.value, len(self.dataset.X_test))

    @traitlets.validate("index")
    def _valid_index(self, proposal: Any) -> int:
        index = check_int(proposal.value, "index", low=0, high=len(self.dataset.X_test) - 1)
        if index not in self.rows:
            self.rows = [*self.rows, index]  # a row asked for is explained too
        return index

    @traitlets.validate("order")
    def _valid_order(self, proposal: Any) -> str:
        return check_option(proposal.value, "order", ["cascading", "independent"])

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        return check_option(proposal.value, "mode", COLOUR_MODES)

    @traitlets.validate("spread")
    def _valid_spread(self, proposal: Any) -> str:
        return check_option(proposal.value, "spread", ["std", "sem", "none"])

    @traitlets.validate("stage")
    def _valid_stage(self, proposal: Any) -> int:
        return check_int(proposal.value, "stage", low=0, high=self._n_stages - 1)

    @traitlets.validate("seed")
    def _valid_seed(self, proposal: Any) -> int:
        return check_int(proposal.value, "seed", low=0)

    @traitlets.validate("shown_methods")
    def _valid_shown_methods(self, proposal: Any) -> list[str]:
        names = list(proposal.value)
        for name in names:
            check_option(name, "shown_methods", self.methods)
        if not names:
            raise ValueError("shown_methods is empty; show at least one method.")
        return [m for m in self.methods if m in names]  # in row order

    # ------------------------------------------------------------------ control wiring
    def _row_options(self) -> list[tuple[str, int]]:
        names, y = self.dataset.class_names, self.dataset.y_test
        return [(f"{row}  (true: {names[int(y[row])]})", row) for row in self.rows]

    def _on_rows_text(self, change: Any) -> None:
        self.rows = parse_rows(change["new"], len(self.dataset.X_test))

    def _on_rows(self, change: Any) -> None:
        self.rows_text.value = format_rows(self.rows)
        shown = self.index if self.index in self.rows else self.rows[0]
        self._syncing = True
        try:
            self.index_picker.options = self._row_options()
            self.index_picker.value = shown
        finally:
            self._syncing = False
        self.index = shown

    def _on_index_picker(self, change: Any) -> None:
        if not self._syncing:
            self.index = change["new"]

    def _on_index(self, change: Any) -> None:
        self._syncing = True
        try:
            self.index_picker.value = change["new"]
        finally:
            self._syncing = False

    def _on_method_button(self, change: Any) -> None:
        if self._syncing:
            return
        shown = [m for m, b in self.method_buttons.items() if b.value]
        if not shown:  # the last method shown cannot be switched off
            change["owner"].value = True
            return
        self.shown_methods = shown

    def _on_shown_methods(self, change: Any) -> None:
        self._syncing = True
        try:
            for name, button in self.method_buttons.items():
                button.value = name in change["new"]
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ public API
    def train(self) -> None:
        """Run the data-randomization test (train both models) for the current rows.

        Takes seconds the first time (two models are trained); afterwards the test
        follows the selected rows and seed, and its results are remembered.
        """
        self._data_wanted = True
        self._set_train_button()
        self.tabs.selected_index = 1
        self._request()

    def refresh(self) -> None:
        """Forget the remembered results and recompute (for example after retraining)."""
        self._forget = True  # done by the worker thread, which owns the caches
        self._request()

    @property
    def strip_maps(self) -> dict[tuple[str, int], np.ndarray]:
        """``{(method, stage): map}`` shown in the strip (stages up to ``stage``)."""
        return {key: value.copy() for key, value in self._strip_maps.items()}

    @property
    def curves(self) -> pd.DataFrame:
        """What the curves show: ``result.summary()`` rows of the shown methods."""
        return self._curve_table.copy()

    # ------------------------------------------------------------------ computation
    def _state(self) -> dict[str, Any]:
        return {
            "rows": tuple(self.rows),
            "index": self.index,
            "order": self.order,
            "mode": self.mode,
            "stage": self.stage,
            "seed": self.seed,
            "spread": self.spread,
            "methods": tuple(self.shown_methods),
            "data": self._data_wanted,
        }

    @staticmethod
    def _model_key(state: dict[str, Any]) -> tuple[Any, ...]:
        return (state["order"], state["rows"], state["seed"])

    @staticmethod
    def _data_key(state: dict[str, Any]) -> tuple[Any, ...] | None:
        return (state["rows"], state["seed"]) if state["data"] else None

    def _reporter(
        self, state: dict[str, Any], what: str, key: Callable[[dict[str, Any]], Any]
    ) -> Callable[[int, int], None]:
        """Progress of ``what``, abandoned when a request with another ``key`` waits."""
        return self._abandoning(
            state, key, lambda done, total: self._set_progress(done, total, what)
        )

    def _set_progress(self, done: int, total: int, what: str) -> None:
        show_progress(self.progress, done, total, what)

    def _compute(self, state: dict[str, Any]) -> dict[str, Any]:
        if self._forget:
            self._forget = False
            for cache in (self._results, self._data_results, self._curves):
                cache.clear()
            self._bars_drawn = None
        key = self._model_key(state)
        X = self.dataset.X_test[list(state["rows"])]
        out: dict[str, Any] = {"cached": key in self._results, "data": None, "data_error": None}
        start = time.perf_counter()
        if out["cached"]:
            self._results.move_to_end(key)
            self._set_progress(1, 1, "remembered")
        else:
            what = state["order"]
            self._set_progress(0, 1, what)
            result = sanity.model_randomization(
                self.model,
                X,
                self._methods_arg,
                order=state["order"],
                seed=state["seed"],
                progress=self._reporter(state, what, self._model_key),
            )
            result.baseline_band()  # the chance band: computed here, not while drawing
            _remember(self._results, key, result, _RESULTS_KEPT)
        out["result"] = self._results[key]
        out["compute_s"] = time.perf_counter() - start
        data_key = self._data_key(state)
        if data_key is not None:
            if data_key not in self._data_results:
                self._set_progress(0, 4, "data test")
                try:
                    data = sanity.data_randomization(
                        self.dataset,
                        self.train_fn,
                        self._methods_arg,
                        X=X,
                        seed=state["seed"],
                        progress=self._reporter(state, "data test", self._data_key),
                    )
                    data.baseline_band()
                    _remember(self._data_results, data_key, data, 4)
                except _Superseded:
                    raise
                except Exception as exc:  # shown in the data tab; the model tab still works
                    out["data_error"] = exc
            out["data"] = self._data_results.get(data_key)
        return out

    # ------------------------------------------------------------------ display
    def _show(self, state: dict[str, Any], out: dict[str, Any]) -> None:
        start = time.perf_counter()
        result: SanityResult = out["result"]
        position = state["rows"].index(state["index"])
        methods = list(state["methods"])
        self._show_strip(result, position, methods, state)
        self._show_curves(result, methods, state)
        self._describe(result, position, state)
        data_error = out["data_error"]
        if out["data"] is not None:
            self._show_data(out["data"], position, methods, state)
        elif data_error is not None:
            self._data_wanted = False
            self.data_box.layout.display = "none"
        self._set_train_button()
        self.set_trait("result", result)
        self.set_trait("data_result", out["data"])
        took = "remembered" if out["cached"] else f"computed in {out['compute_s']:.2f} s"
        drawn = 1000 * (time.perf_counter() - start)
        self._set_status(
            f"{len(result.methods)} methods × {len(result.X)} inputs · {took} · "
            f"drawn in {drawn:.0f} ms"
        )
        if data_error is not None:
            # Everything else is shown; the error box says what went wrong in training.
            raise data_error

    def _show_strip(
        self, result: SanityResult, position: int, methods: list[str], state: dict[str, Any]
    ) -> None:
        labels = [self._label(m) for m in methods]
        layout = (tuple(labels), tuple(result.stage_labels), result.X.shape[1:])
        view = self.strip_view
        if layout != self._strip_layout:
            self._strip = self._new_strip(view, labels, result)
            self._strip_layout = layout
        stage = state["stage"]
        maps = {
            label: [result.maps[(m, s)][position] for s in result.stages]
            for label, m in zip(labels, methods, strict=True)
        }
        full = self._strip.update(
            result.X[position], maps, mode=state["mode"], shown=stage + 1, highlight=stage
        )
        view.render(full)
        self._strip_maps = {
            (m, s): result.maps[(m, s)][position] for m in methods for s in range(stage + 1)
        }

    def _new_strip(self, view: FigureView, labels: list[str], result: Any) -> MapStrip:
        """A fresh map strip (rows: methods, columns: the result's stages) in a view."""
        view.clear()
        view.figure.set_size_inches(self._strip_size(labels, len(result.stage_labels)))
        strip = MapStrip(
            view.figure,
            labels,
            result.stage_labels,
            feature_names=result.params.get("feature_names"),
        )
        return view.add(strip)

    def _strip_size(self, labels: list[str], n_columns: int) -> tuple[float, float]:
        width, height = MapStrip.figsize(labels, n_columns, self.dataset.input_shape, _CELL_IN)
        if len(self.dataset.input_shape) == 1:
            # Tabular: one panel per method; keep the widget about as wide as for images.
            width = min(width, 7.4)
        return width, height

    def _show_curves(
        self, result: SanityResult, methods: list[str], state: dict[str, Any]
    ) -> None:
        # Keyed by the settings, not by id(result): an id can be reused after eviction.
        key = (self._model_key(state), tuple(methods), state["spread"])
        if key in self._curves:
            self._curves.move_to_end(key)
        else:
            width = max(6.4, self.strip_view.figure.get_figwidth())
            view = FigureView((width, 2.55), image=self.curves_image)
            axes = view.figure.subplots(1, len(result.metrics), squeeze=False)[0]
            result.plot_curves(methods=methods, spread=state["spread"], axes=axes)
            for ax in axes:
                ax.set_title(textwrap.fill(ax.get_title(), 26), fontsize=9)
            for ax in axes[1:]:
                ax.set_ylabel("")
            self._figure_legend(axes[-1], "upper")
            markers = view.add(_StageMarkers(axes))
            summary = result.summary()
            table = summary[summary["method"].isin(methods)].reset_index(drop=True)
            _remember(self._curves, key, (view, markers, table), _CURVES_KEPT)
        view, markers, self._curve_table = self._curves[key]
        markers.update(state["stage"])
        view.render()

    def _describe(self, result: SanityResult, position: int, state: dict[str, Any]) -> None:
        stage, labels = state["stage"], result.stage_labels
        if stage == 0:
            what = "the trained model"
        elif result.order == "cascading":
            layers = labels[1 : stage + 1]
            what = (
                "every layer random"
                if stage == len(labels) - 1
                else f"top {stage} layer{'s' if stage > 1 else ''} random ({', '.join(layers)})"
            )
        else:
            what = f"only {labels[stage]} random, the others trained"
        self.stage_label.value = f"<b>{stage}/{len(labels) - 1}</b> &nbsp;{html.escape(what)}"
        names = self.model.class_names
        row = state["index"]
        true = names[int(self.dataset.y_test[row])]
        target = names[int(result.targets[stage][position])]
        trained = names[int(result.predictions[0][position])]
        now = names[int(result.predictions[stage][position])]
        changed = f' style="color:{ACCENT}"' if now != trained else ""
        self.row_info.value = (
            f'<div style="font-size:0.92em">test row {row}: true class <b>{html.escape(true)}</b>'
            f" · trained model predicts <b>{html.escape(trained)}</b>"
            f" · at this stage: <b{changed}>{html.escape(now)}</b>"
            f" · maps explain class <b>{html.escape(target)}</b></div>"
        )

    def _show_data(
        self, data: SanityResult, position: int, methods: list[str], state: dict[str, Any]
    ) -> None:
        self.data_box.layout.display = None
        labels = [self._label(m) for m in methods]
        layout = (tuple(labels), data.X.shape[1:])
        if layout != self._data_layout:
            self._data_strip = self._new_strip(self.data_view, labels, data)
            self._data_layout = layout
        maps = {
            label: [data.maps[(m, s)][position] for s in data.stages]
            for label, m in zip(labels, methods, strict=True)
        }
        self.data_view.render(self._data_strip.update(data.X[position], maps, mode=state["mode"]))
        drawn = (self._data_key(state), tuple(labels))
        if self._bars_drawn != drawn:
            self.bars_view.clear()
            ax = data.plot_bars(stage=1, methods=methods, ax=self.bars_view.figure.add_subplot())
            ax.set_xticks(
                ax.get_xticks(),
                [textwrap.fill(t.get_text(), 14) for t in ax.get_xticklabels()],
                rotation=0,
            )
            self._figure_legend(ax, "lower")
            self.bars_view.render(full=True)
            self._bars_drawn = drawn
            self.accuracy_box.value = _accuracy_table(data)

    def _set_train_button(self) -> None:
        """Pressed once, the test follows the rows and seed: the button rests."""
        button = self.train_button
        button.disabled = self._data_wanted
        button.description = "trained" if self._data_wanted else "train on random labels"
        button.icon = "check" if self._data_wanted else "play"

    def _data_note(self) -> str:
        name = getattr(self.train_fn, "__name__", None) or getattr(
            getattr(self.train_fn, "func", None), "__name__", type(self.train_fn).__name__
        )
        return (
            '<div style="font-size:0.9em;color:#444;margin-left:8px">'
            f"trains <code>{html.escape(name)}</code> twice: on the true labels and on "
            "randomly permuted ones (seconds the first time, then cached)</div>"
        )

    @staticmethod
    def _label(method: str) -> str:
        return method_label(method)

    def _figure_legend(self, ax: Any, where: str) -> None:
        """Move ``ax``'s legend above or below the figure's panels, methods by display name.

        Read row by row: matplotlib fills a legend's columns first, so the entries
        are interleaved.
        """
        handles, names = ax.get_legend_handles_labels()
        ax.get_legend().remove()
        columns = min(len(handles), 3)
        order = [i for c in range(columns) for i in range(c, len(handles), columns)]
        ax.figure.legend(
            [handles[i] for i in order],
            [method_label(names[i]) if names[i] in self.methods else names[i] for i in order],
            loc=f"outside {where} center",
            ncols=columns,
            fontsize=8,
            frameon=False,
            handlelength=1.4,
            columnspacing=1.2,
        )

    def _result(self) -> SanityResult | None:
        return self.result


def show_progress(progress: ipywidgets.IntProgress, done: int, total: int, what: str) -> None:
    """Show ``done`` of ``total`` steps of ``what`` on a progress bar (green when done).

    Examples
    --------
    >>> bar = ipywidgets.IntProgress()
    >>> show_progress(bar, 2, 2, "training")
    >>> bar.description, bar.bar_style
    ('training 2/2', 'success')
    """
    if progress.max != total:
        progress.value = 0
        progress.max = total
    progress.value = done
    progress.description = f"{what} {done}/{total}"
    progress.bar_style = "success" if done >= total else ""


def _remember(cache: OrderedDict, key: Any, value: Any, size: int) -> None:
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)


def _accuracy_table(data: SanityResult) -> str:
    """Both models' train and test accuracy as a small HTML table."""
    rows = "".join(
        f"<tr><td>{html.escape(r.model)}</td><td>{100 * r.train:.1f} %</td>"
        f"<td>{100 * r.test:.1f} %</td></tr>"
        for r in data.accuracy.itertuples()
    )
    cell = "padding:1px 10px;text-align:right"
    return (
        f'<table style="font-size:0.9em;margin:6px 0"><tr><th style="{cell}">model trained on'
        f'</th><th style="{cell}">train acc.</th><th style="{cell}">test acc.</th></tr>'
        f"{rows}</table>"
        '<div style="font-size:0.85em;color:#555">train accuracy: on the labels it was '
        "trained on; test: on the true test labels</div>"
    )
