"""Method parameters as data: which controls each explainer gets, and a cache of results.

:data:`PARAMETERS` lists, per registry name, the parameters a widget offers as controls
(defaults come from the explainer's signature, so they cannot drift). A method that is
not in the table gets controls for its simple keyword arguments (bool, int, float,
str defaults). :class:`ParamControls` turns one method's description into widgets;
:class:`ExplanationCache` builds explainers once per parameter set and remembers recent
explanations, so that moving a control back to a previous value is instant.
"""

from __future__ import annotations

import contextlib
import inspect
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import ipywidgets
import numpy as np
import traitlets

from ..core.explainer import Explainer, get
from ..core.explanation import Explanation
from ..core.model import Model
from ._base import is_echo, readout_format

__all__ = ["PARAMETERS", "ExplanationCache", "Param", "ParamControls", "method_params"]


@dataclass(frozen=True)
class Param:
    """How one explainer parameter is shown as a control.

    Parameters
    ----------
    name : str
        The keyword argument of the explainer.
    control : {"int", "float", "choice", "bool"}
        An integer box, a slider, a dropdown or a checkbox.
    label : str, default=""
        The control's description (the name when empty).
    low, high, step : float, optional
        Range and step of "int" and "float" controls.
    options : tuple, default=()
        The choices of a "choice" control.
    optional : bool, default=False
        ``None`` is allowed (the explainer then picks a default): shown as an
        "auto" checkbox beside the control.
    start : optional
        Where the control of an optional parameter starts when "auto" is unticked.
    kinds : tuple of str, default=("tabular", "image")
        The kinds of data the parameter applies to.

    Examples
    --------
    >>> Param("steps", "int", low=1, high=1024).label_text
    'steps'
    """

    name: str
    control: Literal["int", "float", "choice", "bool"]
    label: str = ""
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: tuple[Any, ...] = ()
    optional: bool = False
    start: Any = None
    kinds: tuple[str, ...] = ("tabular", "image")

    @property
    def label_text(self) -> str:
        """The control's description."""
        return self.label or self.name


_SEED = Param("seed", "int", "seed", low=0, high=2**31 - 1)
_TABULAR, _IMAGE = ("tabular",), ("image",)
_FILL = Param("fill", "choice", "fill", options=("zero", "mean", "blur"), kinds=_IMAGE)
_EVALS = (100, 200, 500, 1000, 2000, 5000, "auto")

#: The parameters each method offers in the widgets, by registry name.
PARAMETERS: dict[str, tuple[Param, ...]] = {
    "gradient": (Param("absolute", "bool", "|gradient|"),),
    "gradient_x_input": (),
    "guided_backprop": (),
    "smoothgrad": (
        Param("sigma", "float", "noise σ", low=0.0, high=1.0, step=0.01),
        Param("n_samples", "int", "samples", low=1, high=1000),
        Param("magnitude", "bool", "squared"),
        _SEED,
    ),
    "ig": (
        Param("steps", "choice", "steps", options=(8, 16, 32, 64, 128, 256, 512, "auto")),
        Param("baseline", "choice", "baseline", options=("zeros", "mean")),
        Param("method", "choice", "rule", options=("gausslegendre", "riemann_middle")),
    ),
    "lime": (
        Param("n_samples", "int", "samples", low=50, high=20000, step=50),
        Param(
            "kernel_width",
            "float",
            "kernel width",
            low=0.05,
            high=20.0,
            step=0.05,
            optional=True,
            start=1.0,
        ),
        Param("sampling", "choice", "sampling", options=("gaussian", "training"), kinds=_TABULAR),
        Param("surrogate", "choice", "surrogate", options=("ridge", "lasso"), kinds=_TABULAR),
        Param("patch_size", "int", "patch size", low=1, high=64, kinds=_IMAGE),
        _FILL,
        _SEED,
    ),
    "shap": (
        Param(
            "algorithm",
            "choice",
            "algorithm",
            options=("auto", "exact", "permutation"),
            kinds=_TABULAR,
        ),
        Param(
            "algorithm",
            "choice",
            "algorithm",
            options=("auto", "partition", "gradient"),
            kinds=_IMAGE,
        ),
        Param("background", "int", "background rows", low=1, high=2000, kinds=_TABULAR),
        Param("summarize", "choice", "summary", options=("sample", "kmeans"), kinds=_TABULAR),
        Param("max_evals", "choice", "evaluations", options=_EVALS),
        _FILL,
        _SEED,
    ),
    "flip_point": (Param("units", "choice", "units", options=("scaled", "raw")),),
    # Exact weights exist for logits only (the softmax is not piecewise linear).
    "linear_region": (
        Param("normalize", "bool", "w·σ (per standard deviation)"),
        Param("output", "choice", "output", options=("auto", "logit")),
    ),
    # Every value trains the perturbation network anew (tens of seconds; cached on
    # disk afterwards), so λ is a choice of a few values rather than a slider.
    "fimap": (
        Param("lam", "choice", "λ (price of the change)", options=(0.01, 0.03, 0.1, 0.3, 1.0)),
        _SEED,
    ),
}

_OUTPUT = Param("output", "choice", "output", options=("auto", "logit", "probability"))


def _keywords(cls: type[Explainer]) -> dict[str, inspect.Parameter]:
    """The explainer's keyword parameters, without ``self`` and ``model``."""
    parameters = inspect.signature(cls.__init__).parameters
    return {
        name: p
        for name, p in parameters.items()
        if name not in ("self", "model") and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }


def _generic(name: str, default: Any) -> Param | None:
    if isinstance(default, bool):
        return Param(name, "bool")
    if isinstance(default, int):
        return Param(name, "int")
    if isinstance(default, float):
        return Param(name, "float", low=0.0, high=max(1.0, 10 * default), step=0.01)
    return None


def method_params(method: str, model: Model) -> tuple[list[Param], dict[str, Any]]:
    """The parameter controls of a method and every keyword's default.

    Parameters
    ----------
    method : str
        A registry name.
    model : Model
        Decides which outputs can be chosen (logits only where the model has them).

    Returns
    -------
    params : list of Param
        The controls to show, from :data:`PARAMETERS` (filtered to the keywords the
        explainer accepts), or built from the signature for methods not in it; an
        ``output`` control is added (with the outputs the model has) unless the
        table declares one.
    defaults : dict
        Default value of every keyword the explainer accepts.

    Examples
    --------
    >>> import torch, xaiwidgets as xw
    >>> m = xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,))
    >>> params, defaults = method_params("ig", m)
    >>> [p.name for p in params], defaults["steps"]
    (['steps', 'baseline', 'method', 'output'], 64)
    """
    cls = get(method)
    keywords = _keywords(cls)
    defaults = {name: p.default for name, p in keywords.items() if p.default is not p.empty}
    kind = (
        model.dataset.kind
        if model.dataset is not None
        else ("image" if len(model.input_shape) == 3 else "tabular")
    )
    if cls.name in PARAMETERS:
        params = [p for p in PARAMETERS[cls.name] if p.name in keywords and kind in p.kinds]
    else:
        params = [
            p
            for name, default in defaults.items()
            if name != "output" and (p := _generic(name, default)) is not None
        ]
    if "output" in keywords and all(p.name != "output" for p in params):
        outputs = ("auto", "logit", "probability") if model.has_logits else ("auto", "probability")
        params.append(Param("output", "choice", _OUTPUT.label, options=outputs))
    return params, defaults


class ParamControls(ipywidgets.HBox):
    """Controls for one method's parameters; ``value`` holds the keyword arguments.

    Parameters
    ----------
    method : str
        A registry name.
    model : Model
        The model the method explains.
    values : mapping, optional
        Starting values; the rest take the explainer's defaults.

    Attributes
    ----------
    value : dict
        The explainer's keyword arguments (every accepted keyword that has a
        default, with the current values).

    Examples
    --------
    >>> import torch, xaiwidgets as xw
    >>> m = xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,))
    >>> controls = ParamControls("smoothgrad", m, {"n_samples": 10})
    >>> controls.value["n_samples"], controls.value["sigma"]
    (10, 0.15)
    """

    value = traitlets.Dict(help="the explainer's keyword arguments")

    def __init__(self, method: str, model: Model, values: Mapping[str, Any] | None = None) -> None:
        self.method = get(method).name
        self.params, self.defaults = method_params(self.method, model)
        self._keywords = set(_keywords(get(self.method)))
        self.controls: dict[str, ipywidgets.ValueWidget] = {}
        self._auto: dict[str, ipywidgets.Checkbox] = {}
        self._syncing = False
        children = []
        for param in self.params:
            control = self._make(param)
            control.observe(self._control_changed, names="value")
            self.controls[param.name] = control
            children.append(control)
            if param.optional:
                auto = ipywidgets.Checkbox(
                    value=True,
                    description="auto",
                    indent=False,
                    layout=ipywidgets.Layout(width="60px"),
                )
                auto.observe(self._control_changed, names="value")
                self._auto[param.name] = auto
                children.append(auto)
        super().__init__(children=children, layout=ipywidgets.Layout(flex_flow="row wrap"))
        self.set(values or {})

    @staticmethod
    def _make(param: Param) -> ipywidgets.ValueWidget:
        common = {
            "description": param.label_text,
            "style": {"description_width": "initial"},
        }
        if param.control == "bool":
            return ipywidgets.Checkbox(
                indent=False, layout=ipywidgets.Layout(width="auto"), **common
            )
        if param.control == "choice":
            return ipywidgets.Dropdown(
                options=list(param.options), layout=ipywidgets.Layout(width="auto"), **common
            )
        if param.control == "int":
            return ipywidgets.BoundedIntText(
                min=int(param.low if param.low is not None else -(2**31)),
                max=int(param.high if param.high is not None else 2**31 - 1),
                step=int(param.step or 1),
                layout=ipywidgets.Layout(width="190px"),
                **common,
            )
        return ipywidgets.FloatSlider(
            min=param.low if param.low is not None else 0.0,
            max=param.high if param.high is not None else 1.0,
            step=param.step or 0.01,
            readout_format=readout_format(param.step or 0.01),
            layout=ipywidgets.Layout(width="280px"),
            **common,
        )

    def set(self, values: Mapping[str, Any]) -> None:
        """Set parameters by name; the others go back to their defaults.

        Raises
        ------
        ValueError
            For a name the explainer does not accept.
        """
        if not isinstance(values, Mapping):
            raise TypeError(
                f"params must be a dict of keyword arguments; got {type(values).__name__}."
            )
        unknown = sorted(set(values) - self._keywords)
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for method {self.method!r}; it accepts "
                f"{sorted(self._keywords)}."
            )
        merged = {**self.defaults, **values}
        self._syncing = True
        try:
            for param in self.params:
                self._show(param, merged.get(param.name))
        finally:
            self._syncing = False
        self.value = merged

    def _show(self, param: Param, value: Any) -> None:
        """Move a control to ``value`` where it can show it (the value is used as given)."""
        control = self.controls[param.name]
        if param.optional:
            self._auto[param.name].value = value is None
            control.disabled = value is None
            if value is None:
                if param.start is not None:
                    control.value = param.start
                return
        if param.control == "choice":
            if _hashable(value) and value not in control.options:
                control.options = [*control.options, value]
            if _hashable(value):
                control.value = value
            return
        if (
            param.control in ("int", "float")
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        ):
            control.min = min(control.min, value)
            control.max = max(control.max, value)
        # A value the control cannot show (an array baseline) is used as given.
        with contextlib.suppress(traitlets.TraitError):
            control.value = value

    def _control_changed(self, change: Any) -> None:
        if self._syncing:
            return
        owner = change["owner"]
        name = next((n for n, c in self.controls.items() if c is owner), None)
        if name is not None and is_echo(owner, change["new"], self.value.get(name)):
            return
        values = dict(self.value)
        for param in self.params:
            auto = self._auto.get(param.name)
            if auto is not None:
                self.controls[param.name].disabled = auto.value
                if auto.value:
                    values[param.name] = None
                    continue
            values[param.name] = self.controls[param.name].value
        self.value = values


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _freeze(value: Any) -> Any:
    """A hashable key for a parameter value (arrays by their bytes)."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str, value.tobytes())
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value if _hashable(value) else ("id", id(value))


class ExplanationCache:
    """Explainers built once per (method, parameters), and recent explanations.

    Explanations are remembered per (method, parameters, input, target) for
    deterministic settings only: a parameter ``seed=None`` means fresh randomness
    each time, so those are recomputed.

    Parameters
    ----------
    model : Model
    max_explanations : int, default=256
        How many explanations to keep (least recently used are dropped).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> cache = ExplanationCache(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> e1, hit1 = cache.explain("gradient", {}, ds.X_test[0])
    >>> e2, hit2 = cache.explain("gradient", {}, ds.X_test[0])
    >>> e1 is e2, hit1, hit2
    (True, False, True)
    """

    def __init__(self, model: Model, max_explanations: int = 256) -> None:
        self.model = model
        self.max_explanations = max_explanations
        self._explainers: OrderedDict[Any, Explainer] = OrderedDict()
        self._explanations: OrderedDict[Any, Explanation] = OrderedDict()

    def explainer(self, method: str, params: Mapping[str, Any]) -> Explainer:
        """The explainer for ``method`` with ``params`` (built on first use)."""
        key = (method, _freeze(dict(params)))
        if key not in self._explainers:
            self._explainers[key] = get(method)(self.model, **params)
            if len(self._explainers) > 16:
                self._explainers.popitem(last=False)
        self._explainers.move_to_end(key)
        return self._explainers[key]

    def explain(
        self, method: str, params: Mapping[str, Any], x: np.ndarray, target: int | None = None
    ) -> tuple[Explanation, bool]:
        """Explain ``x``; returns the explanation and whether it came from the cache."""
        explainer = self.explainer(method, params)
        x = np.asarray(x, dtype=np.float64)
        key = (method, _freeze(dict(params)), x.shape, x.tobytes(), target)
        if key in self._explanations:
            self._explanations.move_to_end(key)
            return self._explanations[key], True
        explanation = explainer.explain(x, target=target)
        if "seed" not in params or params["seed"] is not None:
            self._explanations[key] = explanation
            if len(self._explanations) > self.max_explanations:
                self._explanations.popitem(last=False)
        return explanation, False
