"""``CompareWidget``: the same input through several methods, side by side, with agreement."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import traitlets
from matplotlib.figure import Figure

from ..analysis.agreement import agreement
from ..core.explainer import available, get
from ..core.explanation import Explanation
from ..core.validation import check_option
from ..plotting import AttributionBars, AttributionImage, ProbabilityBars
from ._base import COLOUR_MODES, FigureView, InputWidget, colour_mode_picker
from ._explainer import MAX_ROWS, describe, method_label
from ._params import ExplanationCache, ParamControls

__all__ = ["CompareWidget"]

_DEFAULT_METHODS = ("gradient", "ig", "lime", "shap")
_COLUMNS = ["method_a", "method_b", "spearman", "spearman_abs", "top_k_overlap"]


def _check_methods(methods: Sequence[str]) -> list[str]:
    """Registry names of distinct methods, at least one."""
    if isinstance(methods, str) or not isinstance(methods, Sequence):
        raise TypeError(f"methods must be a list of method names; got {methods!r}.")
    names = [get(m).name for m in methods]
    if not names:
        raise ValueError("methods must name at least one method.")
    duplicates = sorted({m for m in names if names.count(m) > 1})
    if duplicates:
        raise ValueError(f"methods must be distinct; {duplicates} appear more than once.")
    return names


class _Column:
    """One method's column: header with a remove button, parameters, figure, status."""

    def __init__(self, owner: CompareWidget, method: str, values: Mapping[str, Any]) -> None:
        self.method = method
        self.controls = ParamControls(method, owner.model, values)
        self.remove_button = ipywidgets.Button(
            icon="times",
            tooltip=f"remove {method_label(method)}",
            layout=ipywidgets.Layout(width="32px"),
        )
        self.title = ipywidgets.HTML(f"<b>{html.escape(method_label(method))}</b>")
        self.parameters = ipywidgets.Accordion(children=[self.controls], selected_index=None)
        self.parameters.set_title(0, "parameters")
        self.parameters.layout.width = "100%"
        self.view = FigureView((2.6, 1.0))
        self.status = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="100%"))
        self.displays: list[Any] = []
        self.layout: tuple[Any, ...] | None = None
        self.box = ipywidgets.VBox(
            [
                ipywidgets.HBox(
                    [self.title, self.remove_button],
                    layout=ipywidgets.Layout(
                        justify_content="space-between", align_items="center", width="100%"
                    ),
                ),
                self.parameters,
                self.view.image,
                self.status,
            ],
            layout=ipywidgets.Layout(margin="0 8px 0 0", align_items="flex-start"),
        )


class CompareWidget(InputWidget):
    """Explain the same input with several methods side by side, and measure agreement.

    One column per method, each on its own scale (tabular: bars in raw units in the
    same row order in every column; images: the overlay, normalization named under
    it), with the method's parameters editable in place and its time. Under them the
    agreement of every pair of methods (:func:`xaiwidgets.analysis.agreement.agreement`):
    Spearman rank correlation of the signed attributions and of their magnitudes, and
    the overlap of the top-k features. The input is moved with the same controls as in
    :class:`~xaiwidgets.ExplainerWidget`; methods are added and removed in the widget
    or by assigning ``methods``.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    dataset : Dataset, optional
        The data (defaults to the model's).
    methods : sequence of str, optional
        Registry names; by default those of gradient, ig, lime and shap that apply to
        the model (at least two methods where two apply).
    index : int, default=0
        The test row shown first.
    params : dict, optional
        ``{method: {parameter: value}}``; the rest take the explainers' defaults.
    top_k : int, optional
        For the top-k overlap; default 5 features (tabular) or 10 % of the pixels.
    mode : {"absolute", "diverging"}, default="absolute"
        Images: colour the magnitude or the signed map.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.

    Attributes
    ----------
    methods : list of str
    params : dict
        ``{method: keyword arguments}`` (assign a dict to change).
    explanations : dict
        ``{method: Explanation}`` of the current state after :meth:`wait`.
    agreement : DataFrame
        One row per pair of methods: ``method_a``, ``method_b``, ``spearman``,
        ``spearman_abs``, ``top_k_overlap`` (``attrs["k"]`` holds k).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> w = xw.CompareWidget(xw.wrap(xw.zoo.train_mlp(ds), ds), ds, methods=["gradient", "ig"])
    >>> sorted(w.wait())
    ['gradient', 'ig']
    >>> w.agreement[["method_a", "method_b"]].values.tolist()
    [['gradient', 'ig']]
    >>> w.close()
    """

    methods = traitlets.List(traitlets.Unicode(), help="registry names of the methods")
    params = traitlets.Dict(help="{method: keyword arguments}")
    top_k = traitlets.Int(5, help="features compared by the top-k overlap")
    mode = traitlets.Unicode("absolute", help="images: 'absolute' or 'diverging' colours")
    explanations = traitlets.Dict(read_only=True, help="{method: Explanation}")
    agreement = traitlets.Instance(pd.DataFrame, allow_none=True, read_only=True)

    def __init__(
        self,
        model: Any,
        dataset: Any = None,
        methods: Sequence[str] | None = None,
        index: int = 0,
        *,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        top_k: int | None = None,
        mode: str = "absolute",
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(model, dataset, index=index, debounce_s=debounce_s, slow_s=slow_s)
        self._cache = ExplanationCache(self.model)
        self._columns: dict[str, _Column] = {}
        self._quiet = False
        if methods is None:
            applicable = available(self.model)
            methods = [m for m in _DEFAULT_METHODS if m in applicable]
            if len(methods) < 2:
                methods = list(dict.fromkeys([*methods, *applicable]))[:2]
        if top_k is None:
            top_k = (
                5
                if self.dataset.kind == "tabular"
                else max(1, round(0.1 * self.dataset.n_features))
            )
        self.top_k = top_k
        self.mode = mode
        self.add_picker = ipywidgets.Dropdown(
            description="add method",
            layout=ipywidgets.Layout(width="260px"),
            style={"description_width": "initial"},
        )
        self.add_button = ipywidgets.Button(
            description="add", icon="plus", layout=ipywidgets.Layout(width="70px")
        )
        self.add_button.on_click(self._reporting(lambda _: self.add_method(self.add_picker.value)))
        self.top_k_picker = ipywidgets.BoundedIntText(
            value=self.top_k,
            min=1,
            max=self.dataset.n_features,
            description="top-k",
            layout=ipywidgets.Layout(width="140px"),
            style={"description_width": "initial"},
        )
        traitlets.link((self.top_k_picker, "value"), (self, "top_k"))
        self.mode_picker = colour_mode_picker(image=self.dataset.kind == "image")
        traitlets.link((self.mode_picker, "value"), (self, "mode"))
        self.view = FigureView(
            (4.6, 0.9 + 0.25 * self.model.n_classes)
            if self.dataset.kind == "tabular"
            else (6.0, 2.8)
        )
        self._view_layout: tuple[Any, ...] | None = None
        self._shared: dict[str, Any] = {}
        self.column_box = ipywidgets.HBox(
            layout=ipywidgets.Layout(flex_flow="row wrap", align_items="flex-start")
        )
        self.agreement_box = ipywidgets.HTML()
        self._set_methods(list(methods), dict(params or {}))
        self.observe(self._on_methods, names="methods")
        self.observe(self._on_params, names="params")
        self._recompute_on(["top_k", "mode"])
        header = ipywidgets.HBox(
            [
                self.target_picker,
                self.add_picker,
                self.add_button,
                self.top_k_picker,
                self.mode_picker,
            ],
            layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.children = [
            header,
            ipywidgets.HBox(
                [self.inputs, ipywidgets.VBox([self.view.image, self.status, self.agreement_box])],
                layout=ipywidgets.Layout(align_items="flex-start"),
            ),
            self.column_box,
            self.error_box,
        ]
        self._request()

    # ------------------------------------------------------------------ state
    @traitlets.validate("methods")
    def _valid_methods(self, proposal: Any) -> list[str]:
        return _check_methods(proposal.value)

    @traitlets.validate("params")
    def _valid_params(self, proposal: Any) -> dict[str, dict[str, Any]]:
        value = proposal.value
        unknown = sorted(set(value) - set(self._columns))
        if unknown:
            raise ValueError(
                f"params names methods that are not shown: {unknown}; the methods are "
                f"{list(self._columns)}."
            )
        result = {}
        for method, column in self._columns.items():
            if method in value and value[method] != column.controls.value:
                column.controls.set(value[method])
            result[method] = dict(column.controls.value)
        return result

    @traitlets.validate("top_k")
    def _valid_top_k(self, proposal: Any) -> int:
        value = proposal.value
        if not 1 <= value <= self.dataset.n_features:
            raise ValueError(
                f"top_k must be in [1, {self.dataset.n_features}] (the number of features); "
                f"got {value}."
            )
        return value

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        return check_option(proposal.value, "mode", COLOUR_MODES)

    def add_method(self, method: str, **params: Any) -> None:
        """Add a method (a new column) with optional parameters."""
        method = get(method).name
        if method in self.methods:
            raise ValueError(f"{method!r} is shown already.")
        self._set_methods([*self.methods, method], {**self.params, method: params})
        self._request()

    def remove_method(self, method: str) -> None:
        """Remove a method's column."""
        method = get(method).name
        if method not in self.methods:
            raise ValueError(f"{method!r} is not shown; the methods are {self.methods}.")
        self.methods = [m for m in self.methods if m != method]

    def _set_methods(self, methods: list[str], params: Mapping[str, Mapping[str, Any]]) -> None:
        """Build the columns for ``methods`` (keeping existing ones), quietly."""
        methods = _check_methods(methods)
        unknown = sorted(set(params) - set(methods))
        if unknown:
            raise ValueError(f"params names methods that are not shown: {unknown}.")
        columns = {}
        for method in methods:
            column = self._columns.get(method)
            if column is None:
                column = _Column(self, method, params.get(method, {}))
                column.controls.observe(
                    self._reporting(self._column_params_changed), names="value"
                )
                column.remove_button.on_click(
                    self._reporting(lambda _, m=method: self.remove_method(m))
                )
            elif method in params:
                column.controls.set(params[method])
            columns[method] = column
        self._quiet = True
        try:
            self._columns = columns
            self.methods = methods
            self.params = {m: dict(c.controls.value) for m, c in columns.items()}
        finally:
            self._quiet = False
        self.column_box.children = [c.box for c in columns.values()]
        for column in columns.values():
            column.remove_button.disabled = len(columns) == 1
        shown = set(methods)
        options = [(method_label(m), m) for m in available(self.model) if m not in shown]
        self.add_picker.options = options
        self.add_picker.value = options[0][1] if options else None
        self.add_button.disabled = not options

    def _on_methods(self, change: Any) -> None:
        if not self._quiet:
            self._set_methods(list(change["new"]), {})
            self._request()

    def _on_params(self, change: Any) -> None:
        if not self._quiet:
            self._request()

    def _column_params_changed(self, change: Any) -> None:
        self.params = {**self.params, change["owner"].method: dict(change["new"])}

    # ------------------------------------------------------------------ computation
    def _state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "target": self.target,
            "original": self.original,
            "index": self.index,
            "methods": list(self.methods),
            "params": {m: dict(p) for m, p in self.params.items()},
            "top_k": self.top_k,
            "mode": self.mode,
        }

    def _compute(self, state: dict[str, Any]) -> dict[str, Any]:
        results: dict[str, Explanation | Exception] = {}
        cached: dict[str, bool] = {}
        for method in state["methods"]:
            try:
                results[method], cached[method] = self._cache.explain(
                    method, state["params"][method], state["x"], state["target"]
                )
            except Exception as exc:
                results[method] = exc
        explained = {m: e for m, e in results.items() if isinstance(e, Explanation)}
        table = (
            agreement(explained, k=state["top_k"])
            if len(explained) >= 2
            else pd.DataFrame(columns=_COLUMNS)
        )
        original = self.model.predict_proba(state["original"])[0]
        return {"results": results, "cached": cached, "agreement": table, "original": original}

    def _rows(self, state: dict[str, Any], explained: dict[str, Explanation]) -> list[int] | None:
        """The shared row order: every column, or the largest of the first method's."""
        if self.dataset.kind == "image" or self.dataset.n_features <= MAX_ROWS or not explained:
            return None
        first = next(iter(explained.values()))
        magnitude = np.abs(np.asarray(first.values, dtype=float).reshape(-1))
        return np.argsort(-magnitude, kind="stable")[: MAX_ROWS - 1].tolist()

    def _column_displays(
        self, figure: Figure, method_index: int, mode: str, rows: list[int] | None
    ) -> list[Any]:
        ax = figure.add_subplot()
        if self.dataset.kind == "image":
            return [
                AttributionImage(
                    ax, style="overlay", mode=mode, compact=True, title_size=10, label_size=8
                )
            ]
        first = method_index == 0
        return [
            AttributionBars(
                ax,
                self.model.feature_names,
                rows,
                show_names=first,
                show_values=first,
                compact=True,
                fontsize=10,
            )
        ]

    def _column_size(self, first: bool, rows: list[int] | None) -> tuple[float, float]:
        if self.dataset.kind == "image":
            return (2.7, 3.0)
        n = len(rows) + 1 if rows is not None else self.dataset.n_features
        return (4.8 if first else 2.6, 1.1 + 0.27 * n)

    def _show(self, state: dict[str, Any], result: dict[str, Any]) -> None:
        start = time.perf_counter()
        results = result["results"]
        explained = {m: e for m, e in results.items() if isinstance(e, Explanation)}
        rows = self._rows(state, explained)
        columns = dict(self._columns)
        first_explained = next(iter(explained.values()), None)
        # The shared panel: the prediction (and the input, for images).
        layout = (self.dataset.kind,)
        if layout != self._view_layout:
            self.view.clear()
            self._shared = self._build_shared(self.view.figure)
            for display in self._shared.values():
                self.view.add(display)
            self._view_layout = layout
        if first_explained is not None:
            full = self._update_shared(self._shared, first_explained, result["original"])
            self.view.render(full)
        errors: list[tuple[str, Exception]] = []
        for position, method in enumerate(state["methods"]):
            column = columns.get(method)
            if column is None:
                continue
            outcome = results[method]
            if isinstance(outcome, Exception):
                errors.append((method, outcome))
                column.status.value = (
                    f'<div style="color:#b00020;font-size:0.9em;white-space:normal">'
                    f"{html.escape(type(outcome).__name__)}: {html.escape(str(outcome))}</div>"
                )
                column.view.image.layout.display = "none"
                continue
            column.view.image.layout.display = None
            column_layout = (position == 0, rows, state["mode"])
            if column.layout != column_layout:
                column.view.clear()
                size = self._column_size(position == 0, rows)
                column.view.figure.set_size_inches(*size)
                column.box.layout.width = f"{round(size[0] * column.view.figure.dpi) + 8}px"
                column.displays = self._column_displays(
                    column.view.figure, position, state["mode"], rows
                )
                for display in column.displays:
                    column.view.add(display)
                column.layout = column_layout
            full = any(display.update(outcome) for display in column.displays)
            column.view.render(full)
            column.status.value = (
                f'<div style="font-size:0.88em;color:#444">'
                f"{html.escape(describe(outcome, result['cached'].get(method, False)))}</div>"
            )
        table = result["agreement"]
        self.agreement_box.value = self._agreement_html(table, state["top_k"])
        self.set_trait("explanations", explained)
        self.set_trait("agreement", table)
        drawn = 1000 * (time.perf_counter() - start)
        total = sum(1000 * e.meta.get("time_s", 0.0) for e in explained.values())
        self._set_status(
            f"{len(explained)} method(s) explained in {total:.0f} ms · drawn in {drawn:.0f} ms"
        )
        if errors:
            # The first failure is the cause, so its traceback shows under the message.
            raise RuntimeError(
                "; ".join(f"{method_label(m)}: {type(e).__name__}: {e}" for m, e in errors)
            ) from errors[0][1]

    def _build_shared(self, figure: Figure) -> dict[str, Any]:
        if self.dataset.kind == "image":
            ax_input, ax_probabilities = figure.subplots(1, 2, width_ratios=[1, 1.4])
            return {
                "input": AttributionImage(ax_input, style="input", title_size=11, label_size=9),
                "probabilities": ProbabilityBars(
                    ax_probabilities, self.model.class_names, fontsize=9
                ),
            }
        return {
            "probabilities": ProbabilityBars(
                figure.add_subplot(), self.model.class_names, fontsize=10
            )
        }

    def _update_shared(
        self, displays: dict[str, Any], explanation: Explanation, original: np.ndarray
    ) -> bool:
        full = displays["probabilities"].update(explanation.prediction, original)
        if "input" in displays:
            full |= displays["input"].update(explanation)
        return full

    @staticmethod
    def _agreement_html(table: pd.DataFrame, k: int) -> str:
        if table.empty:
            return "<i>Agreement needs at least two methods that succeeded.</i>"

        def cell(value: float) -> str:
            if not np.isfinite(value):
                return '<td style="text-align:center">n/a</td>'
            # Green for agreement, red for disagreement (values in [-1, 1]).
            hue = 120 * (value + 1) / 2
            return (
                f'<td style="text-align:center;background:hsl({hue:.0f},65%,85%)">'
                f"{value:+.2f}</td>"
            )

        header = (
            "<tr><th>methods</th><th>Spearman (signed)</th><th>Spearman |·|</th>"
            f"<th>top-{k} overlap</th></tr>"
        )
        body = "".join(
            f"<tr><td>{html.escape(method_label(r.method_a))} vs "
            f"{html.escape(method_label(r.method_b))}</td>"
            f"{cell(r.spearman)}{cell(r.spearman_abs)}"
            f'<td style="text-align:center;background:hsl({120 * r.top_k_overlap:.0f},65%,85%)">'
            f"{r.top_k_overlap:.0%}</td></tr>"
            for r in table.itertuples()
        )
        return (
            '<div style="margin-top:6px"><b>Agreement</b> (rank correlation of the raw '
            f"attributions; share of the {k} largest |attributions| in common)"
            f'<table style="border-collapse:collapse;margin-top:4px">{header}{body}</table></div>'
        )

    def _clear(self) -> None:
        pass  # Partial results stay visible; failed columns show their own message.

    def _result(self) -> dict[str, Explanation]:
        return dict(self.explanations)

    # ------------------------------------------------------------------ export
    def export(self) -> tuple[pd.DataFrame, Figure]:
        """The current explanations as one tidy table and a new figure, for a report.

        Returns
        -------
        frame : DataFrame
            ``Explanation.to_frame()`` of every method, stacked, with a ``method``
            column first and ``target`` and ``output`` columns.
        figure : matplotlib Figure
            A new figure: the prediction, then one panel per method.

        Raises
        ------
        RuntimeError
            If no method has an explanation yet.
        """
        explanations = self.wait()
        if not explanations:
            raise RuntimeError(f"There are no explanations to export: {self.error or 'none yet'}.")
        frames = []
        for method, explanation in explanations.items():
            frame = explanation.to_frame()
            frame.insert(0, "method", method)
            frame["target"] = explanation.target_name
            frame["output"] = explanation.output
            frames.append(frame)
        state = self._state()
        rows = self._rows(state, explanations)
        n = len(explanations)
        height = self._column_size(True, rows)[1]
        figure = Figure(figsize=(3.0 + 2.6 * n, height + 1.6), dpi=100, layout="constrained")
        top, bottom = figure.subfigures(2, 1, height_ratios=[1.6, height])
        shared = self._build_shared(top)
        first = next(iter(explanations.values()))
        self._update_shared(shared, first, self.model.predict_proba(state["original"])[0])
        panels = (
            bottom.subfigures(1, n, width_ratios=[1.7] + [1.0] * (n - 1)) if n > 1 else [bottom]
        )
        for position, (panel, explanation) in enumerate(
            zip(np.atleast_1d(panels), explanations.values(), strict=True)
        ):
            for display in self._column_displays(panel, position, self.mode, rows):
                display.update(explanation)
        return pd.concat(frames, ignore_index=True), figure
