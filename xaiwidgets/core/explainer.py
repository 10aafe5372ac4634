"""The base class of every explainer, and the registry of explainers by short name.

An explainer is built once for a model with its parameters and then asked to
``explain(x, target=None)``, like Captum's ``attribute``. The base class does what
every method shares: it validates the input and the target at the public edge,
evaluates the model once for the prediction, times the work and packs an
:class:`~xaiwidgets.core.explanation.Explanation`. A subclass implements
``_attribute(batch, targets, outputs)`` on clean arrays (or, to fuse the model
evaluation into its own work, ``_explain_batch``).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from .explanation import Explanation
from .model import Model, _softmax, wrap
from .validation import check_targets

__all__ = ["Explainer", "available", "get", "register"]

_REGISTRY: dict[str, type[Explainer]] = {}

#: The order in which menus list the methods (DESIGN.md's registry list).
TEACHING_ORDER = (
    "gradient",
    "gradient_x_input",
    "smoothgrad",
    "ig",
    "guided_backprop",
    "lime",
    "shap",
    "flip_point",
    "linear_region",
    "fimap",
)


class Explainer:
    """Base class: one attribution method, configured once, applied with ``explain``.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier to explain.
    output : {"auto", "logit", "probability"}, default="auto"
        Which output of the target class to explain: ``"auto"`` is the pre-softmax
        logit where the model has one, otherwise the probability.

    Attributes
    ----------
    name : str
        The registry name.
    requires_gradients : bool
        Whether the method needs a differentiable (torch) model.
    params : dict
        The method's parameters as validated; changing them needs a new explainer.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> xw.explainers.get("ig").requires_gradients
    True
    """

    name: ClassVar[str] = ""
    requires_gradients: ClassVar[bool] = False
    label: ClassVar[str] = ""

    def __init__(self, model: Any, *, output: str = "auto") -> None:
        self.model: Model = wrap(model)
        if self.requires_gradients and not self.model.differentiable:
            applicable = ", ".join(available(self.model)) or "none registered"
            raise TypeError(
                f"{type(self).__name__} needs gradients, but this {self.model.source} model "
                f"({type(self.model.predictor).__name__}) has no gradients. Methods that apply "
                f"to it: {applicable}. Wrap a torch.nn.Module to use "
                "gradient methods."
            )
        self.output = self.model.resolve_output(output)
        self.params: dict[str, Any] = {"output": self.output}

    @classmethod
    def applies_to(cls, model: Model) -> bool:
        """Whether this method can explain ``model``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> from sklearn.linear_model import LogisticRegression
        >>> ds = xw.datasets.load_moons(n=100)
        >>> m = xw.wrap(LogisticRegression().fit(ds.X_train, ds.y_train), ds)
        >>> xw.explainers.get("gradient").applies_to(m)
        False
        """
        return model.differentiable or not cls.requires_gradients

    def explain(self, x: Any, target: Any = None) -> Explanation:
        """Explain one input or a batch.

        Parameters
        ----------
        x : array-like of shape input_shape or (n, *input_shape)
            The input(s). Not modified.
        target : int, array-like of int, or None, default=None
            The class to explain; ``None`` (or ``"predicted"``) explains the class
            the model predicts for each input.

        Returns
        -------
        Explanation
            ``values`` has the shape of ``x``.

        Raises
        ------
        ValueError
            If ``x`` has the wrong shape, is empty or not finite, or ``target`` is out
            of range.
        """
        batch, single = self.model.check_input(x)
        if target is None or (isinstance(target, str) and target == "predicted"):
            requested = None
        else:
            requested = check_targets(target, len(batch), self.model.n_classes)
        start = time.perf_counter()
        outputs, targets, values, meta = self._explain_batch(batch, requested)
        meta = {"time_s": time.perf_counter() - start, **meta}
        prediction = _softmax(outputs) if self.output == "logit" else outputs
        dataset = self.model.dataset
        kind = (
            dataset.kind
            if dataset is not None
            else ("image" if len(self.model.input_shape) == 3 else "tabular")
        )
        if single:
            values, batch, prediction = values[0], batch[0], prediction[0]
            meta = {k: _first_if_per_row(v, len(targets)) for k, v in meta.items()}
        return Explanation(
            values=values,
            data=batch,
            method=self.name,
            target=int(targets[0]) if single else targets,
            prediction=prediction,
            output=self.output,
            feature_names=self.model.feature_names,
            class_names=self.model.class_names,
            kind=kind,
            params=dict(self.params),
            meta=meta,
        )

    def _explain_batch(
        self, batch: np.ndarray, requested: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Outputs, targets, attributions and meta for a validated batch.

        ``requested`` holds the caller's target classes, or None for the predicted
        ones. This default evaluates the model once and calls :meth:`_attribute`;
        gradient methods override it to get the outputs from their own forward pass.
        """
        outputs = self.model._outputs_unchecked(batch, self.output)
        targets = np.argmax(outputs, axis=1) if requested is None else requested
        values, meta = self._attribute(batch, targets, outputs)
        return outputs, targets, values, meta

    def _attribute(
        self, batch: np.ndarray, targets: np.ndarray, outputs: np.ndarray
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Attributions for a validated batch; returns ``(values, meta)``.

        ``outputs`` holds the explained output (logits or probabilities) of every
        class at each input, already computed by :meth:`explain`.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"


def _first_if_per_row(value: Any, n_rows: int) -> Any:
    if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == n_rows:
        return value[0].item() if value.ndim == 1 else value[0]
    return value


def register(cls: type[Explainer]) -> type[Explainer]:
    """Class decorator: make an explainer available under its ``name``.

    Examples
    --------
    >>> from xaiwidgets.core.explainer import Explainer, register, get
    >>> @register
    ... class Constant(Explainer):
    ...     name = "constant_example"
    >>> get("constant_example") is Constant
    True
    """
    if not cls.name:
        raise ValueError(f"{cls.__name__} needs a non-empty class attribute 'name'.")
    _REGISTRY[cls.name] = cls
    return cls


def get(name: str) -> type[Explainer]:
    """The explainer class registered under ``name`` (or its class name).

    Parameters
    ----------
    name : str
        A short name such as ``"gradient"``, ``"ig"``, ``"lime"``, or a class name
        such as ``"IntegratedGradients"``.

    Returns
    -------
    type
        The explainer class; instantiate it with the model and parameters.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> xw.explainers.get("ig").__name__
    'IntegratedGradients'
    """
    if isinstance(name, str):
        if name in _REGISTRY:
            return _REGISTRY[name]
        by_class = {cls.__name__.lower(): cls for cls in _REGISTRY.values()}
        if name.lower() in by_class:
            return by_class[name.lower()]
    raise ValueError(f"Unknown explainer {name!r}; registered: {', '.join(sorted(_REGISTRY))}.")


def available(model: Model | None = None) -> list[str]:
    """Registered explainer names that apply to ``model`` (all if None), in teaching order.

    The order is the course's (:data:`TEACHING_ORDER`: gradients first, then
    perturbation methods, then boundary-based ones), whatever order modules were
    imported in; methods registered by users come last.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> xw.explainers.available()[:4]
    ['gradient', 'gradient_x_input', 'smoothgrad', 'ig']
    """
    rank = {name: i for i, name in enumerate(TEACHING_ORDER)}
    names = sorted(_REGISTRY, key=lambda name: rank.get(name, len(rank)))
    return [name for name in names if model is None or _REGISTRY[name].applies_to(model)]
