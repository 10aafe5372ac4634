"""``ExplainerWidget``: move one input with controls and watch the explanation follow."""

from __future__ import annotations

import html
import time
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import traitlets
from matplotlib.figure import Figure

from ..core.explainer import available, get
from ..core.explanation import Explanation
from ..core.validation import check_option
from ..plotting import AttributionBars, AttributionImage, ProbabilityBars
from ._base import COLOUR_MODES, FigureView, InputWidget, colour_mode_picker
from ._params import ExplanationCache, ParamControls

__all__ = ["ExplainerWidget", "describe", "method_label", "prediction_html"]

#: Tabular data with more columns than this show the largest ones and sum the rest.
MAX_ROWS = 20

_DIAGNOSTICS = {
    "relative_gap": ("completeness gap", lambda v: f"{100 * v:.2g} %"),
    "steps": ("steps", lambda v: f"{int(v)}"),
    "r2": ("surrogate R²", lambda v: f"{v:.2f}"),
    "algorithm": ("algorithm", str),
    "efficiency_gap": ("efficiency gap", lambda v: f"{v:.1e}"),
    "background_size": ("background", lambda v: f"{int(v)} rows"),
    "n_samples": ("samples", lambda v: f"{int(v)}"),
}


def method_label(method: str) -> str:
    """The display name of a registered method (its ``label``, else its name).

    Examples
    --------
    >>> method_label("ig")
    'Integrated Gradients'
    """
    return get(method).label or method


def describe(explanation: Explanation, cached: bool = False) -> str:
    """One status line: the time an explanation took and its main diagnostics.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> e = xw.explainers.IntegratedGradients(m).explain(ds.X_test[0])
    >>> describe(e).startswith("Integrated Gradients: explained in")
    True
    """
    took = 1000 * explanation.meta.get("time_s", float("nan"))
    parts = [f"{method_label(explanation.method)}: explained in {took:.1f} ms"]
    if cached:
        parts[0] += " (remembered)"
    for key, (name, fmt) in _DIAGNOSTICS.items():
        value = explanation.meta.get(key)
        if isinstance(value, str):
            parts.append(f"{name} {value}")
        elif isinstance(value, int | float | np.number) and np.isfinite(value):
            parts.append(f"{name} {fmt(float(value))}")
    return " · ".join(parts)


def prediction_html(
    prediction: Any, original: Any, class_names: list[str], changed: bool = True
) -> str:
    """One line: the predicted class and its probability, and the original input's.

    Parameters
    ----------
    prediction, original : array-like of shape (n_classes,)
        Class probabilities of the current and of the original input.
    class_names : list of str
    changed : bool, default=True
        Whether the input differs from the original (else the original is not repeated).

    Examples
    --------
    >>> prediction_html([0.2, 0.8], [0.6, 0.4], ["no", "yes"])
    'prediction: <b>yes</b> 80.0 % · original input: no 60.0 %'
    """

    def top(probabilities: Any) -> tuple[str, float]:
        probabilities = np.asarray(probabilities, dtype=float).reshape(-1)
        k = int(np.argmax(probabilities))
        return html.escape(class_names[k]), 100 * probabilities[k]

    name, percent = top(prediction)
    text = f"prediction: <b>{name}</b> {percent:.1f} %"
    if changed:
        name, percent = top(original)
        text += f" · original input: {name} {percent:.1f} %"
    return text


def _method_options(model: Any) -> list[tuple[str, str]]:
    return [(method_label(name), name) for name in available(model)]


class ExplainerWidget(InputWidget):
    """Perturb one input with controls; the prediction and its explanation follow live.

    Tabular data get a slider per continuous feature (over its plausible range), an
    integer slider per integer feature and a dropdown per categorical one; images get
    brightness, contrast, occlusion and noise controls. Above: the method (only those
    that apply to the model), its parameters, and the explained class. The figure
    shows the class probabilities, with the original input's as dark ticks, and the
    attributions: bars in raw units for tabular data (the original input's as ticks),
    the input, the heatmap and the overlay for images (normalization named under each
    map). The status line gives the time the explanation took.

    Everything can be driven from Python: assign ``x``, ``index``, ``target``,
    ``method`` or ``params``, call ``set_feature`` or ``reset``, then ``wait()`` for
    the explanation.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    dataset : Dataset, optional
        The data (defaults to the model's).
    method : str, default="ig"
        The registry name of the method.
    index : int, default=0
        The test row shown first.
    mode : {"absolute", "diverging"}, default="absolute"
        Images: colour the magnitude or the signed map.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.
    **method_params
        The method's parameters, for example ``steps=32``.

    Attributes
    ----------
    method : str
        The method's registry name.
    params : dict
        The method's keyword arguments (assign a dict; missing ones take defaults).
    explanation : Explanation or None
        The latest explanation, of the current state after :meth:`wait`.
    reference : Explanation or None
        The same method's explanation of the row's original input (same class).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> w = xw.ExplainerWidget(xw.wrap(xw.zoo.train_mlp(ds), ds), ds, method="gradient")
    >>> w.set_feature("income", 120.0)
    >>> w.wait().data[0]
    np.float64(120.0)
    >>> w.close()
    """

    method = traitlets.Unicode("ig", help="registry name of the method")
    params = traitlets.Dict(help="the method's keyword arguments")
    mode = traitlets.Unicode("absolute", help="images: 'absolute' or 'diverging' colours")
    explanation = traitlets.Instance(Explanation, allow_none=True, read_only=True)
    reference = traitlets.Instance(Explanation, allow_none=True, read_only=True)

    def __init__(
        self,
        model: Any,
        dataset: Any = None,
        method: str = "ig",
        index: int = 0,
        *,
        mode: str = "absolute",
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
        **method_params: Any,
    ) -> None:
        super().__init__(model, dataset, index=index, debounce_s=debounce_s, slow_s=slow_s)
        self._cache = ExplanationCache(self.model)
        self._param_controls: ParamControls | None = None
        self._quiet = False
        self.method_picker = ipywidgets.Dropdown(
            options=_method_options(self.model),
            description="method",
            layout=ipywidgets.Layout(width="260px"),
        )
        self.method_picker.observe(
            self._reporting(lambda change: setattr(self, "method", change["new"])), names="value"
        )
        self.param_box = ipywidgets.HBox()
        self.mode_picker = colour_mode_picker(image=self.dataset.kind == "image")
        traitlets.link((self.mode_picker, "value"), (self, "mode"))
        # The figure belongs to the worker thread: it is (re)built there in _show.
        self.view = FigureView(self._figsize())
        self.prediction_box = ipywidgets.HTML(layout=ipywidgets.Layout(min_height="1.6em"))
        self.prediction_box.add_class("xw-prediction")
        self._displays: dict[str, Any] = {}
        self._layout: tuple[Any, ...] | None = None
        self._set_method(method, method_params)
        self.mode = mode
        self._recompute_on(["mode"])
        self.observe(self._on_params, names="params")
        self.observe(self._on_method, names="method")
        header = ipywidgets.HBox(
            [self.method_picker, self.target_picker, self.mode_picker],
            layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
        )
        self.children = [
            header,
            self.param_box,
            ipywidgets.HBox(
                [
                    self.inputs,
                    ipywidgets.VBox([self.prediction_box, self.view.image, self.status]),
                ],
                layout=ipywidgets.Layout(align_items="flex-start"),
            ),
            self.error_box,
        ]
        self._request()

    # ------------------------------------------------------------------ state
    @traitlets.validate("method")
    def _valid_method(self, proposal: Any) -> str:
        return get(proposal.value).name

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: Any) -> str:
        return check_option(proposal.value, "mode", COLOUR_MODES)

    @traitlets.validate("params")
    def _valid_params(self, proposal: Any) -> dict[str, Any]:
        controls = self._param_controls
        if controls is None or proposal.value == controls.value:
            return dict(proposal.value)
        controls.set(proposal.value)
        return dict(controls.value)

    def _set_method(self, method: str, values: dict[str, Any]) -> None:
        """Switch to ``method`` with parameter ``values`` (the rest default), quietly."""
        method = get(method).name
        controls = ParamControls(method, self.model, values)
        controls.observe(
            self._reporting(lambda change: setattr(self, "params", change["new"])), names="value"
        )
        self._quiet = True
        try:
            self.method = method
            self._param_controls = controls
            self.params = dict(controls.value)
        finally:
            self._quiet = False
        self.param_box.children = [controls]
        options = dict((value, label) for label, value in self.method_picker.options)
        if method not in options:
            # Forced from Python although it does not apply: show it, the error explains.
            self.method_picker.options = [
                *self.method_picker.options,
                (f"{method_label(method)} (not applicable)", method),
            ]
        self.method_picker.value = method

    def _on_method(self, change: Any) -> None:
        if self._quiet:
            return
        self._set_method(change["new"], {})
        self._request()

    def _on_params(self, change: Any) -> None:
        if not self._quiet:
            self._request()

    # ------------------------------------------------------------------ layout
    def _figsize(self) -> tuple[float, float]:
        if self.dataset.kind == "image":
            return (6.4, 6.0)
        rows = min(self.dataset.n_features, MAX_ROWS)
        return (6.6, 1.5 + 0.25 * self.model.n_classes + 0.27 * rows + 0.9)

    def _build(
        self, figure: Figure, displays: dict[str, Any], mode: str, rows: list[int] | None
    ) -> None:
        """Create the displays in ``figure`` (used for the widget and for ``export``)."""
        names = self.model.class_names
        if self.dataset.kind == "image":
            axes = figure.subplots(2, 2)
            displays["input"] = AttributionImage(
                axes[0, 0], style="input", title_size=11, label_size=9
            )
            common = {"mode": mode, "title_size": 10, "label_size": 8.5}
            displays["heatmap"] = AttributionImage(axes[0, 1], style="heatmap", **common)
            displays["overlay"] = AttributionImage(
                axes[1, 0], style="overlay", title="overlay", **common
            )
            displays["probabilities"] = ProbabilityBars(axes[1, 1], names, fontsize=10)
            return
        grid = figure.add_gridspec(
            2,
            1,
            height_ratios=[
                0.5 + 0.25 * len(names),
                0.27 * min(self.dataset.n_features, MAX_ROWS) + 0.9,
            ],
        )
        displays["probabilities"] = ProbabilityBars(
            figure.add_subplot(grid[0]), names, fontsize=11
        )
        displays["attributions"] = AttributionBars(
            figure.add_subplot(grid[1]), self.model.feature_names, rows, fontsize=11
        )

    def _rows_for(self, reference: Explanation) -> list[int] | None:
        """All columns, or the MAX_ROWS - 1 largest of the original's attributions."""
        if self.dataset.kind == "image" or self.dataset.n_features <= MAX_ROWS:
            return None
        magnitude = np.abs(np.asarray(reference.values, dtype=float).reshape(-1))
        return np.argsort(-magnitude, kind="stable")[: MAX_ROWS - 1].tolist()

    def _update(
        self, displays: dict[str, Any], explanation: Explanation, reference: Explanation
    ) -> bool:
        """Show an explanation in ``displays``; True when the layout changed."""
        full = displays["probabilities"].update(explanation.prediction, reference.prediction)
        if self.dataset.kind == "image":
            for name in ("input", "heatmap", "overlay"):
                full |= displays[name].update(explanation)
            return full
        return displays["attributions"].update(explanation, reference) | full

    # ------------------------------------------------------------------ computation
    def _state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "original": self.original,
            "target": self.target,
            "method": self.method,
            "params": dict(self.params),
            "mode": self.mode,
        }

    def _compute(self, state: dict[str, Any]) -> tuple[Explanation, Explanation, bool]:
        explanation, cached = self._cache.explain(
            state["method"], state["params"], state["x"], state["target"]
        )
        reference, _ = self._cache.explain(
            state["method"], state["params"], state["original"], explanation.target
        )
        return explanation, reference, cached

    def _show(self, state: dict[str, Any], result: tuple[Explanation, Explanation, bool]) -> None:
        explanation, reference, cached = result
        start = time.perf_counter()
        layout = (state["mode"], self._rows_for(reference))
        if layout != self._layout:
            self.view.clear()
            self._displays.clear()
            self._build(self.view.figure, self._displays, *layout)
            for display in self._displays.values():
                self.view.add(display)
            self._layout = layout
        full = self._update(self._displays, explanation, reference)
        self.view.render(full)
        drawn = 1000 * (time.perf_counter() - start)
        self.prediction_box.value = prediction_html(
            explanation.prediction,
            reference.prediction,
            self.model.class_names,
            changed=not np.array_equal(state["x"], state["original"]),
        )
        self.set_trait("reference", reference)
        self.set_trait("explanation", explanation)
        self._set_status(f"{html.escape(describe(explanation, cached))} · drawn in {drawn:.0f} ms")

    def _clear(self) -> None:
        self.set_trait("explanation", None)
        self.prediction_box.value = ""
        self._set_status("")

    def _result(self) -> Explanation | None:
        return self.explanation

    # ------------------------------------------------------------------ export
    def export(self) -> tuple[pd.DataFrame, Figure]:
        """The current explanation as a table and a new figure, for a report.

        Returns
        -------
        frame : DataFrame
            ``Explanation.to_frame()`` plus the columns ``original`` (the row's
            original value) and ``method``, ``target``, ``output``.
        figure : matplotlib Figure
            A new figure (not the widget's) with the same panels.

        Raises
        ------
        RuntimeError
            If there is no explanation yet (call :meth:`wait` first) or the last
            computation failed.
        """
        explanation, reference = self.wait(), self.reference
        if explanation is None or reference is None:
            raise RuntimeError(f"There is no explanation to export: {self.error or 'none yet'}.")
        frame = explanation.to_frame()
        frame.insert(frame.columns.get_loc("value") + 1, "original", reference.data.reshape(-1))
        frame["method"] = explanation.method
        frame["target"] = explanation.target_name
        frame["output"] = explanation.output
        figure = Figure(figsize=self._figsize(), dpi=100, layout="constrained")
        displays: dict[str, Any] = {}
        self._build(figure, displays, self.mode, self._rows_for(reference))
        self._update(displays, explanation, reference)
        return frame, figure
