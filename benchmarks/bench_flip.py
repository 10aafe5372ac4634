"""Flip points: time per closest flip point and distance, ours against the baselines.

On the credit MLP and the digits CNN, for the same inputs:

- ``xw.flip.closest`` (the continuous relaxation, comparable with every baseline, and
  the default discrete point that respects integer and one-hot features);
- bisection along the projected gradient path ``clip(x + t d)`` of the logit gap, with
  ``d = -s^2 grad`` (steepest descent in the scaled metric);
- the nearest training point of another predicted class, moved onto the boundary by
  bisection;
- DiCE's gradient counterfactual (``dice-ml``, PyTorch backend), when installed: the
  distance of its counterfactual to x in the same scaled norm.

All distances use the flip point's scaled norm (training standard deviations for credit,
pixel units for digits). Ratios are baseline / ours: above 1 means the baseline is
farther or slower.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
from _dice import MISSING, dice_data, run_dice
from _timing import Table

import xaiwidgets as xw
from xaiwidgets.explainers.flip_points import single_threaded


def _bisect(in_class, a: np.ndarray, b: np.ndarray, steps: int = 50) -> np.ndarray:
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        middle = 0.5 * (lo + hi)
        if in_class(a + middle * (b - a)):
            lo = middle
        else:
            hi = middle
    return a + hi * (b - a)


def _gradient_path(model, x, i, j, constraints):
    """Bisection along clip(x + t d), d = -s^2 grad(z_i - z_j): a feature stops at its
    bound and the others go on; one-hot groups are held (clipping them column by column
    would break their sum)."""
    scale, (low, high) = constraints.scale, constraints.bounds.T
    tensor = torch.tensor(x[None], dtype=torch.float32, requires_grad=True)
    out = model.torch_module(tensor).reshape(-1)
    (gradient,) = torch.autograd.grad(out[i] - out[j], tensor)
    d = -(scale**2) * gradient.reshape(-1).double().numpy()
    for group in constraints.groups:
        d[list(group)] = 0.0
    flat = x.reshape(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        limits = np.where(d > 0, (high - flat) / d, np.where(d < 0, (low - flat) / d, np.nan))
    end = np.nanmax(limits)

    def in_class(y):
        return model.predict(np.clip(y, low, high).reshape(x.shape))[0] == i

    if in_class(flat + end * d):
        return None
    return np.clip(_bisect(in_class, flat, flat + end * d), low, high)


def _nearest_training_point(model, x, i, train, train_labels, scale):
    others = train[train_labels != i]
    flat = x.reshape(-1)
    nearest = others[np.argmin((((others - flat) / scale) ** 2).sum(axis=1))]
    return _bisect(lambda y: model.predict(y.reshape(x.shape))[0] == i, flat, nearest)


def _dice(model, dataset, X):
    """DiCE's gradient method on the same network; None with a reason if unavailable."""
    try:
        dice_ml, data, names = dice_data(dataset)
    except ImportError:
        return None, MISSING
    low = torch.tensor(dataset.X_train.min(axis=0), dtype=torch.float32)
    span = torch.tensor(np.ptp(dataset.X_train, axis=0), dtype=torch.float32)
    net = model.torch_module

    class ProbabilityOfApproval(torch.nn.Module):
        """DiCE feeds min-max normalised inputs and expects P(class 1)."""

        def forward(self, z):
            raw = low + z.reshape(-1, len(names)) * span
            return torch.softmax(net(raw), dim=1)[:, 1:2]

    # func="ohe-min-max": DiCE optimises in min-max normalised space and feeds that to the
    # model, which maps it back to raw units before the network.
    backend = dice_ml.Model(model=ProbabilityOfApproval(), backend="PYT", func="ohe-min-max")
    return run_dice(dice_ml.Dice(data, backend, method="gradient"), X, names), ""


def _baselines(model, X, pairs, constraints, train, train_labels):
    results = []
    for x, (i, j) in zip(X, pairs, strict=True):
        start = time.perf_counter()
        ray = _gradient_path(model, x, i, j, constraints)
        ray_time = time.perf_counter() - start
        start = time.perf_counter()
        near = _nearest_training_point(model, x, i, train, train_labels, constraints.scale)
        results.append(((ray, ray_time), (near, time.perf_counter() - start)))
    return results


def _compare(name, model, dataset, X, scale, quick, with_dice=False) -> Table:
    constraints = xw.flip.FlipConstraints.from_model(model, scale=scale, discrete=False)
    train = dataset.X_train.reshape(len(dataset.X_train), -1)
    train_labels = model.predict(dataset.X_train)
    rows = {}

    def record(method, points, times):
        distances = [
            np.inf if p is None else constraints.distance(x.reshape(-1), np.reshape(p, -1))
            for x, p in zip(X, points, strict=False)
        ]
        rows[method] = (distances, times)

    relaxed, relaxed_times, discrete, discrete_times, pairs = [], [], [], [], []
    for x in X:
        xw.flip.closest(model, x, constraints=constraints)  # warm: the cached evaluator
        start = time.perf_counter()
        fp = xw.flip.closest(model, x, constraints=constraints)
        relaxed_times.append(time.perf_counter() - start)
        relaxed.append(fp.point)
        pairs.append(fp.classes)
        start = time.perf_counter()
        fp_discrete = xw.flip.closest(model, x, scale=scale)
        discrete_times.append(time.perf_counter() - start)
        discrete.append(fp_discrete.point)
    record("xw.flip.closest (relaxed)", relaxed, relaxed_times)
    if dataset.kind == "tabular":
        record("xw.flip.closest (discrete, default)", discrete, discrete_times)
    with single_threaded():  # as ours runs: one thread is faster for single inputs
        baselines = _baselines(model, X, pairs, constraints, train, train_labels)
    methods = ("bisection along the projected gradient", "nearest other-class point + bisection")
    for k, method in enumerate(methods):
        record(method, [b[k][0] for b in baselines], [b[k][1] for b in baselines])
    note = ""
    if with_dice:
        n_dice = 2 if quick else 5
        result, note = _dice(model, dataset, X[:n_dice])
        if result is not None:
            points, times = result
            record(f"DiCE gradient (first {n_dice} inputs)", points, times)
    ours_distances, ours_times = rows["xw.flip.closest (relaxed)"]
    table = Table(
        f"Closest flip point on {name}: {len(X)} test inputs, scaled L2 distance",
        note=note
        or "ratios: baseline / ours (relaxed); DiCE's counterfactual lies past the boundary",
    )
    for method, (distances, times) in rows.items():
        k = len(distances)
        finite = [d for d in distances if np.isfinite(d)]
        per_input = [
            d / o for d, o in zip(distances, ours_distances[:k], strict=True) if np.isfinite(d)
        ]
        table.add(
            method=method,
            found=f"{len(finite)}/{k}",
            median_ms=1000 * statistics.median(times),
            time_vs_ours=statistics.median(times) / statistics.median(ours_times[:k]),
            mean_distance=float(np.mean(finite)) if finite else float("nan"),
            distance_vs_ours=float(np.mean(per_input)) if per_input else float("nan"),
            worst_vs_ours=float(np.min(per_input)) if per_input else float("nan"),
        )
    return table


def run(quick: bool) -> list[Table]:
    credit = xw.datasets.load_credit()
    credit_model = xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)
    digits = xw.datasets.load_digits()
    digits_model = xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)
    n_credit, n_digits = (10, 3) if quick else (50, 10)
    return [
        _compare(
            "the credit MLP",
            credit_model,
            credit,
            credit.X_test[:n_credit],
            "std",
            quick,
            with_dice=True,
        ),
        _compare("the digits CNN", digits_model, digits, digits.X_test[:n_digits], "unit", quick),
    ]


if __name__ == "__main__":
    for table in run(quick=False):
        print(table.render(), end="\n\n")
