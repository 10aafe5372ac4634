r"""Exact local linear models of ReLU networks, and the regions where they hold.

A network built from affine layers and ReLU (or LeakyReLU) activations is piecewise
affine: fixing which units are active fixes one affine map. Dethise & Canini,
"Continuous Exact Explanations of Neural Networks" (Eqs. 1-4), read it off the
activation pattern of an input :math:`x`:

- the logits :math:`z(y) = W_x y + b_x` for every :math:`y` with the same pattern
  (:math:`W_x = W_L D_{L-1} W_{L-1} \cdots D_1 W_1`, :math:`D_k` the diagonal of the
  activation's slopes under the pattern);
- that set of inputs, a convex polytope :math:`\{y : A y \le b\}` with one inequality
  per hidden unit (its pre-activation keeps its sign), intersected with the data bounds.

On top of the region this module computes, exactly: the interval of one feature in
which the linear model holds (a ratio test), the piecewise-linear output curve along a
feature with all its breakpoints, integrated gradients by summing the affine pieces
along the path, a 2-D map of all regions on a slice (walking from region to region),
and "is class c ever predicted in this box?" as a mixed-integer program.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import coo_matrix
from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

from ..core.explainer import Explainer, register
from ..core.explanation import Explanation
from ..core.model import Model
from ..core.validation import (
    as_numpy,
    check_finite,
    check_int,
    check_option,
    check_real,
    check_targets,
)
from ._piecewise import PiecewiseLinearNet

__all__ = ["BoxQuery", "Curve", "LinearRegion", "Region", "RegionMap"]

# Steps below this fraction of a line's length are merged (rounding, not geometry).
_MERGE_FRACTION = 1e-12
# Regions of the 2-D map with a Chebyshev radius below this (in the unit square) are
# lower-dimensional: a boundary, not a region.
_MIN_RADIUS = 1e-9
_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True, eq=False)
class Region:
    r"""The linear region of a ReLU network around one input, and its affine map.

    Inside the region the network is exactly ``logits(y) = weights @ y + bias`` (with
    ``y`` flattened). Get one from :meth:`LinearRegion.region`.

    Attributes
    ----------
    x : ndarray of shape (d,)
        The (flattened) input whose region this is.
    weights : ndarray of shape (n_classes, d)
        :math:`W_x`: row ``c`` is the exact local weight of each input for logit ``c``
        (the gradient of logit ``c`` anywhere inside the region).
    bias : ndarray of shape (n_classes,)
        :math:`b_x`.
    A, b : ndarray of shape (m, d) and (m,)
        The region ``{y : A @ y <= b}``: one row per hidden unit (its pre-activation
        keeps the sign it has at ``x``), then two rows per input column for the box
        (``y_i <= high_i`` and ``-y_i <= -low_i``) when there are bounds.
    row_units : ndarray of shape (m, 2)
        For each row of ``A``: ``(layer, unit)`` of its hidden unit, or ``(-1, i)`` for
        a bound on column ``i``.
    pattern : list of ndarray of bool
        The activation pattern: per activation layer, which units are active.
    target : int
        The class the model predicts at ``x``.
    feature_names, class_names : list of str
    input_shape : tuple of int
    scale : ndarray of shape (d,) or None
        Per-column training standard deviation, for :attr:`normalized_weights`.

    Examples
    --------
    >>> import numpy as np, xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> reg = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds)).region(ds.X_test[0])
    >>> bool(np.all(reg.A @ reg.x <= reg.b + 1e-9))
    True
    >>> reg.weights.shape, reg.bias.shape
    ((2, 13), (2,))
    """

    x: np.ndarray
    weights: np.ndarray
    bias: np.ndarray
    A: np.ndarray
    b: np.ndarray
    row_units: np.ndarray
    pattern: list[np.ndarray]
    target: int
    feature_names: list[str]
    class_names: list[str]
    input_shape: tuple[int, ...]
    scale: np.ndarray | None = None

    def logits(self, y: Any) -> np.ndarray:
        """The affine model's logits at ``y`` (one input or a batch): ``weights @ y + bias``.

        Equal to the network's logits wherever :meth:`contains` is true.
        """
        batch = _as_rows(y, self.x.size, "y")
        return batch @ self.weights.T + self.bias

    def contains(self, y: Any, tol: float = 1e-9) -> np.ndarray:
        """Whether each ``y`` satisfies ``A @ y <= b`` (to ``tol`` times the row scale).

        Returns
        -------
        ndarray of bool, shape (n,)
        """
        batch = _as_rows(y, self.x.size, "y")
        slack = self.b[None] - batch @ self.A.T
        row_scale = 1.0 + np.abs(self.b)
        return np.all(slack >= -tol * row_scale[None], axis=1)

    def pairwise(self, a: int, c: int) -> tuple[np.ndarray, float]:
        """The affine map of the logit difference ``z_a - z_c`` inside the region.

        Returns
        -------
        weights : ndarray of shape (d,)
        bias : float
        """
        a = int(check_targets(a, 1, len(self.bias), name="a")[0])
        c = int(check_targets(c, 1, len(self.bias), name="c")[0])
        return self.weights[a] - self.weights[c], float(self.bias[a] - self.bias[c])

    @property
    def normalized_weights(self) -> np.ndarray:
        r"""Weights times the training standard deviation, :math:`w_i \sigma_i`.

        Dethise & Canini's Definition 2: the change of the logit when a feature moves by
        one standard deviation, so that features measured in different units can be
        compared. Shape ``(n_classes, d)``.
        """
        if self.scale is None:
            raise ValueError(
                "Normalized weights need the training standard deviations: wrap the model "
                "with its data set (xw.wrap(model, dataset))."
            )
        return self.weights * self.scale[None]

    @property
    def n_units(self) -> int:
        """The number of hidden units (rows of ``A`` that come from the network)."""
        return int(np.sum(self.row_units[:, 0] >= 0))

    def interval(self, direction: Any) -> tuple[float, float]:
        """The exact range of ``t`` for which ``x + t * direction`` stays in the region.

        A ratio test over the rows of ``A``: with slack ``s = b - A x`` and rate
        ``r = A d``, ``t <= s_i / r_i`` for ``r_i > 0`` and ``t >= s_i / r_i`` for
        ``r_i < 0``.

        Parameters
        ----------
        direction : int, str or array-like
            A column (index or name), for the interval of that feature's value, or a
            direction vector of the input's shape.

        Returns
        -------
        (low, high) : tuple of float
            For a column: the interval of the feature's value (``x_i + t``); for a
            direction: the interval of ``t``. ``-inf`` / ``inf`` where nothing binds.
        """
        vector, column = _direction(direction, self.x.size, self.feature_names)
        slack = self.b - self.A @ self.x
        rate = self.A @ vector
        active = np.abs(rate) > 1e-12 * (1.0 + np.abs(self.A).max(axis=1))
        ratios = np.where(active, np.maximum(slack, 0.0) / np.where(active, rate, 1.0), np.nan)
        high = np.min(ratios[active & (rate > 0)], initial=np.inf)
        low = np.max(ratios[active & (rate < 0)], initial=-np.inf)
        if column is not None:
            return float(self.x[column] + low), float(self.x[column] + high)
        return float(low), float(high)

    def chebyshev_center(self) -> tuple[np.ndarray, float]:
        """The centre and radius of the largest ball inside the region (an LP, HiGHS).

        The radius is Euclidean in the input's raw units; it is 0 for a region with no
        interior (``x`` on a boundary between regions of a degenerate network).
        """
        norms = np.linalg.norm(self.A, axis=1)
        keep = norms > 0
        center, radius = _chebyshev(self.A[keep], self.b[keep], norms[keep])
        return (self.x.copy(), 0.0) if center is None else (center, radius)

    def __repr__(self) -> str:
        return (
            f"Region({self.n_units} units, {len(self.A) - self.n_units} bound rows, "
            f"target={self.class_names[self.target]!r})"
        )


@dataclass(frozen=True, eq=False)
class Curve:
    """The exact piecewise-linear logits along one feature (or direction).

    Between consecutive ``positions`` the logits are affine, so linear interpolation of
    ``logits`` is exact. Get one from :meth:`LinearRegion.curve`.

    Attributes
    ----------
    positions : ndarray of shape (n_points,)
        The feature's value (or ``t`` along a direction) at both ends and at every
        breakpoint, increasing.
    logits : ndarray of shape (n_points, n_classes)
        The network's logits there.
    sources : ndarray of shape (n_points, 2)
        ``(layer, unit)`` of the hidden unit that switches at each breakpoint;
        ``(-1, -1)`` for the two ends.
    current : float
        The position of the explained input.
    interval : (float, float)
        Where the input's own linear model holds along the line (clipped to the ends).
    feature : str or None
        The column's name, or None for a direction.
    class_names : list of str

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> c = lr.curve(ds.X_test[0], "income")
    >>> float(c.positions[0]), float(c.positions[-1])
    (10.0, 250.0)
    >>> bool(c.interval[0] <= c.current <= c.interval[1])
    True
    """

    positions: np.ndarray
    logits: np.ndarray
    sources: np.ndarray
    current: float
    interval: tuple[float, float]
    feature: str | None
    class_names: list[str]

    @property
    def breakpoints(self) -> np.ndarray:
        """Interior positions where some unit switches (the ends excluded)."""
        return self.positions[1:-1]

    @property
    def slopes(self) -> np.ndarray:
        """Slope of each logit on each linear piece, shape ``(n_points - 1, n_classes)``."""
        return np.diff(self.logits, axis=0) / np.diff(self.positions)[:, None]

    def __call__(self, values: Any) -> np.ndarray:
        """The logits at ``values`` (positions inside the range), by exact interpolation.

        Returns
        -------
        ndarray of shape (n, n_classes)
        """
        values = np.atleast_1d(as_numpy(values, "values").astype(float))
        return np.column_stack(
            [np.interp(values, self.positions, column) for column in self.logits.T]
        )

    def __repr__(self) -> str:
        name = self.feature or "direction"
        return (
            f"Curve({name}: [{self.positions[0]:.4g}, {self.positions[-1]:.4g}], "
            f"{len(self.breakpoints)} breakpoints)"
        )


@dataclass(eq=False)
class RegionMap:
    """All linear regions of a ReLU network on a 2-D slice through an input.

    Two columns are free over ``[low, high]``; every other column keeps the input's
    value. The regions tile the slice. Get one from :meth:`LinearRegion.region_map`.

    Attributes
    ----------
    columns : (int, int)
        The free columns.
    features : (str, str)
        Their names.
    low, high : ndarray of shape (2,)
        The slice's ranges.
    x : ndarray of shape (d,)
        The input (flattened) through which the slice passes.
    polygons : list of ndarray of shape (k, 2)
        Each region's vertices (counter-clockwise), in the two features' units.
    areas : ndarray of shape (n_regions,)
    centers : ndarray of shape (n_regions, 2)
        Chebyshev centres (the centre of the largest disc inside each region, in the
        slice scaled to the unit square).
    patterns : ndarray of bool, shape (n_regions, n_units)
        Activation patterns, all activation layers concatenated.
    slice_weights : ndarray of shape (n_regions, n_classes, 2)
        Each region's logits as an affine function of the two free features:
        ``logits = slice_weights[r] @ (v_0, v_1) + slice_bias[r]``.
    slice_bias : ndarray of shape (n_regions, n_classes)
    current : int
        Index of the region containing ``x``.
    target : int
        The class predicted at ``x`` (the default for weights and ranks).
    complete : bool
        False when the walk stopped at ``max_regions`` before covering the slice.
    feature_names, class_names : list of str
    scale : ndarray of shape (d,) or None
        Training standard deviations, for normalized weights.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds, hidden=(8, 8)), ds))
    >>> rm = lr.region_map(ds.X_test[0], ("x1", "x2"))
    >>> bool(abs(rm.areas.sum() - rm.box_area) < 1e-9 * rm.box_area)
    True
    """

    columns: tuple[int, int]
    features: tuple[str, str]
    low: np.ndarray
    high: np.ndarray
    x: np.ndarray
    polygons: list[np.ndarray]
    areas: np.ndarray
    centers: np.ndarray
    patterns: np.ndarray
    slice_weights: np.ndarray
    slice_bias: np.ndarray
    current: int
    target: int
    complete: bool
    feature_names: list[str]
    class_names: list[str]
    scale: np.ndarray | None = None
    _net: PiecewiseLinearNet | None = field(default=None, repr=False)
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.polygons)

    @property
    def box_area(self) -> float:
        """Area of the slice ``(high_0 - low_0) * (high_1 - low_1)``."""
        return float(np.prod(self.high - self.low))

    def _points(self, points: Any) -> np.ndarray:
        points = np.atleast_2d(as_numpy(points, "points").astype(float))
        if points.shape[1:] != (2,):
            raise ValueError(f"points must have shape (n, 2); got {points.shape}.")
        check_finite(points, "points")
        return points

    def locate(self, points: Any) -> np.ndarray:
        """Index of the region containing each point (``-1`` outside the slice).

        Parameters
        ----------
        points : array-like of shape (n, 2)
            Values of the two free features.

        Returns
        -------
        ndarray of int, shape (n,)
        """
        points = self._points(points)
        result = np.full(len(points), -1)
        span = self.high - self.low
        unit = (points - self.low) / span
        for r, polygon in enumerate(self.polygons):
            todo = np.flatnonzero(result < 0)
            if not len(todo):
                break
            inside = _in_convex_polygon((polygon - self.low) / span, unit[todo])
            result[todo[inside]] = r
        return result

    def slice_logits(self, points: Any) -> np.ndarray:
        """The logits at points of the slice, from the regions' affine maps.

        Parameters
        ----------
        points : array-like of shape (n, 2)

        Returns
        -------
        ndarray of shape (n, n_classes)
            NaN rows for points outside the slice.
        """
        points = self._points(points)
        index = self.locate(points)
        out = np.full((len(points), self.slice_bias.shape[1]), np.nan)
        found = index >= 0
        r = index[found]
        out[found] = np.einsum("nck,nk->nc", self.slice_weights[r], points[found])
        out[found] += self.slice_bias[r]
        return out

    @property
    def predicted(self) -> np.ndarray:
        """The class predicted at each region's centre, shape ``(n_regions,)``.

        A region can contain a piece of the decision boundary; :meth:`class_cells`
        splits regions exactly.
        """
        logits = np.einsum("nck,nk->nc", self.slice_weights, self.centers) + self.slice_bias
        return np.argmax(logits, axis=1)

    def class_cells(self) -> list[tuple[int, int, np.ndarray]]:
        """The slice cut exactly by region and predicted class.

        Inside a region the logits are affine, so the set where class ``c`` wins is the
        region clipped by the half-planes ``z_k <= z_c``; every region is split that way.

        Returns
        -------
        list of (region, class, polygon)
            ``polygon`` of shape (k, 2) in the features' units.
        """
        if "cells" not in self._cache:
            cells = []
            n_classes = self.slice_bias.shape[1]
            for r, polygon in enumerate(self.polygons):
                slope, offset = self.slice_weights[r], self.slice_bias[r]
                vertex_logits = polygon @ slope.T + offset
                for c in range(n_classes):
                    if n_classes > 2 and not np.any(
                        vertex_logits[:, c] >= vertex_logits.max(1) - np.ptp(vertex_logits) - 1e-12
                    ):
                        continue
                    cell = polygon
                    for k in range(n_classes):
                        if k != c and len(cell):
                            cell = _clip_polygon(
                                cell, slope[k] - slope[c], float(offset[c] - offset[k])
                            )
                    if len(cell) >= 3 and _polygon_area(cell) > 0:
                        cells.append((r, c, cell))
            self._cache["cells"] = cells
        return self._cache["cells"]

    def input_weights(self, target: int | None = None, normalized: bool = False) -> np.ndarray:
        """Each region's exact weights of one logit for every input column.

        Parameters
        ----------
        target : int, optional
            The logit; default the class predicted at ``x``.
        normalized : bool, default=False
            Multiply by the training standard deviation (Dethise & Canini, Definition 2).

        Returns
        -------
        ndarray of shape (n_regions, d)
        """
        target = self.target if target is None else target
        target = int(check_targets(target, 1, self.slice_bias.shape[1])[0])
        if target not in self._cache:
            sizes = self._net.hidden_sizes
            patterns = np.split(self.patterns, np.cumsum(sizes)[:-1], axis=1) if sizes else []
            self._cache[target] = self._net.jacobians(
                patterns, len(self), classes=np.full(len(self), target)
            )
        weights = self._cache[target]
        if normalized:
            if self.scale is None:
                raise ValueError(
                    "normalized=True needs the training standard deviations: wrap the "
                    "model with its data set."
                )
            weights = weights * self.scale[None]
        return weights

    def feature_weights(
        self, feature: Any, target: int | None = None, normalized: bool = False
    ) -> np.ndarray:
        """The weight of one input column in each region, for one logit.

        Parameters
        ----------
        feature : int or str
            A column index or name (any column, not only the two free ones).
        target : int, optional
            The logit; default the class predicted at ``x``.
        normalized : bool, default=False
            Multiply by the column's training standard deviation (Definition 2).

        Returns
        -------
        ndarray of shape (n_regions,)
        """
        column = _column(feature, self.feature_names)
        return self.input_weights(target, normalized)[:, column]

    def feature_ranks(
        self, feature: Any, target: int | None = None, normalized: bool = True
    ) -> np.ndarray:
        """The rank of one column's absolute weight in each region (1 = largest).

        Parameters
        ----------
        feature : int or str
            A column index or name.
        target : int, optional
            The logit; default the class predicted at ``x``.
        normalized : bool, default=True
            Rank the normalized weights ``|w_i sigma_i|`` (comparable across units);
            needs the training standard deviations.

        Returns
        -------
        ndarray of int, shape (n_regions,)
        """
        column = _column(feature, self.feature_names)
        magnitude = np.abs(self.input_weights(target, normalized))
        return 1 + np.sum(magnitude > magnitude[:, [column]], axis=1)

    def __repr__(self) -> str:
        state = "" if self.complete else ", incomplete"
        return f"RegionMap({self.features[0]} x {self.features[1]}: {len(self)} regions{state})"


@dataclass(frozen=True, eq=False)
class BoxQuery:
    """The answer to "is class ``target`` ever predicted in this box?".

    Attributes
    ----------
    target : int
    found : bool or None
        True: some input in the box is predicted ``target`` (``point`` shows one);
        False: proved impossible; None: the solver stopped before deciding.
    point : ndarray or None
        The input (the input's shape) with the largest margin found: a witness when
        ``found`` is True, the closest the box comes to ``target`` otherwise.
    margin : float
        Best ``min_k (z_target - z_k)`` found (NaN if no solution).
    bound : float
        Upper bound on that margin proved by the solver (the MILP dual bound).
    status : str
        ``"optimal"``, ``"time limit"`` or the solver's message.
    verified : bool or None
        Whether the model itself predicts ``target`` at ``point``.
    time_s : float

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds))
    >>> lr.class_in_box(1, {"late_payments": (0, 1)}).found
    True
    """

    target: int
    found: bool | None
    point: np.ndarray | None
    margin: float
    bound: float
    status: str
    verified: bool | None
    time_s: float


# ---------------------------------------------------------------------------- explainer
@register
class LinearRegion(Explainer):
    r"""The exact local linear model of a ReLU network (Dethise & Canini).

    ``explain(x)`` returns the weights :math:`W_x` of the target logit: the exact
    coefficients of the affine function that the network *is* in the region around
    ``x`` (they equal the gradient there). :meth:`region` returns the region itself;
    :meth:`curve`, :meth:`region_map`, :meth:`integrated_gradients` and
    :meth:`class_in_box` answer exact questions about the network.

    Supported: ``nn.Sequential`` (nested allowed) of Linear, Conv1d/2d/3d (read as
    dense linear maps), BatchNorm with running statistics (folded), AvgPool, Flatten,
    Dropout (identity in evaluation), ReLU and LeakyReLU. Any other layer, or a module
    with its own ``forward``, raises ``TypeError``. The network's parameters are read
    once, when the explainer is built, in float64.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A ReLU network that returns logits.
    normalize : bool, default=False
        Return :math:`w_i \sigma_i` (weight times the training standard deviation,
        Dethise & Canini's Definition 2) instead of :math:`w_i`.
    bounds : "data", None or array-like of shape (d, 2), default="data"
        The box that regions are intersected with: the data set's feature bounds
        (none if the model has no data set), no box, or explicit ``(low, high)`` per
        column. The box is widened where needed to contain the explained input.
    output : {"auto", "logit"}, default="auto"
        Only logits are piecewise linear.

    Examples
    --------
    >>> import numpy as np, xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> e = xw.explainers.LinearRegion(m).explain(ds.X_test[0])
    >>> g = xw.explainers.Gradient(m).explain(ds.X_test[0])
    >>> bool(np.allclose(e.values, g.values, rtol=1e-4, atol=1e-6))
    True
    """

    name = "linear_region"
    label = "Exact linear region"
    requires_gradients = True

    def __init__(
        self,
        model: Any,
        *,
        normalize: bool = False,
        bounds: Any = "data",
        output: str = "auto",
    ) -> None:
        super().__init__(model, output=output)
        if self.output != "logit":
            raise ValueError(
                "LinearRegion explains logits (the softmax is not piecewise linear); use "
                "output='auto' or 'logit' on a model that returns logits."
            )
        self.net = PiecewiseLinearNet.from_model(self.model)
        if not isinstance(normalize, bool):
            raise TypeError(f"The 'normalize' parameter must be a bool; got {normalize!r}.")
        if normalize and self.model.dataset is None:
            raise ValueError(
                "normalize=True needs the training standard deviations: wrap the model with "
                "its data set (xw.wrap(model, dataset))."
            )
        self._bounds = self._resolve_bounds(bounds)
        self.params.update(
            normalize=normalize, bounds=bounds if isinstance(bounds, str | None) else "array"
        )

    @classmethod
    def applies_to(cls, model: Model) -> bool:
        """Whether ``model`` is a ReLU network this method can read exactly.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> from torch.nn import Linear, ReLU, Sequential, Tanh
        >>> relu = Sequential(Linear(2, 3), ReLU(), Linear(3, 2))
        >>> tanh = Sequential(Linear(2, 3), Tanh(), Linear(3, 2))
        >>> LinearRegion.applies_to(xw.wrap(relu, input_shape=(2,)))
        True
        >>> LinearRegion.applies_to(xw.wrap(tanh, input_shape=(2,)))
        False
        """
        return super().applies_to(model) and PiecewiseLinearNet.readable(model)

    # ------------------------------------------------------------------ set-up helpers
    @property
    def _scale(self) -> np.ndarray | None:
        dataset = self.model.dataset
        return None if dataset is None else np.asarray(dataset.train_std, float).reshape(-1)

    def _resolve_bounds(self, bounds: Any) -> np.ndarray | None:
        d = self.net.n_inputs
        if bounds is None:
            return None
        if isinstance(bounds, str):
            check_option(bounds, "bounds", ["data"])
            dataset = self.model.dataset
            return None if dataset is None else np.asarray(dataset.bounds, float).copy()
        array = as_numpy(bounds, "bounds").astype(float)
        if array.shape != (d, 2):
            raise ValueError(
                f"bounds must be 'data', None or an array of shape ({d}, 2) holding (low, "
                f"high) per input column; got shape {array.shape}."
            )
        check_finite(array, "bounds")
        if np.any(array[:, 0] > array[:, 1]):
            raise ValueError("bounds must have low <= high in every row.")
        return array

    def _box_for(self, x: np.ndarray) -> np.ndarray | None:
        if self._bounds is None:
            return None
        box = self._bounds.copy()
        box[:, 0] = np.minimum(box[:, 0], x)
        box[:, 1] = np.maximum(box[:, 1], x)
        return box

    def _one_input(self, x: Any, name: str = "x") -> np.ndarray:
        batch, single = self.model.check_input(x, name=name)
        if not single:
            raise ValueError(
                f"{name} must be one input of shape {self.model.input_shape}; got a batch "
                f"of {len(batch)}. Call this once per input."
            )
        return batch[0].reshape(-1)

    def _target_for(self, x_flat: np.ndarray, target: Any) -> int:
        if target is None or (isinstance(target, str) and target == "predicted"):
            return int(np.argmax(self.net.logits(x_flat[None])[0]))
        return int(check_targets(target, 1, self.model.n_classes)[0])

    # ------------------------------------------------------------------ explain
    def _attribute(self, batch, targets, outputs):
        flat = batch.reshape(len(batch), -1)
        patterns = self.net.patterns(flat)
        weights = self.net.jacobians(patterns, len(flat), classes=targets)
        logits = self.net.logits(flat)[np.arange(len(flat)), targets]
        bias = logits - np.einsum("nd,nd->n", weights, flat)
        if self.params["normalize"]:
            weights = weights * self._scale[None]
        return weights.reshape(batch.shape), {"bias": bias}

    def region(self, x: Any) -> Region:
        """The linear region around one input, with its affine map (Eqs. 1-4).

        Parameters
        ----------
        x : array-like of the model's input shape
            One input. Not modified.

        Returns
        -------
        Region

        Examples
        --------
        >>> import numpy as np, xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
        >>> reg = xw.explainers.LinearRegion(m).region(ds.X_test[0])
        >>> bool(np.allclose(reg.logits(ds.X_test[0]), m.logits(ds.X_test[0]), atol=1e-4))
        True
        """
        return self._region(self._one_input(x))

    def _region(self, x: np.ndarray) -> Region:
        d = x.size
        patterns = self.net.patterns(x[None])
        pattern = [p[0] for p in patterns]
        maps, (weights, bias) = self.net.affine_on(patterns, np.zeros(d), np.eye(d))
        weights, bias = weights[0], bias[0]
        rows, rhs, units = [], [], []
        for layer, ((P, q), active) in enumerate(zip(maps, pattern, strict=True)):
            P, q = P[0], q[0]
            sign = np.where(active, -1.0, 1.0)  # active: -z <= 0; inactive: z <= 0
            rows.append(sign[:, None] * P)
            rhs.append(-sign * q)
            units.append(np.column_stack([np.full(len(q), layer), np.arange(len(q))]))
        box = self._box_for(x)
        if box is not None:
            rows += [np.eye(d), -np.eye(d)]
            rhs += [box[:, 1], -box[:, 0]]
            columns = np.column_stack([np.full(d, -1), np.arange(d)])
            units += [columns, columns]
        A = np.vstack(rows) if rows else np.zeros((0, d))
        b = np.concatenate(rhs) if rhs else np.zeros(0)
        row_units = np.vstack(units).astype(int) if units else np.zeros((0, 2), int)
        return Region(
            x=x,
            weights=weights,
            bias=bias,
            A=A,
            b=b,
            row_units=row_units,
            pattern=pattern,
            target=int(np.argmax(weights @ x + bias)),
            feature_names=self.model.feature_names,
            class_names=self.model.class_names,
            input_shape=self.model.input_shape,
            scale=self._scale,
        )

    # ------------------------------------------------------------------ 1-D
    def curve(
        self,
        x: Any,
        feature: Any,
        *,
        low: float | None = None,
        high: float | None = None,
    ) -> Curve:
        """The exact logits as one feature moves over its range, with every breakpoint.

        The line is pushed through the network layer by layer: each layer's
        pre-activations are affine between the current breakpoints, so a unit switches
        where its pre-activation crosses zero between two of them, found by linear
        interpolation; those points are added and the next layer is processed
        (Sotoudeh & Thakur, "Computing Linear Restrictions of Neural Networks", 2019).

        Parameters
        ----------
        x : array-like
            One input; the other features keep its values.
        feature : int, str or array-like
            A column (index or name), or a direction vector of the input's shape (then
            positions are ``t`` in ``x + t * direction``).
        low, high : float, optional
            The range. Default for a column: its data bounds (widened to contain the
            input's value); required for a direction, or when there are no bounds.

        Returns
        -------
        Curve
        """
        x = self._one_input(x)
        vector, column = _direction(feature, x.size, self.model.feature_names)
        if column is not None:
            start = x.copy()
            start[column] = 0.0
            current = float(x[column])
            box = self._box_for(x)
            default = (None, None) if box is None else tuple(box[column])
        else:
            start, current, default = x, 0.0, (None, None)
        low = default[0] if low is None else check_real(low, "low")
        high = default[1] if high is None else check_real(high, "high")
        if low is None or high is None:
            what = "direction (the range of t)" if column is None else "column without data bounds"
            raise ValueError(f"A curve along a {what} needs low= and high=.")
        if not low < high:
            raise ValueError(f"low must be smaller than high; got low={low}, high={high}.")
        positions, logits, sources = _exact_line(self.net, start, vector, low, high)
        lo, hi = self._region(x).interval(vector)
        if column is not None:
            lo, hi = lo + current, hi + current
        name = self.model.feature_names[column] if column is not None else None
        return Curve(
            positions=positions,
            logits=logits,
            sources=sources,
            current=current,
            interval=(max(lo, low), min(hi, high)),
            feature=name,
            class_names=self.model.class_names,
        )

    def integrated_gradients(
        self, x: Any, baseline: Any = "zeros", target: Any = None
    ) -> Explanation:
        r"""Integrated gradients computed exactly, by summing the affine pieces of the path.

        On the straight path from the baseline :math:`x'` to :math:`x` the gradient is
        constant on each linear piece :math:`[\alpha_k, \alpha_{k+1}]`, so Eq. 1 of
        Sundararajan et al. is a finite sum:
        :math:`\mathrm{IG}_i = (x_i - x'_i) \sum_k (\alpha_{k+1} - \alpha_k) \, g_{k,i}`.
        Completeness holds to rounding error.

        Parameters
        ----------
        x : array-like
            One input or a batch.
        baseline : {"zeros", "mean"}, float or array-like, default="zeros"
            As for :class:`~xaiwidgets.explainers.IntegratedGradients`.
        target : int, array-like of int or None
            The explained class (default: the predicted one).

        Returns
        -------
        Explanation
            ``method="ig"`` with ``params["method"] == "exact"``; ``meta`` as for
            IntegratedGradients, with ``steps`` the number of linear pieces and
            ``breakpoints`` their ends (the ``alpha`` values, per input).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> lr = xw.explainers.LinearRegion(xw.wrap(xw.zoo.train_mlp(ds), ds))
        >>> e = lr.integrated_gradients(ds.X_test[0], baseline="mean")
        >>> abs(e.meta["convergence_delta"]) < 1e-9
        True
        """
        return _ExactIntegratedGradients(self, baseline).explain(x, target=target)

    # ------------------------------------------------------------------ 2-D
    def region_map(
        self,
        x: Any,
        features: tuple[Any, Any],
        *,
        low: Any = None,
        high: Any = None,
        max_regions: int = 2000,
    ) -> RegionMap:
        """Every linear region on a 2-D slice through ``x``, found by walking between them.

        Two columns move over a rectangle; the others keep ``x``'s values. Starting from
        ``x``'s region, each region's polygon is computed from its activation pattern
        (a Chebyshev centre by ``scipy.optimize.linprog`` with HiGHS, then the vertices
        by Qhull's half-space intersection around it); across each edge that comes from
        a unit, the neighbour is the pattern with that unit switched (in general
        position the two regions share the whole edge; where the switched pattern has
        no interior, the pattern just beyond the edge's midpoint is used). The walk ends
        when no new pattern appears: the regions then tile the slice.

        Parameters
        ----------
        x : array-like
            One input.
        features : (int or str, int or str)
            The two free columns.
        low, high : array-like of 2 floats, optional
            The rectangle. Default: the columns' data bounds (widened to contain ``x``).
        max_regions : int, default=2000
            Stop after this many regions (``complete`` is then False and a warning says
            so).

        Returns
        -------
        RegionMap
        """
        x = self._one_input(x)
        max_regions = check_int(max_regions, "max_regions", low=1)
        if not isinstance(features, tuple | list) or len(features) != 2:
            raise ValueError(f"features must be two columns (names or indices); got {features!r}.")
        i, j = (_column(f, self.model.feature_names) for f in features)
        if i == j:
            raise ValueError(f"features must be two different columns; got {features!r} twice.")
        lo, hi = self._slice_range(x, (i, j), low, high)
        span = hi - lo
        origin = x.copy()
        origin[[i, j]] = lo
        basis = np.zeros((x.size, 2))
        basis[i, 0], basis[j, 1] = span

        splits = np.cumsum(self.net.hidden_sizes)[:-1]
        start = self._flat_patterns(x[None])[0]
        seen = {start.tobytes()}
        wave: list[tuple[np.ndarray, np.ndarray | None]] = [(start, None)]
        found: list[tuple] = []
        while wave and len(found) < max_regions:
            flats = np.array([flat for flat, _ in wave])
            maps, (logit_P, logit_q) = self.net.affine_on(
                np.split(flats, splits, axis=1), origin, basis
            )
            following: list[tuple[np.ndarray, np.ndarray | None]] = []
            for r, (flat, entry) in enumerate(wave):
                if len(found) >= max_regions:
                    following.append((flat, entry))
                    continue
                unit_maps = [(P[r], q[r]) for P, q in maps]
                polygon = _slice_polygon(unit_maps, np.split(flat, splits))
                if polygon is None:
                    if entry is not None:  # step just across the edge instead
                        beyond = self._flat_patterns((origin + basis @ entry)[None])[0]
                        if beyond.tobytes() not in seen:
                            seen.add(beyond.tobytes())
                            following.append((beyond, None))
                    continue
                vertices, center, facets = polygon
                found.append((flat, vertices, center, logit_P[r], logit_q[r]))
                for unit, midpoint, normal in facets:
                    neighbour = flat.copy()
                    neighbour[unit] = ~neighbour[unit]
                    if neighbour.tobytes() not in seen:
                        seen.add(neighbour.tobytes())
                        following.append((neighbour, midpoint + 1e-7 * normal))
            wave = following
        complete = not wave
        if not complete:
            warnings.warn(
                f"region_map stopped at max_regions={max_regions} before covering the "
                "slice; raise max_regions or shrink the rectangle.",
                RuntimeWarning,
                stacklevel=2,
            )
        # Unit-square coordinates u = (v - low) / span back to the features' units.
        slice_weights = np.array([f[3] for f in found]) / span[None, None, :]
        slice_bias = np.array([f[4] for f in found]) - slice_weights @ lo
        return RegionMap(
            columns=(i, j),
            features=(self.model.feature_names[i], self.model.feature_names[j]),
            low=lo,
            high=hi,
            x=x,
            polygons=[lo + f[1] * span for f in found],
            areas=np.array([_polygon_area(f[1]) for f in found]) * float(np.prod(span)),
            centers=np.array([lo + f[2] * span for f in found]),
            patterns=np.array([f[0] for f in found]),
            slice_weights=slice_weights,
            slice_bias=slice_bias,
            current=0,
            target=self._target_for(x, None),
            complete=complete,
            feature_names=self.model.feature_names,
            class_names=self.model.class_names,
            scale=self._scale,
            _net=self.net,
        )

    def _flat_patterns(self, X: np.ndarray) -> np.ndarray:
        """Activation patterns of rows ``X``, all layers concatenated: ``(n, n_units)``."""
        patterns = self.net.patterns(X)
        return np.concatenate(patterns, axis=1) if patterns else np.zeros((len(X), 0), bool)

    def _slice_range(
        self, x: np.ndarray, columns: tuple[int, int], low: Any, high: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        box = self._box_for(x)
        values = []
        for given, side, name in ((low, 0, "low"), (high, 1, "high")):
            if given is None:
                if box is None:
                    raise ValueError(
                        f"This model has no data bounds: pass {name}= (two values, one per "
                        "free feature)."
                    )
                values.append(box[list(columns), side])
            else:
                array = as_numpy(given, name).astype(float).reshape(-1)
                if array.shape != (2,):
                    raise ValueError(f"{name} must hold two values; got shape {array.shape}.")
                check_finite(array, name)
                values.append(array)
        lo, hi = values
        if np.any(lo >= hi):
            raise ValueError(f"low must be below high for both features; got {lo} and {hi}.")
        if np.any(x[list(columns)] < lo) or np.any(x[list(columns)] > hi):
            raise ValueError("The rectangle [low, high] must contain the input's two values.")
        return lo, hi

    # ------------------------------------------------------------------ MILP
    def class_in_box(
        self,
        target: int,
        bounds: Any = None,
        *,
        respect_domain: bool = True,
        time_limit: float = 30.0,
    ) -> BoxQuery:
        """Is class ``target`` predicted anywhere in a box? A mixed-integer program.

        Maximizes the margin ``t = min_k (z_target(y) - z_k(y))`` over the box with
        ``scipy.optimize.milp`` (HiGHS). Each hidden unit whose sign is not fixed by
        interval bounds gets a binary variable with the standard big-M encoding of
        ``h = max(z, slope * z)`` (Tjeng, Xiao & Tedrake, "Evaluating Robustness of
        Neural Networks with Mixed Integer Programming", 2019). The class is predicted
        somewhere iff the maximum is >= 0.

        Parameters
        ----------
        target : int
            The class.
        bounds : dict, array-like of shape (d, 2) or None
            The box. ``None``: the data bounds. A dict maps feature names (or column
            names) to a ``(low, high)`` pair or one fixed value (a category label for a
            categorical feature); other columns keep their data bounds. An array gives
            every column's ``(low, high)``.
        respect_domain : bool, default=True
            With a data set: integer features take whole values and each one-hot group
            has exactly one active column.
        time_limit : float, default=30.0
            Seconds for the solver; ``found`` is None if it stops undecided.

        Returns
        -------
        BoxQuery
        """
        start = time.perf_counter()
        target = int(check_targets(target, 1, self.model.n_classes)[0])
        time_limit = check_real(time_limit, "time_limit", low=0.0, low_inclusive=False)
        box, integral, groups = self._query_box(bounds, bool(respect_domain))
        problem = _BoxMilp(self.net, box, target, integral, groups)
        result = milp(
            problem.cost,
            constraints=problem.constraints,
            integrality=problem.integrality,
            bounds=problem.bounds,
            options={"time_limit": time_limit, "disp": False},
        )
        point, margin, verified = None, float("nan"), None
        if result.x is not None:
            y = result.x[: self.net.n_inputs]
            y = np.clip(y, box[:, 0], box[:, 1])
            margin = float(-result.fun)
            point = y.reshape(self.model.input_shape)
            verified = bool(self.model.predict(point)[0] == target)
        dual = getattr(result, "mip_dual_bound", None)
        bound = float("nan") if dual is None else float(-dual)
        status = {0: "optimal", 1: "time limit", 2: "infeasible"}.get(
            result.status, str(result.message)
        )
        if result.status == 0:
            found = margin >= 0
        elif result.status == 2:
            found, bound = False, -np.inf
        else:
            found = True if margin >= 0 else (False if bound < 0 else None)
        return BoxQuery(
            target=target,
            found=found,
            point=point,
            margin=margin,
            bound=bound,
            status=status,
            verified=verified,
            time_s=time.perf_counter() - start,
        )

    def _query_box(
        self, bounds: Any, respect_domain: bool
    ) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
        d = self.net.n_inputs
        dataset = self.model.dataset
        base = self._bounds
        if isinstance(bounds, dict) or bounds is None:
            if base is None:
                raise ValueError(
                    "This model has no data bounds: pass bounds= as an array of shape "
                    f"({d}, 2) with (low, high) per input column."
                )
            box = base.copy()
            for name, value in (bounds or {}).items():
                _apply_box_entry(box, name, value, dataset, self.model.feature_names)
        else:
            box = self._resolve_bounds(bounds)
        integral = np.zeros(d, dtype=int)
        groups: list[list[int]] = []
        if respect_domain and dataset is not None and dataset.kind == "tabular":
            for feature in dataset.features:
                if feature.kind == "integer":
                    integral[list(feature.columns)] = 1
                elif feature.kind == "categorical":
                    integral[list(feature.columns)] = 1
                    groups.append(list(feature.columns))
        return box, integral, groups


# ---------------------------------------------------------------------------- exact IG
class _ExactIntegratedGradients(Explainer):
    """Integrated gradients summed exactly over linear pieces (not registered).

    Built by :meth:`LinearRegion.integrated_gradients`; reuses the explainer machinery
    so that the result is packed like every other explanation.
    """

    name = "ig"
    label = "Integrated Gradients (exact)"
    requires_gradients = True

    def __init__(self, region: LinearRegion, baseline: Any) -> None:
        super().__init__(region.model, output="logit")
        from .gradients import IntegratedGradients

        # The baseline is validated exactly as IntegratedGradients validates it.
        self.baseline = IntegratedGradients(region.model, baseline=baseline).baseline
        self.net = region.net
        self.params.update(
            steps="exact",
            baseline=baseline if isinstance(baseline, str) else "array",
            method="exact",
        )

    def _attribute(self, batch, targets, outputs):
        n = len(batch)
        flat = batch.reshape(n, -1)
        start = np.broadcast_to(self.baseline.reshape(-1), flat.shape)
        values = np.zeros_like(flat)
        f_baseline = np.zeros(n)
        pieces, alphas = np.zeros(n, dtype=int), []
        for row in range(n):
            direction = flat[row] - start[row]
            positions, _, _ = _exact_line(self.net, start[row], direction, 0.0, 1.0)
            midpoints = start[row] + (0.5 * (positions[1:] + positions[:-1]))[:, None] * direction
            patterns = self.net.patterns(midpoints)
            gradients = self.net.jacobians(
                patterns, len(midpoints), classes=np.full(len(midpoints), targets[row])
            )
            widths = np.diff(positions)
            values[row] = direction * (widths @ gradients)
            f_baseline[row] = self.net.logits(start[row][None])[0, targets[row]]
            pieces[row] = len(widths)
            alphas.append(positions)
        f_x = self.net.logits(flat)[np.arange(n), targets]
        gap = values.sum(axis=1) - (f_x - f_baseline)
        meta = {
            "convergence_delta": gap,
            "relative_gap": np.abs(gap) / np.maximum(np.abs(f_x - f_baseline), 1e-12),
            "steps": pieces,
            "base_value": f_baseline,
            "output_at_input": f_x,
            "baseline": self.baseline.copy(),
            "breakpoints": alphas[0] if n == 1 else alphas,
        }
        return values.reshape(batch.shape), meta


# ---------------------------------------------------------------------------- helpers
def _as_rows(y: Any, d: int, name: str) -> np.ndarray:
    array = as_numpy(y, name).astype(float)
    rows = array.reshape(-1, d) if array.size % d == 0 and array.size else None
    if rows is None:
        raise ValueError(f"{name} must hold inputs of {d} values each; got shape {array.shape}.")
    check_finite(rows, name)
    return rows


def _column(feature: Any, names: list[str]) -> int:
    """A column index from an index or a column name."""
    if isinstance(feature, bool):
        raise TypeError(f"A feature must be a column index or name; got {feature!r}.")
    if isinstance(feature, int | np.integer):
        if not 0 <= int(feature) < len(names):
            raise ValueError(
                f"Column index {feature} is out of range for {len(names)} input columns."
            )
        return int(feature)
    if isinstance(feature, str):
        if feature in names:
            return names.index(feature)
        prefixed = [n for n in names if n.startswith(f"{feature}=")]
        if prefixed:
            raise ValueError(
                f"{feature!r} is a categorical feature spread over one-hot columns "
                f"{prefixed}; pick one column (moving one one-hot column alone leaves the "
                "data's domain)."
            )
        shown = ", ".join(names[:15]) + (", ..." if len(names) > 15 else "")
        raise ValueError(f"No input column named {feature!r}; columns are: {shown}.")
    raise TypeError(f"A feature must be a column index or name; got {type(feature).__name__}.")


def _direction(direction: Any, d: int, names: list[str]) -> tuple[np.ndarray, int | None]:
    """A unit direction for a column (and its index), or a given direction vector."""
    if isinstance(direction, int | np.integer | str) and not isinstance(direction, bool):
        column = _column(direction, names)
        vector = np.zeros(d)
        vector[column] = 1.0
        return vector, column
    vector = as_numpy(direction, "direction").astype(float).reshape(-1)
    if vector.size != d:
        raise ValueError(
            f"direction must be a column (name or index) or a vector of {d} values; got "
            f"{vector.size} values."
        )
    check_finite(vector, "direction")
    if not np.any(vector):
        raise ValueError("direction must not be all zeros.")
    return vector, None


def _apply_box_entry(box, name, value, dataset, names) -> None:
    """Set one feature's range in ``box`` from a bounds dict entry."""
    if dataset is not None and name in {f.name for f in dataset.features}:
        feature = dataset.feature(name)
        if feature.kind == "categorical":
            if value not in feature.categories:
                raise ValueError(
                    f"bounds[{name!r}] must be one of the categories {feature.categories}; "
                    f"got {value!r}."
                )
            chosen = np.array(feature.categories) == value
            box[list(feature.columns), 0] = chosen
            box[list(feature.columns), 1] = chosen
            return
        column = feature.columns[0]
    else:
        column = _column(name, names)
    pair = np.atleast_1d(as_numpy(value, f"bounds[{name!r}]").astype(float))
    if pair.size == 1:
        pair = np.repeat(pair, 2)
    if pair.shape != (2,) or pair[0] > pair[1] or not np.all(np.isfinite(pair)):
        raise ValueError(
            f"bounds[{name!r}] must be one value or a (low, high) pair with low <= high; "
            f"got {value!r}."
        )
    box[column] = pair


def _exact_line(
    net: PiecewiseLinearNet, start: np.ndarray, direction: np.ndarray, t0: float, t1: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions, logits and switching units along ``start + t * direction``, t in [t0, t1].

    Layer by layer (ExactLine, Sotoudeh & Thakur 2019): pre-activations are affine
    between consecutive points, so each sign change between two points is one exact
    crossing, found by linear interpolation.
    """
    t = np.array([t0, t1], dtype=float)
    h = start[None] + t[:, None] * direction[None]
    sources = np.full((2, 2), -1)
    merge = _MERGE_FRACTION * (t1 - t0)
    for layer, stage in enumerate(net.stages[:-1]):
        z = h @ stage.weight.T + stage.bias
        positive = z > 0
        segment, unit = np.nonzero(positive[:-1] != positive[1:])
        if len(segment):
            z0, z1 = z[segment, unit], z[segment + 1, unit]
            fraction = z0 / (z0 - z1)
            t_new = t[segment] + fraction * (t[segment + 1] - t[segment])
            inside = (t_new > t[segment] + merge) & (t_new < t[segment + 1] - merge)
            segment, unit, fraction, t_new = (
                segment[inside],
                unit[inside],
                fraction[inside],
                t_new[inside],
            )
            z_new = z[segment] + fraction[:, None] * (z[segment + 1] - z[segment])
            z_new[np.arange(len(unit)), unit] = 0.0
            t = np.concatenate([t, t_new])
            z = np.vstack([z, z_new])
            sources = np.vstack([sources, np.column_stack([np.full(len(unit), layer), unit])])
            order = np.argsort(t, kind="stable")
            t, z, sources = t[order], z[order], sources[order]
            # New points lie strictly inside old segments, so only a new point that
            # repeats another new one (two units switching together) is dropped.
            keep = np.concatenate([[True], np.diff(t) > merge])
            t, z, sources = t[keep], z[keep], sources[keep]
        h = np.where(z > 0, z, stage.slope * z)
    last = net.stages[-1]
    return t, h @ last.weight.T + last.bias, sources


def _chebyshev(A: np.ndarray, b: np.ndarray, norms: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Centre and radius of the largest ball in ``{u : A u <= b}`` (LP with HiGHS)."""
    k = A.shape[1]
    result = linprog(
        np.r_[np.zeros(k), -1.0],
        A_ub=np.column_stack([A, norms]),
        b_ub=b,
        bounds=[(None, None)] * k + [(0, None)],
        method="highs",
    )
    if result.status != 0:
        return None, 0.0
    return result.x[:k], float(result.x[k])


def _slice_polygon(maps: list[tuple[np.ndarray, np.ndarray]], pattern: list[np.ndarray]):
    """The polygon of one activation pattern on the unit square of a 2-D slice.

    ``maps`` holds each layer's pre-activations ``P u + q`` under the pattern. Returns
    ``(vertices, center, facets)``, or None when the pattern's set has no interior
    there. ``facets`` lists, for each edge that comes from a hidden unit, the unit's
    index in the concatenated pattern, the edge's midpoint and its outward normal.
    """
    rows, rhs = [], []
    for (P, q), active in zip(maps, pattern, strict=True):
        sign = np.where(active, -1.0, 1.0)  # active: -z <= 0; inactive: z <= 0
        rows.append(sign[:, None] * P)
        rhs.append(-sign * q)
    rows += [np.eye(2), -np.eye(2)]
    rhs += [np.ones(2), np.zeros(2)]
    A, b = np.vstack(rows), np.concatenate(rhs)
    n_units = len(A) - 4
    # A unit whose line misses the unit square either holds on all of it (redundant)
    # or on none of it (the pattern does not occur on this slice).
    at_corners = A @ _CORNERS.T - b[:, None]
    tolerance = 1e-12 * (1.0 + np.abs(b) + np.abs(A).sum(axis=1))
    if np.any(at_corners.min(axis=1) > tolerance):
        return None
    keep = np.union1d(
        np.flatnonzero(at_corners.max(axis=1) > -tolerance), np.arange(n_units, n_units + 4)
    )
    norms = np.linalg.norm(A[keep], axis=1)
    A, b = A[keep] / norms[:, None], b[keep] / norms
    center, radius = _chebyshev(A, b, np.ones(len(A)))
    if center is None or radius < _MIN_RADIUS:
        return None
    try:
        hs = HalfspaceIntersection(np.column_stack([A, -b]), center)
        hull = ConvexHull(hs.intersections)
    except QhullError:
        return None
    vertices = hs.intersections[hull.vertices]
    tight = np.abs(vertices @ A.T - b[None]) <= 1e-9
    facets = []
    for row in np.flatnonzero(tight.sum(axis=0) >= 2):
        unit = keep[row]
        if unit >= n_units:
            continue  # the slice's own border
        ends = vertices[tight[:, row]]
        midpoint = 0.5 * (ends.min(axis=0) + ends.max(axis=0))
        facets.append((unit, midpoint, A[row]))
    return vertices, center, facets


def _polygon_area(vertices: np.ndarray) -> float:
    """Shoelace formula for a simple polygon given in order."""
    x, y = vertices[:, 0], vertices[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _clip_polygon(vertices: np.ndarray, normal: np.ndarray, offset: float) -> np.ndarray:
    """Clip a convex polygon to the half-plane ``normal @ u <= offset``.

    One pass of Sutherland & Hodgman, "Reentrant Polygon Clipping" (CACM 1974).
    """
    values = vertices @ normal - offset
    inside = values <= 0
    if np.all(inside):
        return vertices
    if not np.any(inside):
        return np.zeros((0, 2))
    result = []
    n = len(vertices)
    for k in range(n):
        current, following = k, (k + 1) % n
        if inside[current]:
            result.append(vertices[current])
        if inside[current] != inside[following]:
            fraction = values[current] / (values[current] - values[following])
            result.append(vertices[current] + fraction * (vertices[following] - vertices[current]))
    return np.array(result)


def _in_convex_polygon(vertices: np.ndarray, points: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Which points lie in a counter-clockwise convex polygon (boundary included)."""
    edges = np.roll(vertices, -1, axis=0) - vertices
    relative = points[:, None, :] - vertices[None]
    cross = edges[None, :, 0] * relative[..., 1] - edges[None, :, 1] * relative[..., 0]
    return np.all(cross >= -tol, axis=1)


class _BoxMilp:
    """The MILP of :meth:`LinearRegion.class_in_box`, assembled in sparse form.

    Variables: the input ``y`` (d), then per hidden layer the outputs ``h`` and one
    binary ``delta`` per unit whose sign the box does not fix, then the margin ``t``.
    Pre-activation bounds ``L <= z <= U`` come from interval arithmetic over the box.
    With ``s`` the activation's negative slope, ``h = max(z, s z)`` is encoded as
    ``h >= z``, ``h >= s z``, ``h <= z - (1 - s) L (1 - delta)`` and
    ``h <= s z + (1 - s) U delta`` (for ReLU, ``s = 0``: Tjeng et al., Eq. 5).
    """

    def __init__(
        self,
        net: PiecewiseLinearNet,
        box: np.ndarray,
        target: int,
        integral: np.ndarray,
        groups: list[list[int]],
    ) -> None:
        self._rows: list[np.ndarray] = []
        self._cols: list[np.ndarray] = []
        self._vals: list[np.ndarray] = []
        self._lower: list[np.ndarray] = []
        self._upper: list[np.ndarray] = []
        self._n_rows = 0
        low, high, kinds = [box[:, 0]], [box[:, 1]], [integral]
        n_vars = net.n_inputs
        for group in groups:  # exactly one category of each one-hot group
            self._add(np.ones((1, len(group))), np.array(group), 1.0, 1.0)
        prev_index = np.arange(net.n_inputs)
        prev_low, prev_high = box[:, 0], box[:, 1]
        for stage in net.stages[:-1]:
            W, b, s = stage.weight, stage.bias, stage.slope
            z_low = np.maximum(W, 0) @ prev_low + np.minimum(W, 0) @ prev_high + b
            z_high = np.maximum(W, 0) @ prev_high + np.minimum(W, 0) @ prev_low + b
            m = len(b)
            h_index = n_vars + np.arange(m)
            n_vars += m
            prev_low = np.where(z_low > 0, z_low, s * z_low)
            prev_high = np.where(z_high > 0, z_high, s * z_high)
            low.append(prev_low)
            high.append(prev_high)
            kinds.append(np.zeros(m, dtype=int))
            eye = np.eye(m)
            # Units whose sign the box fixes: h = z (active) or h = s z (inactive).
            fixed = (z_low >= 0) | (z_high <= 0)
            factor = np.where(z_low >= 0, 1.0, s)[fixed]
            self._add(
                np.hstack([eye[fixed], -factor[:, None] * W[fixed]]),
                np.r_[h_index, prev_index],
                factor * b[fixed],
                factor * b[fixed],
            )
            free = np.flatnonzero(~fixed)
            if not len(free):
                prev_index = h_index
                continue
            delta_index = n_vars + np.arange(len(free))
            n_vars += len(free)
            low.append(np.zeros(len(free)))
            high.append(np.ones(len(free)))
            kinds.append(np.ones(len(free), dtype=int))
            columns = np.r_[h_index, prev_index, delta_index]
            L, U, Wf, bf, Ef = z_low[free], z_high[free], W[free], b[free], eye[free]
            no_delta = np.zeros((len(free), len(free)))
            self._add(np.hstack([Ef, -Wf, no_delta]), columns, bf, np.inf)
            self._add(np.hstack([Ef, -s * Wf, no_delta]), columns, s * bf, np.inf)
            self._add(
                np.hstack([Ef, -Wf, np.diag(-(1 - s) * L)]), columns, -np.inf, bf - (1 - s) * L
            )
            self._add(np.hstack([Ef, -s * Wf, np.diag(-(1 - s) * U)]), columns, -np.inf, s * bf)
            prev_index = h_index
        # The margin: t <= z_target - z_k for every other class k.
        last = net.stages[-1]
        differences = last.weight[target][None] - np.delete(last.weight, target, axis=0)
        offsets = last.bias[target] - np.delete(last.bias, target)
        t_high = np.min(
            np.maximum(differences, 0) @ prev_high
            + np.minimum(differences, 0) @ prev_low
            + offsets
        )
        t_index = n_vars
        n_vars += 1
        low.append(np.array([-np.inf]))
        high.append(np.array([t_high]))
        kinds.append(np.zeros(1, dtype=int))
        self._add(
            np.hstack([np.ones((len(offsets), 1)), -differences]),
            np.r_[t_index, prev_index],
            -np.inf,
            offsets,
        )
        matrix = coo_matrix(
            (np.concatenate(self._vals), (np.concatenate(self._rows), np.concatenate(self._cols))),
            shape=(self._n_rows, n_vars),
        ).tocsr()
        self.constraints = LinearConstraint(
            matrix, np.concatenate(self._lower), np.concatenate(self._upper)
        )
        self.bounds = Bounds(np.concatenate(low), np.concatenate(high))
        self.integrality = np.concatenate(kinds)
        self.cost = np.zeros(n_vars)
        self.cost[t_index] = -1.0

    def _add(self, block: np.ndarray, columns: np.ndarray, lower: Any, upper: Any) -> None:
        """Rows ``lower <= block @ v[columns] <= upper`` (zeros of ``block`` skipped)."""
        k = len(block)
        if not k:
            return
        r, c = np.nonzero(block)
        self._rows.append(self._n_rows + r)
        self._cols.append(columns[c])
        self._vals.append(block[r, c])
        self._lower.append(np.broadcast_to(np.asarray(lower, float), (k,)))
        self._upper.append(np.broadcast_to(np.asarray(upper, float), (k,)))
        self._n_rows += k
