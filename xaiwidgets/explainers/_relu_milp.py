r"""The closest flip point of a small ReLU network as a mixed-integer linear program.

Tjeng, Xiao & Tedrake, "Evaluating Robustness of Neural Networks with Mixed Integer
Programming" (ICLR 2019). Every hidden unit :math:`h = \max(0, \hat z)` with
pre-activation :math:`\hat z = W h_{prev} + b` bounded by :math:`l \le \hat z \le u` over
the input box is either fixed (:math:`u \le 0`: :math:`h = 0`; :math:`l \ge 0`:
:math:`h = \hat z`) or gets a binary :math:`a` and the big-M constraints (their Eq. 5)

.. math::

    h \ge 0,\quad h \ge \hat z,\quad h \le \hat z - l (1 - a),\quad h \le u\, a.

The bounds come from interval arithmetic, layer by layer, and are tightened by linear
programs over the triangle relaxation of the earlier layers (their Sec. 4.1,
"progressive bounds tightening") where that is cheap; tighter bounds mean fewer
binaries and a stronger relaxation. The logits are affine in the last hidden layer, so
the class conditions are linear: a tie :math:`z_i = z_j \ge z_k` (a flip point) or a
class change :math:`z_j \ge z_k` (a counterfactual with discrete features). The
objective is the scaled L1 or L-infinity norm of the change, linearised with one
variable per feature (and one for the maximum).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, milp

from ._trees import MilpOutcome, _Rows, solve_milp

__all__ = ["ReluMilp", "dense_stages"]

#: "auto" tightening: layers with at most this many unstable units (two LPs each).
TIGHTEN_UNITS = 64


def dense_stages(layers: list) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(W, b), ...]`` with a ReLU after each but the last, from the fast evaluator's layers.

    ``layers`` holds ``(W, b)`` for a Linear layer and ``None`` for a ReLU (see
    ``_DenseReluScores``); consecutive Linear layers are composed.
    """
    stages: list[tuple[np.ndarray, np.ndarray]] = []
    pending: tuple[np.ndarray, np.ndarray] | None = None
    width = None
    for layer in layers:
        if layer is None:
            if pending is None:  # a ReLU on the input or twice in a row: identity map first
                pending = (np.eye(width), np.zeros(width)) if width is not None else None
                if pending is None:
                    raise TypeError("A ReLU before the first Linear layer is not supported.")
            stages.append(pending)
            pending = None
            continue
        W, b = layer
        width = W.shape[0]
        pending = (W, b) if pending is None else (W @ pending[0], W @ pending[1] + b)
    if pending is None:
        raise TypeError("The network must end with a Linear layer (the logits).")
    stages.append(pending)
    return stages


@dataclass(frozen=True)
class ReluSolution(MilpOutcome):
    """A solved ReLU MILP: the input found, and how the solve ended."""

    y: np.ndarray | None


class ReluMilp:
    """The flip-point MILP of one network over one input box.

    Parameters
    ----------
    stages : list of (W, b)
        Affine maps with a ReLU after each but the last (the logits).
    x : ndarray of shape (d,)
        The input.
    lower, upper : ndarray of shape (d,)
        A finite box around ``x`` (bounds, locks and monotone directions applied).
    scale : ndarray of shape (d,)
    integer : ndarray of bool
        Integer columns.
    groups : tuple of tuple of int
        One-hot groups (sum to one; binary when discrete).
    norm : {"l1", "linf"}
    tighten : bool or "auto"
        Tighten the bounds of the hidden layers by linear programs ("auto": layers with
        at most ``TIGHTEN_UNITS`` unstable units; the first layer only where the domain
        is more than a box: one-hot sums or an L1 budget).
    budget : float, default=inf
        A known upper bound on the scaled distance (a point that distance away is
        known): only inputs within it are searched, as linear rows in every program.
    """

    def __init__(
        self,
        stages: list[tuple[np.ndarray, np.ndarray]],
        x: np.ndarray,
        lower: np.ndarray,
        upper: np.ndarray,
        scale: np.ndarray,
        integer: np.ndarray,
        groups: tuple[tuple[int, ...], ...],
        norm: str,
        tighten: bool | str,
        budget: float = np.inf,
    ) -> None:
        if norm not in ("l1", "linf"):
            raise ValueError(
                f"The ReLU MILP minimises the L1 or L-infinity norm; norm={norm!r} would need a "
                "quadratic mixed-integer program. Use norm='l1' or 'linf', or the local "
                "solver (method='gradient') for L2."
            )
        self.stages, self.x, self.scale = stages, x, scale
        self.lower, self.upper = lower, upper
        self.integer, self.groups, self.norm = integer, groups, norm
        self.budget = float(budget)
        self.n_lp = 0
        self.tightened = False
        self.bounds = self._interval_bounds(tighten)

    # ------------------------------------------------------------------ bounds
    def _interval_bounds(self, tighten: bool) -> list[tuple[np.ndarray, np.ndarray]]:
        """Pre-activation bounds ``(l, u)`` of every hidden layer."""
        low, high = self.lower.copy(), self.upper.copy()
        bounds: list[tuple[np.ndarray, np.ndarray]] = []
        for k, (W, b) in enumerate(self.stages[:-1]):
            Wp, Wn = np.maximum(W, 0), np.minimum(W, 0)
            lo, up = Wp @ low + Wn @ high + b, Wp @ high + Wn @ low + b
            unstable = int(np.sum((lo < 0) & (up > 0)))
            more_than_box = bool(self.groups) or (self.norm == "l1" and np.isfinite(self.budget))
            if (k > 0 or more_than_box) and (
                tighten is True or (tighten == "auto" and unstable <= TIGHTEN_UNITS)
            ):
                lo, up = self._tightened(bounds, k, lo, up)
                self.tightened = True
            bounds.append((lo, up))
            low, high = np.maximum(lo, 0), np.maximum(up, 0)
        return bounds

    def _tightened(
        self, bounds: list[tuple[np.ndarray, np.ndarray]], k: int, lo: np.ndarray, up: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Min and max of layer k's unstable pre-activations over the LP relaxation."""
        rows = _Rows()
        low, high, _, last, _ = self._network(rows, bounds[:k], relax=True)
        n_vars = len(low)
        constraint = rows.constraint(n_vars)
        W, b = self.stages[k]
        lo, up = lo.copy(), up.copy()
        for unit in np.flatnonzero((lo < 0) & (up > 0)):
            c = np.zeros(n_vars)
            for v, weight in zip(last, W[unit], strict=True):
                if v >= 0:
                    c[v] += weight
            for sign in (1.0, -1.0):
                result = _lp(sign * c, constraint, low, high)
                self.n_lp += 1
                if result is None:
                    continue
                value = sign * result + b[unit]
                if sign > 0:
                    lo[unit] = max(lo[unit], value - 1e-9 * (1 + abs(value)))
                else:
                    up[unit] = min(up[unit], value + 1e-9 * (1 + abs(value)))
        return lo, up

    # ------------------------------------------------------------------ encoding
    def _network(
        self,
        rows: _Rows,
        bounds: list[tuple[np.ndarray, np.ndarray]],
        relax: bool,
        discrete: bool = False,
    ) -> tuple[list[float], list[float], list[int], np.ndarray, list[int]]:
        """Variables and rows of the input domain and the hidden layers in ``bounds``.

        Returns the variables' lower and upper bounds, their integrality, the variable
        index of every unit of the last encoded layer (-1 for a unit that is always 0)
        and the indices of the distance variables ``d_c >= |y_c - x_c| / s_c``. With
        ``relax`` the unstable units get the triangle relaxation instead of binaries.
        """
        x, s = self.x, self.scale
        low: list[float] = list(self.lower)
        high: list[float] = list(self.upper)
        kinds = [0] * len(low)
        if discrete:
            for c in np.flatnonzero(self.integer):
                kinds[c] = 1
            for group in self.groups:
                for c in group:
                    kinds[c] = 1
            for c in np.flatnonzero(kinds[: len(x)]):
                # Whole-number bounds for integer variables: HiGHS's presolve (SciPy 1.17)
                # returned a wrong "optimal" point when an integer variable had a
                # fractional bound.
                low[c], high[c] = float(np.ceil(low[c] - 1e-9)), float(np.floor(high[c] + 1e-9))
        for group in self.groups:
            rows.add({c: 1.0 for c in group}, 1.0, 1.0)
        distance = []
        for c in range(len(x)):
            if self.upper[c] > self.lower[c]:
                dc = len(low)
                low.append(0.0)
                high.append(max(x[c] - self.lower[c], self.upper[c] - x[c]) / s[c])
                kinds.append(0)
                rows.add({c: 1.0 / s[c], dc: -1.0}, -np.inf, x[c] / s[c])
                rows.add({c: -1.0 / s[c], dc: -1.0}, -np.inf, -x[c] / s[c])
                distance.append(dc)
        if self.norm == "l1" and np.isfinite(self.budget) and distance:
            rows.add(dict.fromkeys(distance, 1.0), -np.inf, self.budget)
        previous = np.arange(len(self.x))
        for (W, b), (lo, up) in zip(self.stages, bounds, strict=False):
            current = np.full(len(b), -1)
            for unit in range(len(b)):
                if up[unit] <= 0:
                    continue  # always inactive: h = 0
                h = len(low)
                low.append(max(lo[unit], 0.0))
                high.append(up[unit])
                kinds.append(0)
                current[unit] = h
                z = {int(v): -w for v, w in zip(previous, W[unit], strict=True) if v >= 0}
                if lo[unit] >= 0:  # always active: h = z
                    rows.add({h: 1.0, **z}, b[unit], b[unit])
                    continue
                rows.add({h: 1.0, **z}, b[unit], np.inf)  # h >= z
                if relax:  # h <= u (z - l) / (u - l)
                    ratio = up[unit] / (up[unit] - lo[unit])
                    scaled = {v: ratio * w for v, w in z.items()}
                    rows.add({h: 1.0, **scaled}, -np.inf, ratio * (b[unit] - lo[unit]))
                    continue
                a = len(low)
                low.append(0.0)
                high.append(1.0)
                kinds.append(1)
                rows.add({h: 1.0, **z, a: -lo[unit]}, -np.inf, b[unit] - lo[unit])
                rows.add({h: 1.0, a: -up[unit]}, -np.inf, 0.0)
            previous = current
        return low, high, kinds, previous, distance

    def solve(
        self, i: int, j: int, *, tie: bool, discrete: bool, time_limit: float, mip_gap: float
    ) -> ReluSolution:
        """Closest input with ``z_i = z_j >= z_k`` (``tie``) or ``z_j >= z_k`` for all k."""
        rows = _Rows()
        low, high, kinds, last, distance = self._network(
            rows, self.bounds, relax=False, discrete=discrete
        )
        t_var = None
        if self.norm == "linf":
            t_var = len(low)
            low.append(0.0)
            high.append(np.inf)
            kinds.append(0)
            for dc in distance:
                rows.add({dc: 1.0, t_var: -1.0}, -np.inf, 0.0)
        W, b = self.stages[-1]

        def difference(p: int, q: int) -> tuple[dict[int, float], float]:
            """z_p - z_q as coefficients on the last hidden layer plus a constant."""
            row = W[p] - W[q]
            return {int(v): w for v, w in zip(last, row, strict=True) if v >= 0}, b[p] - b[q]

        for k in range(len(b)):
            if k == j or (tie and k == i):
                continue
            coefficients, constant = difference(j, k)
            rows.add(coefficients, -constant, np.inf)  # z_j - z_k >= 0
        if tie:
            coefficients, constant = difference(i, j)
            rows.add(coefficients, -constant, -constant)  # z_i - z_j = 0
        cost = np.zeros(len(low))
        if t_var is not None:
            cost[t_var] = 1.0
        else:
            cost[distance] = 1.0
        found, outcome = solve_milp(
            cost, rows, kinds, low, high, time_limit=time_limit, mip_gap=mip_gap
        )
        if found is None:
            return ReluSolution(y=None, **vars(outcome))
        y = np.clip(found[: len(self.x)], self.lower, self.upper)
        if discrete:
            integral = self.integer.copy()
            for group in self.groups:
                integral[list(group)] = True
            y[integral] = np.round(y[integral])
        return ReluSolution(y=y, **vars(outcome))

    @property
    def n_unstable(self) -> int:
        """Hidden units whose sign the bounds leave open (one binary each)."""
        return int(sum(np.sum((lo < 0) & (up > 0)) for lo, up in self.bounds))


def _lp(c: np.ndarray, constraint: object, low: list[float], high: list[float]) -> float | None:
    """Minimum of ``c @ v`` over the LP relaxation (None if HiGHS does not solve it).

    ``milp`` without integer variables is HiGHS's LP solver on the same sparse rows.
    """
    result = milp(
        c,
        constraints=constraint,
        integrality=np.zeros(len(c)),
        bounds=Bounds(np.array(low), np.array(high)),
        options={"disp": False, "time_limit": 10.0},
    )
    return None if result.x is None or result.status != 0 else float(result.fun)
