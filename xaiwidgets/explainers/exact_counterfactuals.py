r"""Exact closest counterfactuals: leaf enumeration and mixed-integer programming.

For models that are piecewise constant (trees) or piecewise linear (ReLU networks) the
closest point of another class can be found exactly, with a proof of optimality, by
mathematical programming. These solvers plug into :func:`xaiwidgets.flip.closest`
(``method="leaves"`` or ``"milp"``; ``"auto"`` picks them for scikit-learn trees and
tree ensembles), read the same :class:`~xaiwidgets.flip.FlipConstraints` (bounds,
locked features, monotone features, integer features, one-hot groups) and return the
same :class:`~xaiwidgets.flip.FlipPoint`:

- **One decision tree** (``"leaves"``): every leaf of another class is a box; the
  closest point of a box is found in closed form in the L1, L2 or L-infinity norm of
  the scaled change (clip each feature; pick the cheapest allowed category of each
  one-hot group), and the closest of all leaves wins. The strict side of a split
  (``x > threshold``) becomes ``x >= threshold + margin * scale`` (the margin
  :math:`\epsilon`), so the point lies strictly inside its leaf.
- **Tree ensembles** (``"milp"``: random forests, extra trees, binary gradient boosting,
  or one tree): the MILP of Parmentier & Vidal (ICML 2021), after Cui et al. (KDD 2015),
  solved by HiGHS through :func:`scipy.optimize.milp` with a time limit and a relative
  MIP gap; ``FlipPoint.meta`` reports the status (optimal, or the best found), the proven
  lower bound and gap.
- **ReLU networks** (``"milp"``: ``nn.Sequential`` of Linear and ReLU layers): the
  big-M MILP of Tjeng et al. (ICLR 2019) with interval bounds tightened by linear
  programs; a certified closest flip point in L1 or L-infinity. :func:`certify`
  measures how far a local (SLSQP) flip point is from the certified optimum.

A tree's class is constant on each leaf, so its counterfactual is not a tie:
``FlipPoint.point`` lies inside the new leaf (``on_boundary`` False) and
``FlipPoint.relaxed`` is the point of the leaf's closure, on the boundary (the infimum
of the distance, which the margin approaches). One-hot groups stay one-hot for trees.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..core.model import Model, wrap
from ..core.validation import check_int, check_real
from ._relu_milp import ReluMilp, dense_stages
from ._trees import (
    Domain,
    EnsembleMilp,
    MilpSolution,
    TreeEnsemble,
    is_tree,
    is_tree_ensemble,
    project,
)
from .flip_points import (
    _UNBOUNDED_SPAN,
    FlipConstraints,
    FlipPoint,
    _DenseReluScores,
    _exact_scores,
    _FiniteDifferenceScores,
    closest,
    pack_flip_point,
    register_solver,
)

__all__ = [
    "Certificate",
    "certify",
    "leaf_enumeration",
    "milp_applies",
    "milp_flip_point",
]

#: Hidden units above which the ReLU MILP refuses a network (the local solver applies).
MAX_UNITS = 256
_MILP_STATUS = {0: "optimal", 1: "time limit", 2: "infeasible", 3: "unbounded"}


# ====================================================================== shared
def _domain(x: np.ndarray, c: FlipConstraints, discrete_integers: bool) -> Domain:
    lower, upper = c.box(x)
    integer = c.integer & discrete_integers
    return Domain(x, lower, upper, c.scale, integer, c.groups, c.norm)


def _scores(model: Model, c: FlipConstraints) -> Any:
    """Logits of torch models, log-probabilities of the others (as the SLSQP path uses)."""
    return (
        _exact_scores(model)
        if model.source == "torch"
        else _FiniteDifferenceScores(model, c.scale)
    )


def _classes(model: Model, z: np.ndarray, classes: Sequence[int] | None) -> tuple[int, list[int]]:
    i = int(np.argmax(z))
    allowed = [k for k in (classes or range(model.n_classes)) if k != i]
    if not allowed:
        raise ValueError(
            f"classes={list(classes or [])} holds only the input's own class {i} "
            f"({model.class_names[i]!r}); name another class to flip to."
        )
    return i, allowed


def _check_time(time_limit: Any, mip_gap: Any) -> tuple[float, float]:
    return (
        check_real(time_limit, "time_limit", low=0.0, low_inclusive=False),
        check_real(mip_gap, "mip_gap", low=0.0, high=1.0),
    )


def _flip_point(
    model: Model,
    c: FlipConstraints,
    x: np.ndarray,
    i: int,
    j: int | None,
    point: np.ndarray | None,
    relaxed: np.ndarray | None,
    *,
    method: str,
    tol: float,
    scores: Any,
    z0: np.ndarray,
    meta: dict[str, Any],
    start: float,
    reason: str = "",
) -> FlipPoint:
    """Pack an exact solver's answer as a FlipPoint (same fields as the SLSQP path).

    ``scores`` is the solver's score function and ``z0`` its scores at ``x``.
    """
    meta["tolerance"] = tol * max(1.0, float(z0.max() - z0.min()))
    flip_point = pack_flip_point(
        model,
        c,
        scores,
        x,
        i,
        point=point,
        j=j,
        distance=None if point is None else float(c.distance(x, point)),
        relaxed=relaxed,
        tolerance=meta["tolerance"],
        approximate=False,
        method=method,
        meta=meta,
        start=start,
        reason=reason or "No counterfactual exists in the allowed space.",
    )
    if flip_point.feasible:
        z = flip_point.scores
        meta["predicted"] = int(np.argmax(z))
        meta["verified"] = meta["predicted"] == j or bool(abs(z[i] - z[j]) <= meta["tolerance"])
    return flip_point


def _status(code: int, gap: float, found: bool) -> str:
    name = _MILP_STATUS.get(code, "stopped")
    if code == 0:
        return "optimal"
    if found:
        return f"{name} (best found, proven gap {gap:.2%})"
    return f"{name} (none found)"


# ====================================================================== decision tree
def leaf_enumeration(
    model: Model,
    x: np.ndarray,
    constraints: FlipConstraints,
    *,
    classes: Sequence[int] | None = None,
    tol: float = 1e-4,
    margin: float = 1e-4,
) -> FlipPoint:
    r"""The exact closest counterfactual of one decision tree, by enumerating its leaves.

    Every leaf of an allowed class is a box :math:`\{lo < x \le hi\}`; its closest point
    in the scaled norm is found in closed form, and the nearest leaf wins (any of the L1,
    L2 or L-infinity norms). Registered as ``xw.flip.closest(..., method="leaves")`` and
    used by ``method="auto"`` for a ``DecisionTreeClassifier``.

    Parameters
    ----------
    model : Model
        A wrapped scikit-learn ``DecisionTreeClassifier`` (or ``ExtraTreeClassifier``).
    x : ndarray of shape (n_columns,)
        The flattened input.
    constraints : FlipConstraints
        The domain; integer features are whole where ``constraints.discrete``.
    classes : sequence of int, optional
        The classes to flip to (default: every other class).
    tol : float, default=1e-4
        Tolerance of a tie (reported in ``meta``; a tree has no ties).
    margin : float, default=1e-4
        Scale units past a threshold on the strict side of a split.

    Returns
    -------
    FlipPoint
        ``meta`` holds ``n_leaves`` (leaves of an allowed class), ``reachable`` (those
        the domain allows) and ``status`` ("optimal").

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> ds = xw.datasets.load_credit()
    >>> tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(ds.X_train, ds.y_train)
    >>> fp = xw.flip.closest(xw.wrap(tree, ds), ds.X_test[0], norm="l1")
    >>> fp.method, fp.meta["status"], fp.meta["verified"]
    ('leaves', 'optimal', True)
    """
    start = time.perf_counter()
    if not (model.source == "sklearn" and is_tree(model.predictor)):
        raise TypeError(
            "method='leaves' enumerates the leaves of one scikit-learn DecisionTreeClassifier; "
            f"this model wraps {type(model.predictor).__name__}. Use method='milp' for tree "
            "ensembles and small ReLU networks."
        )
    margin = check_real(margin, "margin", low=0.0)
    tree = TreeEnsemble.from_estimator(model.predictor, constraints.n_features, x).trees[0]
    scores = _scores(model, constraints)
    z0 = scores(x[None])[0]
    i, allowed = _classes(model, z0, classes)
    leaf_class = np.argmax(tree.values, axis=1)
    wanted = np.isin(leaf_class, allowed)
    domain = _domain(x, constraints, constraints.discrete)
    lo, hi = tree.lo[wanted], tree.hi[wanted]
    points, distances = project(domain, lo, hi, margin)
    meta: dict[str, Any] = {
        "n_leaves": int(wanted.sum()),
        "reachable": int(np.isfinite(distances).sum()),
        "margin": margin,
        "status": "optimal",
    }
    if not np.isfinite(distances).any():
        return _flip_point(
            model,
            constraints,
            x,
            i,
            None,
            None,
            None,
            method="leaves",
            tol=tol,
            scores=scores,
            z0=z0,
            meta=meta,
            start=start,
            reason=_unreachable(model, constraints, allowed, int(wanted.sum())),
        )
    best = int(np.argmin(distances))
    relaxed, _ = project(domain, lo[best : best + 1], hi[best : best + 1], margin, closure=True)
    j = int(leaf_class[wanted][best])
    meta["lower_bound"] = float(distances[best])
    return _flip_point(
        model,
        constraints,
        x,
        i,
        j,
        points[best],
        relaxed[0],
        method="leaves",
        tol=tol,
        scores=scores,
        z0=z0,
        meta=meta,
        start=start,
    )


def _unreachable(
    model: Model,
    c: FlipConstraints,
    allowed: list[int],
    n: int,
    *,
    none_of: str = "None of the",
    proof: str = "enumeration",
) -> str:
    """Why no counterfactual exists: the allowed leaves cannot be reached."""
    names = ", ".join(repr(model.class_names[k]) for k in allowed)
    free = ", ".join(c.free_features) or "none"
    return (
        f"{none_of} {n} leaves of class {names} can be reached while only {free} may "
        f"change within their bounds and directions: no counterfactual exists (proven by "
        f"{proof})."
    )


# ====================================================================== MILP
def milp_applies(model: Any) -> tuple[bool, str]:
    """Whether ``method="milp"`` can solve this model exactly, and why not if it cannot.

    The MILP takes scikit-learn trees, random forests, extra trees and binary gradient
    boosting, and torch ``nn.Sequential`` networks of Linear and ReLU layers with at
    most ``MAX_UNITS`` hidden units (a widget offers the local solver otherwise).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> milp_applies(xw.wrap(xw.zoo.train_mlp(ds), ds))
    (True, '')
    """
    model = wrap(model)
    if model.source == "sklearn":
        if is_tree(model.predictor) or is_tree_ensemble(model.predictor):
            return True, ""
        return False, (
            "The MILP encodes scikit-learn trees and tree ensembles; "
            f"{type(model.predictor).__name__} is not one (use the local solver, method='auto')."
        )
    if model.source != "torch":
        return False, "The MILP needs a tree model or a torch ReLU network; use method='auto'."
    scores = _DenseReluScores.from_model(model)
    if scores is None:
        return False, (
            "The ReLU MILP reads an nn.Sequential of Linear and ReLU layers (logits out); this "
            "network has other layers. Use the local solver (method='gradient')."
        )
    units = _hidden_units(scores)
    if units > MAX_UNITS:
        return False, (
            f"This network has {units} hidden units; the exact MILP is practical up to about "
            f"{MAX_UNITS} (its time grows exponentially with the unstable units). Use the "
            "local solver (method='gradient'), or pass max_units= to try anyway."
        )
    return True, ""


def milp_flip_point(
    model: Model,
    x: np.ndarray,
    constraints: FlipConstraints,
    *,
    classes: Sequence[int] | None = None,
    tol: float = 1e-4,
    time_limit: float = 60.0,
    mip_gap: float = 1e-6,
    margin: float = 1e-4,
    tighten: bool | str = "auto",
    shrink: bool = True,
    max_units: int = MAX_UNITS,
) -> FlipPoint:
    """The exact closest counterfactual (trees, ensembles) or flip point (ReLU nets) by MILP.

    Registered as ``xw.flip.closest(..., method="milp")`` and used by ``method="auto"``
    for random forests, extra trees and gradient boosting. Norms: L1 or L-infinity.

    Parameters
    ----------
    model : Model
        A scikit-learn tree, ``RandomForestClassifier``, ``ExtraTreesClassifier`` or binary
        ``GradientBoostingClassifier``, or a torch ``nn.Sequential`` of Linear/ReLU layers.
    x : ndarray of shape (n_columns,)
        The flattened input.
    constraints : FlipConstraints
        The domain (``norm`` must be ``"l1"`` or ``"linf"``).
    classes : sequence of int, optional
        The classes to flip to (default: every other class; one MILP each).
    tol : float, default=1e-4
        Tie tolerance, relative to the spread of the scores at ``x``.
    time_limit : float, default=60.0
        Seconds HiGHS may spend per class; it then returns the best point found.
    mip_gap : float, default=1e-6
        Relative gap between the best point and the proven lower bound at which HiGHS
        stops and calls the point optimal.
    margin : float, default=1e-4
        Trees: scale units past a threshold on the strict side of a split.
    tighten : bool or "auto", default="auto"
        ReLU nets: tighten the bounds of later layers by linear programs ("auto": when a
        layer has at most 64 unstable units, two small LPs each).
    shrink : bool, default=True
        ReLU nets: first find the local (SLSQP) flip point and search only the box
        ``|y_c - x_c| <= d * scale_c`` around ``x``, ``d`` its distance (no closer point
        lies outside it). Tighter ReLU bounds make the MILP much faster; the proof of
        optimality is unchanged.
    max_units : int, default=256
        ReLU nets: refuse networks with more hidden units.

    Returns
    -------
    FlipPoint
        ``meta``: ``status`` ("optimal", or the best found with its gap), ``lower_bound``
        (proven: no allowed point is closer), ``mip_gap``, ``n_binaries``, ``per_class``
        (each class's status) and for ReLU networks ``n_unstable`` and ``n_lp``. For a
        network, ``relaxed`` is the exact tie of the continuous problem and ``point`` the
        closest discrete point (integers and categories) whose class has changed.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> ds = xw.datasets.load_credit()
    >>> forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    >>> m = xw.wrap(forest.fit(ds.X_train, ds.y_train), ds)
    >>> fp = xw.flip.closest(m, ds.X_test[0], norm="l1", fixed=["group"])
    >>> fp.method, fp.meta["status"], bool(m.predict(fp.point)[0] != m.predict(ds.X_test[0])[0])
    ('milp', 'optimal', True)
    """
    start = time.perf_counter()
    time_limit, mip_gap = _check_time(time_limit, mip_gap)
    margin = check_real(margin, "margin", low=0.0)
    max_units = check_int(max_units, "max_units", low=1)
    if not isinstance(tighten, bool) and tighten != "auto":
        raise ValueError(f"tighten must be True, False or 'auto'; got {tighten!r}.")
    if model.source == "sklearn" and (
        is_tree(model.predictor) or is_tree_ensemble(model.predictor)
    ):
        return _ensemble(model, x, constraints, classes, tol, time_limit, mip_gap, margin, start)
    evaluator = _DenseReluScores.from_model(model) if model.source == "torch" else None
    if evaluator is None:
        raise TypeError(milp_applies(model)[1])
    units = _hidden_units(evaluator)
    if units > max_units:
        raise ValueError(
            f"This network has {units} hidden units, more than max_units={max_units}: the "
            "exact MILP would take too long (its time grows exponentially with the unstable "
            "units). Use the local solver (method='gradient'), or raise max_units."
        )
    return _relu(
        model,
        evaluator,
        x,
        constraints,
        classes,
        tol,
        time_limit,
        mip_gap,
        tighten,
        bool(shrink),
        start,
    )


def _hidden_units(evaluator: _DenseReluScores) -> int:
    return sum(layer[0].shape[0] for layer in evaluator.layers[:-1] if layer is not None)


def _ensemble(model, x, c, classes, tol, time_limit, mip_gap, margin, start) -> FlipPoint:
    ensemble = TreeEnsemble.from_estimator(model.predictor, c.n_features, x)
    scores = _scores(model, c)
    z0 = scores(x[None])[0]
    i, allowed = _classes(model, z0, classes)
    domain = _domain(x, c, c.discrete)
    problem = EnsembleMilp(ensemble, domain, margin)
    radius = _training_radius(model, x, c, allowed)
    best: tuple[float, int, np.ndarray, np.ndarray] | None = None
    per_class, bounds, statuses, binaries = {}, [], [], 0
    for j in allowed:
        solution = _deepening(problem, j, time_limit, mip_gap, radius)
        binaries = solution.n_binaries
        found = solution.leaves is not None
        per_class[model.class_names[j]] = _status(solution.status, solution.gap, found)
        statuses.append(solution.status)
        bounds.append(solution.lower_bound)
        if not found:
            continue
        lo, hi = problem.box(solution.leaves)
        point, distance = project(domain, lo, hi, margin)
        if not np.isfinite(distance[0]):
            continue
        relaxed, _ = project(domain, lo, hi, margin, closure=True)
        if best is None or distance[0] < best[0]:
            best = (float(distance[0]), j, point[0], relaxed[0])
    proven = all(s in (0, 2) for s in statuses)
    lower = float(np.min(bounds)) if bounds else float("inf")
    meta: dict[str, Any] = {
        "status": "optimal" if proven else next(v for v in per_class.values() if v != "optimal"),
        "per_class": per_class,
        "lower_bound": lower,
        "mip_gap": 0.0 if proven or best is None else max(0.0, 1 - lower / max(best[0], 1e-300)),
        "n_trees": len(ensemble.trees),
        "n_leaves": ensemble.n_leaves,
        "n_binaries": binaries,
        "margin": margin,
        "time_limit": time_limit,
        "radius": radius,
    }
    if best is None:
        reason = (
            _unreachable(
                model,
                c,
                allowed,
                ensemble.n_leaves,
                none_of="No combination of the",
                proof="the MILP",
            )
            if proven
            else f"HiGHS found no counterfactual within time_limit={time_limit:g} s."
        )
        return _flip_point(
            model,
            c,
            x,
            i,
            None,
            None,
            None,
            method="milp",
            tol=tol,
            scores=scores,
            z0=z0,
            meta=meta,
            start=start,
            reason=reason,
        )
    _, j, point, relaxed = best
    return _flip_point(
        model,
        c,
        x,
        i,
        j,
        point,
        relaxed,
        method="milp",
        tol=tol,
        scores=scores,
        z0=z0,
        meta=meta,
        start=start,
    )


def _deepening(
    problem: EnsembleMilp, j: int, time_limit: float, mip_gap: float, radius: float
) -> Any:
    """Solve within growing radii r/16, r/16 * sqrt(2), ..., r, then without a radius.

    ``r`` is the distance of a known counterfactual (a training point).

    Within radius r the program only keeps thresholds, categories and leaves reachable
    within r, and a row ``distance <= r``; it is small and fast. Its feasible set holds
    every point at most r away, so a point it finds is optimal overall, and when it is
    infeasible nothing lies within r (a proven lower bound); then r grows by sqrt(2).
    The time limit holds for the whole sequence.
    """
    deadline = time.perf_counter() + time_limit
    radii = [radius / 2 ** (k / 2) for k in range(8, -1, -1)] if np.isfinite(radius) else []
    proven_beyond = 0.0
    for r in [*radii, np.inf]:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            break
        solution = problem.solve(j, remaining, mip_gap, r)
        if solution.leaves is None and solution.status == 2 and np.isfinite(r):
            proven_beyond = r  # infeasible within r: nothing of class j is that close
            continue
        if solution.status != 2:
            bound = solution.lower_bound
            solution = dataclasses.replace(
                solution,
                lower_bound=max(bound, proven_beyond) if np.isfinite(bound) else proven_beyond,
            )
        return solution
    return MilpSolution(
        leaves=None,
        objective=np.inf,
        lower_bound=proven_beyond,
        gap=np.nan,
        status=1,
        message="time limit",
        n_binaries=0,
    )


_TRAINING_LABELS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _training_radius(model: Model, x: np.ndarray, c: FlipConstraints, allowed: list[int]) -> float:
    """Distance of the nearest training point of an allowed class inside the domain.

    An upper bound on the exact distance, which lets the MILP drop everything farther
    (``inf`` without a data set or such a point). The model's labels of the training
    rows are remembered per estimator; the point used is re-checked, so a refitted
    estimator never yields a wrong bound.
    """
    dataset = model.dataset
    if dataset is None:
        return np.inf
    rows = dataset.X_train.reshape(len(dataset.X_train), -1)
    key = (id(dataset.X_train), len(rows))
    cached = _TRAINING_LABELS.get(model.predictor)
    if cached is None or cached[0] != key:
        cached = (key, model.predict(dataset.X_train))
        _TRAINING_LABELS[model.predictor] = cached
    lower, upper = c.box(x)
    inside = np.all((rows >= lower) & (rows <= upper), axis=1) & np.isin(cached[1], allowed)
    if not inside.any():
        return np.inf
    candidates = rows[inside]
    distances = np.atleast_1d(c.distance(x, candidates))
    nearest = int(np.argmin(distances))
    if int(model.predict(candidates[nearest].reshape(model.input_shape))[0]) not in allowed:
        return np.inf
    return float(distances[nearest]) * (1 + 1e-9) + 1e-12


def _relu_box(x: np.ndarray, c: FlipConstraints) -> tuple[np.ndarray, np.ndarray]:
    """The domain's box, with unbounded sides cut at ``_UNBOUNDED_SPAN`` scale units."""
    lower, upper = c.box(x)
    span = _UNBOUNDED_SPAN * c.scale
    return (
        np.where(np.isfinite(lower), lower, x - span),
        np.where(np.isfinite(upper), upper, x + span),
    )


def _local_radius(
    model: Model, x: np.ndarray, c: FlipConstraints, allowed: list[int]
) -> dict[str, float]:
    """Distances of the local (SLSQP) flip point: upper bounds on the exact ones."""
    try:
        local = closest(
            model, x.reshape(model.input_shape), constraints=c, classes=allowed, method="gradient"
        )
    except (ValueError, TypeError):
        return {}
    if not local.feasible:
        return {}
    return {"relaxed": local.relaxed_distance, "point": local.distance}


def _relu(
    model, evaluator, x, c, classes, tol, time_limit, mip_gap, tighten, shrink, start
) -> FlipPoint:
    stages = dense_stages(evaluator.layers)
    W, b = stages[-1]
    if W.shape[0] == 1:  # one score z read as the logits (-z/2, z/2), as Model does
        stages[-1] = (np.vstack([-W / 2, W / 2]), np.concatenate([-b / 2, b / 2]))
    lower, upper = _relu_box(x, c)
    scores = _scores(model, c)
    z0 = scores(x[None])[0]
    i, allowed = _classes(model, z0, classes)
    discrete_free = c.discrete and bool(
        np.any((c.integer | _grouped(c)) & ~c.fixed & (upper > lower))
    )
    radius = _local_radius(model, x, c, allowed) if shrink else {}

    def solve(kind: str) -> tuple[ReluMilp, dict[int, Any]]:
        """Solve in the box shrunk to the local radius; the full box if nothing is found."""
        for r in (radius.get(kind, np.inf), np.inf):
            # No point closer than the local one lies outside |y_c - x_c| <= r s_c
            # (L1 and L-infinity alike): Tjeng et al.'s restricted input domain.
            budget = r * (1 + 1e-6) + 1e-9
            lo, hi = (
                np.maximum(lower, x - budget * c.scale),
                np.minimum(upper, x + budget * c.scale),
            )
            problem = ReluMilp(
                stages, x, lo, hi, c.scale, c.integer, c.groups, c.norm, tighten, budget
            )
            solutions = {
                j: problem.solve(
                    i,
                    j,
                    tie=kind == "relaxed",
                    discrete=kind == "point",
                    time_limit=time_limit,
                    mip_gap=mip_gap,
                )
                for j in allowed
            }
            if any(s.y is not None for s in solutions.values()) or not np.isfinite(r):
                return problem, solutions
        raise AssertionError("unreachable")

    problem, relaxed_solutions = solve("relaxed")
    results = {"relaxed": relaxed_solutions}
    if discrete_free:
        problem, results["point"] = solve("point")
    chosen = results["point"] if discrete_free else results["relaxed"]

    def nearest(solutions: dict[int, Any]) -> tuple[int | None, Any]:
        found = {j: s for j, s in solutions.items() if s.y is not None}
        if not found:
            return None, None
        j = min(found, key=lambda k: c.distance(x, found[k].y))
        return j, found[j]

    j, solution = nearest(chosen)
    j_relaxed, relaxed = nearest(results["relaxed"])
    proven = all(s.status in (0, 2) for s in chosen.values())
    lower_bound = float(min(s.lower_bound for s in chosen.values()))
    relaxed_proven = all(s.status in (0, 2) for s in results["relaxed"].values())
    per_class = {
        model.class_names[k]: _status(s.status, s.gap, s.y is not None) for k, s in chosen.items()
    }
    meta: dict[str, Any] = {
        "status": "optimal" if proven else next(v for v in per_class.values() if v != "optimal"),
        "per_class": per_class,
        "lower_bound": lower_bound,
        "relaxed_status": "optimal" if relaxed_proven else "not proven",
        "relaxed_lower_bound": float(min(s.lower_bound for s in results["relaxed"].values())),
        "n_binaries": max(s.n_binaries for s in chosen.values()),
        "n_unstable": problem.n_unstable,
        "n_lp": problem.n_lp,
        "tightened": problem.tightened,
        "box": (problem.lower, problem.upper),
        "local_radius": radius,
        "time_limit": time_limit,
        "relaxed_class": j_relaxed,
        "discrete_point": discrete_free,
    }
    if solution is not None:
        distance = float(c.distance(x, solution.y))
        meta["mip_gap"] = 0.0 if proven else max(0.0, 1 - lower_bound / max(distance, 1e-300))
    if solution is None:
        reason = (
            "No input of another class exists in the allowed box (proven by the MILP)."
            if proven
            else f"HiGHS found no flip point within time_limit={time_limit:g} s."
        )
        return _flip_point(
            model,
            c,
            x,
            i,
            None,
            None,
            None if relaxed is None else relaxed.y,
            method="milp",
            tol=tol,
            scores=scores,
            z0=z0,
            meta=meta,
            start=start,
            reason=reason,
        )
    return _flip_point(
        model,
        c,
        x,
        i,
        j,
        solution.y,
        None if relaxed is None else relaxed.y,
        method="milp",
        tol=tol,
        scores=scores,
        z0=z0,
        meta=meta,
        start=start,
    )


def _grouped(c: FlipConstraints) -> np.ndarray:
    mask = np.zeros(c.n_features, dtype=bool)
    for group in c.groups:
        mask[list(group)] = True
    return mask


# ====================================================================== certificate
@dataclass(frozen=True)
class Certificate:
    """How far a local flip point is from the certified closest one.

    Attributes
    ----------
    table : DataFrame
        One row per problem compared (``relaxed``: the continuous flip point; ``point``:
        the discrete one when discrete features may change) with the local distance, the
        certified optimum, the proven lower bound, the gap ``local - lower bound`` and
        the relative gap.
    exact : FlipPoint
        The MILP's flip point.
    status : str
        "optimal", or the best found within the time limit.
    """

    table: pd.DataFrame
    exact: FlipPoint
    status: str

    @property
    def gap(self) -> float:
        """Local minus proven-lower-bound distance of the relaxed flip point (>= 0)."""
        return float(self.table.iloc[0]["gap"])

    @property
    def relative_gap(self) -> float:
        """:attr:`gap` over the local distance: 0 means the local point is optimal."""
        return float(self.table.iloc[0]["relative gap"])

    def _repr_html_(self) -> str:
        table = self.table.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<p><b>Certificate</b> ({self.status})</p>{table}"

    def __repr__(self) -> str:
        return (
            f"Certificate(status={self.status!r}, gap={self.gap:.3g}, "
            f"relative_gap={self.relative_gap:.2%})"
        )


def certify(
    fp: FlipPoint, *, time_limit: float = 60.0, mip_gap: float = 1e-6, max_units: int = MAX_UNITS
) -> Certificate:
    """Certify a local flip point of a ReLU network against the exact MILP optimum.

    The MILP solves the same problem (same model, input, :class:`FlipConstraints`) to
    proven optimality; the gap is the local point's distance minus the proven lower
    bound (0 when SLSQP found the global optimum).

    Parameters
    ----------
    fp : FlipPoint
        From ``xw.flip.closest(model, x, norm="l1" or "linf")`` with a torch ReLU network.
    time_limit, mip_gap, max_units
        As in :func:`milp_flip_point`.

    Returns
    -------
    Certificate

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds, hidden=(8,)), ds)
    >>> fp = xw.flip.closest(m, ds.X_test[0], norm="l1", discrete=False)
    >>> cert = xw.flip.certify(fp)
    >>> cert.status, cert.gap >= -1e-6
    ('optimal', True)
    """
    if not isinstance(fp, FlipPoint):
        raise TypeError(f"fp must be a FlipPoint; got {type(fp).__name__}.")
    if fp.model is None:
        raise ValueError(
            "This FlipPoint was stored without its model; get it from xw.flip.closest."
        )
    exact = closest(
        fp.model,
        fp.x,
        constraints=fp.constraints,
        method="milp",
        time_limit=time_limit,
        mip_gap=mip_gap,
        max_units=max_units,
    )
    relaxed_bound = exact.meta.get("relaxed_lower_bound", exact.meta["lower_bound"])
    problems = [("relaxed", fp.relaxed_distance, exact.relaxed_distance, relaxed_bound)]
    if exact.meta.get("discrete_point", False):
        problems.append(("point", fp.distance, exact.distance, exact.meta["lower_bound"]))
    rows = []
    for name, local, optimum, bound in problems:
        bound = min(bound, optimum)
        rows.append(
            {
                "problem": name,
                "local": local,
                "certified optimum": optimum,
                "lower bound": bound,
                "gap": local - bound,
                "relative gap": (local - bound) / local if local > 0 else 0.0,
            }
        )
    return Certificate(pd.DataFrame(rows), exact, exact.meta["status"])


# ====================================================================== registration
def _is_sklearn_tree(model: Model, constraints: FlipConstraints) -> bool:
    return model.source == "sklearn" and is_tree(model.predictor)


def _is_sklearn_ensemble(model: Model, constraints: FlipConstraints) -> bool:
    """Ensembles in L1 or L-infinity (the MILP's norms; L2 falls back to bisection)."""
    return (
        model.source == "sklearn"
        and is_tree_ensemble(model.predictor)
        and constraints.norm in ("l1", "linf")
    )


register_solver("leaves", leaf_enumeration, applies_to=_is_sklearn_tree)
register_solver("milp", milp_flip_point, applies_to=_is_sklearn_ensemble)
