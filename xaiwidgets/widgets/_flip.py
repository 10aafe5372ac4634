"""``FlipPointWidget``: the closest flip point of one input, its report, and a group audit.

Yousefzadeh & O'Leary, "Auditing and Debugging Deep Learning Models via Flip Points:
Individual-Level and Group-Level Analysis", La Matematica (2022). Every number shown
comes from :mod:`xaiwidgets.flip` (``closest``, ``FlipPoint.path``, ``report``,
``audit``); the widget owns the controls, the caches and the layout.
"""

from __future__ import annotations

import html
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets
import numpy as np
import pandas as pd
import torch
import traitlets
from matplotlib.colors import to_hex

from ..analysis.flip_audit import _implausible
from ..core.validation import as_numpy, check_int, check_option, check_real
from ..flip import (
    FlipAudit,
    FlipConstraints,
    FlipPoint,
    FlipReport,
    closest,
    plot_change_frequency,
    plot_directions,
    plot_loadings,
    plot_ranking,
)
from ..flip import audit as flip_audit
from ..flip import report as flip_report
from ..plotting import FlipPathDisplay
from ..plotting._explanation import NEGATIVE, POSITIVE
from ._base import FigureView, InputWidget
from ._params import _freeze

__all__ = ["FlipPointWidget"]

#: Positions along the path at which the curves are drawn.
PATH_T = np.linspace(0.0, 1.2, 121)
#: Width of the flip-point figure (inches).
FIGURE_WIDTH = 6.6
#: Width in pixels of the longest bar in the table of changes.
BAR_PX = 110
#: The tabs, in order.
TABS = ("flip point", "report", "group audit")
#: What a feature's toggle may say, and the labels of the buttons.
CONSTRAINTS = ("free", "locked", "increase", "decrease")
_TOGGLE_LABELS = {"free": "free", "locked": "lock", "increase": "only ↑", "decrease": "only ↓"}
_TOGGLE_TIPS = {
    "free": "may change either way",
    "locked": "may not change",
    "increase": "may only increase",
    "decrease": "may only decrease",
}
_SCALES = (
    ("training std", "std"),
    ("range of the data", "range"),
    ("raw units", "unit"),
)
_SCALE_TEXT = {"std": "training-std scales", "range": "range scales", "unit": "raw units"}
_ALL_ROWS = "all test rows"
_REPORT_PENDING = "<i>The report is computed when this tab is shown.</i>"
_CHANGED = "#e07000"
_BOX = "padding:6px 10px;margin:2px 0 6px 0;border-radius:3px"


def _fmt(value: Any) -> str:
    """A number for a table cell (4 significant digits); labels unchanged."""
    if value is None:
        return ""
    if isinstance(value, str):
        return html.escape(value)
    value = float(value) + 0.0  # no "-0"
    if not np.isfinite(value):
        return ""
    return f"{value:.0f}" if value.is_integer() and abs(value) < 1e6 else f"{value:.4g}"


def _badge(text: str, colour: str, background: str, title: str = "") -> str:
    tip = f' title="{html.escape(title)}"' if title else ""
    return (
        f'<span{tip} style="border:1px solid {colour};color:{colour};background:{background};'
        f'border-radius:3px;padding:0 5px;margin-right:6px;font-size:0.9em">{text}</span>'
    )


def _inches(figure: Any, *, left: float, top: float, height: float) -> tuple[float, ...]:
    """An axes rectangle in figure fractions from inches (right margin 0.25 in)."""
    width, total = figure.get_size_inches()
    return (
        left / width,
        1 - (top + height) / total,
        (width - left - 0.25) / width,
        height / total,
    )


def _labelled(text: str, control: ipywidgets.Widget) -> ipywidgets.HBox:
    """A control with its label on the left (toggle buttons put a description above)."""
    label = ipywidgets.HTML(f"{html.escape(text)}&nbsp;", layout=ipywidgets.Layout(margin="0 4px"))
    return ipywidgets.HBox([label, control], layout=ipywidgets.Layout(align_items="center"))


class _Recent:
    """A small least-recently-used store (thread-safe)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _check_disjoint(fixed: Any, monotone: Any) -> None:
    """A feature is locked or monotone, not both."""
    both = sorted(set(fixed) & set(monotone))
    if both:
        raise ValueError(
            f"fixed and monotone both name {both}: a feature is locked or monotone, not "
            "both (set_constraint changes one feature in one step)."
        )


class FlipPointWidget(InputWidget):
    """The closest flip point of one input: walk to it, constrain it, report, audit.

    A *flip point* is a point where the model's two top class scores tie; the
    closest one says how far the input is from the decision boundary and what would
    have to change to flip the decision (Yousefzadeh & O'Leary 2022). The widget has
    three tabs:

    - **flip point**: the input (a test row, editable feature by feature) and what
      may change (per feature: free, locked, only increase, only decrease); the
      closest flip point from :func:`xaiwidgets.flip.closest` with those constraints,
      the norm and the scales chosen above; a slider ``t`` from 0 to 1.2 along
      ``x + t (x̂ - x)`` with the class scores and their gap, which crosses zero at
      ``t = 1`` (walking to the relaxed point, an exact tie); the features that
      change (original, relaxed flip value, flip value in the domain, change, scaled
      change). When no flip point exists in the allowed space the widget says so.
    - **report**: the individual explanation report of :func:`xaiwidgets.flip.report`
      (Algorithm 1) with the same constraints, computed when the tab is shown.
    - **group audit**: :func:`xaiwidgets.flip.audit` (Algorithm 2) of test rows, run
      on demand in the background with a progress bar and a stop button: the feature
      ranking by pivoted QR, the flip directions on their first two principal
      components coloured by flip direction, PC1's loadings and how often each
      feature changes. Results are remembered per setting.

    Models without gradients (scikit-learn, callables) get flip points from the
    derivative-free path; the widget marks them approximate. Tabular data only.

    Everything can be driven from Python: assign ``x``, ``index``, ``target`` (the
    class to flip to), ``fixed``, ``monotone``, ``norm``, ``scale``, ``discrete``,
    ``t``, ``towards``, ``tab``; call :meth:`set_constraint`, :meth:`run_audit`;
    :meth:`wait` returns the flip point of the current state.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    dataset : Dataset, optional
        The data (defaults to the model's); tabular.
    index : int, default=0
        The test row shown first.
    target : int or str, optional
        The class to flip to; by default the nearest other class.
    fixed : list of str, optional
        Features that may not change.
    monotone : dict, optional
        ``{feature: "increase" | "decrease"}``.
    norm : {"l2", "l1"}, default="l2"
        Norm of the scaled change.
    scale : {"std", "range", "unit"}, dict or array, default="std"
        Per-feature scales (see :meth:`xaiwidgets.flip.FlipConstraints.from_model`);
        a dict or an array is shown as "custom".
    discrete : bool, default=True
        Whole numbers for integer features and one category per one-hot group.
    groups : dict of str to list of str, optional
        Feature groups for the report (for example by unit of measurement).
    pairs : bool, default=False
        The report also tries every pair of features.
    audit_rows : int, default=100
        How many test rows the audit takes (the first ones of the chosen subgroup).
    subgroups : dict, optional
        Named subsets of the test rows for the audit: ``{name: boolean mask over
        dataset.X_test}`` or ``{name: callable(X_test) -> mask}``.
    n_jobs : int, optional
        Worker processes for the audit (joblib; see :func:`xaiwidgets.flip.audit`).
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.

    Attributes
    ----------
    flip_point : FlipPoint or None
        The flip point of the current state (after :meth:`wait`).
    flip_options : dict
        The keyword arguments of :func:`xaiwidgets.flip.closest` for the current
        state (``classes``, ``fixed``, ``monotone``, ``norm``, ``scale``, ``discrete``).
    path : DataFrame or None
        ``flip_point.path(PATH_T, towards=towards)``: the curves shown.
    position : DataFrame or None
        ``flip_point.path([t], towards=towards)``: the scores and the gap at ``t``.
    report : FlipReport or None
        The report of the current state, once the report tab was shown.
    audit : FlipAudit or None
        The audit shown for the current settings (None until one was run).
    audit_running : bool

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> w = xw.FlipPointWidget(xw.wrap(xw.zoo.train_mlp(ds), ds), ds, index=0)
    >>> w.wait().class_labels
    ('approved', 'denied')
    >>> w.set_constraint("income", "locked")
    >>> "income" in w.wait().changed_features
    False
    >>> w.close()
    """

    fixed = traitlets.List(traitlets.Unicode(), help="features that may not change")
    monotone = traitlets.Dict(help="{feature: 'increase' | 'decrease'}")
    norm = traitlets.Unicode("l2", help="'l2' or 'l1'")
    scale = traitlets.Any("std", help="'std', 'range', 'unit', a dict or an array")
    discrete = traitlets.Bool(True, help="integer features whole, one-hot groups one-hot")
    t = traitlets.Float(0.0, help="position along the path, 0 (input) to 1.2")
    towards = traitlets.Unicode("relaxed", help="walk to the 'relaxed' point or the 'point'")
    tab = traitlets.Unicode(TABS[0], help="the tab shown")
    pairs = traitlets.Bool(False, help="the report also tries every pair of features")
    audit_rows = traitlets.Int(100, help="test rows the audit takes")
    audit_subgroup = traitlets.Unicode(_ALL_ROWS, help="which test rows the audit takes")
    flip_point = traitlets.Instance(FlipPoint, allow_none=True, read_only=True)
    path = traitlets.Instance(pd.DataFrame, allow_none=True, read_only=True)
    position = traitlets.Instance(pd.DataFrame, allow_none=True, read_only=True)
    report = traitlets.Instance(FlipReport, allow_none=True, read_only=True)
    audit = traitlets.Instance(FlipAudit, allow_none=True, read_only=True)
    audit_running = traitlets.Bool(False, read_only=True)

    def __init__(
        self,
        model: Any,
        dataset: Any = None,
        index: int = 0,
        *,
        target: int | str | None = None,
        fixed: Sequence[str] | None = None,
        monotone: Mapping[str, str] | None = None,
        norm: str = "l2",
        scale: Any = "std",
        discrete: bool = True,
        groups: Mapping[str, Sequence[str]] | None = None,
        pairs: bool = False,
        audit_rows: int = 100,
        subgroups: Mapping[str, Any] | None = None,
        n_jobs: int | None = None,
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(model, dataset, index=index, debounce_s=debounce_s, slow_s=slow_s)
        if self.dataset.kind != "tabular":
            raise TypeError(
                "FlipPointWidget works on tabular data (one control and one constraint per "
                f"feature); this data set is {self.dataset.kind!r}. For images call "
                "xw.flip.closest and xw.flip.plot_flip_path directly."
            )
        self._features = {f.name: f for f in self.dataset.features}
        self._groups = self._check_groups(groups)
        self._subgroups = self._check_subgroups(subgroups)
        if n_jobs is not None:
            n_jobs = check_int(n_jobs, "n_jobs", low=-64)
            if n_jobs == 0:
                raise ValueError(
                    "n_jobs must be None, a positive count or negative (joblib); got 0."
                )
        self.n_jobs = n_jobs
        audit_rows = check_int(audit_rows, "audit_rows", low=2)
        self._custom_scale: Any = None
        self._quiet = False
        self._flips = _Recent(256)
        self._paths = _Recent(64)
        self._reports = _Recent(32)
        self._audits = _Recent(16)
        self._audit_drawings = _Recent(16)  # key -> (audit, PNG, tables): instant switching
        self._drawn: tuple[Any, str] | None = None
        self._report_key: Any = None

        self._build_header()
        self._build_constraints()
        self._build_main()
        self._build_report()
        self._build_audit()
        self.tabs = ipywidgets.Tab(
            children=[self.main_box, self.report_box, self.audit_box], titles=TABS
        )
        traitlets.link(
            (self.tabs, "selected_index"),
            (self, "tab"),
            transform=(lambda k: TABS[k or 0], TABS.index),
        )
        self.children = [self.header, self.tabs, self.status, self.error_box]

        # The state, then the observers (so that nothing recomputes half-built).
        self.observe(self._on_scale, names="scale")
        self.norm, self.scale, self.discrete = norm, scale, discrete
        self.fixed = [fixed] if isinstance(fixed, str) else list(fixed or [])
        self.monotone = dict(monotone or {})
        self.pairs = pairs
        self.audit_rows = min(audit_rows, len(self.dataset.X_test))
        self._sync_constraint_controls()
        self.observe(self._on_constraints, names=["fixed", "monotone"])
        self._recompute_on(
            [
                "fixed",
                "monotone",
                "norm",
                "scale",
                "discrete",
                "t",
                "towards",
                "tab",
                "pairs",
                "audit_rows",
                "audit_subgroup",
            ]
        )
        if target is not None:
            self.target = target  # requests the first result
        else:
            self._request()

    # ================================================================== controls
    def _build_header(self) -> None:
        self.target_picker.description = "flip to"
        self.target_picker.options = [("nearest other class", "predicted")] + [
            (name, k) for k, name in enumerate(self.model.class_names)
        ]
        self.norm_picker = ipywidgets.ToggleButtons(
            options=[("L2", "l2"), ("L1", "l1")],
            tooltips=["Euclidean norm of the scaled change", "sum of the scaled changes"],
            style={"button_width": "46px"},
        )
        traitlets.link((self.norm_picker, "value"), (self, "norm"))
        self.scale_picker = ipywidgets.Dropdown(
            options=list(_SCALES),
            description="scale by",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="230px"),
        )
        self.scale_picker.observe(self._reporting(self._on_scale_picker), names="value")
        self.discrete_box = ipywidgets.Checkbox(
            description="whole numbers, one category",
            indent=False,
            layout=ipywidgets.Layout(width="auto"),
        )
        traitlets.link((self.discrete_box, "value"), (self, "discrete"))
        self.header = ipywidgets.HBox(
            [
                self.target_picker,
                _labelled("norm", self.norm_picker),
                self.scale_picker,
                self.discrete_box,
            ],
            layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
        )

    def _build_constraints(self) -> None:
        self.constraint_controls: dict[str, ipywidgets.ToggleButtons] = {}
        rows = []
        for feature in self.dataset.features:
            kinds = CONSTRAINTS if feature.kind != "categorical" else CONSTRAINTS[:2]
            toggle = ipywidgets.ToggleButtons(
                options=[(_TOGGLE_LABELS[k], k) for k in kinds],
                tooltips=[_TOGGLE_TIPS[k] for k in kinds],
                style={"button_width": "58px"},
                layout=ipywidgets.Layout(width="270px", flex="0 0 auto"),
            )
            toggle.observe(self._reporting(self._on_toggle(feature.name)), names="value")
            self.constraint_controls[feature.name] = toggle
            label = ipywidgets.HTML(
                html.escape(feature.name), layout=ipywidgets.Layout(width="140px", flex="0 0 auto")
            )
            rows.append(
                ipywidgets.HBox(
                    [label, toggle], layout=ipywidgets.Layout(height="34px", width="430px")
                )
            )
        self.free_all_button = ipywidgets.Button(
            description="free all", icon="unlock", layout=ipywidgets.Layout(width="auto")
        )
        self.free_all_button.on_click(self._reporting(lambda _: self.free_all()))
        intro = ipywidgets.HTML(
            '<div style="color:#555;font-size:0.92em;max-width:370px">What may change on '
            "the way to the boundary. A locked feature keeps its value; "
            "<i>only ↑</i> / <i>only ↓</i> allow one direction (age can only grow). "
            "Each constraint can only move the flip point farther away.</div>"
        )
        self.constraint_box = ipywidgets.VBox(
            [intro, *rows, self.free_all_button], layout=ipywidgets.Layout(min_width="440px")
        )

    def _build_main(self) -> None:
        self.summary = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="680px"))
        self.view = FigureView((FIGURE_WIDTH, 4.5))
        # Placed by hand: constrained layout would cost half of every full redraw.
        figure = self.view.figure
        figure.set_layout_engine("none")
        ax_scores = figure.add_axes(_inches(figure, left=0.8, top=0.35, height=1.9))
        ax_gap = figure.add_axes(
            _inches(figure, left=0.8, top=2.55, height=1.35), sharex=ax_scores
        )
        self.path_display = self.view.add(
            FlipPathDisplay(ax_scores, ax_gap, self.model.class_names, fontsize=10)
        )
        self.t_slider = ipywidgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=1.2,
            step=0.01,
            description="t",
            readout_format=".2f",
            continuous_update=True,
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="330px"),
        )
        traitlets.link((self.t_slider, "value"), (self, "t"))
        self.play = ipywidgets.Play(
            value=0, min=0, max=120, step=2, interval=80, description="walk to the boundary"
        )
        self.play.observe(
            self._reporting(lambda change: setattr(self, "t", change["new"] / 100)), names="value"
        )
        self.towards_picker = ipywidgets.ToggleButtons(
            options=[("relaxed (exact tie)", "relaxed"), ("flip point", "point")],
            tooltips=[
                "the continuous relaxation: the scores tie exactly at t = 1",
                "the flip point in the domain (whole numbers, one category)",
            ],
            style={"button_width": "130px"},
        )
        traitlets.link((self.towards_picker, "value"), (self, "towards"))
        self.position_box = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="680px"))
        self.table = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="680px"))
        left = ipywidgets.Tab(
            children=[self.inputs, self.constraint_box], titles=("input", "what may change")
        )
        self.left_tabs = left
        right = ipywidgets.VBox(
            [
                self.summary,
                self.view.image,
                ipywidgets.HBox(
                    [self.play, self.t_slider, _labelled("walk to", self.towards_picker)],
                    layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.position_box,
                self.table,
            ],
            layout=ipywidgets.Layout(align_items="flex-start"),
        )
        self.main_box = ipywidgets.HBox(
            [left, right], layout=ipywidgets.Layout(align_items="flex-start")
        )

    def _build_report(self) -> None:
        self.pairs_box = ipywidgets.Checkbox(
            description="also every pair of features", indent=False
        )
        traitlets.link((self.pairs_box, "value"), (self, "pairs"))
        self.report_html = ipywidgets.HTML(
            _REPORT_PENDING,
            layout=ipywidgets.Layout(max_width="1000px", overflow="auto"),
        )
        intro = ipywidgets.HTML(
            '<div style="color:#555;font-size:0.92em">Algorithm 1 of Yousefzadeh &amp; '
            "O'Leary (2022): the closest flip point, then flip points that may change only one "
            "feature (or one group, or one pair) at a time, with the constraints of the first "
            "tab. A subspace that cannot flip the decision is said so; values outside the "
            "training data's range are flagged as implausible.</div>"
        )
        self.report_box = ipywidgets.VBox([intro, self.pairs_box, self.report_html])

    def _build_audit(self) -> None:
        n = len(self.dataset.X_test)
        self.subgroup_picker = ipywidgets.Dropdown(
            options=list(self._subgroups),
            description="rows",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="240px"),
        )
        traitlets.link((self.subgroup_picker, "value"), (self, "audit_subgroup"))
        self.rows_picker = ipywidgets.BoundedIntText(
            min=2,
            max=n,
            step=10,
            description="at most",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="150px"),
        )
        traitlets.link((self.rows_picker, "value"), (self, "audit_rows"))
        self.run_button = ipywidgets.Button(
            description="run audit", icon="play", button_style="primary"
        )
        self.run_button.on_click(self._reporting(lambda _: self.run_audit()))
        self.stop_button = ipywidgets.Button(description="stop", icon="stop", disabled=True)
        self.stop_button.on_click(self._reporting(lambda _: self.stop_audit()))
        self.progress = ipywidgets.IntProgress(
            value=0, min=0, max=1, layout=ipywidgets.Layout(width="300px")
        )
        self.progress_label = ipywidgets.HTML()
        self.audit_note = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="960px"))
        self.audit_view = FigureView((9.6, 7.4))
        self.audit_view.image.layout.display = "none"
        self.audit_tables = ipywidgets.HTML(layout=ipywidgets.Layout(max_width="960px"))
        intro = ipywidgets.HTML(
            '<div style="color:#555;font-size:0.92em;max-width:960px">Algorithm 2 of '
            "Yousefzadeh &amp; O'Leary (2022): the closest flip point of every row (to the "
            "nearest other class, continuous relaxation) with the locks, directions, norm and "
            "scales of the first tab; the directions <i>flip point − x</i> in scale units, each "
            "row normalised, ranked by pivoted QR and summarised by PCA.</div>"
        )
        self._audit_thread: threading.Thread | None = None
        self._audit_stop = threading.Event()
        self._audit_lock = threading.RLock()
        self._audit_shown: Any = object()  # the key of the audit view's content
        self._audit_last: FlipAudit | None = None
        self._audit_started = 0.0
        self.audit_box = ipywidgets.VBox(
            [
                intro,
                ipywidgets.HBox(
                    [self.subgroup_picker, self.rows_picker, self.run_button, self.stop_button],
                    layout=ipywidgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                ipywidgets.HBox(
                    [self.progress, self.progress_label],
                    layout=ipywidgets.Layout(align_items="center"),
                ),
                self.audit_note,
                self.audit_view.image,
                self.audit_tables,
            ]
        )

    # ================================================================== state
    @traitlets.validate("fixed")
    def _valid_fixed(self, proposal: Any) -> list[str]:
        value = proposal.value
        names = [self._check_feature(name, "fixed") for name in value]
        _check_disjoint(names, self.monotone)
        return [f.name for f in self.dataset.features if f.name in set(names)]

    @traitlets.validate("monotone")
    def _valid_monotone(self, proposal: Any) -> dict[str, str]:
        value = proposal.value
        result = {}
        for name, way in value.items():
            name = self._check_feature(name, "monotone")
            way = check_option(way, f"monotone[{name!r}]", ["increase", "decrease"])
            if self._features[name].kind == "categorical":
                raise ValueError(
                    f"monotone[{name!r}]: a categorical feature has no order; lock it instead."
                )
            result[name] = way
        _check_disjoint(self.fixed, result)
        return {f.name: result[f.name] for f in self.dataset.features if f.name in result}

    @traitlets.validate("norm")
    def _valid_norm(self, proposal: Any) -> str:
        return check_option(proposal.value, "norm", ["l2", "l1"])

    @traitlets.validate("scale")
    def _valid_scale(self, proposal: Any) -> Any:
        value = proposal.value
        if isinstance(value, str):
            value = check_option(value, "scale", ["std", "range", "unit", "auto"])
            value = "std" if value == "auto" else value
        elif isinstance(value, Mapping):
            value = dict(value)
        else:
            value = as_numpy(value, "scale").astype(np.float64).copy()
        # The flip-point code checks scales (names, lengths, positivity) in one place.
        FlipConstraints.from_model(self.model, scale=value)
        return value

    @traitlets.validate("t")
    def _valid_t(self, proposal: Any) -> float:
        return check_real(proposal.value, "t", low=0.0, high=1.2)

    @traitlets.validate("towards")
    def _valid_towards(self, proposal: Any) -> str:
        return check_option(proposal.value, "towards", ["relaxed", "point"])

    @traitlets.validate("tab")
    def _valid_tab(self, proposal: Any) -> str:
        return check_option(proposal.value, "tab", list(TABS))

    @traitlets.validate("audit_rows")
    def _valid_audit_rows(self, proposal: Any) -> int:
        return check_int(proposal.value, "audit_rows", low=2, high=len(self.dataset.X_test))

    @traitlets.validate("audit_subgroup")
    def _valid_audit_subgroup(self, proposal: Any) -> str:
        return check_option(proposal.value, "audit_subgroup", list(self._subgroups))

    def _check_feature(self, name: Any, argument: str) -> str:
        if not isinstance(name, str) or name not in self._features:
            raise ValueError(
                f"{argument} names an unknown feature {name!r}; the features are: "
                f"{', '.join(self._features)}."
            )
        return name

    def _check_groups(
        self, groups: Mapping[str, Sequence[str]] | None
    ) -> dict[str, list[str]] | None:
        if groups is None:
            return None
        if not isinstance(groups, Mapping):
            raise TypeError(
                f"groups must be a dict {{name: [features]}}; got {type(groups).__name__}."
            )
        result = {}
        for name, members in groups.items():
            members = [members] if isinstance(members, str) else list(members)
            result[str(name)] = [self._check_feature(m, f"groups[{name!r}]") for m in members]
        return result

    def _check_subgroups(self, subgroups: Mapping[str, Any] | None) -> dict[str, np.ndarray]:
        X = self.dataset.X_test
        result = {_ALL_ROWS: np.ones(len(X), dtype=bool)}
        if subgroups is None:
            return result
        if not isinstance(subgroups, Mapping):
            raise TypeError(
                f"subgroups must be a dict {{name: mask or callable}}; got "
                f"{type(subgroups).__name__}."
            )
        for name, spec in subgroups.items():
            if not isinstance(name, str) or name in result:
                raise ValueError(f"subgroups: {name!r} is not a new name (a str).")
            mask = np.asarray(spec(X) if callable(spec) else spec)
            if mask.dtype != bool or mask.shape != (len(X),):
                raise ValueError(
                    f"subgroups[{name!r}] must be a boolean mask over dataset.X_test "
                    f"({len(X)} rows), or a callable that returns one; got "
                    f"{mask.dtype} {mask.shape}."
                )
            if mask.sum() < 2:
                raise ValueError(f"subgroups[{name!r}] selects fewer than 2 rows.")
            result[name] = mask.copy()
        return result

    @property
    def flip_options(self) -> dict[str, Any]:
        """The keyword arguments of ``xw.flip.closest`` for the current state (a copy)."""
        scale = self.scale
        return {
            "classes": None if self.target is None else [self.target],
            "fixed": list(self.fixed) or None,
            "monotone": dict(self.monotone) or None,
            "norm": self.norm,
            "scale": scale.copy() if not isinstance(scale, str) else scale,
            "discrete": self.discrete,
        }

    def constraint(self, name: str) -> str:
        """What may happen to one feature: "free", "locked", "increase" or "decrease"."""
        name = self._check_feature(name, "constraint")
        if name in self.fixed:
            return "locked"
        return self.monotone.get(name, "free")

    def set_constraint(self, name: str, kind: str) -> None:
        """Set what may happen to one feature (one recomputation).

        Parameters
        ----------
        name : str
            A feature name.
        kind : {"free", "locked", "increase", "decrease"}
            May change either way, may not change, may only increase, may only
            decrease (the last two not for categorical features).
        """
        name = self._check_feature(name, "set_constraint")
        kind = check_option(kind, "kind", list(CONSTRAINTS))
        fixed = [f for f in self.fixed if f != name] + ([name] if kind == "locked" else [])
        monotone = {k: v for k, v in self.monotone.items() if k != name}
        if kind in ("increase", "decrease"):
            monotone[name] = kind
        with self.hold_trait_notifications():
            self.fixed = fixed
            self.monotone = monotone

    def free_all(self) -> None:
        """Let every feature change either way."""
        with self.hold_trait_notifications():
            self.fixed = []
            self.monotone = {}

    def _on_toggle(self, name: str) -> Callable[[Any], None]:
        def changed(change: Any) -> None:
            if not self._quiet:
                self.set_constraint(name, change["new"])

        return changed

    def _on_constraints(self, change: Any) -> None:
        self._sync_constraint_controls()

    def _sync_constraint_controls(self) -> None:
        self._quiet = True
        try:
            for name, toggle in self.constraint_controls.items():
                toggle.value = self.constraint(name)
        finally:
            self._quiet = False

    def _on_scale(self, change: Any) -> None:
        value = change["new"]
        options = list(_SCALES)
        if not isinstance(value, str):
            self._custom_scale = value
        if self._custom_scale is not None:
            options.append(("custom", "custom"))
        self._quiet = True
        try:
            if self.scale_picker.options != tuple(options):
                self.scale_picker.options = options
            self.scale_picker.value = value if isinstance(value, str) else "custom"
        finally:
            self._quiet = False

    def _on_scale_picker(self, change: Any) -> None:
        if self._quiet or change["new"] is None:
            return
        self.scale = self._custom_scale if change["new"] == "custom" else change["new"]

    # ================================================================== computation
    def _state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "options": self.flip_options,
            "t": self.t,
            "towards": self.towards,
            "tab": self.tab,
            "pairs": self.pairs,
        }

    def _compute(self, state: dict[str, Any]) -> dict[str, Any]:
        x, options, towards = state["x"], state["options"], state["towards"]
        key = _freeze((x.tobytes(), options))
        fp = self._flips.get(key)
        remembered = fp is not None
        if fp is None:
            fp = closest(self.model, x, **options)
            self._flips.put(key, fp)
        result: dict[str, Any] = {
            "fp": fp,
            "remembered": remembered,
            "report_key": (key, state["pairs"]),
        }
        if fp.feasible:
            curve = self._paths.get((key, towards))
            if curve is None:
                curve = fp.path(PATH_T, towards=towards)
                self._paths.put((key, towards), curve)
            result["curve"] = curve
            result["position"] = fp.path([state["t"]], towards=towards)
            result["at"] = fp.at(state["t"], towards=towards)
        if state["tab"] == "report":
            report_key = result["report_key"]
            result["report"] = self._reports.get(report_key)
            if result["report"] is None:
                start = time.perf_counter()
                result["report"] = flip_report(
                    self.model, x, groups=self._groups, pairs=state["pairs"], **options
                )
                result["report_s"] = time.perf_counter() - start
                self._reports.put(report_key, result["report"])
        return result

    def _show(self, state: dict[str, Any], result: dict[str, Any]) -> None:
        start = time.perf_counter()
        fp: FlipPoint = result["fp"]
        full = False
        if self._drawn is None or self._drawn[0] is not fp or self._drawn[1] != state["towards"]:
            full = self._draw_flip_point(fp, result.get("curve"))
            self._drawn = (fp, state["towards"])
            self.summary.value = self._summary_html(fp, state["options"])
            self.table.value = self._table_html(fp)
        if fp.feasible:
            full |= self.path_display.move(result["position"].iloc[0])
            self.position_box.value = self._position_html(
                fp, result["position"].iloc[0], result["at"]
            )
        else:
            self.position_box.value = ""
        self.view.render(full)
        if "report" in result:
            if self._report_key != result["report_key"]:
                self.report_html.value = self._report_html(result["report"])
                self._report_key = result["report_key"]
            self.set_trait("report", result["report"])
        elif self._report_key != result["report_key"] and self.report is not None:
            # The shown report belongs to another input or other constraints.
            self.set_trait("report", None)
            self.report_html.value = _REPORT_PENDING
            self._report_key = None
        self.set_trait("flip_point", fp)
        self.set_trait("path", result.get("curve"))
        self.set_trait("position", result.get("position"))
        self._sync_audit()
        took = 1000 * fp.meta.get("time_s", float("nan"))
        parts = [
            f"flip point solved in {took:.0f} ms"
            + (" (remembered)" if result["remembered"] else "")
        ]
        if "report_s" in result:
            parts.append(f"report in {1000 * result['report_s']:.0f} ms")
        parts.append(f"drawn in {1000 * (time.perf_counter() - start):.0f} ms")
        self._set_status(" · ".join(parts))

    def _clear(self) -> None:
        self.set_trait("flip_point", None)
        self.set_trait("path", None)
        self.set_trait("position", None)
        self.summary.value = (
            f'<div style="{_BOX};background:#f4f4f4;color:#555">No result for this '
            "setting: see the message below.</div>"
        )
        self.position_box.value = ""
        self._set_status("")
        self._sync_audit()

    def _result(self) -> FlipPoint | None:
        return self.flip_point

    # ================================================================== drawing
    def _draw_flip_point(self, fp: FlipPoint, curve: pd.DataFrame | None) -> bool:
        """Show a new flip point's path; True when the figure needs a full redraw."""
        if fp.feasible:
            return self.path_display.update(curve, fp.classes, self.model.resolve_output("auto"))
        return self.path_display.clear(
            f"No flip point from {fp.class_labels[0]!r}\nin the allowed space"
        )

    def _summary_html(self, fp: FlipPoint, options: dict[str, Any]) -> str:
        scale = options["scale"]
        scales = _SCALE_TEXT[scale] if isinstance(scale, str) else "custom scales"
        metric = f"{options['norm'].upper()} norm, {scales}"
        if not fp.feasible:
            return (
                f'<div style="{_BOX};border-left:5px solid #d62728;background:#fdecea;'
                'font-size:1.1em"><b>No flip point</b>: the decision '
                f"{html.escape(repr(fp.class_labels[0]))} cannot be flipped in the allowed "
                f"space.<br><span style='font-size:0.9em'>{html.escape(fp.reason)}</span></div>"
            )
        a, b = (html.escape(str(name)) for name in fp.class_labels)
        head = (
            f'<div style="font-size:1.15em;margin:2px 0"><b>{a} → {b}</b> at scaled distance '
            f"<b>{fp.distance:.3g}</b> <span style='color:#666;font-size:0.85em'>({metric}; "
            f"changes: {html.escape(', '.join(fp.changed_features) or 'none')})</span></div>"
        )
        badges = []
        if fp.approximate:
            badges.append(
                _badge(
                    "approximate",
                    "#9a6700",
                    "#fff3cd",
                    "derivative-free search: finite differences, no guarantee of the closest",
                )
                + '<span style="color:#9a6700">this model has no gradients ('
                f"{html.escape(self.model.source)}): derivative-free search"
                + (", not refined (scores not smooth)" if fp.method == "bisection" else "")
                + "</span><br>"
            )
        if fp.on_boundary:
            badges.append(_badge("on the boundary", "#2e7d32", "#e8f5e9"))
        else:
            badges.append(
                _badge(
                    "just past the boundary",
                    "#9a6700",
                    "#fff3cd",
                    "whole numbers cannot tie exactly; the closest discrete point that flips",
                )
            )
        if fp.same_partition is not None:
            badges.append(
                _badge(
                    "same partition" if fp.same_partition else "not the same partition",
                    "#2e7d32" if fp.same_partition else "#9a6700",
                    "#e8f5e9" if fp.same_partition else "#fff3cd",
                    "whether the straight segment from x stays in x's class until the boundary",
                )
            )
        badges.append(
            f'<span style="color:#666;font-size:0.88em">tie residual {fp.residual:.1e} · raw '
            f"distance {fp.distance_raw:.3g}</span>"
        )
        return head + f'<div style="margin-bottom:4px">{"".join(badges)}</div>'

    def _table_html(self, fp: FlipPoint) -> str:
        if not fp.feasible:
            return ""
        table = fp.changed
        order = table["scaled change"].abs().sort_values(ascending=False, kind="stable").index
        flagged = set(_implausible(fp))
        largest = max(float(table["scaled change"].abs().max()), 1e-300)
        rows = []
        for _, row in table.loc[order].iterrows():
            mark = (
                f' <span title="outside the training data\'s range" style="color:{_CHANGED}">'
                "⚠</span>"
                if row["feature"] in flagged
                else ""
            )
            change, scaled = row["change"], float(row["scaled change"])
            colour = "#999" if not np.isfinite(change) else POSITIVE if scaled > 0 else NEGATIVE
            bar = (
                f'<span style="display:inline-block;height:0.8em;vertical-align:middle;'
                f'width:{BAR_PX * abs(scaled) / largest:.0f}px;background:{colour}"></span>'
            )
            rows.append(
                "<tr>"
                f"<td><b>{html.escape(row['feature'])}</b></td>"
                f"<td>{_fmt(row['original'])}</td>"
                f"<td>{_fmt(row['relaxed value'])}</td>"
                f"<td><b>{_fmt(row['flip value'])}</b>{mark}</td>"
                f"<td>{'' if not np.isfinite(change) else f'{change:+.4g}'}</td>"
                f"<td>{scaled:+.3g}</td>"
                f'<td style="text-align:left">{bar}</td>'
                "</tr>"
            )
        note = (
            f'<div style="font-size:0.85em;color:{_CHANGED}">⚠ outside the range seen in '
            "training</div>"
            if flagged
            else ""
        )
        cell = "padding:2px 10px;text-align:right"
        return (
            '<div style="margin-top:6px"><b>What changes</b> '
            '<span style="color:#666;font-size:0.88em">(relaxed: the exact tie of the '
            "continuous relaxation; flip value: the point in the domain; scaled change: "
            f"change / scale, <span style='color:{POSITIVE}'>up</span> or "
            f"<span style='color:{NEGATIVE}'>down</span>)</span>"
            f"<style>.xw-flip-table td, .xw-flip-table th {{{cell}}}</style>"
            '<table class="xw-flip-table" style="border-collapse:collapse;margin-top:3px">'
            "<tr><th>feature</th><th>original</th><th>relaxed flip value</th>"
            "<th>flip value</th><th>change</th><th colspan=2>scaled change</th></tr>"
            f"{''.join(rows)}</table>{note}</div>"
        )

    def _position_html(self, fp: FlipPoint, position: pd.Series, at: np.ndarray) -> str:
        """The readout at t: the gap, which class leads, and the input there."""
        i, j = fp.classes
        names = fp.class_names
        gap = float(position["gap"])
        leader = names[i] if gap >= 0 else names[j]
        symbol = "z" if self.model.resolve_output("auto") == "logit" else "p"
        x, y = fp.x.reshape(-1), np.asarray(at).reshape(-1)
        changed = set(fp.changed["feature"])
        parts = []
        for feature in self.dataset.features:
            if feature.name not in changed:
                continue
            if feature.kind == "categorical":
                weights = [
                    f"{html.escape(category)} {y[c]:.2f}"
                    for category, c in zip(feature.categories, feature.columns, strict=True)
                    if y[c] > 0.005
                ]
                parts.append(f"{html.escape(feature.name)}: {' + '.join(weights)}")
            else:
                c = feature.columns[0]
                parts.append(f"{html.escape(feature.name)} {_fmt(x[c])} → <b>{_fmt(y[c])}</b>")
        colour = to_hex(f"C{i if gap >= 0 else j}")  # the class's colour in the figure
        return (
            f'<div style="font-size:1.05em"><b>t = {float(position["t"]):.2f}</b> · '
            f"{symbol}<sub>{html.escape(names[i])}</sub> − {symbol}<sub>{html.escape(names[j])}"
            f"</sub> = <b>{gap:+.3g}</b> "
            f'<span style="color:{colour}">({html.escape(leader)} ahead)</span></div>'
            f'<div style="font-size:0.9em;color:#333">the input there: {" · ".join(parts)}</div>'
        )

    def _report_html(self, flip_report: FlipReport) -> str:
        approximate = any(fp.approximate for fp in flip_report.flip_points.values())
        note = (
            f'<div style="{_BOX};background:#fff3cd;color:#9a6700">Approximate: this model has '
            "no gradients, so every flip point comes from the derivative-free search.</div>"
            if approximate
            else ""
        )
        # The report says which single features cannot flip; say it louder when none can.
        verdict = (
            ""
            if flip_report.can_flip
            else f'<div style="{_BOX};border-left:5px solid #d62728;background:#fdecea"><b>No '
            "change in any subspace flips this decision.</b></div>"
        )
        return (
            f"{note}{verdict}<style>.xw-flip-report td, .xw-flip-report th "
            "{padding:2px 8px}</style>"
            f'<div class="xw-flip-report">{flip_report.to_html()}</div>'
        )

    # ================================================================== audit
    def _audit_request(self) -> tuple[Any, np.ndarray, np.ndarray, dict[str, Any]]:
        options = self.flip_options
        options = {k: options[k] for k in ("fixed", "monotone", "norm", "scale")}
        rows = np.flatnonzero(self._subgroups[self.audit_subgroup])[: self.audit_rows]
        key = _freeze((options, self.audit_subgroup, self.audit_rows))
        return key, self.dataset.X_test[rows], self.dataset.y_test[rows], options

    def run_audit(self, wait: bool = False) -> FlipAudit | None:
        """Audit the chosen test rows with the current constraints, in the background.

        A result for the same settings is shown at once (remembered). Otherwise the
        audit runs in its own thread with a progress bar; :meth:`stop_audit` (or the
        stop button) ends it early with the rows finished so far (``complete`` is then
        False, and the partial result is not remembered).

        Parameters
        ----------
        wait : bool, default=False
            Block until the audit has finished.

        Returns
        -------
        FlipAudit or None
            The result when it was remembered or ``wait`` is True; else None.

        Raises
        ------
        RuntimeError
            If an audit is running already.
        """
        if self.audit_running:
            raise RuntimeError("An audit is running already; stop it first.")
        key, X, y, options = self._audit_request()
        remembered = self._audits.get(key)
        if remembered is not None:
            with self._audit_lock:
                self._audit_last = remembered
                self._show_audit(key, remembered, "remembered")
            return remembered
        self._audit_stop.clear()
        self._audit_started = time.perf_counter()
        self.progress.max, self.progress.value = len(X), 0
        self.progress.bar_style = "info"
        self.progress_label.value = f"0 / {len(X)} rows"
        self.audit_note.value = (
            f'<div style="{_BOX};background:#e8f1fb">Finding the flip points of {len(X)} rows '
            "(the result appears here); <b>stop</b> keeps the rows finished so far.</div>"
        )
        self._set_audit_running(True)
        self._audit_thread = threading.Thread(
            target=self._audit_job,
            args=(key, X, y, options),
            name="xaiwidgets-flip-audit",
            daemon=True,
        )
        self._audit_thread.start()
        return self.wait_audit() if wait else None

    def stop_audit(self) -> None:
        """Ask a running audit to stop after the current row (keeps what is finished)."""
        self._audit_stop.set()

    def wait_audit(self, timeout: float | None = None) -> FlipAudit | None:
        """Block until a running audit finishes; return the audit that finished last.

        Raises
        ------
        TimeoutError
            If it did not finish in time.
        """
        thread = self._audit_thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"The audit did not finish within {timeout} s.")
        return self._audit_last

    def _set_audit_running(self, running: bool) -> None:
        self.set_trait("audit_running", running)
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    def _on_audit_progress(self, done: int, total: int) -> None:
        elapsed = time.perf_counter() - self._audit_started
        self.progress.value = done
        self.progress_label.value = f"{done} / {total} rows · {elapsed:.1f} s"

    def _audit_job(self, key: Any, X: np.ndarray, y: np.ndarray, options: dict[str, Any]) -> None:
        if self.torch_threads is not None:  # as the widget's worker (per thread with OpenMP)
            torch.set_num_threads(self.torch_threads)
        result, error = None, None
        try:
            result = flip_audit(
                self.model,
                X,
                y,
                progress=self._on_audit_progress,
                should_stop=self._audit_stop.is_set,
                n_jobs=self.n_jobs,
                **options,
            )
        except Exception as exc:
            error = exc
        took = time.perf_counter() - self._audit_started
        with self._audit_lock:
            try:
                if error is not None:
                    self.progress.bar_style = "danger"
                    self.audit_note.value = (
                        f'<div style="{_BOX};border-left:5px solid #d62728;background:#fdecea">'
                        f"The audit failed: {html.escape(type(error).__name__)}: "
                        f"{html.escape(str(error))}</div>"
                    )
                    self._set_error(error)
                    return
                self._audit_last = result
                done = sum(fp is not None for fp in result.flip_points)
                self.progress.bar_style = "success" if result.complete else "warning"
                self.progress_label.value = f"{done} / {len(X)} rows in {took:.1f} s" + (
                    "" if result.complete else " · stopped"
                )
                if result.complete:
                    self._audits.put(key, result)
                if key == self._audit_request()[0]:
                    self._show_audit(key, result, f"computed in {took:.1f} s")
                elif result.complete:
                    self.audit_note.value = (
                        f'<div style="{_BOX};background:#f4f4f4">The audit for the earlier '
                        "settings finished and is remembered: change the settings back to see "
                        "it, or run one for these.</div>"
                    )
                else:
                    self.audit_note.value = (
                        f'<div style="{_BOX};background:#f4f4f4">The audit for the earlier '
                        "settings was stopped. Run one for these settings.</div>"
                    )
            finally:
                self._set_audit_running(False)

    def _sync_audit(self) -> None:
        """Show the remembered audit of the current settings, or say there is none."""
        key = self._audit_request()[0]
        with self._audit_lock:
            if key == self._audit_shown:
                return
            remembered = self._audits.get(key)
            if remembered is not None:
                self._show_audit(key, remembered, "remembered")
                return
            self._audit_shown = key
            self.set_trait("audit", None)
            self.audit_view.image.layout.display = "none"
            self.audit_tables.value = ""
            if not self.audit_running:
                self.audit_note.value = (
                    f'<div style="{_BOX};background:#f4f4f4">No audit for these settings yet: '
                    "press <b>run audit</b>.</div>"
                )

    def _show_audit(self, key: Any, result: FlipAudit, how: str) -> None:
        """Draw an audit (called with the audit lock held)."""
        self._audit_shown = key
        self.set_trait("audit", result)
        n = len(result.X)
        feasible = int(result.table["feasible"].sum())
        approximate = any(fp is not None and fp.approximate for fp in result.flip_points)
        parts = [f"<b>{feasible}</b> of {n} rows have a flip point ({how})"]
        if feasible < n:
            reached = sum(fp is not None for fp in result.flip_points)
            if reached < n:
                parts.append(f"stopped after {reached} rows: partial, not remembered")
            if reached > feasible:
                parts.append(f"{reached - feasible} cannot flip in the allowed space")
        if approximate:
            parts.append("approximate: derivative-free flip points (no gradients)")
        self.audit_note.value = f'<div style="{_BOX};background:#f4f4f4">{" · ".join(parts)}</div>'
        drawn = self._audit_drawings.get(key)
        if drawn is not None and drawn[0] is result:
            _, png, tables = drawn
            self.audit_view.image.value = png
        else:
            png, tables = self._draw_audit(result), self._audit_tables_html(result)
            if result.complete:
                self._audit_drawings.put(key, (result, png, tables))
        self.audit_view.image.layout.display = None
        self.audit_tables.value = tables

    def _draw_audit(self, result: FlipAudit) -> bytes:
        """The four panels of an audit, drawn into the audit view; returns the PNG."""
        view = self.audit_view
        view.clear()
        axes = view.figure.subplots(2, 2)
        panels = (
            (plot_ranking, axes[0, 0]),
            (plot_change_frequency, axes[0, 1]),
            (plot_directions, axes[1, 0]),
            (plot_loadings, axes[1, 1]),
        )
        for plot, ax in panels:
            try:
                plot(result, ax=ax)
            except ValueError as exc:  # too few flip points for a ranking or a PCA
                ax.clear()
                ax.set_axis_off()
                ax.text(0.5, 0.5, str(exc), ha="center", va="center", wrap=True, fontsize=9)
        return view.render(full=True)

    @staticmethod
    def _audit_tables_html(result: FlipAudit) -> str:
        try:
            return result._repr_html_()
        except ValueError:  # no flip point to rank features by
            return ""

    # ================================================================== life cycle
    def close(self) -> None:
        """Stop a running audit and the worker, and close every control."""
        self._audit_stop.set()
        thread = self._audit_thread
        if thread is not None:
            thread.join(10)
        super().close()
