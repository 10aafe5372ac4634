r"""scikit-learn trees read as boxes, and the mixed-integer program of a tree ensemble.

A decision tree partitions the input space into axis-aligned boxes, one per leaf: the
path to a leaf says, for every split on its way, ``x_f <= threshold`` (left) or
``x_f > threshold`` (right). scikit-learn compares ``float32(x_f)`` with the float64
threshold, so the limits used here are float32-exact: the left side ends at the largest
float32 number ``<= threshold``; the strict right side starts at the smallest float32
number ``> threshold`` and, with the margin :math:`\epsilon` (in scale units), at
``threshold + epsilon * scale`` (the strict inequality made closed: the course's
"margin fix").

:func:`project` finds the closest point of many boxes at once in closed form (the norm
is separable: clip every continuous feature, round the limits of integer features
inward, pick the cheapest allowed category of every one-hot group). :class:`EnsembleMilp`
is the mixed-integer program of Parmentier & Vidal, "Optimal Counterfactual Explanations
in Tree Ensembles" (ICML 2021), which extends Cui et al., "Optimal Action Extraction
for Random Forests and Boosted Trees" (KDD 2015): one variable per leaf
(:math:`\lambda`; binary, although integral once the splits are decided: branching on
leaves helps HiGHS find good points early), one binary per
distinct split threshold of a feature (:math:`\mu_{f,k} = 1` iff :math:`x_f >
\theta_{f,k}`, ordered :math:`\mu_{f,k} \ge \mu_{f,k+1}`), the leaves of a node's left
subtree allowed only when :math:`\mu = 0` and of its right subtree only when
:math:`\mu = 1` (their Eqs. 3-4), the feature value tied to the thresholds by linear
big-M constraints, and the class vote (random forests, extra trees: the mean of the
leaves' class probabilities) or the margin (binary gradient boosting: the raw score)
as linear constraints. The objective is the weighted L1 or L-infinity norm of the
change.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_matrix

__all__ = ["EnsembleMilp", "TreeEnsemble", "is_tree", "is_tree_ensemble", "project"]

#: Strict vote or margin: the class must win by this much (probability or raw-score units).
VOTE_MARGIN = 1e-6


def _tree_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    trees = (DecisionTreeClassifier, ExtraTreeClassifier)
    return trees, (RandomForestClassifier, ExtraTreesClassifier, GradientBoostingClassifier)


def is_tree(predictor: object) -> bool:
    """Whether ``predictor`` is one fitted scikit-learn decision tree classifier."""
    return isinstance(predictor, _tree_types()[0]) and hasattr(predictor, "tree_")


def is_tree_ensemble(predictor: object) -> bool:
    """Whether ``predictor`` is a fitted forest, extra-trees or gradient-boosting classifier."""
    return isinstance(predictor, _tree_types()[1]) and hasattr(predictor, "estimators_")


# ====================================================================== float32 limits
def strict_lower(threshold: np.ndarray, extra: np.ndarray | float = 0.0) -> np.ndarray:
    """The smallest value ``v >= threshold + extra`` with ``float32(v) > threshold``."""
    t = np.asarray(threshold, dtype=np.float64)
    finite = np.isfinite(t)
    t32 = np.where(finite, t, 0.0).astype(np.float32)
    above = np.where(t32.astype(np.float64) > t, t32, np.nextafter(t32, np.float32(np.inf)))
    return np.where(finite, np.maximum(above.astype(np.float64), t + extra), t)


def inclusive_upper(threshold: np.ndarray) -> np.ndarray:
    """The largest value ``v`` with ``float32(v) <= threshold``."""
    t = np.asarray(threshold, dtype=np.float64)
    finite = np.isfinite(t)
    t32 = np.where(finite, t, 0.0).astype(np.float32)
    below = np.where(t32.astype(np.float64) <= t, t32, np.nextafter(t32, np.float32(-np.inf)))
    return np.where(finite, below.astype(np.float64), t)


# ====================================================================== trees as boxes
@dataclass
class Tree:
    """One tree: its leaves as boxes ``lo < x <= hi`` and its internal splits."""

    leaves: np.ndarray  # node ids of the leaves
    lo: np.ndarray  # (n_leaves, d): strict lower thresholds (-inf where none)
    hi: np.ndarray  # (n_leaves, d): inclusive upper thresholds (inf where none)
    values: np.ndarray  # (n_leaves, n_outputs): class probabilities or a raw value
    splits: list[tuple[int, float, np.ndarray, np.ndarray]]  # feature, threshold, left, right


def read_tree(tree: object, n_features: int) -> Tree:
    """The leaves (as boxes) and splits of a fitted ``sklearn.tree._tree.Tree``."""
    left, right = tree.children_left, tree.children_right
    feature, threshold, value = tree.feature, tree.threshold, tree.value
    leaves: list[int] = []
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []
    below: dict[int, list[int]] = {}  # node -> positions of the leaves under it
    order: list[int] = []
    stack = [(0, np.full(n_features, -np.inf), np.full(n_features, np.inf))]
    while stack:
        node, lo, hi = stack.pop()
        order.append(node)
        if left[node] == -1:
            below[node] = [len(leaves)]
            leaves.append(node)
            lows.append(lo)
            highs.append(hi)
            continue
        f, t = int(feature[node]), float(threshold[node])
        lo_r, hi_l = lo.copy(), hi.copy()
        hi_l[f] = min(hi_l[f], t)
        lo_r[f] = max(lo_r[f], t)
        stack.append((int(right[node]), lo_r, hi))
        stack.append((int(left[node]), lo, hi_l))
    for node in reversed(order):  # children before parents
        if left[node] != -1:
            below[node] = below[int(left[node])] + below[int(right[node])]
    splits = [
        (
            int(feature[node]),
            float(threshold[node]),
            np.array(below[int(left[node])]),
            np.array(below[int(right[node])]),
        )
        for node in order
        if left[node] != -1
    ]
    ids = np.array(leaves)
    raw = value[ids].reshape(len(ids), -1).astype(np.float64)
    return Tree(ids, np.array(lows), np.array(highs), raw, splits)


@dataclass
class TreeEnsemble:
    """The trees of a scikit-learn classifier and how their leaves combine into a class.

    ``kind`` is ``"vote"`` (mean of the leaves' class probabilities: one tree, random
    forests, extra trees) or ``"margin"`` (binary gradient boosting: the raw score
    ``base + learning_rate * sum of leaf values``, class 1 where it is positive).
    """

    trees: list[Tree]
    kind: str
    n_classes: int
    learning_rate: float = 1.0
    base: float = 0.0

    @classmethod
    def from_estimator(cls, estimator: object, n_features: int, x: np.ndarray) -> TreeEnsemble:
        """Read a fitted tree, forest, extra-trees or binary gradient-boosting classifier.

        ``x`` (one flat input) recovers the boosting model's initial raw score.
        """
        from sklearn.ensemble import GradientBoostingClassifier

        n_classes = len(estimator.classes_)
        if is_tree(estimator):
            return cls([_read_classifier_tree(estimator, n_features)], "vote", n_classes)
        if isinstance(estimator, GradientBoostingClassifier):
            if n_classes != 2:
                raise ValueError(
                    "The exact counterfactual of a gradient-boosting classifier is encoded for "
                    f"two classes (one raw score); this one has {n_classes}. Use a random "
                    "forest, or method='derivative-free'."
                )
            stages = [row[0] for row in estimator.estimators_]
            trees = [read_tree(t.tree_, n_features) for t in stages]
            rate = float(estimator.learning_rate)
            raw = float(np.ravel(estimator.decision_function(x[None]))[0])
            total = sum(float(t.predict(x[None].astype(np.float32))[0]) for t in stages)
            return cls(trees, "margin", 2, learning_rate=rate, base=raw - rate * total)
        trees = [_read_classifier_tree(t, n_features) for t in estimator.estimators_]
        return cls(trees, "vote", n_classes)

    @property
    def n_leaves(self) -> int:
        return sum(len(t.leaves) for t in self.trees)


def _read_classifier_tree(estimator: object, n_features: int) -> Tree:
    tree = read_tree(estimator.tree_, n_features)
    totals = tree.values.sum(axis=1, keepdims=True)
    # Class fractions per leaf, as predict_proba averages them (older scikit-learn stored
    # counts, newer ones store fractions).
    tree.values = tree.values / np.where(totals > 0, totals, 1.0)
    return tree


# ====================================================================== closed-form projection
@dataclass(frozen=True)
class Domain:
    """What a projection needs from FlipConstraints, for one input ``x``."""

    x: np.ndarray
    lower: np.ndarray  # closed limits from bounds, monotone directions and locks
    upper: np.ndarray
    scale: np.ndarray
    integer: np.ndarray  # integer columns held to whole numbers (discrete domains)
    groups: tuple[tuple[int, ...], ...]  # one-hot groups (always one-hot for trees)
    norm: str


def limits(
    domain: Domain, lo: np.ndarray, hi: np.ndarray, margin: float, closure: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Closed limits ``[a, b]`` of boxes ``lo < x <= hi`` intersected with the domain.

    With ``closure`` the boxes are closed (``[lo, hi]``: the boundary point, the infimum
    of the distance); otherwise the strict side starts ``margin`` scale units past ``lo``
    and both sides are float32-exact. Integer columns get whole-number limits.
    """
    if closure:
        a, b = lo.copy(), hi.copy()
    else:
        # No margin for a locked feature: its own value is valid on either side.
        extra = np.where(domain.lower < domain.upper, margin * domain.scale, 0.0)
        a, b = strict_lower(lo, extra), inclusive_upper(hi)
    integer = domain.integer
    if integer.any():
        a[..., integer] = np.floor(lo[..., integer]) + 1  # the smallest whole number > lo
        b[..., integer] = np.floor(hi[..., integer])
    a = np.maximum(a, domain.lower)
    b = np.minimum(b, domain.upper)
    if integer.any():
        a[..., integer] = np.maximum(a[..., integer], np.ceil(domain.lower[integer]))
        b[..., integer] = np.minimum(b[..., integer], np.floor(domain.upper[integer]))
    return a, b


def project(
    domain: Domain, lo: np.ndarray, hi: np.ndarray, margin: float, closure: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The closest point of each box ``lo < x <= hi`` (rows) and its scaled distance.

    Separable norms make this closed form: every continuous or integer column is
    clipped into its limits; every one-hot group takes its cheapest category whose
    columns fit the box. Infeasible boxes get distance ``inf``.

    Returns
    -------
    points : ndarray of shape (n_boxes, d)
    distances : ndarray of shape (n_boxes,)
    """
    lo, hi = np.atleast_2d(lo), np.atleast_2d(hi)
    a, b = limits(domain, lo, hi, margin, closure)
    x, s = domain.x, domain.scale
    points = np.clip(np.broadcast_to(x, a.shape), a, b)
    feasible = np.all(a <= b, axis=1)
    cost = np.abs(points - x) / s
    in_group = np.zeros(len(x), dtype=bool)
    for group in domain.groups:
        cols = np.array(group)
        in_group[cols] = True
        # Category k: column k is 1, the others 0; allowed when the box admits those values.
        onehot = np.eye(len(cols))
        allowed = np.all(
            (a[:, None, cols] <= onehot[None]) & (onehot[None] <= b[:, None, cols]), axis=2
        )
        moves = np.abs(onehot - x[cols]) / s[cols]  # (k, len(cols))
        each = norm_of_parts(moves, domain.norm)
        options = np.where(allowed, each[None], np.inf)
        best = np.argmin(options, axis=1)
        feasible &= np.isfinite(options[np.arange(len(best)), best])
        points[:, cols] = onehot[best]
        cost[:, cols] = moves[best]
    feasible &= np.all(a[:, ~in_group] <= b[:, ~in_group], axis=1)
    distances = np.where(feasible, norm_of_parts(cost, domain.norm), np.inf)
    return points, distances


def norm_of_parts(cost: np.ndarray, norm: str) -> np.ndarray:
    """The ``"l1"``, ``"l2"`` or ``"linf"`` norm of non-negative parts (the last axis)."""
    if norm == "l1":
        return cost.sum(axis=-1)
    if norm == "linf":
        return cost.max(axis=-1, initial=0.0)
    return np.sqrt((cost**2).sum(axis=-1))


# ====================================================================== ensemble MILP
class _Rows:
    """Sparse constraint rows ``lower <= A v <= upper``, collected one block at a time."""

    def __init__(self) -> None:
        self.rows: list[int] = []
        self.cols: list[int] = []
        self.vals: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []

    def add(self, coefficients: dict[int, float], lower: float, upper: float) -> None:
        r = len(self.lower)
        for col, val in coefficients.items():
            if val != 0.0:
                self.rows.append(r)
                self.cols.append(col)
                self.vals.append(float(val))
        self.lower.append(float(lower))
        self.upper.append(float(upper))

    def constraint(self, n_vars: int) -> LinearConstraint:
        matrix = coo_matrix(
            (self.vals, (self.rows, self.cols)), shape=(len(self.lower), n_vars)
        ).tocsr()
        return LinearConstraint(matrix, np.array(self.lower), np.array(self.upper))


@dataclass(frozen=True)
class MilpOutcome:
    """How a HiGHS solve ended: objective, proven lower bound, relative gap, status."""

    objective: float
    lower_bound: float
    gap: float
    status: int
    message: str
    n_binaries: int

    def shifted(self, constant: float) -> dict[str, Any]:
        """The fields by name, objective and bound moved by a constant.

        The constant is the part of the objective left out of the objective vector.
        """
        return {
            **vars(self),
            "objective": self.objective + constant,
            "lower_bound": self.lower_bound + constant,
        }


def solve_milp(
    objective: np.ndarray,
    rows: _Rows,
    kinds: list[int],
    low: list[float],
    high: list[float],
    *,
    time_limit: float,
    mip_gap: float,
) -> tuple[np.ndarray | None, MilpOutcome]:
    """Minimise ``objective @ v`` over the rows with SciPy's ``milp`` (HiGHS).

    Returns the solution (None when none was found) and the outcome: on an infeasible
    problem (status 2) the bound is +inf; on a time limit without a solution it is
    HiGHS's dual bound where reported.
    """
    result = milp(
        objective,
        constraints=rows.constraint(len(low)),
        integrality=np.array(kinds),
        bounds=Bounds(np.array(low), np.array(high)),
        options={"time_limit": time_limit, "mip_rel_gap": mip_gap, "disp": False},
    )
    n_binaries = int(np.sum(kinds))
    bound = getattr(result, "mip_dual_bound", None)
    status, message = int(result.status), str(result.message)
    if result.x is None:
        lower = np.inf if status == 2 else (np.nan if bound is None else float(bound))
        return None, MilpOutcome(np.inf, lower, np.nan, status, message, n_binaries)
    gap = getattr(result, "mip_gap", None)
    objective_value = float(result.fun)
    lower = objective_value if bound is None else float(bound)
    gap_value = 0.0 if gap is None else float(gap)
    return result.x, MilpOutcome(objective_value, lower, gap_value, status, message, n_binaries)


@dataclass(frozen=True)
class MilpSolution(MilpOutcome):
    """What a MILP solve returned: the chosen leaf of each tree, and how it ended."""

    leaves: list[int] | None  # position of the chosen leaf in each tree


class EnsembleMilp:
    """The closest input whose class is ``j``, as a MILP over leaves and thresholds.

    Parameters
    ----------
    ensemble : TreeEnsemble
    domain : Domain
    margin : float
        Scale units past a threshold on its strict side.
    """

    def __init__(self, ensemble: TreeEnsemble, domain: Domain, margin: float) -> None:
        if domain.norm not in ("l1", "linf"):
            raise ValueError(
                "The tree-ensemble MILP minimises the L1 or L-infinity norm; "
                f"norm={domain.norm!r} would need a quadratic mixed-integer program. Use "
                "norm='l1' or 'linf' (one decision tree takes any norm with method='leaves')."
            )
        self.ensemble, self.domain, self.margin = ensemble, domain, margin
        # The distinct thresholds of each feature the trees split on (any class, radius).
        self._split = {
            c: np.unique([t for tree in ensemble.trees for f, t, *_ in tree.splits if f == c])
            for c in {f for tree in ensemble.trees for f, *_ in tree.splits}
        }

    @functools.cached_property
    def _leaf_distances(self) -> list[np.ndarray]:
        """Per tree, the scaled distance from ``x`` to each leaf's box (any class, radius)."""
        return [project(self.domain, t.lo, t.hi, self.margin)[1] for t in self.ensemble.trees]

    def solve(
        self, j: int, time_limit: float, mip_gap: float, radius: float = np.inf
    ) -> MilpSolution:
        """Solve for class ``j``; the leaves chosen, the objective and the proven bound.

        Variables: ``mu`` per distinct threshold of a numeric feature, a binary per
        column of a one-hot group that the trees split on, ``lambda`` per leaf, and ``t``
        for the L-infinity norm. Moving feature f past its thresholds costs the sum of
        the increments between consecutive limits (telescoping to the distance from
        ``x_f`` to the nearest point of the new interval), so the objective is linear in
        ``mu`` without a variable for ``x_f`` and without big-M constants.

        With a finite ``radius`` (the distance of a known counterfactual), thresholds,
        categories and leaves that alone cost more than ``radius`` are fixed out before
        HiGHS sees them: nothing closer is lost, and the program shrinks several-fold.
        """
        e, dom = self.ensemble, self.domain
        x, s = dom.x, dom.scale
        low: list[float] = []
        high: list[float] = []
        kinds: list[int] = []

        def new(lo: float, hi: float, kind: int) -> int:
            low.append(lo)
            high.append(hi)
            kinds.append(kind)
            return len(low) - 1

        rows = _Rows()
        cost: dict[int, float] = {}
        constant = 0.0
        # Per feature: its cost as (coefficients on variables, constant) for L-infinity.
        feature_costs: list[tuple[dict[int, float], float]] = []
        split = self._split
        mu: dict[tuple[int, float], int] = {}
        grouped = {c: g for g in dom.groups for c in g}
        # ---- one-hot groups that a tree splits on: one binary per column, sum 1
        binaries: dict[int, int] = {}
        for group in dom.groups:
            if not set(group) & set(split):
                continue
            current = [c for c in group if x[c] >= 0.5]
            for c in group:
                switch = norm_of_parts(
                    np.array([1.0 / s[c], *(1.0 / s[current])]), dom.norm
                )  # moving to category c from x's
                fixed = dom.lower[c] == dom.upper[c] or (x[c] < 0.5 and switch > radius)
                value = float(x[c]) if fixed else None
                binaries[c] = new(
                    value if fixed else max(0.0, np.ceil(dom.lower[c])),
                    value if fixed else min(1.0, np.floor(dom.upper[c])),
                    1,
                )
            rows.add({binaries[c]: 1.0 for c in group}, 1.0, 1.0)
            moved = {}
            for c in group:  # |g_c - x_c| / s_c is linear in the binary g_c
                sign = -1.0 if x[c] >= 0.5 else 1.0
                moved[binaries[c]] = sign / s[c]
                constant_c = (1.0 if x[c] >= 0.5 else 0.0) / s[c]
                if dom.norm == "l1":
                    cost[binaries[c]] = cost.get(binaries[c], 0.0) + sign / s[c]
                    constant += constant_c
                else:
                    feature_costs.append(({binaries[c]: sign / s[c]}, constant_c))
        # ---- numeric features: ordered threshold binaries and their telescoping cost
        for c, thresholds in split.items():
            if c in grouped:
                for t in thresholds:  # x_c in {0, 1}: "x_c > t" is g_c, or a constant
                    if 0.0 <= t < 1.0:
                        mu[(c, t)] = binaries[c]
                    else:
                        mu[(c, t)] = new(float(t < 0), float(t < 0), 1)
                continue
            if dom.integer[c]:
                strict, inclusive = np.floor(thresholds) + 1, np.floor(thresholds)
            else:
                extra = self.margin * s[c] if dom.lower[c] < dom.upper[c] else 0.0
                strict = strict_lower(thresholds, extra)
                inclusive = inclusive_upper(thresholds)
            now = (np.float32(x[c]) > thresholds).astype(float)  # x's side of each threshold
            variables = []
            for k, t in enumerate(thresholds):
                # reach "x > t" / "x <= t" within the domain (and the radius)
                can_pass = strict[k] <= min(dom.upper[c], x[c] + radius * s[c])
                can_stay = inclusive[k] >= max(dom.lower[c], x[c] - radius * s[c])
                lo = 0.0 if can_stay else 1.0
                hi = 1.0 if can_pass else 0.0
                if lo > hi:  # x sits within the margin and may not move: keep its side
                    lo = hi = now[k]
                variables.append(new(lo, hi, 1))
                mu[(c, t)] = variables[-1]
            m0 = int(now.sum())
            terms: dict[int, float] = {}
            base = 0.0
            for k, v in enumerate(variables):
                if k + 1 < len(variables):
                    rows.add({variables[k + 1]: 1.0, v: -1.0}, -np.inf, 0.0)  # ordered
                    if strict[k] > inclusive[k + 1]:  # no value between: pass both or neither
                        rows.add({v: 1.0, variables[k + 1]: -1.0}, -np.inf, 0.0)
                if k >= m0:  # passing threshold k (upwards) costs the next increment
                    previous = x[c] if k == m0 else strict[k - 1]
                    terms[v] = terms.get(v, 0.0) + max(strict[k] - previous, 0.0) / s[c]
                else:  # staying below threshold k (downwards): 1 - mu costs
                    following = x[c] if k == m0 - 1 else inclusive[k + 1]
                    step = max(following - inclusive[k], 0.0) / s[c]
                    terms[v] = terms.get(v, 0.0) - step
                    base += step
            if dom.norm == "l1":
                for v, w in terms.items():
                    cost[v] = cost.get(v, 0.0) + w
                constant += base
            else:
                feature_costs.append((terms, base))
        # ---- leaves consistent with the thresholds (Parmentier & Vidal, Eqs. 3-4)
        lam = []
        for k, tree in enumerate(e.trees):
            # A leaf whose box alone lies farther than the radius cannot hold the answer.
            reach = self._leaf_distances[k] if np.isfinite(radius) else None
            lam.append(
                [
                    new(0.0, 1.0 if reach is None or reach[p] <= radius else 0.0, 1)
                    for p in range(len(tree.leaves))
                ]
            )
        for tree, leaves in zip(e.trees, lam, strict=True):
            rows.add({v: 1.0 for v in leaves}, 1.0, 1.0)
            for f, t, left, right in tree.splits:
                m = mu[(f, t)]
                rows.add({**{leaves[p]: 1.0 for p in left}, m: 1.0}, -np.inf, 1.0)
                rows.add({**{leaves[p]: 1.0 for p in right}, m: -1.0}, -np.inf, 0.0)
        # ---- the class
        if e.kind == "vote":
            for k in range(e.n_classes):
                if k != j:
                    coefficients = {
                        v: tree.values[p, j] - tree.values[p, k]
                        for tree, leaves in zip(e.trees, lam, strict=True)
                        for p, v in enumerate(leaves)
                    }
                    rows.add(coefficients, VOTE_MARGIN * len(e.trees), np.inf)
        else:
            coefficients = {
                v: e.learning_rate * tree.values[p, 0]
                for tree, leaves in zip(e.trees, lam, strict=True)
                for p, v in enumerate(leaves)
            }
            if j == 1:
                rows.add(coefficients, VOTE_MARGIN - e.base, np.inf)
            else:
                rows.add(coefficients, -np.inf, -VOTE_MARGIN - e.base)
        # ---- the objective
        if dom.norm == "linf":
            t_var = new(0.0, np.inf, 0)
            for terms, base in feature_costs:  # t >= cost of each feature
                rows.add({t_var: 1.0, **{v: -w for v, w in terms.items()}}, base, np.inf)
            cost = {t_var: 1.0}
            constant = 0.0
        objective = np.zeros(len(low))
        for v, w in cost.items():
            objective[v] += w
        if np.isfinite(radius):
            rows.add(cost, -np.inf, radius - constant)  # no farther than the known point
        x, outcome = solve_milp(
            objective, rows, kinds, low, high, time_limit=time_limit, mip_gap=mip_gap
        )
        if x is None:
            return MilpSolution(leaves=None, **outcome.shifted(constant))
        chosen = [int(np.argmax(x[leaves])) for leaves in lam]
        return MilpSolution(leaves=chosen, **outcome.shifted(constant))

    def box(self, chosen: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """The intersection of the chosen leaves' boxes."""
        lo = np.max([tree.lo[p] for tree, p in zip(self.ensemble.trees, chosen, strict=True)], 0)
        hi = np.min([tree.hi[p] for tree, p in zip(self.ensemble.trees, chosen, strict=True)], 0)
        return lo, hi
