"""``RegionWidget``: the exact linear model of a ReLU network around the input being moved.

A ReLU network is piecewise affine (Dethise & Canini, "Continuous Exact Explanations of
Neural Networks"): around the input it *is* one affine map, valid in a polytope. The
widget shows, for the input set with the sliders,

- the exact logits along the active feature, with every breakpoint and the interval in
  which the input's own linear model holds;
- the exact weights of that linear model, which stay fixed while the slider moves inside
  the interval and jump when it crosses an end;
- a 2-D map of all linear regions on a slice through the input (two chosen features
  free, the others fixed), with the input's region outlined.

Every number comes from :class:`~xaiwidgets.explainers.LinearRegion`. The map takes a
second or more, so it is computed on its own worker thread (the curve and the weights do
not wait for it) and remembered per slice.
"""

from __future__ import annotations

import dataclasses
import html
import time
import warnings
from collections import OrderedDict
from typing import Any

import ipywidgets
import numpy as np
import traitlets
from matplotlib.text import Text

from ..core.explanation import Explanation
from ..core.validation import check_int, check_option, check_real
from ..explainers.linear_region import Curve, LinearRegion, Region, RegionMap
from ..plotting import AttributionBars, CurveDisplay, RegionMapMarker, plot_region_map
from ._base import FigureView, InputWidget, _Worker
from ._explainer import MAX_ROWS
from ._params import ExplanationCache

__all__ = ["RegionWidget"]

_METHOD = "linear_region"
#: How many region maps are remembered (each is a few hundred polygons).
_MAPS_KEPT = 32
_COLORS = ("class", "weight", "rank")
_ACCENT = "#e07000"
_ACTIVE = "active"  # the colour-feature dropdown's value for "the active feature"


def unsupported_reason(model: Any) -> str | None:
    """Why ``model`` has no exact linear regions, or None when it has them.

    Examples
    --------
    >>> import torch, xaiwidgets as xw
    >>> tanh = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Tanh())
    >>> "Tanh" in unsupported_reason(xw.wrap(tanh, input_shape=(2,)))
    True
    """
    if LinearRegion.applies_to(model):
        return None
    try:
        LinearRegion(model)
    except (TypeError, ValueError) as exc:
        return (
            "RegionWidget shows exact linear regions, which only piecewise-linear networks "
            "have (Linear and convolution layers with ReLU or LeakyReLU, returning logits). "
            f"This model is not one: {exc} For other models, use xw.ExplainerWidget with a "
            "method that applies to them."
        )
    return None


class _Banner:
    """Two lines of text between the curve and the weights (an axes without axis)."""

    def __init__(self, ax: Any, fontsize: float) -> None:
        ax.set_axis_off()
        self.interval = ax.text(0.0, 0.95, "", va="top", fontsize=fontsize, transform=ax.transAxes)
        self.note = ax.text(0.0, 0.1, "", va="bottom", fontsize=fontsize, transform=ax.transAxes)
        self.artists: list[Any] = []
        self.texts: list[Text] = [self.interval, self.note]

    def update(self, interval: str, note: str, jumped: bool) -> bool:
        self.interval.set_text(interval)
        self.note.set_text(note)
        self.note.set_color(_ACCENT if jumped else "0.35")
        self.note.set_fontweight("bold" if jumped else "normal")
        return False


class RegionWidget(InputWidget):
    """The exact linear model of a ReLU network around an input moved with sliders.

    A ReLU network is one affine function ``z(y) = W_x y + b_x`` on a polytope around
    each input ``x`` (Dethise & Canini, Eqs. 1-4). Sliders move the input as in
    :class:`~xaiwidgets.ExplainerWidget`. For the *active feature* (chosen in a dropdown,
    or the slider moved last) the widget shows:

    - the exact logits as that feature moves over its range, with a tick at every
      breakpoint and the interval in which ``x``'s linear model holds as a yellow band;
    - the exact weights of the explained logit (a row of ``W_x``, or ``w_i σ_i``,
      Definition 2), with the original input's as dark ticks. Inside the band they do
      not move; crossing a breakpoint they jump, and the line above them says so;
    - a map of all linear regions on a slice through ``x`` (two features free, the
      others at ``x``'s values), coloured by predicted class, by a feature's weight or
      by its rank, with ``x`` as a star, its region outlined, and (when the active
      feature is on the map) the band's segment in orange. The map is computed on its
      own worker thread, with a busy indicator, and remembered per slice: moving one of
      the map's two features only moves the star.

    A model that is not a supported piecewise-linear network gets a message inside the
    widget (the input panel keeps working). Everything can be driven from Python.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        A ReLU network returning logits (``xw.zoo.train_mlp`` makes one).
    dataset : Dataset, optional
        Tabular data (defaults to the model's).
    index : int, default=0
        The test row shown first.
    feature : str, optional
        The active feature (a numeric one); default the first.
    features : (str, str), optional
        The map's two features; default the active feature and the next numeric one.
    follow : bool, default=True
        Make the feature whose slider moved last the active one.
    normalize : bool, default=True
        Show weights times the training standard deviation (comparable across units)
        rather than raw weights.
    color : {"class", "weight", "rank"}, default="class"
        How the map's regions are coloured.
    color_feature : str, optional
        The input column whose weight or rank colours the map; default the active
        feature.
    max_regions : int, default=2000
        Stop the map's walk after this many regions (the map then says so).
    zoom : float, default=1.0
        The map's share of each feature's range (1: the whole data range; 0.25: a
        quarter of it around the input). A zoomed window stays put while the input
        moves inside it, so that the map is reused.
    show_map : bool, default=True
        Compute and show the map.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase` (both worker threads).

    Attributes
    ----------
    explanation : Explanation or None
        ``LinearRegion(model, normalize=normalize).explain(x, target)``.
    region : Region or None
        ``LinearRegion(model).region(x)``.
    curve : Curve or None
        ``LinearRegion(model).curve(x, feature)``.
    region_map : RegionMap or None
        The map shown: ``LinearRegion(model).region_map(x, features, ...)``, with ``x``
        and ``current`` set to the current input and its region.
    map_cached : bool
        Whether the map shown came from the widget's cache.
    map_timings : dict
        Of the last map shown: ``compute_s`` (finding it, on the map's worker thread,
        or taking it from the cache) and ``show_s`` (drawing it and encoding the PNG).
    map_busy : bool
        The map is being computed.

    Examples
    --------
    >>> import numpy as np, xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> w = xw.RegionWidget(m, ds, index=0, show_map=False)
    >>> e = w.wait()
    >>> low, high = w.curve.interval  # where income can move without leaving the region
    >>> w.set_feature("income", (low + 3 * high) / 4)
    >>> bool(np.array_equal(w.wait().values, e.values))  # the weights did not move
    True
    >>> w.close()
    """

    feature = traitlets.Any(None, help="the active feature (its curve is shown)")
    follow = traitlets.Bool(True, help="the slider moved last becomes the active feature")
    normalize = traitlets.Bool(True, help="weights times the training standard deviation")
    features = traitlets.Any(None, help="the region map's two features")
    color = traitlets.Any("class", help="map colours: 'class', 'weight' or 'rank'")
    color_feature = traitlets.Any(None, help="column for weight/rank colours; None: active")
    max_regions = traitlets.Any(2000, help="the map's cap on the number of regions")
    zoom = traitlets.Any(1.0, help="the map's share of each feature's data range")
    show_map = traitlets.Bool(True, help="compute and show the region map")
    explanation = traitlets.Instance(Explanation, allow_none=True, read_only=True)
    region = traitlets.Instance(Region, allow_none=True, read_only=True)
    curve = traitlets.Instance(Curve, allow_none=True, read_only=True)
    region_map = traitlets.Instance(RegionMap, allow_none=True, read_only=True)
    map_cached = traitlets.Bool(False, read_only=True, help="the map came from the cache")
    map_busy = traitlets.Bool(False, read_only=True, help="the map is being computed")

    #: The region map's worker thread (made at the end of ``__init__``).
    _map_worker: _Worker | None = None

    def __init__(
        self,
        model: Any,
        dataset: Any = None,
        index: int = 0,
        *,
        feature: str | None = None,
        features: tuple[str, str] | None = None,
        follow: bool = True,
        normalize: bool = True,
        color: str = "class",
        color_feature: str | None = None,
        max_regions: int = 2000,
        zoom: float = 1.0,
        show_map: bool = True,
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(model, dataset, index=index, debounce_s=debounce_s, slow_s=slow_s)
        if self.dataset.kind != "tabular":
            self.close()
            raise TypeError(
                "RegionWidget explores tabular data with a slider per feature; for images "
                "use xw.ExplainerWidget(model, dataset, method='linear_region')."
            )
        self._numeric = {
            f.columns[0]: f.name for f in self.dataset.features if f.kind != "categorical"
        }
        if not self._numeric:
            raise ValueError("RegionWidget needs a data set with at least one numeric feature.")
        self._unsupported = unsupported_reason(self.model)
        self._cache = ExplanationCache(self.model)
        self._map_explainer: LinearRegion | None = None
        self._maps: OrderedDict[Any, tuple[int, RegionMap]] = OrderedDict()
        self._map_serial = 0
        self._errors: dict[str, BaseException | None] = {"main": None, "map": None}
        self._last_shown: tuple[Any, ...] | None = None
        self._map_drawn: tuple[Any, ...] | None = None
        self._windows: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        self._map_info = ""
        self.map_timings: dict[str, float] = {}
        self._syncing = False

        names = list(self._numeric.values())
        self.feature = names[0] if feature is None else feature
        if features is None and len(names) > 1:
            features = (self.feature, next(n for n in names if n != self.feature))
        self.features = features
        self.follow, self.normalize = follow, normalize
        self.color, self.color_feature = color, color_feature
        self.max_regions, self.zoom = max_regions, zoom
        self.show_map = show_map and features is not None

        self.view = FigureView(self._figsize())
        self.map_view = FigureView((5.4, 4.3))
        self._build_controls()
        self._displays: dict[str, Any] = {}
        self._layout: tuple[Any, ...] | None = None
        self._map_worker = _Worker(
            self._compute_map_timed,
            self._deliver_map,
            self._set_map_busy,
            debounce_s=debounce_s,
            slow_s=slow_s,
            torch_threads=self.torch_threads,
        )
        self._recompute_on(["feature", "normalize"])
        self.observe(
            lambda change: self._request_map(),
            names=["features", "color", "color_feature", "max_regions", "zoom", "show_map"],
        )
        self.observe(self._on_x_follow, names="x")
        self.observe(self._sync_map_controls, names=["features", "show_map"])
        self._sync_map_controls(None)

        self.children = [
            ipywidgets.HBox(
                [self.feature_picker, self.follow_box, self.target_picker, self.normalize_box],
                layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
            ),
            ipywidgets.HBox(
                [self.inputs, ipywidgets.VBox([self.view.image, self.status])],
                layout=ipywidgets.Layout(align_items="flex-start"),
            ),
            self.map_box,
            self.error_box,
        ]
        if self._unsupported is not None:
            self.view.image.layout.display = "none"
            self.map_box.layout.display = "none"
        self._request()

    # ------------------------------------------------------------------ controls
    def _build_controls(self) -> None:
        names = list(self._numeric.values())
        wide = {"style": {"description_width": "initial"}}
        self.feature_picker = ipywidgets.Dropdown(
            options=names, description="active feature", layout={"width": "260px"}, **wide
        )
        traitlets.link((self, "feature"), (self.feature_picker, "value"))
        self.follow_box = ipywidgets.Checkbox(
            description="follow the slider moved last", indent=False, layout={"width": "auto"}
        )
        traitlets.link((self, "follow"), (self.follow_box, "value"))
        self.normalize_box = ipywidgets.Checkbox(
            description="weights per standard deviation (w·σ)",
            indent=False,
            layout={"width": "auto"},
        )
        traitlets.link((self, "normalize"), (self.normalize_box, "value"))

        self.show_map_box = ipywidgets.Checkbox(
            description="show the region map", indent=False, layout={"width": "auto"}
        )
        traitlets.link((self, "show_map"), (self.show_map_box, "value"))
        self.map_x = ipywidgets.Dropdown(
            options=names, description="map: x", layout={"width": "250px"}, **wide
        )
        self.map_y = ipywidgets.Dropdown(
            options=names, description="map: y", layout={"width": "250px"}, **wide
        )
        for picker in (self.map_x, self.map_y):
            picker.observe(self._reporting(self._on_map_pickers), names="value")
        self.color_picker = ipywidgets.ToggleButtons(
            options=list(_COLORS),
            description="colour by",
            style={"button_width": "70px", "description_width": "initial"},
        )
        traitlets.link((self, "color"), (self.color_picker, "value"))
        self.color_feature_picker = ipywidgets.Dropdown(
            options=[("the active feature", _ACTIVE), *[(n, n) for n in self.model.feature_names]],
            description="weight/rank of",
            layout={"width": "300px"},
            **wide,
        )
        traitlets.link(
            (self, "color_feature"),
            (self.color_feature_picker, "value"),
            transform=(
                lambda value: _ACTIVE if value is None else value,
                lambda value: None if value == _ACTIVE else value,
            ),
        )
        self.max_regions_box = ipywidgets.BoundedIntText(
            min=1, max=10**6, description="region cap", layout={"width": "180px"}, **wide
        )
        traitlets.link((self, "max_regions"), (self.max_regions_box, "value"))
        self.zoom_picker = ipywidgets.Dropdown(
            options=[("whole range", 1.0), ("1/2", 0.5), ("1/4", 0.25), ("1/10", 0.1)],
            description="map range",
            layout={"width": "170px"},
            **wide,
        )
        traitlets.link(
            (self, "zoom"),
            (self.zoom_picker, "value"),
            transform=(self._zoom_option, lambda value: value),
        )
        self.map_status = ipywidgets.HTML(layout=ipywidgets.Layout(width="340px"))
        controls = ipywidgets.VBox(
            [
                self.show_map_box,
                self.map_x,
                self.map_y,
                self.color_picker,
                self.color_feature_picker,
                ipywidgets.HBox([self.zoom_picker, self.max_regions_box]),
                self.map_status,
            ],
            layout=ipywidgets.Layout(min_width="360px", max_width="360px"),
        )
        self.map_box = ipywidgets.HBox(
            [controls, self.map_view.image],
            layout=ipywidgets.Layout(align_items="flex-start", margin="8px 0 0 0"),
        )

    def _on_map_pickers(self, change: Any) -> None:
        if self._syncing:
            return
        pair = [self.map_x.value, self.map_y.value]
        if pair[0] == pair[1]:  # the feature of the other axis was picked: swap them
            moved = 0 if change["owner"] is self.map_x else 1
            pair[1 - moved] = change["old"]
        self.features = tuple(pair)

    def _sync_map_controls(self, change: Any) -> None:
        """Show the map's traits in its controls (which do not call back meanwhile)."""
        self._syncing = True
        try:
            if self.features is not None:
                self.map_x.value, self.map_y.value = self.features
        finally:
            self._syncing = False
        self.map_view.image.layout.display = None if self.show_map else "none"
        for control in (
            self.map_x,
            self.map_y,
            self.color_picker,
            self.max_regions_box,
            self.zoom_picker,
        ):
            control.disabled = self.features is None
        self.color_feature_picker.disabled = self.features is None
        self.show_map_box.disabled = self.features is None

    def _on_x_follow(self, change: Any) -> None:
        """Make the feature of the slider moved last the active one."""
        old, new = change["old"], change["new"]
        if not self.follow or old is None or new is None:
            return
        changed = np.flatnonzero(np.asarray(old) != np.asarray(new))
        if len(changed) == 1 and int(changed[0]) in self._numeric:
            self.feature = self._numeric[int(changed[0])]

    # ------------------------------------------------------------------ validation
    def _numeric_feature(self, value: Any, name: str) -> str:
        if isinstance(value, str) and value in self._numeric.values():
            return value
        hint = ""
        if isinstance(value, str) and any(
            f.name == value and f.kind == "categorical" for f in self.dataset.features
        ):
            hint = " (a categorical feature has no slider to move along)"
        raise ValueError(
            f"{name} must name a numeric feature, one of {list(self._numeric.values())}; "
            f"got {value!r}{hint}."
        )

    @traitlets.validate("feature")
    def _valid_feature(self, proposal: Any) -> str:
        return self._numeric_feature(proposal.value, "feature")

    @traitlets.validate("features")
    def _valid_features(self, proposal: Any) -> tuple[str, str] | None:
        value = proposal.value
        if value is None:
            return None
        if isinstance(value, str) or not isinstance(value, tuple | list) or len(value) != 2:
            raise ValueError(f"features must be two feature names; got {value!r}.")
        pair = tuple(self._numeric_feature(v, "features") for v in value)
        if pair[0] == pair[1]:
            raise ValueError(f"features must be two different features; got {pair[0]!r} twice.")
        return pair

    @traitlets.validate("color")
    def _valid_color(self, proposal: Any) -> str:
        return check_option(proposal.value, "color", list(_COLORS))

    @traitlets.validate("color_feature")
    def _valid_color_feature(self, proposal: Any) -> str | None:
        value = proposal.value
        if value is None or (isinstance(value, str) and value in self.model.feature_names):
            return value
        raise ValueError(
            f"color_feature must be None (the active feature) or an input column, one of "
            f"{self.model.feature_names}; got {value!r}."
        )

    @traitlets.validate("zoom")
    def _valid_zoom(self, proposal: Any) -> float:
        return check_real(proposal.value, "zoom", low=0.0, high=1.0, low_inclusive=False)

    def _zoom_option(self, zoom: float) -> float:
        """The zoom dropdown shows any zoom set from Python (added as an option)."""
        if zoom not in [value for _, value in self.zoom_picker.options]:
            self.zoom_picker.options = [*self.zoom_picker.options, (f"{zoom:g}", zoom)]
        return zoom

    @traitlets.validate("max_regions")
    def _valid_max_regions(self, proposal: Any) -> int:
        return check_int(proposal.value, "max_regions", low=1)

    # ------------------------------------------------------------------ requests
    def _request(self) -> None:
        super()._request()
        self._request_map()

    def _request_map(self) -> None:
        if self._map_worker is not None and self._unsupported is None:
            self._map_worker.submit(self._map_state())

    # ------------------------------------------------------------------ curve and weights
    def _figsize(self) -> tuple[float, float]:
        rows = min(self.dataset.n_features, MAX_ROWS)
        return (6.6, 2.6 + 0.55 + 0.25 * rows + 1.0)

    def _rows(self, reference: Explanation, column: int) -> list[int] | None:
        """All columns, or the MAX_ROWS - 1 largest original weights and the active one."""
        if self.dataset.n_features <= MAX_ROWS:
            return None
        magnitude = np.abs(np.asarray(reference.values, dtype=float).reshape(-1))
        rows = np.argsort(-magnitude, kind="stable")[: MAX_ROWS - 1].tolist()
        if column not in rows:
            rows[-1] = column
        return rows

    def _build(self, normalize: bool, rows: list[int] | None) -> None:
        self.view.clear()
        self._displays.clear()
        # Two subfigures, so that the curve spans the width rather than lining up with
        # the bars (whose feature names take the left third).
        top, bottom = self.view.figure.subfigures(
            2, 1, height_ratios=[3.05, 0.25 * min(self.dataset.n_features, MAX_ROWS) + 1.0]
        )
        curve_axes, banner_axes = top.subplots(2, 1, height_ratios=[2.6, 0.45])
        self._displays["curve"] = CurveDisplay(curve_axes, self.model.class_names, fontsize=10)
        self._displays["banner"] = _Banner(banner_axes, fontsize=10)
        label = (
            "w·σ: change of the logit per training standard deviation"
            if normalize
            else "w: change of the logit per unit of the feature"
        )
        self._displays["bars"] = AttributionBars(
            bottom.add_subplot(),
            self.model.feature_names,
            rows,
            xlabel=label,
            fontsize=10,
        )
        for display in self._displays.values():
            self.view.add(display)

    def _state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "original": self.original,
            "index": self.index,
            "target": self.target,
            "feature": self.feature,
            "normalize": self.normalize,
        }

    def _compute(self, state: dict[str, Any]) -> tuple[Explanation, Explanation, Region, Curve]:
        if self._unsupported is not None:
            raise TypeError(self._unsupported)
        params = {"normalize": state["normalize"]}
        explanation, _ = self._cache.explain(_METHOD, params, state["x"], state["target"])
        reference, _ = self._cache.explain(_METHOD, params, state["original"], explanation.target)
        explainer = self._cache.explainer(_METHOD, {"normalize": False})
        return (
            explanation,
            reference,
            explainer.region(state["x"]),
            explainer.curve(state["x"], state["feature"]),
        )

    def _note(self, state: dict[str, Any], explanation: Explanation, region: Region) -> tuple:
        """The line above the weights: whether they stayed or jumped since the last result."""
        pattern = np.concatenate(region.pattern) if region.pattern else np.zeros(0, bool)
        shown = (state["index"], state["normalize"], explanation.target, pattern)
        last, self._last_shown = self._last_shown, shown
        if last is None or last[:2] != shown[:2]:
            return "Move a slider: inside the yellow band the weights stay fixed.", False
        if last[2] != shown[2]:
            name = self.model.class_names[explanation.target]
            return f"The predicted class is now {name!r}: the bars show its logit.", True
        switched = int(np.sum(last[3] != pattern))
        if switched == 0:
            return "Same linear region: the weights did not move.", False
        units = "unit" if switched == 1 else "units"
        return f"New linear region ({switched} {units} switched): the weights jumped.", True

    def _show(self, state: dict[str, Any], result: tuple) -> None:
        explanation, reference, region, curve = result
        start = time.perf_counter()
        column = self.model.feature_names.index(state["feature"])
        layout = (state["normalize"], self._rows(reference, column))
        if self._layout != layout:
            self._build(*layout)
            self._layout = layout
        full = self._displays["curve"].update(curve, target=explanation.target)
        bars = self._displays["bars"]
        full |= bars.update(explanation, reference)
        for row, bar in zip(bars.rows, bars.bars, strict=False):
            bar.set_edgecolor("black" if row == column else "none")
            bar.set_linewidth(1.8 if row == column else 0.0)
        low, high = curve.interval
        interval = (
            f"Yellow band: {state['feature']} ∈ [{low:.4g}, {high:.4g}], where this linear "
            "model holds."
        )
        note, jumped = self._note(state, explanation, region)
        full |= self._displays["banner"].update(interval, note, jumped)
        self.view.render(full)
        drawn = 1000 * (time.perf_counter() - start)
        self.set_trait("explanation", explanation)
        self.set_trait("region", region)
        self.set_trait("curve", curve)
        computed = 1000 * explanation.meta.get("time_s", float("nan"))
        self._set_status(
            f"{html.escape(state['feature'])}: weight {self._weight_text(explanation, column)}"
            f" · {region.n_units} units, region checked in {computed:.1f} ms"
            f" · drawn in {drawn:.0f} ms"
        )

    @staticmethod
    def _weight_text(explanation: Explanation, column: int) -> str:
        value = float(np.asarray(explanation.values).reshape(-1)[column])
        unit = "per σ" if explanation.params.get("normalize") else "per unit"
        return f"{value:+.4g} {unit} on the logit of {explanation.target_name!r}"

    def _clear(self) -> None:
        for name in ("explanation", "region", "curve"):
            self.set_trait(name, None)
        self._set_status("")

    def _result(self) -> Explanation | None:
        return self.explanation

    # ------------------------------------------------------------------ region map
    def _map_state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "target": self.target,
            "feature": self.feature,
            "features": self.features,
            "color": self.color,
            "color_feature": self.color_feature,
            "normalize": self.normalize,
            "max_regions": self.max_regions,
            "zoom": self.zoom,
            "show_map": self.show_map and self.features is not None,
        }

    def _compute_map_timed(self, state: dict[str, Any]) -> tuple[Any, float]:
        start = time.perf_counter()
        result = self._compute_map(state)
        return result, time.perf_counter() - start

    def _compute_map(self, state: dict[str, Any]) -> dict[str, Any] | None:
        """The map of the slice through ``x`` (from the cache when it holds it)."""
        if not state["show_map"]:
            return None
        # Its own explainer: the main worker's cache is not shared between threads.
        if self._map_explainer is None:
            self._map_explainer = LinearRegion(self.model)
        explainer = self._map_explainer
        x = state["x"].reshape(-1)
        columns = [self.model.feature_names.index(f) for f in state["features"]]
        low, high = self._window(state, x[columns], columns)
        others = x.copy()
        others[columns] = 0.0
        key = (
            state["features"],
            others.tobytes(),
            state["max_regions"],
            low.tobytes(),
            high.tobytes(),
        )
        region = explainer.region(x)
        entry = self._maps.get(key)
        cached = entry is not None
        if cached:
            self._maps.move_to_end(key)
        else:
            with warnings.catch_warnings():
                # An incomplete map says so itself (RegionMap.complete), in the widget.
                warnings.filterwarnings("ignore", "region_map stopped", RuntimeWarning)
                computed = explainer.region_map(
                    x, state["features"], low=low, high=high, max_regions=state["max_regions"]
                )
            self._map_serial += 1
            entry = (self._map_serial, computed)
            self._maps[key] = entry
            while len(self._maps) > _MAPS_KEPT:
                self._maps.popitem(last=False)
        serial, base = entry
        # The input's region on this slice: the one with its activation pattern.
        pattern = np.concatenate(region.pattern) if region.pattern else np.zeros(0, bool)
        matches = np.flatnonzero(np.all(base.patterns == pattern[None], axis=1))
        current = int(matches[0]) if len(matches) else int(base.locate(x[columns][None])[0])
        shown = dataclasses.replace(base, x=x, current=max(current, 0), target=region.target)
        target = region.target if state["target"] is None else state["target"]
        color_feature = state["color_feature"] or state["feature"]
        # The colours are computed here, on the worker (RegionMap caches them).
        if state["color"] == "class":
            shown.class_cells()
        else:
            shown.input_weights(target)
        segment = None
        if state["feature"] in state["features"]:
            axis = state["features"].index(state["feature"])
            ends = np.clip(region.interval(state["feature"]), low[axis], high[axis])
            segment = np.tile(x[columns], (2, 1))
            segment[:, axis] = ends
        return {
            "map": shown,
            "serial": serial,
            "cached": cached,
            "target": target,
            "color_feature": color_feature,
            "segment": segment,
        }

    def _window(
        self, state: dict[str, Any], point: np.ndarray, columns: list[int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The slice's rectangle: the features' ranges, or a zoomed window around ``point``.

        The ranges are the data bounds widened to the input, as the sliders are. A
        zoomed window is kept while the input stays inside it (so its map is reused)
        and centred on the input again when it leaves.
        """
        bounds = np.asarray(self.dataset.bounds, dtype=float)[columns]
        full_low = np.minimum(bounds[:, 0], point)
        full_high = np.maximum(bounds[:, 1], point)
        if state["zoom"] == 1.0:
            return full_low, full_high
        key = (state["features"], state["zoom"])
        width = state["zoom"] * (full_high - full_low)
        kept = self._windows.get(key)
        if kept is not None and np.all(kept[0] <= point) and np.all(point <= kept[1]):
            return kept
        low = np.clip(point - width / 2, full_low, full_high - width)
        self._windows[key] = (low, low + width)
        return self._windows[key]

    def _deliver_map(self, state: Any, timed: Any, error: BaseException | None) -> None:
        if error is None:
            try:
                result, seconds = timed
                start = time.perf_counter()
                self._show_map(state, result, seconds)
                self.map_timings = {"compute_s": seconds, "show_s": time.perf_counter() - start}
                self._set_map_error(None)
                return
            except Exception as exc:
                error = exc
        self.set_trait("region_map", None)
        self._map_info = (
            f'<span style="color:#d62728">no map: {html.escape(type(error).__name__)}: '
            f"{html.escape(str(error))}</span>"
        )
        self._render_map_status()
        self._set_map_error(error)

    def _show_map(
        self, state: dict[str, Any], result: dict[str, Any] | None, seconds: float
    ) -> None:
        if result is None:
            self.set_trait("region_map", None)
            self._map_info = "The map is off."
            self._render_map_status()
            return
        shown = result["map"]
        color = state["color"]
        normalized = state["normalize"] if color == "weight" else None
        drawn = (result["serial"], color, result["color_feature"], result["target"], normalized)
        full = drawn != self._map_drawn
        if full:
            self.map_view.clear()
            ax = self.map_view.figure.add_subplot()
            plot_region_map(
                shown,
                color=color,
                feature=result["color_feature"],
                target=result["target"],
                normalized=normalized,
                ax=ax,
                mark=False,
            )
            self._marker = self.map_view.add(RegionMapMarker(ax))
            self._map_drawn = drawn
        self._marker.update(shown, result["segment"])
        self.map_view.render(full)
        self.set_trait("map_cached", result["cached"])
        self.set_trait("region_map", shown)
        how = "remembered" if result["cached"] else f"computed in {seconds:.1f} s"
        info = f"{len(shown)} regions, {how}."
        if not shown.complete:
            info += (
                f' <span style="color:{_ACCENT}">Incomplete: the walk stopped at the cap of '
                f"{state['max_regions']} regions (white: not reached); raise the cap.</span>"
            )
        if result["segment"] is not None:
            name = html.escape(state["feature"])
            info += (
                f' <span style="color:{_ACCENT}">Orange</span>: where {name} moves without '
                "leaving the region."
            )
        self._map_info = info + " Star: the input; black outline: its region."
        self._render_map_status()

    def _set_map_busy(self, busy: bool) -> None:
        self.set_trait("map_busy", busy)
        self._render_map_status()

    def _render_map_status(self) -> None:
        busy = (
            '<span style="color:#e07000">&#9203; computing the region map&hellip;</span><br>'
            if self.map_busy
            else ""
        )
        self.map_status.value = f'<div style="font-size:0.9em">{busy}{self._map_info}</div>'

    # ------------------------------------------------------------------ errors
    def _set_error(self, error: BaseException | None) -> None:
        self._errors["main"] = error
        super()._set_error(self._errors["main"] or self._errors["map"])

    def _set_map_error(self, error: BaseException | None) -> None:
        self._errors["map"] = error
        super()._set_error(self._errors["main"] or self._errors["map"])

    # ------------------------------------------------------------------ public API
    def wait(self, timeout: float | None = 60.0) -> Explanation | None:
        """Block until the weights, the curve and the map of the current state are shown.

        Parameters
        ----------
        timeout : float or None, default=60.0
            Seconds to wait at most, for both (None: no limit).

        Returns
        -------
        Explanation or None
            The exact weights (:attr:`explanation`); None when the computation failed
            (the message is then in :attr:`error`).

        Raises
        ------
        TimeoutError
            If the computations did not finish in time.
        """
        start = time.monotonic()
        result = super().wait(timeout)
        left = None if timeout is None else max(0.0, timeout - (time.monotonic() - start))
        if self._map_worker is not None and not self._map_worker.wait(left):
            raise TimeoutError(f"RegionWidget: the region map did not finish within {timeout} s.")
        return result

    def refresh(self) -> None:
        """Forget remembered results and recompute (for example after retraining)."""
        self._cache = ExplanationCache(self.model)
        self._map_explainer = None
        self._maps = OrderedDict()
        self._windows = {}
        self._map_drawn = None
        self._last_shown = None
        self._request()

    def close(self) -> None:
        """Stop both worker threads and close the widget."""
        if self._map_worker is not None:
            self._map_worker.close()
        super().close()
