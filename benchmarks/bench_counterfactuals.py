"""Exact counterfactuals: time and distance per counterfactual, ours against baselines.

1. A random forest (30 trees, depth 5) on ``load_credit``, scaled L1 norm (training
   standard deviations), the same test inputs for every method:

   - ``xw.flip.closest`` with the tree-ensemble MILP, solved to optimality (relative gap
     1e-6) and with a 1 s time limit;
   - the local derivative-free solver of ``xw.flip.closest`` (SLSQP on
     finite differences, which a piecewise-constant forest defeats: it falls back to
     bisection along lines);
   - the nearest training point that the forest puts in another class;
   - DiCE's model-agnostic "random" and "genetic" methods (``dice-ml``), when installed,
     with every column declared continuous (DiCE cannot see the one-hot group, so its
     points may break it: the "valid" column counts points of the other class that
     also respect integers and the one-hot group).

2. The ReLU MILP against the width of a credit MLP (two hidden layers of 16, 32, 64
   units): time to the certified closest flip point (L1), its binaries, and the
   optimality gap of the local SLSQP flip point it certifies.

Ratios are baseline / ours: above 1 means the baseline is farther or slower.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from _dice import MISSING, dice_data, run_dice
from _timing import Table

import xaiwidgets as xw

FOREST = {"n_estimators": 30, "max_depth": 5, "random_state": 0}


def _forest(credit):
    from sklearn.ensemble import RandomForestClassifier

    return xw.wrap(RandomForestClassifier(**FOREST).fit(credit.X_train, credit.y_train), credit)


def _dice(model, credit, X, method):
    """DiCE's counterfactual of each input (None where it finds none), and times."""
    try:
        dice_ml, data, names = dice_data(credit)
    except ImportError:
        return None, MISSING
    backend = dice_ml.Model(model=model.predictor, backend="sklearn")
    explainer = dice_ml.Dice(data, backend, method=method)
    options = {"random_seed": 0} if method == "random" else {}
    return run_dice(explainer, X, names, **options), ""


def _forest_table(quick: bool) -> Table:
    credit = xw.datasets.load_credit()
    model = _forest(credit)
    X = credit.X_test[: 5 if quick else 20]
    c = xw.flip.FlipConstraints.from_model(model, norm="l1")
    labels = model.predict(credit.X_train)
    rows: dict[str, tuple[list, list]] = {}

    def run(name, solve):
        points, times = [], []
        for x in X:
            start = time.perf_counter()
            points.append(solve(x))
            times.append(time.perf_counter() - start)
        rows[name] = (points, times)

    xw.flip.closest(model, X[0], constraints=c)  # warm: the forest's training labels
    run("xw MILP (optimal)", lambda x: xw.flip.closest(model, x, constraints=c).point)
    run(
        "xw MILP (1 s limit)",
        lambda x: xw.flip.closest(model, x, constraints=c, time_limit=1.0).point,
    )
    run(
        "xw local solver (derivative-free)",
        lambda x: xw.flip.closest(model, x, constraints=c, method="derivative-free").point,
    )

    def nearest(x):
        i = model.predict(x)[0]
        others = credit.X_train[labels != i]
        return others[np.argmin(c.distance(x, others))]

    run("nearest training point of the other class", nearest)
    notes = []
    for method in ("random", "genetic"):
        result, note = _dice(model, credit, X, method)
        if result is None:
            notes.append(note)
            break
        rows[f"DiCE {method}"] = result
    ours_points, ours_times = rows["xw MILP (optimal)"]
    ours = [c.distance(x, p) for x, p in zip(X, ours_points, strict=True)]
    table = Table(
        f"Closest counterfactual of a random forest (30 trees, depth 5) on credit: {len(X)} "
        "test inputs, scaled L1 distance",
        note="; ".join(notes)
        or "ratios: baseline / ours (optimal); valid: other class, whole integers, one-hot kept",
    )
    for name, (points, times) in rows.items():
        valid, distances, ratios = 0, [], []
        for x, p, d in zip(X, points, ours, strict=True):
            if p is None:
                continue
            flipped = model.predict(p)[0] != model.predict(x)[0]
            if flipped and not c.violations(p, x):
                valid += 1
            if flipped:
                distance = c.distance(x, p)
                distances.append(distance)
                ratios.append(distance / d)
        table.add(
            method=name,
            valid=f"{valid}/{len(X)}",
            median_ms=1000 * statistics.median(times),
            time_vs_ours=statistics.median(times) / statistics.median(ours_times),
            mean_distance=float(np.mean(distances)) if distances else float("nan"),
            distance_vs_ours=float(np.mean(ratios)) if ratios else float("nan"),
            closest_vs_ours=float(np.min(ratios)) if ratios else float("nan"),
        )
    return table


def _relu_table(quick: bool) -> Table:
    credit = xw.datasets.load_credit()
    X = credit.X_test[: 2 if quick else 5]
    table = Table(
        f"ReLU MILP (certified closest flip point, L1) against width, credit MLP, {len(X)} inputs",
        note="gap: how much farther the local SLSQP flip point is than the certified optimum",
    )
    for width in (16, 32, 64):
        net = xw.zoo.train_mlp(credit, hidden=(width, width), progress=False)
        model = xw.wrap(net, credit)
        times, local_times, statuses, binaries, gaps = [], [], [], [], []
        for x in X:
            start = time.perf_counter()
            local = xw.flip.closest(model, x, norm="l1")
            local_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            cert = xw.flip.certify(local, time_limit=60.0 if not quick else 20.0)
            times.append(time.perf_counter() - start)
            statuses.append(cert.status == "optimal")
            binaries.append(cert.exact.meta["n_binaries"])
            gaps.append(cert.relative_gap)
        table.add(
            width=f"{width}x{width}",
            hidden_units=2 * width,
            optimal=f"{sum(statuses)}/{len(X)}",
            median_s=statistics.median(times),
            max_s=max(times),
            median_binaries=statistics.median(binaries),
            slsqp_ms=1000 * statistics.median(local_times),
            slsqp_gap_median=statistics.median(gaps),
            slsqp_gap_max=max(gaps),
        )
    return table


def run(quick: bool) -> list[Table]:
    return [_forest_table(quick), _relu_table(quick)]


if __name__ == "__main__":
    for table in run(quick=False):
        print(table.render(), end="\n\n")
