"""Exact linear regions and FIMAP: ours against the references, measured in the same run.

FIMAP (Chapman-Rounds et al. 2021) on ``load_moons`` with a 200-tree random forest:
training time, agreement with LIME (ours, sampling from the training data as the
``lime`` package does by default, and around the input; and the ``lime`` package
itself with its defaults), and the time per explanation after training against LIME's,
with the ratio: for 500 inputs in one call, for one input per call, and for ``g``'s
forward pass alone (the amortised work the paper times).

Linear regions (Dethise & Canini) on the credit MLP and the digits CNN: the exact
region, the exact output curve along a feature against evaluating the network on a
grid of 1000 points, exact integrated gradients against Riemann/Gauss-Legendre IG
(ours and Captum's) with their errors, the 2-D region map and a MILP box query.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _timing import Table, median_ratio, median_time, paired_times
from sklearn.ensemble import RandomForestClassifier

import xaiwidgets as xw


def _cosine_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def _lime_package(dataset, forest, X):
    """The lime package with its defaults (continuous, not discretized), or None."""
    try:
        from lime.lime_tabular import LimeTabularExplainer
    except ImportError:
        print("lime is not installed: the lime package reference is skipped.")
        return None, None
    explainer = LimeTabularExplainer(dataset.X_train, discretize_continuous=False, random_state=0)
    predicted = forest.predict(X)

    def explain(row: int) -> np.ndarray:
        label = int(predicted[row])
        result = explainer.explain_instance(
            X[row], forest.predict_proba, labels=(label,), num_samples=1000
        )
        weights = np.zeros(X.shape[1])
        for column, value in result.local_exp[label]:
            weights[column] = value
        return weights

    return explainer, explain


def _fimap_tables(quick: bool) -> list[Table]:
    dataset = xw.datasets.load_moons()
    forest = RandomForestClassifier(200, random_state=0).fit(dataset.X_train, dataset.y_train)
    model = xw.wrap(forest, dataset)
    X = dataset.X_test[:100] if quick else dataset.X_test
    start = time.perf_counter()
    fimap = xw.explainers.Fimap(model, cache=False, progress=False).fit()
    fit_s = time.perf_counter() - start
    lime_training = xw.explainers.Lime(model, sampling="training")
    lime_gaussian = xw.explainers.Lime(model)
    ours = fimap.explain(X).meta["standardized"]

    agreement = Table(
        f"FIMAP vs LIME on load_moons, random forest of 200 trees ({len(X)} test points)",
        note=(
            "cosine between LIME's coefficients (per standard deviation) and FIMAP's -g(x) "
            "(per standard deviation); the paper reports a mean of 0.936. FIMAP trained in "
            f"{fit_s:.1f} s (surrogate {fimap.surrogate_agreement_:.3f} agreement with the "
            f"forest, counterfactuals flip the forest at {fimap.flip_rate_:.3f} of test points)."
        ),
    )
    references = [
        ("xw Lime, sampling='training'", lime_training.explain(X).values),
        ("xw Lime, sampling='gaussian' (around x)", lime_gaussian.explain(X).values),
    ]
    _, lime_package = _lime_package(dataset, forest, X)
    if lime_package is not None:
        references.append(
            ("lime package, defaults", np.array([lime_package(i) for i in range(len(X))]))
        )
    for name, values in references:
        cosine = _cosine_rows(values, ours)
        agreement.add(
            reference=name,
            mean_cosine=float(cosine.mean()),
            median_cosine=float(np.median(cosine)),
            share_below_0=float(np.mean(cosine < 0)),
        )

    speed = Table(
        "FIMAP vs LIME: time per explanation after training (moons, random forest of 200 trees)",
        note=(
            "ratio = LIME / FIMAP (median of per-round ratios, timed in alternation). Both "
            "call the forest for the prediction; FIMAP calls it once more to check that the "
            "counterfactual flips it (not with verify=False). 'g only' is FIMAP's amortised "
            "work, one forward pass, against LIME's time for one input."
        ),
    )
    repeats = 3 if quick else 7
    batch_f, batch_l = paired_times(
        [lambda: fimap.explain(X), lambda: lime_training.explain(X)], repeats=repeats
    )
    speed.add(
        setting=f"{len(X)} inputs in one call",
        fimap_ms=1e3 * float(np.median(batch_f)) / len(X),
        lime_ms=1e3 * float(np.median(batch_l)) / len(X),
        ratio=median_ratio(batch_l, batch_f),
    )
    unverified = xw.explainers.Fimap(model, verify=False, progress=False).fit()
    batch_u, batch_l = paired_times(
        [lambda: unverified.explain(X), lambda: lime_training.explain(X)], repeats=repeats
    )
    speed.add(
        setting=f"{len(X)} inputs in one call, verify=False",
        fimap_ms=1e3 * float(np.median(batch_u)) / len(X),
        lime_ms=1e3 * float(np.median(batch_l)) / len(X),
        ratio=median_ratio(batch_l, batch_u),
    )
    rows = iter(np.tile(np.arange(len(X)), 100))
    single = paired_times(
        [lambda: fimap.explain(X[next(rows)]), lambda: lime_training.explain(X[next(rows)])],
        repeats=10 if quick else 40,
    )
    speed.add(
        setting="one input per call",
        fimap_ms=1e3 * float(np.median(single[0])),
        lime_ms=1e3 * float(np.median(single[1])),
        ratio=median_ratio(single[1], single[0]),
    )
    standardized = fimap._standardize(X[:1])
    label = torch.as_tensor(forest.predict(X[:1]))

    def g_only() -> None:
        with torch.no_grad():
            fimap.perturbation_(standardized, label)

    g_s = median_time(g_only, repeats=50 if quick else 200)
    speed.add(
        setting="g only (one input)",
        fimap_ms=1e3 * g_s,
        lime_ms=1e3 * float(np.median(single[1])),
        ratio=float(np.median(single[1])) / g_s,
    )
    if lime_package is not None:
        package_s = median_time(lambda: lime_package(0), repeats=5 if quick else 20, warmup=1)
        speed.add(
            setting="lime package, one input",
            fimap_ms=1e3 * float(np.median(single[0])),
            lime_ms=1e3 * package_s,
            ratio=package_s / float(np.median(single[0])),
        )
    return [agreement, speed]


def _add(table: Table, case: str, task: str, ours, reference: str = "", theirs=None, detail=""):
    """One row: our median ms, and the reference's with the ratio when there is one."""
    row = {"case": case, "task": task, "ms": 1e3 * float(np.median(ours))}
    if theirs is None:
        row.update(reference="", reference_ms="", ratio="")
    else:
        row.update(
            reference=reference,
            reference_ms=1e3 * float(np.median(theirs)),
            ratio=median_ratio(ours, theirs),
        )
    table.add(**row, detail=detail)


def _region_rows(table: Table, case: str, dataset, model, column: int, repeats: int) -> None:
    explainer = xw.explainers.LinearRegion(model)
    x = dataset.X_test[0]
    region = explainer.region(x)
    times = [median_time(lambda: explainer.region(x), repeats)]
    _add(table, case, "region(x)", times, detail=f"{region.A.shape[0]} inequalities")
    curve = explainer.curve(x, column)
    grid = np.repeat(x.reshape(1, -1), 1000, axis=0)
    grid[:, column] = np.linspace(curve.positions[0], curve.positions[-1], 1000)
    grid = grid.reshape((1000, *model.input_shape))
    ours, theirs = paired_times(
        [lambda: explainer.curve(x, column), lambda: model.logits(grid)], repeats
    )
    detail = f"{len(curve.breakpoints)} breakpoints"
    _add(table, case, "exact curve", ours, "network on 1000-point grid", theirs, detail)
    exact = explainer.integrated_gradients(x, baseline="zeros")
    target = int(exact.target)

    def exact_ig() -> None:
        explainer.integrated_gradients(x, baseline="zeros")

    references = []
    for steps in (64, 512):
        ig = xw.explainers.IntegratedGradients(model, steps=steps, baseline="zeros")
        values = ig.explain(x, target=target).values
        references.append((f"xw IG, {steps} steps", values, lambda ig=ig: ig.explain(x, target)))
    try:
        from captum.attr import IntegratedGradients as CaptumIG
    except ImportError:
        print("captum is not installed: the Captum IG reference is skipped.")
    else:
        captum = CaptumIG(model.torch_module)
        tensor = torch.as_tensor(x[None], dtype=torch.float32)

        def captum_ig():
            return captum.attribute(tensor, target=target, n_steps=64)

        values = captum_ig().detach().numpy()[0]
        references.append(("Captum IG, 64 steps", values, captum_ig))
    for name, values, reference in references:
        ours, theirs = paired_times([exact_ig, reference], repeats)
        error = float(np.abs(values - exact.values).max())
        detail = f"{exact.meta['steps']} pieces; its error {error:.2g}"
        _add(table, case, "exact IG", ours, name, theirs, detail)


def _region_table(quick: bool) -> Table:
    table = Table(
        "Exact linear regions (credit MLP 32x32, digits CNN)",
        note=(
            "exact curve: the piecewise-linear logits along one feature with every "
            "breakpoint, vs the network on a 1000-point grid (which misses kinks between "
            "grid points). IG: the reference's max |IG - exact IG| over features; exact IG "
            "sums the linear pieces of the path (completeness to rounding)."
        ),
    )
    repeats = 5 if quick else 20
    credit = xw.datasets.load_credit()
    digits = xw.datasets.load_digits()
    credit_model = xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)
    digits_model = xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)
    _region_rows(table, "credit MLP", credit, credit_model, 0, repeats)
    _region_rows(table, "digits CNN", digits, digits_model, 27, repeats)
    explainer = xw.explainers.LinearRegion(credit_model)
    x = credit.X_test[0]
    start = time.perf_counter()
    region_map = explainer.region_map(x, ("income", "debt_ratio"))
    spent = [time.perf_counter() - start]
    gap = abs(region_map.areas.sum() / region_map.box_area - 1)
    detail = f"{len(region_map)} regions, relative area gap {gap:.1g}"
    _add(table, "credit MLP", "region map income x debt_ratio", spent, detail=detail)
    start = time.perf_counter()
    query = explainer.class_in_box(1, {"group": 1, "age": (18, 29), "years_employed": (0, 2)})
    spent = [time.perf_counter() - start]
    detail = f"{query.found} ({query.status}, margin {query.margin:.2f})"
    _add(
        table,
        "credit MLP",
        "MILP: approved with group 1, age < 30, < 3 years?",
        spent,
        detail=detail,
    )
    return table


def run(quick: bool) -> list[Table]:
    return [*_fimap_tables(quick), _region_table(quick)]
