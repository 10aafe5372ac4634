r"""Flip points: the closest points on a classifier's decision boundary.

Yousefzadeh & O'Leary, "Auditing and Debugging Deep Learning Models via Flip Points:
Individual-Level and Group-Level Analysis", La Matematica (2022). A *flip point* of an
input :math:`x` of class :math:`i` is a point :math:`\hat x` of the input domain where the
model's scores tie, :math:`z_i(\hat x) = z_j(\hat x) \ge z_k(\hat x)` for every other
class :math:`k`. The closest one solves (their Eq. 1)

.. math::

    \min_{\hat x,\, j \ne i} \; \lVert (\hat x - x) / s \rVert
    \quad\text{s.t.}\quad z_i(\hat x) = z_j(\hat x),\;
    z_j(\hat x) \ge z_k(\hat x)\ (k \ne i, j),\; \hat x \in \mathcal D,

with per-feature scales :math:`s` (training standard deviations by default) and the domain
:math:`\mathcal D` described by one object, :class:`FlipConstraints` (bounds, locked
features, monotone features, integer features, one-hot groups), which every solver reads.
Scores are pre-softmax logits for torch models (the tie set is the one of the softmax, and
better conditioned) and log-probabilities for models that only give probabilities.

Solvers, all returning a :class:`FlipPoint`:

- ``"gradient"`` (torch models): SciPy's SLSQP with exact Jacobians from autograd, on a
  float64 copy of the network with BLAS and torch limited to one thread during the solve,
  from several starts (``x`` itself, the first boundary crossing along the scaled
  gradient of the logit gap, and the nearest training points of another class moved onto
  the boundary by Brent's bracketing root finder); the closest feasible result is kept.
  One free feature is solved by a dense scan and Brent's method instead.
- ``"derivative-free"`` (scikit-learn estimators, callables): the same starts and the
  same SLSQP refinement, with Jacobians from batched central differences of the
  log-probabilities. The result is marked ``approximate``.
- Integer features and one-hot groups: the continuous relaxation is solved first
  (``FlipPoint.relaxed``); the discrete point (``FlipPoint.point``) rounds the relaxed
  point (floor/ceil, the two most likely categories) and re-solves the continuous
  features with the discrete ones held; when every free feature is discrete and the
  allowed grid is small, every grid point is enumerated, which is exact.
"""

from __future__ import annotations

import dataclasses
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from numbers import Integral
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from scipy.optimize import brentq, minimize

from ..core.dataset import Feature
from ..core.explainer import Explainer, register
from ..core.model import Model, wrap
from ..core.seeding import numpy_rng
from ..core.threads import torch_threads
from ..core.validation import as_numpy, check_int, check_option, check_real
from ._trees import norm_of_parts

__all__ = [
    "FlipConstraints",
    "FlipPoint",
    "FlipPointExplainer",
    "closest",
    "register_solver",
]

Norm = Literal["l2", "l1", "linf"]
#: The norms of the scaled change every flip-point solver understands.
NORMS = ("l2", "l1", "linf")

#: Smallest probability whose logarithm is taken (log-probability scores).
_TINY = 1e-300
#: A feature counts as changed when it moves by more than this many scale units.
CHANGE_TOL = 1e-3
#: Points sampled along a line when looking for the first class change.
_SCAN_POINTS = 33
#: Points of the dense scan when a single continuous feature may change.
_LINE_SCAN_POINTS = 513
#: Random points of the allowed region tried when no start reaches the boundary.
_SAMPLES = 1024
#: Combinations of roundings tried in the discrete repair.
_MAX_ROUNDINGS = 256
#: Roundings whose continuous features are re-solved.
_REPAIRS = 6
#: Relative step of the central differences of the derivative-free path (times the scale).
_FD_STEP = 1e-5
#: Classes tried from x: first-order distance within this factor of the nearest class.
_FIRST_ORDER_SLACK = 2.0
#: Boundary points farther than this factor times the best flip point are not refined.
_PRUNE_FACTOR = 3.0
#: The second, coarser finite-difference step (relative) of the smoothness check.
_FD_COARSE = 100.0
#: SLSQP iterations per start on the derivative-free path.
_FD_MAX_ITER = 50
#: Bisection steps to locate a jump of a piecewise-constant model on a segment.
_JUMP_BISECTIONS = 40
#: Line searches along single features as starts when at most this many may change.
_MAX_AXIS_FEATURES = 32
#: Half-width, in scale units, searched along a feature without bounds.
_UNBOUNDED_SPAN = 10.0


# ====================================================================== constraints
def _column_mask(
    spec: Any, constraints_like: FlipConstraints | _Names, argument: str
) -> np.ndarray:
    """Columns named by ``spec``: feature names, column names, column indices or a mask."""
    n = len(constraints_like.feature_names)
    mask = np.zeros(n, dtype=bool)
    if spec is None:
        return mask
    if isinstance(spec, (str, Integral)):
        spec = [spec]
    if not isinstance(spec, str) and hasattr(spec, "__len__"):
        array = np.asarray(spec) if not isinstance(spec, (list, tuple, set)) else None
        if array is not None and array.dtype == bool:
            if array.size != n:
                raise ValueError(
                    f"{argument} as a boolean mask must have one entry per column ({n}); "
                    f"got shape {array.shape}."
                )
            return array.reshape(-1).copy()
    by_feature = {f.name: list(f.columns) for f in constraints_like.features}
    by_column = {name: [c] for c, name in enumerate(constraints_like.feature_names)}
    for item in spec:
        if isinstance(item, (bool, np.bool_)):
            raise TypeError(
                f"{argument} must list feature names or column indices, or be one boolean "
                "mask per column; got a list with booleans."
            )
        if isinstance(item, Integral):
            if not 0 <= int(item) < n:
                raise ValueError(f"{argument} holds column index {item}, outside [0, {n - 1}].")
            mask[int(item)] = True
        elif isinstance(item, str):
            columns = by_feature.get(item, by_column.get(item))
            if columns is None:
                names = ", ".join(list(by_feature)[:20])
                more = " ..." if len(by_feature) > 20 else ""
                raise ValueError(
                    f"{argument} names an unknown feature {item!r}; the features are: "
                    f"{names}{more}."
                )
            mask[columns] = True
        else:
            raise TypeError(
                f"{argument} must hold feature names (str) or column indices (int); got "
                f"{type(item).__name__}."
            )
    return mask


@dataclass(frozen=True)
class _Names:
    """What :func:`_column_mask` needs before a FlipConstraints exists."""

    features: tuple[Feature, ...]
    feature_names: tuple[str, ...]


def _frozen(array: Any, dtype: Any) -> np.ndarray:
    result = np.array(array, dtype=dtype, copy=True)
    result.flags.writeable = False
    return result


@dataclass(frozen=True, eq=False)
class FlipConstraints:
    r"""The domain of a flip point: what may change, how far, and in which way.

    One object describes the domain for every flip-point solver (the SLSQP solver here
    and exact solvers that read the same fields), built from a model and its data set
    with :meth:`from_model`. Arrays are per column of the flattened input.

    Parameters
    ----------
    features : tuple of Feature
        The logical features (a column, or a one-hot group of columns).
    feature_names : tuple of str
        One name per column.
    scale : ndarray of shape (n_columns,)
        Positive per-column scales :math:`s`; distances are measured on
        :math:`(\\hat x - x) / s`.
    bounds : ndarray of shape (n_columns, 2)
        Per column ``(low, high)``; ``-inf``/``inf`` where unbounded.
    fixed : ndarray of bool, shape (n_columns,)
        Columns that may not change (locked or immutable features).
    direction : ndarray of int, shape (n_columns,)
        ``+1``: may only increase (for example age), ``-1``: may only decrease, ``0``: free.
    norm : {"l2", "l1", "linf"}, default="l2"
        Euclidean, L1 or L-infinity (largest scaled change) norm of the scaled change.
    discrete : bool, default=True
        Whether the flip point must respect integer features and one-hot groups (the
        continuous relaxation is always reported too).
    data_range : ndarray of shape (n_columns, 2), optional
        The training data's per-column range, used to flag implausible values.
    input_shape : tuple of int, optional
        The shape of one input (default: flat).

    Attributes
    ----------
    integer : ndarray of bool
        Columns of integer features.
    groups : tuple of tuple of int
        The columns of each one-hot group.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> c = FlipConstraints.from_model(m, fixed=["group"], monotone={"age": "increase"})
    >>> c.free_features[:3]
    ['income', 'debt_ratio', 'age']
    >>> lower, upper = c.box(ds.X_test[0])
    >>> bool(lower[2] == ds.X_test[0, 2])  # age may only increase
    True
    """

    features: tuple[Feature, ...]
    feature_names: tuple[str, ...]
    scale: np.ndarray
    bounds: np.ndarray
    fixed: np.ndarray
    direction: np.ndarray
    norm: Norm = "l2"
    discrete: bool = True
    data_range: np.ndarray | None = None
    input_shape: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "feature_names", tuple(self.feature_names))
        covered = sorted(c for f in self.features for c in f.columns)
        if covered != list(range(n)):
            raise ValueError("features must cover every column exactly once.")
        scale = np.asarray(self.scale, dtype=np.float64).reshape(-1)
        if scale.shape != (n,) or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
            raise ValueError(
                f"scale must hold {n} positive finite numbers, one per column; got "
                f"{np.round(scale[:5], 4).tolist()}{'...' if scale.size > 5 else ''}."
            )
        bounds = np.asarray(self.bounds, dtype=np.float64)
        if bounds.shape != (n, 2) or np.any(np.isnan(bounds)):
            raise ValueError(f"bounds must have shape ({n}, 2) without NaN; got {bounds.shape}.")
        if np.any(bounds[:, 0] > bounds[:, 1]):
            bad = int(np.argmax(bounds[:, 0] > bounds[:, 1]))
            raise ValueError(
                f"bounds of {self.feature_names[bad]!r} have low {bounds[bad, 0]} above "
                f"high {bounds[bad, 1]}."
            )
        direction = np.asarray(self.direction, dtype=np.int8).reshape(-1)
        if direction.shape != (n,) or not np.all(np.isin(direction, (-1, 0, 1))):
            raise ValueError(f"direction must hold -1, 0 or 1 for each of the {n} columns.")
        fixed = np.asarray(self.fixed, dtype=bool).reshape(-1)
        if fixed.shape != (n,):
            raise ValueError(f"fixed must be a boolean mask of {n} columns; got {fixed.shape}.")
        check_option(self.norm, "norm", NORMS)
        object.__setattr__(self, "scale", _frozen(scale, np.float64))
        object.__setattr__(self, "bounds", _frozen(bounds, np.float64))
        object.__setattr__(self, "fixed", _frozen(fixed, bool))
        object.__setattr__(self, "direction", _frozen(direction, np.int8))
        object.__setattr__(self, "discrete", bool(self.discrete))
        shape = tuple(int(k) for k in self.input_shape) or (n,)
        if int(np.prod(shape)) != n:
            raise ValueError(f"input_shape {shape} does not hold {n} columns.")
        object.__setattr__(self, "input_shape", shape)
        if self.data_range is not None:
            object.__setattr__(self, "data_range", _frozen(self.data_range, np.float64))

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(
        cls,
        model: Any,
        *,
        fixed: Any = None,
        free: Any = None,
        bounds: str | Mapping[str, tuple[float | None, float | None]] | Any | None = "data",
        monotone: Mapping[str, str] | None = None,
        scale: str | Mapping[str, float] | Any = "auto",
        norm: str = "l2",
        discrete: bool = True,
    ) -> FlipConstraints:
        """Build the domain from a model (and the data set it was wrapped with).

        Parameters
        ----------
        model : Model or anything :func:`~xaiwidgets.wrap` accepts
            Supplies the input shape, feature names and (through its data set) feature
            kinds, bounds and training statistics.
        fixed : feature names, column indices or boolean mask, optional
            Features that may not change (locked, immutable). A one-hot group is named
            by its feature name (for example ``"employment"``).
        free : feature names, column indices or boolean mask, optional
            Only these features may change (a constrained flip point); the others are
            fixed.
        bounds : "data", None, dict or array of shape (n_columns, 2), default="data"
            ``"data"``: the data set's plausible ranges (unbounded without a data set);
            ``None``: unbounded; a dict ``{feature: (low, high)}`` overrides the data
            set's ranges (``None`` keeps a side); an array gives every column.
            One-hot columns always stay in ``[0, 1]``.
        monotone : dict, optional
            ``{feature: "increase" | "decrease"}``: the feature may only move that way.
        scale : {"auto", "std", "range", "unit"}, dict or array, default="auto"
            Per-column scales: ``"std"`` the training standard deviation, ``"range"`` the
            width of the bounds, ``"unit"`` ones; ``"auto"`` is ``"std"`` for tabular
            data and ``"unit"`` for images and models without a data set. A dict
            overrides single features of ``"auto"``; an array gives every column.
        norm : {"l2", "l1", "linf"}, default="l2"
            Norm of the scaled change.
        discrete : bool, default=True
            Respect integer features and one-hot groups in the flip point.

        Returns
        -------
        FlipConstraints

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
        >>> FlipConstraints.from_model(m, free=["income", "savings"]).free_features
        ['income', 'savings']
        """
        model = wrap(model)
        dataset = model.dataset
        names = tuple(model.feature_names)
        n = len(names)
        if dataset is not None and dataset.n_features == n:
            features = tuple(dataset.features)
            data_bounds = dataset.bounds.astype(np.float64)
            flat = dataset.X_train.reshape(len(dataset.X_train), -1)
            data_range = np.stack([flat.min(axis=0), flat.max(axis=0)], axis=1)
        else:
            features = tuple(
                Feature(name, "continuous", (c,), (-np.inf, np.inf))
                for c, name in enumerate(names)
            )
            data_bounds = np.tile([-np.inf, np.inf], (n, 1))
            data_range = None
        lookup = _Names(features, names)
        fixed_mask = _column_mask(fixed, lookup, "fixed")
        if free is not None:
            free_mask = _column_mask(free, lookup, "free")
            if not free_mask.any():
                raise ValueError("free names no feature: at least one feature must be free.")
            fixed_mask |= ~free_mask
        one_hot = np.zeros(n, dtype=bool)
        for f in features:
            if f.kind == "categorical":
                one_hot[list(f.columns)] = True
        resolved_bounds = _resolve_bounds(bounds, data_bounds, lookup)
        resolved_bounds[one_hot, 0] = np.maximum(resolved_bounds[one_hot, 0], 0.0)
        resolved_bounds[one_hot, 1] = np.minimum(resolved_bounds[one_hot, 1], 1.0)
        direction = np.zeros(n, dtype=np.int8)
        if monotone is not None:
            if not isinstance(monotone, Mapping):
                raise TypeError(
                    "monotone must be a dict {feature: 'increase' | 'decrease'}; got "
                    f"{type(monotone).__name__}."
                )
            for name, way in monotone.items():
                way = check_option(way, f"monotone[{name!r}]", ["increase", "decrease"])
                columns = _column_mask(name, lookup, "monotone")
                if np.any(one_hot[columns]):
                    raise ValueError(
                        f"monotone[{name!r}]: a categorical feature has no order; lock it "
                        "with fixed= instead."
                    )
                direction[columns] = 1 if way == "increase" else -1
        return cls(
            features=features,
            feature_names=names,
            scale=_resolve_scale(scale, model, resolved_bounds, lookup),
            bounds=resolved_bounds,
            fixed=fixed_mask,
            direction=direction,
            norm=check_option(norm, "norm", NORMS),
            discrete=bool(discrete),
            data_range=data_range,
            input_shape=model.input_shape,
        )

    def restrict(self, *, free: Any = None, fixed: Any = None) -> FlipConstraints:
        """A copy in which fewer features may change.

        Parameters
        ----------
        free : feature names, column indices or mask, optional
            Only these may change (among those that already could).
        fixed : feature names, column indices or mask, optional
            Lock these as well.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> c = FlipConstraints.from_model(xw.wrap(xw.zoo.train_mlp(ds), ds))
        >>> c.restrict(free=["age"]).free_features
        ['age']
        """
        new_fixed = self.fixed | _column_mask(fixed, self, "fixed")
        if free is not None:
            new_fixed = new_fixed | ~_column_mask(free, self, "free")
        return dataclasses.replace(self, fixed=new_fixed)

    # ------------------------------------------------------------------ facts
    @property
    def n_features(self) -> int:
        """Number of columns of the flattened input."""
        return len(self.feature_names)

    @property
    def integer(self) -> np.ndarray:
        """Boolean mask of the columns of integer features."""
        mask = np.zeros(self.n_features, dtype=bool)
        for f in self.features:
            if f.kind == "integer":
                mask[list(f.columns)] = True
        return mask

    @property
    def groups(self) -> tuple[tuple[int, ...], ...]:
        """Column indices of every one-hot group."""
        return tuple(tuple(f.columns) for f in self.features if f.kind == "categorical")

    @property
    def free_features(self) -> list[str]:
        """Names of the logical features that may change."""
        return [f.name for f in self.features if not np.all(self.fixed[list(f.columns)])]

    def box(self, x: Any) -> tuple[np.ndarray, np.ndarray]:
        """Per-column ``(lower, upper)`` limits for flip points of ``x``.

        Bounds, intersected with the monotone directions (``lower = x`` where a
        feature may only increase) and the locks (``lower = upper = x``).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_moons(n=100)
        >>> c = FlipConstraints.from_model(xw.wrap(xw.zoo.train_logreg(ds), ds), fixed=[0])
        >>> lower, upper = c.box([0.5, 0.2])
        >>> float(lower[0]), float(upper[0])
        (0.5, 0.5)
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        lower, upper = self.bounds[:, 0].copy(), self.bounds[:, 1].copy()
        up, down = self.direction > 0, self.direction < 0
        lower[up] = np.maximum(lower[up], x[up])
        upper[up] = np.maximum(upper[up], lower[up])
        upper[down] = np.minimum(upper[down], x[down])
        lower[down] = np.minimum(lower[down], upper[down])
        lower[self.fixed] = upper[self.fixed] = x[self.fixed]
        return lower, upper

    def distance(self, x: Any, points: Any) -> float | np.ndarray:
        """Scaled distance from ``x`` to one point (a float) or to each row of a batch.

        ``points`` is one point when it is flat or has the input's shape; otherwise its
        first axis runs over points.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_moons(n=100)
        >>> c = FlipConstraints.from_model(xw.wrap(xw.zoo.train_logreg(ds), ds), scale="unit")
        >>> c.distance([0.0, 0.0], [3.0, 4.0])
        5.0
        """
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        points = np.asarray(points, dtype=np.float64)
        single = points.ndim == 1 or points.shape == self.input_shape
        scaled = (points.reshape(-1, self.n_features) - x) / self.scale
        values = norm_of_parts(np.abs(scaled), self.norm)
        return float(values[0]) if single else values

    def violations(self, point: Any, x: Any, tol: float = 1e-6) -> list[str]:
        """Every constraint that ``point`` breaks as a flip point of ``x`` (empty if none).

        Parameters
        ----------
        point, x : array-like
            The candidate flip point and the input it belongs to.
        tol : float, default=1e-6
            Slack, relative to each column's scale.

        Returns
        -------
        list of str
            One sentence per violation.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> c = FlipConstraints.from_model(xw.wrap(xw.zoo.train_mlp(ds), ds), fixed=["group"])
        >>> x = ds.X_test[0].copy(); y = x.copy(); y[12] = 1 - y[12]
        >>> c.violations(y, x)
        ['group is fixed but changed from 1 to 0']
        """
        point = np.asarray(point, dtype=np.float64).reshape(-1)
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        slack = tol * self.scale
        problems = []
        lower, upper = self.box(x)
        for c, name in enumerate(self.feature_names):
            value = point[c]
            if self.fixed[c]:
                if abs(value - x[c]) > slack[c]:
                    problems.append(f"{name} is fixed but changed from {x[c]:g} to {value:g}")
                continue
            if self.direction[c] > 0 and value < x[c] - slack[c]:
                problems.append(f"{name} may only increase but went from {x[c]:g} to {value:g}")
            elif self.direction[c] < 0 and value > x[c] + slack[c]:
                problems.append(f"{name} may only decrease but went from {x[c]:g} to {value:g}")
            elif value < lower[c] - slack[c] or value > upper[c] + slack[c]:
                problems.append(
                    f"{name} = {value:g} is outside its bounds [{lower[c]:g}, {upper[c]:g}]"
                )
        if self.discrete:
            for c in np.flatnonzero(self.integer):
                if abs(point[c] - np.round(point[c])) > 1e-6:
                    problems.append(f"{self.feature_names[c]} = {point[c]:g} is not an integer")
        for f in self.features:
            if f.kind != "categorical":
                continue
            values = point[list(f.columns)]
            if abs(values.sum() - 1) > 1e-6:
                problems.append(f"the one-hot group {f.name} sums to {values.sum():g}, not 1")
            elif self.discrete and not np.all(np.isclose(values, 0) | np.isclose(values, 1)):
                problems.append(f"the one-hot group {f.name} is not one-hot: {values.round(3)}")
        return problems

    def to_frame(self) -> pd.DataFrame:
        """One row per logical feature: kind, bounds, scale, whether fixed, direction.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> FlipConstraints.from_model(xw.wrap(xw.zoo.train_mlp(ds), ds)).to_frame().shape
        (10, 7)
        """
        rows = []
        for f in self.features:
            c = list(f.columns)
            way = int(self.direction[c[0]])
            rows.append(
                {
                    "feature": f.name,
                    "kind": f.kind,
                    "low": float(self.bounds[c, 0].min()),
                    "high": float(self.bounds[c, 1].max()),
                    "scale": float(self.scale[c[0]]),
                    "fixed": bool(np.all(self.fixed[c])),
                    "direction": {1: "increase", -1: "decrease"}.get(way, "either"),
                }
            )
        return pd.DataFrame(rows)


def _resolve_bounds(bounds: Any, data_bounds: np.ndarray, lookup: _Names) -> np.ndarray:
    n = len(lookup.feature_names)
    if isinstance(bounds, str):
        check_option(bounds, "bounds", ["data"])
        return data_bounds.copy()
    if bounds is None:
        return np.tile([-np.inf, np.inf], (n, 1))
    if isinstance(bounds, Mapping):
        result = data_bounds.copy()
        for name, pair in bounds.items():
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(
                    f"bounds[{name!r}] must be a pair (low, high), None for an open side; "
                    f"got {pair!r}."
                )
            columns = _column_mask(name, lookup, "bounds")
            for side, value in enumerate(pair):
                if value is not None:
                    result[columns, side] = check_real(value, f"bounds[{name!r}]")
        return result
    array = as_numpy(bounds, "bounds").astype(np.float64)
    if array.shape != (n, 2):
        raise ValueError(
            f"bounds must be 'data', None, a dict {{feature: (low, high)}} or an array of shape "
            f"({n}, 2); got shape {array.shape}."
        )
    return array


def _resolve_scale(scale: Any, model: Model, bounds: np.ndarray, lookup: _Names) -> np.ndarray:
    n = len(lookup.feature_names)
    dataset = model.dataset
    overrides: Mapping[str, float] = {}
    if isinstance(scale, Mapping):
        scale, overrides = "auto", scale
    if isinstance(scale, str):
        scale = check_option(scale, "scale", ["auto", "std", "range", "unit"])
        if scale == "auto":
            scale = "std" if dataset is not None and dataset.kind == "tabular" else "unit"
        if scale == "std":
            if dataset is None:
                raise ValueError(
                    "scale='std' needs the training data: wrap the model with its data set, "
                    "or pass scale='unit' or an array."
                )
            result = np.asarray(dataset.train_std, dtype=np.float64).reshape(-1).copy()
        elif scale == "range":
            span = bounds[:, 1] - bounds[:, 0]
            if not np.all(np.isfinite(span)):
                raise ValueError("scale='range' needs finite bounds for every column.")
            result = np.where(span > 0, span, 1.0)
        else:
            result = np.ones(n)
    else:
        result = as_numpy(scale, "scale").astype(np.float64).reshape(-1).copy()
        if result.shape != (n,):
            raise ValueError(f"scale as an array must have {n} entries; got {result.shape}.")
    for name, value in overrides.items():
        value = check_real(value, f"scale[{name!r}]", low=0.0, low_inclusive=False)
        result[_column_mask(name, lookup, "scale")] = value
    return result


# ====================================================================== scores
class _Scores:
    """Class scores of a model at flattened inputs, and their Jacobian at one point."""

    exact = False

    def __init__(self, model: Model) -> None:
        self.model = model
        self.shape = model.input_shape
        self.n_classes = model.n_classes

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def jacobian(
        self, y: np.ndarray, columns: np.ndarray, classes: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Scores at ``y`` (K,) and their derivatives w.r.t. ``y[columns]`` (K, m).

        With ``classes``, only those rows of the Jacobian need be computed (the others
        may be zero).
        """
        raise NotImplementedError

    @contextmanager
    def session(self) -> Iterator[None]:
        """Context for a run of evaluations (eval mode for torch modules)."""
        with self.model.inference():
            yield


class _TorchScores(_Scores):
    """Logits (or log-probabilities) of a torch module with exact autograd Jacobians."""

    exact = True

    def __init__(self, model: Model) -> None:
        super().__init__(model)
        self.output = "logit" if model.has_logits else "probability"
        self.dtype = model.torch_dtype

    def _forward(self, rows: torch.Tensor) -> torch.Tensor:
        out = self.model.torch_outputs(rows.reshape(-1, *self.shape), self.output)
        return out if self.output == "logit" else torch.log(out.clamp_min(_TINY))

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.array(rows, dtype=np.float64).reshape(len(rows), -1)  # writable for torch
        if len(rows) == 0:
            return np.empty((0, self.n_classes))
        step = max(1, 2**20 // max(1, rows.shape[1]))
        chunks = []
        with torch.no_grad():
            for start in range(0, len(rows), step):
                tensor = torch.as_tensor(rows[start : start + step], dtype=self.dtype)
                chunks.append(self._forward(tensor).double().numpy())
        return np.concatenate(chunks)

    def jacobian(
        self, y: np.ndarray, columns: np.ndarray, classes: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        # One pass for all asked classes: one copy of y per class, output k of copy k
        # differentiated (rows are independent in eval mode).
        wanted = list(range(self.n_classes)) if classes is None else list(classes)
        with torch.enable_grad():
            rows = torch.tensor(y, dtype=self.dtype).repeat(len(wanted), 1).requires_grad_(True)
            out = self._forward(rows)
            picked = out[torch.arange(len(wanted)), torch.as_tensor(wanted)]
            (gradient,) = torch.autograd.grad(picked.sum(), rows)
        jacobian = np.zeros((self.n_classes, len(columns)))
        jacobian[wanted] = gradient.double().numpy()[:, columns]
        return out[0].detach().double().numpy(), jacobian


class _FiniteDifferenceScores(_Scores):
    """Log-probabilities of any model; Jacobians by batched central differences."""

    def __init__(self, model: Model, scale: np.ndarray) -> None:
        super().__init__(model)
        self.step = _FD_STEP * np.asarray(scale, dtype=np.float64)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.float64)
        proba = self.model._outputs_unchecked(rows.reshape(-1, *self.shape), "probability")
        return np.log(np.maximum(proba, _TINY))

    def jacobian(
        self,
        y: np.ndarray,
        columns: np.ndarray,
        classes: Sequence[int] | None = None,
        step: float = 1.0,
    ) -> tuple[np.ndarray, np.ndarray]:
        m = len(columns)
        h = step * self.step[columns]
        rows = np.repeat(y[None], 1 + 2 * m, axis=0)
        rows[1 + np.arange(m), columns] += h
        rows[1 + m + np.arange(m), columns] -= h
        scores = self(rows)
        jacobian = (scores[1 : 1 + m] - scores[1 + m :]) / (2 * h[:, None])
        return scores[0], jacobian.T


class _DenseReluScores(_Scores):
    """Logits of a ``Sequential`` of Linear/ReLU layers, evaluated with numpy in float64.

    The zoo's MLPs are such networks. Inside the linear region of ``y`` the network is
    ``W_L D_{L-1} W_{L-1} ... D_1 W_1 y + c`` with ``D_k`` the diagonal 0/1 activation
    pattern of ReLU layer ``k``, so the Jacobian is that product of matrices (the
    derivative of ReLU at 0 is taken as 0, as torch does). For networks this small the
    per-call overhead of torch dominates a solve; numpy removes it. Checked against
    torch autograd in the tests.
    """

    exact = True

    def __init__(self, model: Model, layers: list[tuple[np.ndarray, np.ndarray] | None]) -> None:
        super().__init__(model)
        self.layers = layers  # (W, b) for a Linear layer, None for a ReLU
        self.single_logit = layers[-1][0].shape[0] == 1 if layers[-1] is not None else False

    @classmethod
    def from_model(cls, model: Model) -> _DenseReluScores | None:
        """The fast evaluator, or None when the module is not a plain Linear/ReLU stack."""
        module = model.torch_module
        if not model.has_logits or not isinstance(module, torch.nn.Sequential):
            return None
        layers: list[tuple[np.ndarray, np.ndarray] | None] = []
        for layer in module:
            if isinstance(layer, torch.nn.Linear):
                weight = layer.weight.detach().double().numpy().copy()
                bias = (
                    layer.bias.detach().double().numpy().copy()
                    if layer.bias is not None
                    else np.zeros(weight.shape[0])
                )
                layers.append((weight, bias))
            elif isinstance(layer, torch.nn.ReLU):
                layers.append(None)
            elif not isinstance(layer, (torch.nn.Flatten, torch.nn.Identity, torch.nn.Dropout)):
                return None
        if not layers or layers[-1] is None or layers[-1][0].shape[0] not in (1, model.n_classes):
            return None
        return cls(model, layers)

    @contextmanager
    def session(self) -> Iterator[None]:
        yield

    def _expand(self, out: np.ndarray) -> np.ndarray:
        # One score z for two classes means the logits (-z/2, z/2), as Model does.
        return np.concatenate([-out / 2, out / 2], axis=-1) if self.single_logit else out

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        h = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
        for layer in self.layers:
            h = np.maximum(h, 0.0) if layer is None else h @ layer[0].T + layer[1]
        return self._expand(h)

    def jacobian(
        self, y: np.ndarray, columns: np.ndarray, classes: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        h = np.asarray(y, dtype=np.float64).reshape(-1)
        patterns = []
        for layer in self.layers:
            if layer is None:
                patterns.append(h > 0)
                h = np.where(h > 0, h, 0.0)
            else:
                h = layer[0] @ h + layer[1]
        jac = None
        masks = iter(reversed(patterns))
        for layer in reversed(self.layers):
            if layer is None:
                jac = jac * next(masks)
            else:
                jac = layer[0] if jac is None else jac @ layer[0]
        jac = jac[:, columns]
        return self._expand(h), (self._expand(jac.T).T if self.single_logit else jac)


# Fast evaluators of torch modules, made once per module (and again after its weights
# change): a numpy stack for Linear/ReLU networks, otherwise a float64 deep copy.
_EVALUATORS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_EVALUATORS_LOCK = threading.Lock()


def _exact_scores(model: Model) -> _Scores:
    """Exact scores for a torch model, cached per module.

    The cache is keyed on the storage and version counter of every parameter and
    buffer, so training the module further (in-place updates bump the counters) or
    loading other weights builds a fresh evaluator. A float64 deep copy
    (``Model.to_dtype``) is used where the numpy path does not apply: in float32 the
    logit gap is too noisy for SLSQP's line search (DESIGN.md, "Conventions").
    """
    module = model.torch_module
    state = tuple(
        (t.data_ptr(), t._version) for t in itertools.chain(module.parameters(), module.buffers())
    )
    key = (state, model.has_logits, model.n_classes, model.input_shape)
    with _EVALUATORS_LOCK:
        hit = _EVALUATORS.get(module)
        if hit is None or hit[0] != key:
            scores = _DenseReluScores.from_model(model)
            if scores is None:
                copy = (
                    model if model.torch_dtype == torch.float64 else model.to_dtype(torch.float64)
                )
                scores = _TorchScores(copy)
            hit = (key, scores)
            _EVALUATORS[module] = hit
    return hit[1]


_THREADPOOLS: Any = None
# The BLAS/OpenMP limit is process-wide: it is set by the first thread to enter
# single_threaded and lifted by the last one to leave (a widget solves in its worker
# thread while an audit runs in another). Nested limits restored in a different order
# than they were set would leave the process on one thread for good.
_LIMIT_LOCK = threading.Lock()
_LIMIT_DEPTH = 0
_LIMITER: Any = None


@contextmanager
def single_threaded() -> Iterator[None]:
    """Limit torch and BLAS/OpenMP to one thread; the caller's settings come back after.

    Small solves are dominated by per-call overhead, and a thread pool waking up for
    every 13-feature product costs more than the product (DESIGN.md, "Conventions").
    The BLAS and OpenMP limits are process-wide: torch work in other threads runs on
    one thread too while any thread is inside. Thread-safe: with several threads
    inside at once, the original limits come back when the last one leaves.

    Examples
    --------
    >>> import torch
    >>> before = torch.get_num_threads()
    >>> with single_threaded():
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    global _THREADPOOLS, _LIMIT_DEPTH, _LIMITER
    from threadpoolctl import ThreadpoolController

    with torch_threads(1):
        with _LIMIT_LOCK:
            if _LIMIT_DEPTH == 0:
                if _THREADPOOLS is None:
                    _THREADPOOLS = ThreadpoolController()
                _LIMITER = _THREADPOOLS.limit(limits=1)
            _LIMIT_DEPTH += 1
        try:
            yield
        finally:
            with _LIMIT_LOCK:
                _LIMIT_DEPTH -= 1
                if _LIMIT_DEPTH == 0:
                    _LIMITER.restore_original_limits()
                    _LIMITER = None


# ====================================================================== result
@dataclass(frozen=True, eq=False, repr=False)
class FlipPoint:
    """The closest flip point of one input, with everything needed to explain it.

    Returned by :func:`closest`. ``point`` is the flip point in the domain (integers
    whole, one-hot groups one-hot where ``constraints.discrete``); ``relaxed`` is the
    solution of the continuous relaxation, an exact tie. Where the discrete domain
    admits no exact tie (every free feature discrete), ``point`` is the closest
    discrete point whose class has changed (``on_boundary`` is then False).

    Attributes
    ----------
    x : ndarray
        The input, shape ``input_shape``.
    point, relaxed : ndarray or None
        The flip point and its continuous relaxation; None when none was found.
    classes : tuple of (int, int or None)
        ``(i, j)``: the class of ``x`` and the class it ties with.
    distance : float
        Scaled distance (``constraints.norm`` of ``(point - x) / scale``); ``inf``
        when infeasible.
    distance_raw : float
        The same norm in the features' own units.
    residual : float
        ``|z_i - z_j|`` at ``point`` (logits, or log-probabilities).
    feasible : bool
        False, with ``reason``, when no flip point exists in the allowed space.
    reason : str
        Why there is no flip point, or an empty string.
    on_boundary : bool
        True when ``point`` is a tie within tolerance, False for a discrete point past
        the boundary.
    same_partition : bool or None
        Whether the straight segment from ``x`` stays in class ``i`` until it reaches the
        boundary (and then in class ``j``): the paper's same-partition check.
    approximate : bool
        True for the derivative-free path (finite-difference Jacobians).
    method : str
        The solver that produced the relaxed point: ``"slsqp"`` (exact gradients),
        ``"slsqp-fd"`` (finite differences), ``"line-scan"`` (one free feature) or
        ``"bisection"`` (scores not smooth, as for trees: the closest boundary crossing
        found, not refined); ``meta["discrete_method"]`` says how ``point`` was made.
    constraints : FlipConstraints
        The domain.
    scores : ndarray or None
        Class scores at ``point``.
    meta : dict
        ``time_s``, ``tolerance`` (the residual accepted as a tie), ``starts`` (each
        start's outcome), ``nit``, ``nfev``, ``relaxed_residual``, ...

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
    >>> fp.feasible, fp.residual < 1e-4
    (True, True)
    >>> list(fp.changed.columns)
    ['feature', 'original', 'flip value', 'relaxed value', 'change', 'scaled change']
    """

    x: np.ndarray
    point: np.ndarray | None
    relaxed: np.ndarray | None
    classes: tuple[int, int | None]
    distance: float
    distance_raw: float
    residual: float
    feasible: bool
    reason: str
    on_boundary: bool
    same_partition: bool | None
    approximate: bool
    method: str
    constraints: FlipConstraints
    scores: np.ndarray | None
    feature_names: list[str]
    class_names: list[str]
    meta: dict[str, Any] = field(default_factory=dict)
    model: Model | None = field(default=None, compare=False)

    # ------------------------------------------------------------------ derived
    @property
    def class_labels(self) -> tuple[str, str | None]:
        """``classes`` by name."""
        i, j = self.classes
        return self.class_names[i], (None if j is None else self.class_names[j])

    @property
    def direction(self) -> np.ndarray | None:
        """``point - x`` (None when infeasible)."""
        return None if self.point is None else self.point - self.x

    @property
    def scaled_direction(self) -> np.ndarray | None:
        """``(point - x) / scale``, the change in scale units."""
        if self.point is None:
            return None
        flat = (self.point - self.x).reshape(-1) / self.constraints.scale
        return flat.reshape(self.x.shape)

    @property
    def relaxed_distance(self) -> float:
        """Scaled distance of the relaxed point (``inf`` when there is none)."""
        if self.relaxed is None:
            return float("inf")
        return self.constraints.distance(self.x, self.relaxed)

    @property
    def changed(self) -> pd.DataFrame:
        """The features that change, one row per logical feature.

        Columns: ``feature``, ``original``, ``flip value`` (of ``point``), ``relaxed value``,
        ``change`` (flip minus original; NaN for categories) and ``scaled change``
        (the change over the scale; for a one-hot group the scaled norm of its columns).
        A feature counts as changed when it moves by more than ``CHANGE_TOL`` scale
        units in ``point`` or in ``relaxed``.
        """
        return self.changes()

    def changes(self, tol: float = CHANGE_TOL, include_relaxed: bool = True) -> pd.DataFrame:
        """:attr:`changed` with another tolerance (in scale units).

        ``include_relaxed=False`` lists only the features that change in ``point``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
        >>> len(fp.changes(tol=10.0))
        0
        """
        tol = check_real(tol, "tol", low=0.0)
        columns = ["feature", "original", "flip value", "relaxed value", "change", "scaled change"]
        x = self.x.reshape(-1)
        point = None if self.point is None else self.point.reshape(-1)
        relaxed = None if self.relaxed is None else self.relaxed.reshape(-1)
        scale = self.constraints.scale
        rows = []
        for f in self.constraints.features:
            cols = list(f.columns)

            def moved(y: np.ndarray | None, cols: list[int] = cols) -> float:
                return (
                    0.0 if y is None else float(np.linalg.norm((y[cols] - x[cols]) / scale[cols]))
                )

            if max(moved(point), moved(relaxed) if include_relaxed else 0.0) <= tol:
                continue
            if f.kind == "categorical":
                rows.append(
                    {
                        "feature": f.name,
                        "original": f.value_of(x),
                        "flip value": None if point is None else f.value_of(point),
                        "relaxed value": None if relaxed is None else f.value_of(relaxed),
                        "change": np.nan,
                        "scaled change": moved(point),
                    }
                )
            else:
                c = cols[0]
                change = np.nan if point is None else float(point[c] - x[c])
                rows.append(
                    {
                        "feature": f.name,
                        "original": float(x[c]),
                        "flip value": None if point is None else float(point[c]),
                        "relaxed value": None if relaxed is None else float(relaxed[c]),
                        "change": change,
                        "scaled change": change / scale[c],
                    }
                )
        return pd.DataFrame(rows, columns=columns)

    @property
    def changed_features(self) -> list[str]:
        """Names of the features that change in ``point`` (more than ``CHANGE_TOL``)."""
        return list(self.changes(include_relaxed=False)["feature"])

    def _target(self, towards: str) -> np.ndarray:
        towards = check_option(towards, "towards", ["point", "relaxed"])
        target = self.point if towards == "point" else self.relaxed
        if target is None:
            raise ValueError(f"There is no flip point to move towards: {self.reason}")
        return target

    def at(self, t: float, towards: str = "point") -> np.ndarray:
        """The input ``x + t (target - x)``; ``t = 1`` is the flip point.

        Parameters
        ----------
        t : float
            Position along the segment.
        towards : {"point", "relaxed"}, default="point"
            Move towards ``point`` or towards ``relaxed`` (an exact tie at ``t = 1``).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
        >>> bool((fp.at(1.0) == fp.point).all())
        True
        """
        target = self._target(towards)
        t = check_real(t, "t")
        return self.x + t * (target - self.x)

    def path(self, t: Any = None, output: str = "auto", towards: str = "point") -> pd.DataFrame:
        """The model's class scores along ``x + t (target - x)``.

        Parameters
        ----------
        t : array-like of float, optional
            Positions; by default 61 points from 0 to 1.2.
        output : {"auto", "logit", "probability"}, default="auto"
            Which output to report (``"auto"``: logits where the model has them).
        towards : {"point", "relaxed"}, default="point"
            The flip point to walk to. The relaxed point is an exact tie, so its gap
            crosses zero at ``t = 1``; a discrete point past the boundary (``on_boundary``
            False) is crossed before ``t = 1``.

        Returns
        -------
        DataFrame
            Column ``t``, one column per class (by name) and ``gap`` = score of class
            ``i`` minus score of class ``j``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> fp = xw.flip.closest(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
        >>> p = fp.path([0.0, 1.0], towards="relaxed")
        >>> bool(p["gap"].iloc[0] > 0), abs(float(p["gap"].iloc[1])) < 1e-3
        (True, True)
        """
        target = self._target(towards)
        if self.model is None:
            raise ValueError(
                "This FlipPoint was stored without its model; get it from xw.flip.closest."
            )
        ts = np.linspace(0.0, 1.2, 61) if t is None else as_numpy(t, "t").astype(float)
        ts = ts.reshape(-1)
        rows = self.x[None] + ts.reshape((-1,) + (1,) * self.x.ndim) * (target - self.x)[None]
        out = self.model.outputs(rows, self.model.resolve_output(output))
        frame = pd.DataFrame(out, columns=list(self.class_names))
        frame.insert(0, "t", ts)
        i, j = self.classes
        frame["gap"] = out[:, i] - out[:, j]
        return frame

    def without_model(self) -> FlipPoint:
        """A copy that does not hold the model (small to pickle or send to a process)."""
        return dataclasses.replace(self, model=None)

    def with_model(self, model: Model) -> FlipPoint:
        """A copy that holds ``model`` (for :meth:`path`)."""
        return dataclasses.replace(self, model=model)

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """One sentence: the classes, the distance and what changes.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
        >>> xw.flip.closest(m, ds.X_test[0], free=["dependents"]).summary()[:8]
        'No flip '
        """
        if not self.feasible:
            return f"No flip point from {self.class_labels[0]!r}: {self.reason}"
        a, b = self.class_labels
        kind = "tie" if self.on_boundary else "crossing"
        approx = " (approximate)" if self.approximate else ""
        return (
            f"{a!r} -> {b!r} at scaled distance {self.distance:.4g}{approx} ({kind}, "
            f"residual {self.residual:.1e}); changes: {', '.join(self.changed_features) or 'none'}"
        )

    def __repr__(self) -> str:
        took = self.meta.get("time_s")
        took_text = f", {1000 * took:.1f} ms" if took is not None else ""
        return f"FlipPoint({self.summary()}{took_text})"

    def _repr_html_(self) -> str:
        from html import escape

        table = self.changed.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<p><b>FlipPoint</b>: {escape(self.summary())}</p>{table}"


# ====================================================================== solver
@dataclass
class _Query:
    """Everything the solver knows about one input while it works on it."""

    x: np.ndarray
    z: np.ndarray
    i: int
    allowed: list[int]
    tol: float
    lower: np.ndarray
    upper: np.ndarray
    free: np.ndarray
    smooth: bool = True
    starts: list[dict[str, Any]] = field(default_factory=list)
    nit: int = 0
    nfev: int = 0


@dataclass
class _Candidate:
    y: np.ndarray
    j: int
    distance: float
    tie: bool
    source: str


class _Solver:
    """Finds flip points of many inputs for one model and one domain."""

    def __init__(
        self,
        model: Model,
        constraints: FlipConstraints,
        *,
        classes: Sequence[int] | None,
        tol: float,
        exact: bool,
        n_neighbors: int,
        max_targets: int,
        max_iter: int,
        max_enumerate: int,
        seed: int | None,
    ) -> None:
        self.model = model
        self.c = constraints
        if exact:
            self.scores: _Scores = _exact_scores(model)
        else:
            self.scores = _FiniteDifferenceScores(model, constraints.scale)
        self.classes = None if classes is None else sorted(set(classes))
        self.tol = tol
        self.n_neighbors = n_neighbors
        self.max_targets = max_targets
        # Finite differences are noisy at ReLU kinks: a looser tolerance and fewer
        # iterations stop SLSQP where the noise, not the optimum, limits progress.
        self.max_iter = max_iter if exact else min(max_iter, _FD_MAX_ITER)
        self.ftol = 1e-10 if exact else 1e-7
        self.max_enumerate = max_enumerate
        self.rng = numpy_rng(seed)
        self.method = "slsqp" if exact else "slsqp-fd"
        self._training: tuple[np.ndarray, np.ndarray] | None = None
        self.integer = constraints.integer

    @contextmanager
    def session(self) -> Iterator[None]:
        """One thread and eval mode while solving."""
        with ExitStack() as stack:
            stack.enter_context(single_threaded())
            stack.enter_context(self.scores.session())
            yield

    # ------------------------------------------------------------------ public
    def solve(self, x: np.ndarray) -> FlipPoint:
        """The flip point of one flattened input (call inside :meth:`session`)."""
        start = time.perf_counter()
        c = self.c
        self.method_used = self.method
        z = self.scores(x[None])[0]
        i = int(np.argmax(z))
        allowed = [k for k in (self.classes or range(self.scores.n_classes)) if k != i]
        if not allowed:
            raise ValueError(
                f"classes={self.classes} holds only the input's own class {i} "
                f"({self.model.class_names[i]!r}); name another class to flip to."
            )
        lower, upper = c.box(x)
        free = np.flatnonzero(~c.fixed & (upper > lower))
        q = _Query(
            x, z, i, allowed, self.tol * max(1.0, float(z.max() - z.min())), lower, upper, free
        )
        meta: dict[str, Any] = {"tolerance": q.tol}
        if free.size == 0:
            return self._result(
                q,
                None,
                None,
                meta,
                start,
                "No feature may change: every feature is fixed (or its bounds leave it no room).",
            )
        q.smooth = self._looks_smooth(q)
        meta["smooth"] = q.smooth
        relaxed, reason = self._relaxed(q)
        meta["relaxed_residual"] = None if relaxed is None else self._residual(q, relaxed)
        point, discrete_reason, discrete_method = self._discrete(q, relaxed)
        meta["discrete_method"] = discrete_method
        if point is not None and relaxed is None:
            # The grid found a class change; the segment to it holds a tie.
            hit = self._segment_crossing(q, x, point.y)
            if hit is not None and hit.tie:
                relaxed = hit
                meta["relaxed_residual"] = self._residual(q, relaxed)
        return self._result(q, relaxed, point, meta, start, discrete_reason or reason)

    def _looks_smooth(self, q: _Query) -> bool:
        """Whether finite differences can be trusted (exact models always can).

        The Jacobian at x must be nonzero and agree at two step sizes 100x apart, which
        piecewise-constant models (trees) fail.
        """
        if self.scores.exact:
            return True
        _, fine = self.scores.jacobian(q.x, q.free)
        _, coarse = self.scores.jacobian(q.x, q.free, step=_FD_COARSE)  # type: ignore[call-arg]
        if not np.any(fine):
            return False
        return bool(np.allclose(fine, coarse, rtol=0.1, atol=1e-3 * np.abs(fine).max()))

    # ------------------------------------------------------------------ relaxed problem
    def _relaxed(self, q: _Query) -> tuple[_Candidate | None, str]:
        if q.free.size == 1 and not self._in_group(q.free[0]):
            return self._line_scan(q, int(q.free[0]))
        return self._multistart(q)

    def _in_group(self, column: int) -> bool:
        return any(column in g for g in self.c.groups)

    def _line_scan(self, q: _Query, col: int) -> tuple[_Candidate | None, str]:
        """Dense scan of one feature's allowed interval, then Brent's method at changes."""
        self.method_used = "line-scan"
        s = self.c.scale[col]
        lo = q.lower[col] if np.isfinite(q.lower[col]) else q.x[col] - _UNBOUNDED_SPAN * s
        hi = q.upper[col] if np.isfinite(q.upper[col]) else q.x[col] + _UNBOUNDED_SPAN * s
        values = np.union1d(np.linspace(lo, hi, _LINE_SCAN_POINTS), [q.x[col]])
        rows = np.repeat(q.x[None], len(values), axis=0)
        rows[:, col] = values
        labels = np.argmax(self.scores(rows), axis=1)
        home = int(np.searchsorted(values, q.x[col]))
        found = []
        for step in (1, -1):
            index = home
            while 0 <= index + step < len(values) and labels[index + step] == q.i:
                index += step
            if 0 <= index + step < len(values):
                hit = self._segment_crossing(q, rows[index], rows[index + step])
                if hit is not None:
                    found.append(hit)
        q.starts.append({"start": "line scan", "found": len(found)})
        accepted = [h for h in found if h.j in q.allowed]
        if accepted:
            return min(accepted, key=lambda h: h.distance), ""
        name = self.c.feature_names[col]
        return None, (
            f"Changing {name} alone over its whole allowed range [{lo:g}, {hi:g}] never "
            f"changes the class (checked at {len(values)} points, then Brent's method)."
        )

    def _multistart(self, q: _Query) -> tuple[_Candidate | None, str]:
        self.method_used = self.method if q.smooth else "bisection"
        found: list[_Candidate] = []
        z0, jac0 = self.scores.jacobian(q.x, q.free)
        gaps = z0[q.i] - z0[q.allowed]
        slopes = np.linalg.norm((jac0[q.i] - jac0[q.allowed]) * self.c.scale[q.free], axis=1)
        estimate = gaps / np.maximum(slopes, 1e-300)  # first-order distance to each tie
        order = np.argsort(estimate)[: self.max_targets]
        primary = [q.allowed[k] for k in order]
        # From x itself: the classes whose first-order distance is within twice the nearest.
        inputs = [
            (q.x, q.allowed[k], "input")
            for k in order
            if estimate[k] <= _FIRST_ORDER_SLACK * estimate[order[0]]
        ]
        crossings: list[_Candidate] = []
        for j in primary:
            direction = self._descent_direction(q, jac0[q.i] - jac0[j])
            if direction is not None:
                gap, jac = float(z0[q.i] - z0[j]), jac0[q.i] - jac0[j]
                hit = self._ray_crossing(q, direction, gap=gap, jac=jac)
                if hit is not None:
                    crossings.append(dataclasses.replace(hit, source="gradient ray"))
        for row in self._neighbours(q):
            hit = self._segment_crossing(q, q.x, row)
            if hit is not None:
                crossings.append(dataclasses.replace(hit, source="nearest training point"))
        crossings.extend(self._axis_crossings(q))
        found.extend(crossings)
        self._run_starts(q, inputs, crossings, found)
        if not any(c.j in q.allowed for c in found):
            crossings = []
            for row in self._samples(q):
                hit = self._segment_crossing(q, q.x, row)
                if hit is not None:
                    crossings.append(dataclasses.replace(hit, source="random point"))
            found.extend(crossings)
            self._run_starts(q, [], crossings, found)
        best = self._best(q, found)
        if best is not None:
            return best, ""
        names = ", ".join(self.c.free_features)
        return None, (
            f"No flip point found: SLSQP from {len(q.starts)} starts did not reach the "
            f"boundary, and none of {_SAMPLES} random points of the allowed region "
            f"({names}) changes the class from {self.model.class_names[q.i]!r} to an "
            "allowed class. This is strong evidence, not a proof, that none exists."
        )

    def _run_starts(
        self,
        q: _Query,
        inputs: list[tuple[np.ndarray, int, str]],
        crossings: list[_Candidate],
        found: list[_Candidate],
    ) -> None:
        """SLSQP from x, then from boundary points, nearest first.

        A boundary point is skipped when it lies within 5 % of its distance of a start
        already used or a flip point already found for the same class (it would converge
        to the same point), or when it is more than ``_PRUNE_FACTOR`` times farther than
        the best flip point so far.
        """
        used: list[tuple[np.ndarray, int]] = []
        ordered = [(y, j, label, 0.0) for y, j, label in inputs] + [
            (c.y, c.j, c.source, c.distance) for c in sorted(crossings, key=lambda c: c.distance)
        ]
        for y0, j, label, d0 in ordered:
            if j not in q.allowed:
                continue
            best = self._best(q, found)
            record = {"start": label, "class": j, "start_distance": d0}
            if best is not None and d0 > _PRUNE_FACTOR * best.distance:
                q.starts.append({**record, "skipped": "much farther than the best point"})
                continue
            solved = [(c.y, c.j) for c in found if c.source.startswith("SLSQP")]
            if any(
                k == j and self.c.distance(y0, y1) < 0.05 * max(d0, 1e-12)
                for y1, k in used + solved
            ):
                q.starts.append({**record, "skipped": "next to an earlier start or solution"})
                continue
            if not q.smooth:
                q.starts.append({**record, "skipped": "scores not smooth: no refinement"})
                continue
            used.append((y0, j))
            y = self._slsqp(q, j, y0, q.free, q.x)
            candidate = self._accept(q, y, j, f"SLSQP from {label}")
            q.starts.append(
                {**record, "distance": None if candidate is None else candidate.distance}
            )
            if candidate is not None:
                found.append(candidate)

    def _in_domain(self, q: _Query, y: np.ndarray) -> bool:
        slack = 1e-9 * (1 + np.abs(y))
        if np.any(y < q.lower - slack) or np.any(y > q.upper + slack):
            return False
        return all(abs(y[list(group)].sum() - 1) <= 1e-6 for group in self.c.groups)

    def _best(self, q: _Query, found: list[_Candidate]) -> _Candidate | None:
        valid = [c for c in found if c.j in q.allowed and self._in_domain(q, c.y)]
        ties = [c for c in valid if c.tie]
        pool = ties or valid
        return min(pool, key=lambda c: c.distance) if pool else None

    # ------------------------------------------------------------------ starts
    def _descent_direction(self, q: _Query, gradient: np.ndarray) -> np.ndarray | None:
        """Steepest descent of the logit gap in the scaled norm, kept inside the box."""
        s = self.c.scale[q.free]
        scaled = gradient * s
        if self.c.norm == "l1":
            step = np.zeros_like(scaled)
            k = int(np.argmax(np.abs(scaled)))
            step[k] = -np.sign(scaled[k])
        elif self.c.norm == "linf":
            step = -np.sign(scaled)
        else:
            step = -scaled
        d = np.zeros_like(q.x)
        d[q.free] = step * s
        free_groups = [list(g) for g in self.c.groups if not self.c.fixed[list(g)].any()]
        for _ in range(len(free_groups) and 4):
            # Stay on the one-hot sums: zero-sum over the group's unblocked columns.
            for cols in free_groups:
                open_ = [c for c in cols if not self._blocked(q, c, d[c])]
                d[[c for c in cols if c not in open_]] = 0.0
                if open_:
                    d[open_] -= d[open_].mean()
        blocked = ((q.x <= q.lower) & (d < 0)) | ((q.x >= q.upper) & (d > 0))
        d[blocked] = 0.0
        for cols in free_groups:
            if abs(d[cols].sum()) > 1e-12:
                return None
        return None if not np.any(d) else d

    @staticmethod
    def _blocked(q: _Query, col: int, step: float) -> bool:
        return bool(
            (q.x[col] <= q.lower[col] and step < 0) or (q.x[col] >= q.upper[col] and step > 0)
        )

    def _ray_crossing(
        self, q: _Query, d: np.ndarray, gap: float, jac: np.ndarray
    ) -> _Candidate | None:
        """First class change along the projected gradient path ``clip(x + t d)``.

        A feature stops at its bound while the others go on; a one-hot group stops as a
        whole when one of its columns reaches a bound, so that it keeps summing to 1.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            limits = np.where(
                d > 0, (q.upper - q.x) / d, np.where(d < 0, (q.lower - q.x) / d, np.inf)
            )
        grouped = np.zeros(self.c.n_features, dtype=bool)
        for group in self.c.groups:
            grouped[list(group)] = True
        t_group = float(np.min(limits[grouped], initial=np.inf))
        moving = (d != 0) & ~grouped
        if moving.any() and np.all(np.isfinite(limits[moving])):
            t_end = float(np.max(limits[moving]))
        elif moving.any():
            slope = float(-(jac @ d[q.free]))
            linear = gap / slope if slope > 0 else np.inf
            t_end = 4 * linear if np.isfinite(linear) else _UNBOUNDED_SPAN
        else:
            t_end = t_group
        if not np.isfinite(t_end) or t_end <= 0:
            return None

        def path(t: np.ndarray) -> np.ndarray:
            steps = t[:, None] * t_end
            rows = q.x + np.where(grouped, np.minimum(steps, t_group), steps) * d
            return np.clip(rows, q.lower, q.upper)

        return self._path_crossing(q, path)

    def _axis_crossings(self, q: _Query) -> list[_Candidate]:
        """The first class change along each free feature alone, both ways (tabular).

        Cheap starts that catch sharp steps the gradient at x does not see (a rule
        that changes at ``years_employed = 3``, say). Skipped for inputs with more
        than ``_MAX_AXIS_FEATURES`` free features (images).
        """
        grouped = {c for g in self.c.groups for c in g}
        columns = [c for c in q.free if c not in grouped]
        if len(columns) > _MAX_AXIS_FEATURES:
            return []
        found = []
        for col in columns:
            span = _UNBOUNDED_SPAN * self.c.scale[col]
            for end in (q.lower[col], q.upper[col]):
                if end == q.x[col]:
                    continue
                target = q.x.copy()
                target[col] = end if np.isfinite(end) else q.x[col] + np.sign(end) * span
                hit = self._segment_crossing(q, q.x, target)
                if hit is not None:
                    found.append(dataclasses.replace(hit, source="single-feature line"))
        return found

    def _training_rows(self) -> tuple[np.ndarray, np.ndarray]:
        if self._training is None:
            dataset = self.model.dataset
            if dataset is None:
                self._training = (np.empty((0, self.c.n_features)), np.empty(0, dtype=int))
            else:
                rows = dataset.X_train.reshape(len(dataset.X_train), -1).astype(np.float64)
                self._training = (rows, np.argmax(self.scores(rows), axis=1))
        return self._training

    def _neighbours(self, q: _Query) -> np.ndarray:
        """The nearest training points of an allowed class, projected into the domain."""
        rows, labels = self._training_rows()
        if self.n_neighbors == 0 or len(rows) == 0:
            return np.empty((0, self.c.n_features))
        projected = np.clip(rows, q.lower, q.upper)
        moved = np.any(projected != rows, axis=1)
        labels = labels.copy()
        if moved.any():
            labels[moved] = np.argmax(self.scores(projected[moved]), axis=1)
        candidates = projected[np.isin(labels, q.allowed)]
        if len(candidates) == 0:
            return candidates
        distances = self.c.distance(q.x, candidates)
        distances = np.atleast_1d(distances)
        order = np.argsort(distances, kind="stable")
        unique = np.unique(candidates[order[: 4 * self.n_neighbors]], axis=0, return_index=True)[1]
        return candidates[order[np.sort(unique)[: self.n_neighbors]]]

    def _samples(self, q: _Query) -> np.ndarray:
        """The nearest of random points of the allowed region that change the class."""
        s = self.c.scale
        lo = np.where(np.isfinite(q.lower), q.lower, q.x - _UNBOUNDED_SPAN * s)
        hi = np.where(np.isfinite(q.upper), q.upper, q.x + _UNBOUNDED_SPAN * s)
        rows = self.rng.uniform(lo, hi, size=(_SAMPLES, self.c.n_features))
        rows[:, self.c.fixed] = q.x[self.c.fixed]
        for group in self.c.groups:
            cols = list(group)
            if self.c.fixed[cols].all():
                continue
            allowed = np.flatnonzero(q.upper[cols] >= 1)
            pick = self.rng.choice(allowed, size=_SAMPLES) if allowed.size else None
            rows[:, cols] = 0.0
            if pick is not None:
                rows[np.arange(_SAMPLES), np.asarray(cols)[pick]] = 1.0
        labels = np.argmax(self.scores(rows), axis=1)
        hits = rows[np.isin(labels, q.allowed)]
        if len(hits) == 0:
            return hits
        order = np.argsort(np.atleast_1d(self.c.distance(q.x, hits)))
        return hits[order[:3]]

    # ------------------------------------------------------------------ boundary on a segment
    def _margin(self, q: _Query, scores: np.ndarray) -> np.ndarray:
        others = np.delete(scores, q.i, axis=-1)
        return scores[..., q.i] - others.max(axis=-1)

    def _segment_crossing(self, q: _Query, a: np.ndarray, b: np.ndarray) -> _Candidate | None:
        """Where the segment a -> b (a in class i) first leaves class i."""
        return self._path_crossing(q, lambda t: a + t[:, None] * (b - a))

    def _path_crossing(
        self, q: _Query, path: Callable[[np.ndarray], np.ndarray]
    ) -> _Candidate | None:
        """Where a path ``t -> point`` (t in [0, 1], starting in class i) leaves class i.

        A scan of the path brackets the first change of class, then Brent's method
        (``scipy.optimize.brentq``) finds the root of the margin ``z_i - max_k z_k``.
        For a model whose scores jump (trees), bisection on the predicted class finds
        the first point past the jump instead, marked as not a tie.
        """
        ts = np.linspace(0.0, 1.0, _SCAN_POINTS)
        rows = path(ts)
        labels = np.argmax(self.scores(rows), axis=1)
        outside = np.flatnonzero(labels != q.i)
        if outside.size == 0 or outside[0] == 0:
            return None
        lo, hi = ts[outside[0] - 1], ts[outside[0]]

        def point(t: float) -> np.ndarray:
            return path(np.array([t]))[0]

        def margin(t: float) -> float:
            return float(self._margin(q, self.scores(point(t)[None])[0]))

        if q.smooth:
            m_lo, m_hi = margin(lo), margin(hi)
            if m_lo <= 0:  # the scan's batch and a single row round differently at a tie
                t = lo
            elif m_hi >= 0:
                t = hi
            else:
                t = brentq(margin, lo, hi, xtol=1e-13, rtol=4 * np.finfo(float).eps, maxiter=200)
            y = point(t)
            z = self.scores(y[None])[0]
            if abs(self._margin(q, z)) <= q.tol:
                others = z.copy()
                others[q.i] = -np.inf
                j = int(np.argmax(others))
                return _Candidate(y, j, self.c.distance(q.x, y), True, "segment")
        # A jump, not a root: bisect on the class to the first point past it.
        for _ in range(_JUMP_BISECTIONS):
            middle = 0.5 * (lo + hi)
            if margin(middle) > 0:
                lo = middle
            else:
                hi = middle
        y = point(hi)
        j = int(np.argmax(self.scores(y[None])[0]))
        return _Candidate(y, j, self.c.distance(q.x, y), False, "segment")

    # ------------------------------------------------------------------ SLSQP
    def _slsqp(
        self,
        q: _Query,
        j: int,
        start: np.ndarray,
        cols: np.ndarray,
        base: np.ndarray,
        inequalities: bool = False,
        crossing: bool = False,
    ) -> np.ndarray:
        """Minimise the scaled distance over ``cols`` (others as in ``base``) s.t. z_i = z_j.

        The constraints z_j >= z_k of the other classes are added only when the solution
        without them breaks one (a second solve from there): most closest ties are not
        overtaken by a third class, and the Jacobian of two classes is cheaper than all.
        With ``crossing``, the tie becomes ``z_j >= z_i``: the closest point on the
        boundary or past it (used when discrete features are held at rounded values,
        where the rounding may already have crossed the boundary).
        """
        c, x, i = self.c, q.x, q.i
        s = c.scale[cols]
        lo, hi = (q.lower[cols] - x[cols]) / s, (q.upper[cols] - x[cols]) / s
        v0 = np.clip((start[cols] - x[cols]) / s, lo, hi)
        others = [k for k in range(self.scores.n_classes) if k not in (i, j)]
        rows = None if inequalities else [i, j]
        memo: dict[str, Any] = {}

        def evaluate(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            key = v.tobytes()
            if memo.get("key") != key:
                y = base.copy()
                y[cols] = x[cols] + s * v
                z, jac = self.scores.jacobian(y, cols, rows)
                q.nfev += 1
                memo.update(key=key, z=z, jac=jac * s)
            return memo["z"], memo["jac"]

        # One-hot groups among the variables: sum_c (x_c + s_c v_c) = 1.
        group_rows, group_rhs = [], []
        position = {col: k for k, col in enumerate(cols)}
        for group in c.groups:
            if all(col in position for col in group):
                row = np.zeros(len(cols))
                for col in group:
                    row[position[col]] = s[position[col]]
                group_rows.append(row)
                group_rhs.append(1.0 - x[list(group)].sum())
        A = np.array(group_rows).reshape(-1, len(cols))
        b = np.array(group_rhs)

        _, jac0 = evaluate(v0)
        if not np.any(jac0[i] - jac0[j]):
            # Flat scores (a tree ensemble): SLSQP cannot move; keep the start.
            y = base.copy()
            y[cols] = x[cols] + s * v0
            return y
        # L1: v = w+ - w- with w+, w- >= 0 and objective sum(w+ + w-); L-infinity: the
        # epigraph w = (v, t), minimise t subject to -t <= v <= t; L2: w = v, |v|^2.
        l1, linf = c.norm == "l1", c.norm == "linf"
        m = len(cols)

        def to_v(w: np.ndarray) -> np.ndarray:
            return w[:m] - w[m:] if l1 else w[:m]

        def lift(jac: np.ndarray) -> np.ndarray:
            if l1:
                return np.concatenate([jac, -jac], axis=-1)
            if linf:
                return np.concatenate([jac, np.zeros((*jac.shape[:-1], 1))], axis=-1)
            return jac

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            if l1:
                return float(w.sum()), np.ones_like(w)
            if linf:
                return float(w[-1]), np.eye(m + 1)[-1]
            return float(w @ w), 2 * w

        constraints = [
            {
                "type": "ineq" if crossing else "eq",
                "fun": lambda w: np.atleast_1d(np.subtract(*evaluate(to_v(w))[0][[j, i]])),
                "jac": lambda w: lift((evaluate(to_v(w))[1][j] - evaluate(to_v(w))[1][i])[None]),
            }
        ]
        if others and inequalities:
            constraints.append(
                {
                    "type": "ineq",
                    "fun": lambda w: evaluate(to_v(w))[0][j] - evaluate(to_v(w))[0][others],
                    "jac": lambda w: lift(evaluate(to_v(w))[1][j] - evaluate(to_v(w))[1][others]),
                }
            )
        if len(A):
            constraints.append(
                {"type": "eq", "fun": lambda w: A @ to_v(w) - b, "jac": lambda w: lift(A)}
            )
        if l1:
            w0 = np.concatenate([np.maximum(v0, 0), np.maximum(-v0, 0)])
            bounds = list(zip(np.zeros(m), np.maximum(hi, 0), strict=True)) + list(
                zip(np.zeros(m), np.maximum(-lo, 0), strict=True)
            )
        elif linf:
            w0 = np.append(v0, np.abs(v0).max(initial=0.0))
            bounds = [*zip(lo, hi, strict=True), (0.0, None)]
            epigraph = np.block([[-np.eye(m), np.ones((m, 1))], [np.eye(m), np.ones((m, 1))]])
            constraints.append(
                {"type": "ineq", "fun": lambda w: epigraph @ w, "jac": lambda w: epigraph}
            )
        else:
            w0, bounds = v0, list(zip(lo, hi, strict=True))
        result = minimize(
            objective,
            w0,
            jac=True,
            method="SLSQP",
            bounds=bounds,
            constraints=constraints,
            options={"maxiter": self.max_iter, "ftol": self.ftol},
        )
        q.nit += int(result.nit)
        v = np.clip(to_v(result.x), lo, hi)
        v = self._polish(q, j, v, evaluate, lo, hi, A, crossing)
        y = base.copy()
        # Exactly on a bound where v is (x + s * lo would round off it).
        y[cols] = np.where(
            v <= lo, q.lower[cols], np.where(v >= hi, q.upper[cols], x[cols] + s * v)
        )
        if others and not inequalities:
            z = self.scores(y[None])[0]
            if z[others].max() > max(z[i], z[j]) + q.tol:
                return self._slsqp(q, j, y, cols, base, inequalities=True, crossing=crossing)
        return y

    def _polish(
        self,
        q: _Query,
        j: int,
        v: np.ndarray,
        evaluate: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        lo: np.ndarray,
        hi: np.ndarray,
        A: np.ndarray,
        crossing: bool = False,
    ) -> np.ndarray:
        """A few Newton steps onto z_i = z_j along the gap's gradient, inside the box.

        With ``crossing``, a point already past the boundary is left where it is.
        """
        for _ in range(4):
            z, jac = evaluate(v)
            gap = z[q.i] - z[j]
            if abs(gap) <= 0.01 * q.tol or (crossing and gap < 0):
                break
            g = jac[q.i] - jac[j]
            g = np.where(((v <= lo) & (g > 0)) | ((v >= hi) & (g < 0)), 0.0, g)
            for row in A:  # stay on the one-hot sums
                g = g - row * (row @ g) / (row @ row)
            norm2 = float(g @ g)
            if norm2 == 0:
                break
            v = np.clip(v - gap * g / norm2, lo, hi)
        return v

    def _accept(
        self, q: _Query, y: np.ndarray, j: int, source: str, crossing: bool = False
    ) -> _Candidate | None:
        """The point as a candidate if it ties i and j, with no other class above.

        With ``crossing``, a point that has passed into class j counts too.
        """
        if not self._in_domain(q, y):
            return None
        z = self.scores(y[None])[0]
        top = max(z[q.i], z[j])
        others = np.delete(z, [q.i, j])
        if others.size and others.max() > top + q.tol:
            return None
        tie = abs(z[q.i] - z[j]) <= q.tol
        if not tie and not (crossing and z[j] > z[q.i]):
            return None
        return _Candidate(y, j, self.c.distance(q.x, y), tie, source)

    def _residual(self, q: _Query, candidate: _Candidate) -> float:
        z = self.scores(candidate.y[None])[0]
        return float(abs(z[q.i] - z[candidate.j]))

    # ------------------------------------------------------------------ discrete problem
    def _discrete_columns(self, q: _Query) -> tuple[np.ndarray, list[list[int]], np.ndarray]:
        free = np.zeros(self.c.n_features, dtype=bool)
        free[q.free] = True
        integer = np.flatnonzero(free & self.integer)
        groups = [list(g) for g in self.c.groups if free[list(g)].any()]
        in_group = np.zeros_like(free)
        for g in groups:
            in_group[g] = True
        continuous = np.flatnonzero(free & ~self.integer & ~in_group)
        return integer, groups, continuous

    def _discrete(
        self, q: _Query, relaxed: _Candidate | None
    ) -> tuple[_Candidate | None, str, str]:
        """The flip point in the discrete domain: enumeration or rounding and re-solve."""
        if not self.c.discrete:
            return relaxed, "", "none (discrete=False)"
        integer, groups, continuous = self._discrete_columns(q)
        if integer.size == 0 and not groups:
            return relaxed, "", "none (no discrete feature may change)"
        if continuous.size == 0:
            axes = self._grid_axes(q, integer, groups)
            if (
                axes is not None
                and np.prod([len(a) for a in axes], dtype=float) <= self.max_enumerate
            ):
                return self._enumerate(q, integer, groups, axes)
        if relaxed is None:
            return None, "", "none (no relaxed flip point)"
        combos = self._roundings(q, relaxed.y, integer, groups)
        found: list[_Candidate] = []
        if continuous.size and q.smooth:
            estimates = self._repair_estimates(q, relaxed, combos, continuous)
            for row in combos[np.argsort(estimates, kind="stable")[:_REPAIRS]]:
                y = self._slsqp(q, relaxed.j, row, continuous, row, crossing=True)
                candidate = self._accept(
                    q, y, relaxed.j, "rounded, continuous re-solved", crossing=True
                )
                if candidate is not None:
                    found.append(candidate)
            if found:
                return min(found, key=lambda c: c.distance), "", "rounding + SLSQP on the rest"
        crossed = self._closest_crossing(q, combos)
        if crossed is not None:
            return crossed, "", "rounding (closest rounded point past the boundary)"
        # Walk on along the ray through the relaxed point, rounding as we go.
        ts = np.linspace(1.0, 4.0, 64)[1:]
        rows = self._round(q, q.x + ts[:, None] * (relaxed.y - q.x), integer, groups)
        rows = np.clip(rows, q.lower, q.upper)
        crossed = self._closest_crossing(q, rows)
        if crossed is not None:
            return crossed, "", "rounding along the ray past the relaxed point"
        return (
            None,
            (
                "A flip point of the continuous relaxation exists, but no rounded point near it "
                "changes the class; no discrete flip point was found."
            ),
            "rounding (failed)",
        )

    def _repair_estimates(
        self, q: _Query, relaxed: _Candidate, combos: np.ndarray, continuous: np.ndarray
    ) -> np.ndarray:
        """First-order distance of each rounding after its continuous features are re-solved.

        The rounding's own distance plus the continuous move that closes its logit gap,
        linearised at the relaxed point: ``|z_i - z_j| / ||s * grad_continuous||``. The
        ``_REPAIRS`` most promising roundings are re-solved exactly.
        """
        j = relaxed.j
        z = self.scores(combos)
        _, jac = self.scores.jacobian(relaxed.y, continuous)
        slope = np.linalg.norm((jac[q.i] - jac[j]) * self.c.scale[continuous])
        closing = np.abs(z[:, q.i] - z[:, j]) / max(slope, 1e-300)
        estimate = np.atleast_1d(self.c.distance(q.x, combos)) + closing
        return estimate[: len(combos)]

    def _grid_axes(
        self, q: _Query, integer: np.ndarray, groups: list[list[int]]
    ) -> list[np.ndarray] | None:
        """The allowed values of every free discrete feature (None if unbounded)."""
        axes = []
        for col in integer:
            lo, hi = np.ceil(q.lower[col] - 1e-9), np.floor(q.upper[col] + 1e-9)
            if not (np.isfinite(lo) and np.isfinite(hi)):
                return None
            axes.append(np.arange(lo, hi + 1))
        for g in groups:
            axes.append(np.array([k for k, col in enumerate(g) if q.upper[col] >= 1]))
        return axes

    def _enumerate(
        self, q: _Query, integer: np.ndarray, groups: list[list[int]], axes: list
    ) -> tuple[_Candidate | None, str, str]:
        grids = np.meshgrid(*[np.arange(len(a)) for a in axes], indexing="ij")
        index = np.stack([g.reshape(-1) for g in grids], axis=1)
        rows = np.repeat(q.x[None], len(index), axis=0)
        for k, col in enumerate(integer):
            rows[:, col] = np.asarray(axes[k])[index[:, k]]
        for k, g in enumerate(groups):
            chosen = np.asarray(axes[len(integer) + k])[index[:, len(integer) + k]]
            rows[:, g] = 0.0
            rows[np.arange(len(rows)), np.asarray(g)[chosen]] = 1.0
        crossed = self._closest_crossing(q, rows) if len(rows) else None
        names = ", ".join(self.c.free_features)
        if crossed is None:
            return (
                None,
                (
                    f"None of the {len(rows)} points of the allowed discrete subspace ({names}) "
                    f"changes the class from {self.model.class_names[q.i]!r}: no flip point "
                    "exists there (exhaustive enumeration)."
                ),
                f"enumeration of {len(rows)} points",
            )
        return crossed, "", f"enumeration of {len(rows)} points (exact)"

    def _closest_crossing(self, q: _Query, rows: np.ndarray) -> _Candidate | None:
        scores = self.scores(rows)
        labels = np.argmax(scores, axis=1)
        hits = np.flatnonzero(np.isin(labels, q.allowed))
        if hits.size == 0:
            return None
        distances = np.atleast_1d(self.c.distance(q.x, rows[hits]))
        best = hits[int(np.argmin(distances))]
        z = scores[best]
        j = int(labels[best])
        tie = abs(z[q.i] - z[j]) <= q.tol
        return _Candidate(rows[best].copy(), j, float(distances.min()), tie, "grid")

    def _round(
        self, q: _Query, rows: np.ndarray, integer: np.ndarray, groups: list[list[int]]
    ) -> np.ndarray:
        rows = rows.copy()
        rows[:, integer] = np.round(rows[:, integer])
        for g in groups:
            pick = np.argmax(rows[:, g], axis=1)
            rows[:, g] = 0.0
            rows[np.arange(len(rows)), np.asarray(g)[pick]] = 1.0
        return rows

    def _roundings(
        self, q: _Query, y: np.ndarray, integer: np.ndarray, groups: list[list[int]]
    ) -> np.ndarray:
        """Floor/ceil of each integer and every allowed category of each group.

        When the combinations exceed ``_MAX_ROUNDINGS``, integers nearest to a whole
        number keep only their nearest value, then the least likely categories go.
        """
        options: list[list[Any]] = []
        closeness = []
        for col in integer:
            lo, hi = np.ceil(q.lower[col] - 1e-9), np.floor(q.upper[col] + 1e-9)
            values = {
                float(np.clip(np.floor(y[col]), lo, hi)),
                float(np.clip(np.ceil(y[col]), lo, hi)),
            }
            options.append(sorted(values, key=lambda v: abs(v - y[col])))
            closeness.append(abs(y[col] - np.round(y[col])))
        for g in groups:
            options.append([k for k in np.argsort(-y[g], kind="stable") if q.upper[g[k]] >= 1])
            closeness.append(np.inf)
        for k in np.argsort(closeness, kind="stable"):
            if np.prod([len(o) for o in options]) <= _MAX_ROUNDINGS:
                break
            options[k] = options[k][:1] if closeness[k] < np.inf else options[k][:2]
        rows = []
        for combo in itertools.product(*options):
            row = y.copy()
            for k, col in enumerate(integer):
                row[col] = combo[k]
            for k, g in enumerate(groups):
                row[g] = 0.0
                row[g[combo[len(integer) + k]]] = 1.0
            rows.append(row)
        return np.array(rows)

    # ------------------------------------------------------------------ result
    def _result(
        self,
        q: _Query,
        relaxed: _Candidate | None,
        point: _Candidate | None,
        meta: dict[str, Any],
        start: float,
        reason: str,
    ) -> FlipPoint:
        method = getattr(self, "method_used", self.method)
        meta.update(starts=q.starts, nit=q.nit, nfev=q.nfev, relaxed_method=method)
        return pack_flip_point(
            self.model,
            self.c,
            self.scores,
            q.x,
            q.i,
            point=None if point is None else point.y,
            j=(None if relaxed is None else relaxed.j) if point is None else point.j,
            distance=None if point is None else point.distance,
            relaxed=None if relaxed is None else relaxed.y,
            tolerance=q.tol,
            approximate=not self.scores.exact,
            method=method,
            meta=meta,
            start=start,
            reason=reason or "No flip point was found.",
        )


def _same_partition(scores: Any, x: np.ndarray, y: np.ndarray, i: int, j: int) -> bool:
    """Whether the segment from ``x`` to ``y`` leaves class ``i`` only for class ``j``."""
    ts = np.linspace(0.0, 1.0, 65)
    labels = np.argmax(scores(x + ts[:, None] * (y - x)), axis=1)
    left = np.flatnonzero(labels != i)
    return bool(left.size == 0 or np.all(labels[left[0] :] == j))


def pack_flip_point(
    model: Model,
    constraints: FlipConstraints,
    scores: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    i: int,
    *,
    point: np.ndarray | None,
    j: int | None,
    distance: float | None,
    relaxed: np.ndarray | None,
    tolerance: float,
    approximate: bool,
    method: str,
    meta: dict[str, Any],
    start: float,
    reason: str,
) -> FlipPoint:
    """A solver's answer as a :class:`FlipPoint`: the local solver's and the exact ones'.

    ``point`` is the flattened flip point (``None`` when there is none, then ``reason``
    says why), ``j`` the class it flips to, ``distance`` its scaled distance from ``x``
    and ``tolerance`` the score gap below which it counts as on the boundary. Sets
    ``meta["time_s"]`` from ``start``.
    """
    shape = model.input_shape
    common = {
        "x": x.reshape(shape).copy(),
        "classes": (i, j),
        "approximate": approximate,
        "method": method,
        "constraints": constraints,
        "feature_names": list(constraints.feature_names),
        "class_names": list(model.class_names),
        "model": model,
        "relaxed": None if relaxed is None else relaxed.reshape(shape).copy(),
        "meta": meta,
    }
    if point is None:
        meta["time_s"] = time.perf_counter() - start
        return FlipPoint(
            point=None,
            distance=float("inf"),
            distance_raw=float("inf"),
            residual=float("nan"),
            feasible=False,
            reason=reason,
            on_boundary=False,
            same_partition=None,
            scores=None,
            **common,
        )
    z = scores(point[None])[0]
    order = {"l1": 1, "l2": 2, "linf": np.inf}[constraints.norm]
    same = _same_partition(scores, x, point, i, j)
    meta["time_s"] = time.perf_counter() - start
    return FlipPoint(
        point=point.reshape(shape).copy(),
        distance=distance,
        distance_raw=float(np.linalg.norm(point - x, ord=order)),
        residual=float(abs(z[i] - z[j])),
        feasible=True,
        reason="",
        on_boundary=bool(abs(z[i] - z[j]) <= tolerance),
        same_partition=same,
        scores=z,
        **common,
    )


# ====================================================================== public entry
_SOLVERS: dict[str, Callable[..., FlipPoint]] = {}
#: Registered solvers that ``method="auto"`` picks for the models they apply to.
_AUTO_SOLVERS: dict[str, Callable[[Model, FlipConstraints], bool]] = {}


def register_solver(
    name: str,
    solve: Callable[..., FlipPoint],
    *,
    applies_to: Callable[[Model, FlipConstraints], bool] | None = None,
) -> None:
    """Make another flip-point solver available as ``closest(..., method=name)``.

    ``solve(model, x, constraints, *, classes, tol, **options)`` receives the wrapped
    model, the flattened input, a :class:`FlipConstraints`, the allowed classes and the
    extra keyword options given to :func:`closest`, and returns a :class:`FlipPoint`
    (exact solvers for trees or ReLU networks plug in here). With ``applies_to``, a
    predicate on the wrapped model and the constraints (an exact solver may take only
    some norms), ``method="auto"`` uses this solver for every problem it accepts (the
    first registered one that does).

    Examples
    --------
    >>> def nearest_training_point(model, x, constraints, *, classes, tol):
    ...     return closest(model, x, constraints=constraints, classes=classes, tol=tol)
    >>> register_solver("example", nearest_training_point)
    >>> "example" in _SOLVERS
    True
    """
    if not isinstance(name, str) or not name or name in ("auto", "gradient", "derivative-free"):
        raise ValueError(f"name must be a new non-empty solver name; got {name!r}.")
    if not callable(solve):
        raise TypeError(f"solve must be callable; got {type(solve).__name__}.")
    if applies_to is not None and not callable(applies_to):
        raise TypeError(f"applies_to must be callable or None; got {type(applies_to).__name__}.")
    _SOLVERS[name] = solve
    _AUTO_SOLVERS.pop(name, None)
    if applies_to is not None:
        _AUTO_SOLVERS[name] = applies_to


def registered_solver(model: Model, method: Any, constraints: FlipConstraints) -> str | None:
    """The registered solver that ``method`` names for ``model``, or None (built-in).

    ``"auto"`` resolves to the first registered solver whose ``applies_to`` accepts
    the model and the constraints.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> model = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> registered_solver(model, "auto", FlipConstraints.from_model(model)) is None
    True
    """
    if not isinstance(method, str):
        return None
    if method == "auto":
        return next(
            (name for name, fits in _AUTO_SOLVERS.items() if fits(model, constraints)), None
        )
    return method if method in _SOLVERS else None


def _check_classes(classes: Any, n_classes: int) -> list[int] | None:
    if classes is None:
        return None
    values = [classes] if isinstance(classes, Integral) else list(classes)
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"classes must be class indices (int); got {value!r}.")
        if not 0 <= int(value) < n_classes:
            raise ValueError(
                f"classes must hold class indices in [0, {n_classes - 1}]; got {value}."
            )
    if not values:
        raise ValueError("classes is empty: name at least one class to flip to, or pass None.")
    return [int(v) for v in values]


def _flip_options(
    model: Model,
    *,
    constraints: FlipConstraints | None,
    fixed: Any,
    free: Any,
    bounds: Any,
    monotone: Any,
    scale: Any,
    norm: str,
    discrete: bool,
) -> FlipConstraints:
    """The domain from either a ready FlipConstraints or the keyword options."""
    if constraints is None:
        return FlipConstraints.from_model(
            model,
            fixed=fixed,
            free=free,
            bounds=bounds,
            monotone=monotone,
            scale=scale,
            norm=norm,
            discrete=discrete,
        )
    if not isinstance(constraints, FlipConstraints):
        raise TypeError(
            f"constraints must be a FlipConstraints; got {type(constraints).__name__}."
        )
    changed = [
        name
        for name, value, default in (
            ("bounds", bounds, "data"),
            ("monotone", monotone, None),
            ("scale", scale, "auto"),
            ("norm", norm, "l2"),
            ("discrete", discrete, True),
        )
        if not (value is default or (isinstance(value, str) and value == default))
    ]
    if changed:
        raise ValueError(
            f"Pass {', '.join(changed)} to FlipConstraints.from_model, not together with "
            "constraints= (fixed= and free= may restrict a given domain further)."
        )
    if constraints.n_features != int(np.prod(model.input_shape)):
        raise ValueError(
            f"constraints describe {constraints.n_features} columns but the model takes "
            f"{int(np.prod(model.input_shape))}."
        )
    if fixed is not None or free is not None:
        constraints = constraints.restrict(free=free, fixed=fixed)
    return constraints


def _make_solver(
    model: Model,
    constraints: FlipConstraints,
    *,
    method: str,
    classes: Any,
    tol: float,
    n_neighbors: int,
    max_targets: int,
    max_iter: int,
    max_enumerate: int,
    seed: int | None,
) -> _Solver:
    method = check_option(method, "method", ["auto", "gradient", "derivative-free"])
    if method == "gradient" and not model.differentiable:
        raise TypeError(
            f"method='gradient' needs a torch model; this one is {model.source}. Use "
            "method='derivative-free' (or 'auto')."
        )
    exact = model.differentiable if method == "auto" else method == "gradient"
    return _Solver(
        model,
        constraints,
        classes=_check_classes(classes, model.n_classes),
        tol=check_real(tol, "tol", low=0.0, low_inclusive=False),
        exact=exact,
        n_neighbors=check_int(n_neighbors, "n_neighbors", low=0),
        max_targets=check_int(max_targets, "max_targets", low=1),
        max_iter=check_int(max_iter, "max_iter", low=1),
        max_enumerate=check_int(max_enumerate, "max_enumerate", low=1),
        seed=seed,
    )


def closest(
    model: Any,
    x: Any,
    *,
    classes: int | Sequence[int] | None = None,
    fixed: Any = None,
    free: Any = None,
    bounds: Any = "data",
    monotone: Mapping[str, str] | None = None,
    scale: Any = "auto",
    norm: str = "l2",
    discrete: bool = True,
    constraints: FlipConstraints | None = None,
    method: str = "auto",
    tol: float = 1e-4,
    n_neighbors: int = 3,
    max_targets: int = 3,
    max_iter: int = 200,
    max_enumerate: int = 20000,
    seed: int | None = 0,
    **options: Any,
) -> FlipPoint:
    r"""The closest flip point of one input: the nearest tie of two class scores.

    Solves :math:`\min \lVert (\hat x - x)/s \rVert` subject to
    :math:`z_i(\hat x) = z_j(\hat x) \ge z_k(\hat x)` and :math:`\hat x` in the domain
    (Yousefzadeh & O'Leary 2022, Eq. 1); see the module documentation for the solvers.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier. Torch modules get exact gradients; scikit-learn estimators and
        callables the derivative-free path (``FlipPoint.approximate`` is True).
    x : array-like of shape input_shape
        One input. Not modified.
    classes : int or sequence of int, optional
        The classes ``j`` to flip to; default every other class (SLSQP runs from ``x``
        and along the gradient for the ``max_targets`` classes nearest to first order,
        and from training points of any class).
    fixed, free, bounds, monotone, scale, norm, discrete
        The domain; see :meth:`FlipConstraints.from_model`.
    constraints : FlipConstraints, optional
        A ready domain instead of the options above (``fixed`` and ``free`` may still
        restrict it).
    method : {"auto", "gradient", "derivative-free"} or a registered name, default="auto"
        ``"auto"``: a registered solver that applies to the model (the exact solvers of
        :mod:`~xaiwidgets.explainers.exact_counterfactuals` for scikit-learn trees and
        tree ensembles), else gradients for torch models and derivative-free otherwise.
        ``"milp"`` is the exact mixed-integer solver for tree ensembles and small ReLU
        networks, ``"leaves"`` the leaf enumeration for one decision tree.
    tol : float, default=1e-4
        A point is a tie when ``|z_i - z_j| <= tol * max(1, max_k z_k(x) - min_k z_k(x))``
        (scaled to the spread of the scores at ``x``).
    n_neighbors : int, default=3
        Nearest training points of another class used as starts.
    max_targets : int, default=3
        Classes tried from ``x`` and along the gradient (multi-class models).
    max_iter : int, default=200
        SLSQP iterations per start.
    max_enumerate : int, default=20000
        Enumerate the discrete grid when every free feature is discrete and the grid
        has at most this many points.
    seed : int or None, default=0
        Seed of the random points tried when no start reaches the boundary.
    **options
        Options of a registered solver, for example ``time_limit``, ``mip_gap`` and
        ``margin`` of the exact solvers.

    Returns
    -------
    FlipPoint
        ``feasible`` is False, with ``reason``, when no flip point exists in the
        allowed space.

    Raises
    ------
    ValueError
        If ``x`` is not one input of the model's shape, a feature name is unknown, or
        ``classes`` is out of range.
    TypeError
        If ``method="gradient"`` is asked of a model without gradients.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> fp = xw.flip.closest(m, ds.X_test[0], fixed=["group"], monotone={"age": "increase"})
    >>> fp.feasible, fp.class_labels
    (True, ('approved', 'denied'))
    >>> bool(fp.point[2] >= ds.X_test[0, 2])
    True
    """
    model = wrap(model)
    batch, single = model.check_input(x)
    if not single:
        raise ValueError(
            f"x must be one input of shape {model.input_shape}; got a batch of {len(batch)}. "
            "Use xw.flip.audit for many inputs."
        )
    domain = _flip_options(
        model,
        constraints=constraints,
        fixed=fixed,
        free=free,
        bounds=bounds,
        monotone=monotone,
        scale=scale,
        norm=norm,
        discrete=discrete,
    )
    name = registered_solver(model, method, domain)
    if name is not None:
        return _SOLVERS[name](
            model,
            batch[0].reshape(-1),
            domain,
            classes=_check_classes(classes, model.n_classes),
            tol=tol,
            **options,
        )
    if options:
        raise TypeError(
            f"Unknown option(s) {sorted(options)} for method={method!r}; they belong to a "
            f"registered solver ({', '.join(sorted(_SOLVERS)) or 'none registered'})."
        )
    solver = _make_solver(
        model,
        domain,
        method=method,
        classes=classes,
        tol=tol,
        n_neighbors=n_neighbors,
        max_targets=max_targets,
        max_iter=max_iter,
        max_enumerate=max_enumerate,
        seed=seed,
    )
    with solver.session():
        return solver.solve(batch[0].reshape(-1))


def solve_rows(
    model: Model, rows: np.ndarray, constraints: FlipConstraints, options: dict[str, Any]
) -> list[FlipPoint]:
    """Flip points of many flattened rows with one solver (used by the audit's workers).

    The returned points do not hold the model (cheap to send between processes).
    """
    solver = _make_solver(model, constraints, **options)
    with solver.session():
        return [solver.solve(np.asarray(row, dtype=np.float64)).without_model() for row in rows]


# ====================================================================== explainer
_DOMAIN_OPTIONS = ("fixed", "free", "bounds", "monotone", "scale", "norm", "discrete")
_SOLVER_DEFAULTS: dict[str, Any] = {
    "method": "auto",
    "tol": 1e-4,
    "n_neighbors": 3,
    "max_targets": 3,
    "max_iter": 200,
    "max_enumerate": 20000,
    "seed": 0,
}


@register
class FlipPointExplainer(Explainer):
    r"""Flip-point attribution: how far each feature must move to reach the boundary.

    The attribution of feature *f* is :math:`(x_f - \hat x_f) / s_f`, the scaled change
    from the closest flip point :math:`\hat x` back to the input (Yousefzadeh & O'Leary
    2022), so that features that hold the decision in place get large values and, for
    the predicted class, the signs agree with the gradient of its logit (for a linear
    model the values equal the scaled gradient times a constant). For another target
    class ``c`` the flip point towards ``c`` is used and the sign is reversed, so the
    values point towards ``c``. ``units="raw"`` gives :math:`x - \hat x` in the
    features' own units. The flip point is that of the continuous relaxation by default
    (``discrete=False``: an exact tie, every feature that matters moves a little); pass
    ``discrete=True`` for the actionable point with whole-number features. Inputs
    without a flip point get zeros and ``meta["feasible"] = False``.

    The values are a direction, like a gradient, not a contribution measured from a
    baseline: where ``x`` lies below a baseline, integrated gradients and
    gradient-times-input flip the sign that the gradient and this method agree on.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        Any classifier (gradient-free models take the derivative-free path).
    units : {"scaled", "raw"}, default="scaled"
        Scale units or the features' own units.
    output : {"auto", "logit", "probability"}, default="auto"
        Accepted for a uniform interface; flip points do not depend on it.
    **options
        Passed to :func:`closest` (``fixed``, ``free``, ``bounds``, ``monotone``,
        ``scale``, ``norm``, ``discrete`` (default False here), ``tol``, ...).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> explainer = xw.explainers.get("flip_point")(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> e = explainer.explain(ds.X_test[0])
    >>> e.values.shape, e.meta["feasible"]
    ((13,), True)
    """

    name = "flip_point"
    label = "Flip point"
    requires_gradients = False

    def __init__(
        self, model: Any, *, units: str = "scaled", output: str = "auto", **options: Any
    ) -> None:
        super().__init__(model, output=output)
        self.params["units"] = check_option(units, "units", ["scaled", "raw"])
        unknown = sorted(set(options) - set(_DOMAIN_OPTIONS) - set(_SOLVER_DEFAULTS))
        if unknown:
            allowed = sorted([*_DOMAIN_OPTIONS, *_SOLVER_DEFAULTS])
            raise TypeError(
                f"Unknown option(s) {unknown} for FlipPointExplainer; allowed: {allowed}."
            )
        self.params.update(options)
        domain = {"discrete": False, **{k: v for k, v in options.items() if k in _DOMAIN_OPTIONS}}
        self._constraints = FlipConstraints.from_model(self.model, **domain)
        self._solver_options = {k: options.get(k, v) for k, v in _SOLVER_DEFAULTS.items()}

    def _attribute(self, batch, targets, outputs):
        values = np.zeros_like(batch)
        predicted = np.argmax(outputs, axis=1)
        distances, flip_class, feasible, points = [], [], [], np.full_like(batch, np.nan)
        solvers: dict[Any, _Solver] = {}
        exact = registered_solver(self.model, self._solver_options["method"], self._constraints)
        for row, (x, target, own) in enumerate(zip(batch, targets, predicted, strict=True)):
            classes = None if target == own else [int(target)]
            key = None if classes is None else int(target)
            if exact is not None:
                fp = _SOLVERS[exact](
                    self.model,
                    x.reshape(-1),
                    self._constraints,
                    classes=classes,
                    tol=self._solver_options["tol"],
                )
            else:
                if key not in solvers:
                    solvers[key] = _make_solver(
                        self.model, self._constraints, classes=classes, **self._solver_options
                    )
                with solvers[key].session():
                    fp = solvers[key].solve(x.reshape(-1))
            distances.append(fp.distance)
            flip_class.append(-1 if fp.classes[1] is None else fp.classes[1])
            feasible.append(fp.feasible)
            if fp.feasible:
                change = (x - fp.point).reshape(-1)
                if self.params["units"] == "scaled":
                    change = change / self._constraints.scale
                sign = 1.0 if target == fp.classes[0] else -1.0
                values[row] = sign * change.reshape(x.shape)
                points[row] = fp.point
        meta = {
            "distance": np.array(distances),
            "flip_class": np.array(flip_class),
            "feasible": np.array(feasible),
            "flip_point": points,
            "units": "x - flip point, in feature scales"
            if self.params["units"] == "scaled"
            else "x - flip point",
        }
        return values, meta
