"""LIME and SHAP: ours against the lime package and shap called directly, same run.

LIME: median ms per explanation of ``xw.explainers.Lime`` and of lime's
``LimeTabularExplainer`` set up to do the same work (continuous features not
discretized, samples around the input, the paper's kernel at the same width, no
feature selection, the same explained output), at 1000 and 5000 samples, with each
surrogate's weighted R^2 (fidelity) and the cosine between the two attribution
vectors.

SHAP: median ms per explanation of ``xw.explainers.Shap`` against the same shap
explainer called directly on the same background and game (the overhead ratio), and
against shap's ``KernelExplainer`` with its default ``nsamples`` on the same
background. The references call the torch module directly, as a user would.
"""

from __future__ import annotations

import gc
import itertools
import time
import warnings

import numpy as np
import torch
from _timing import Table

import xaiwidgets as xw


def _models():
    for load in (xw.datasets.load_breast_cancer, xw.datasets.load_credit):
        dataset = load()
        net = xw.zoo.train_mlp(dataset, progress=False)
        yield dataset, net, xw.wrap(net, dataset)


def _logits_of(net):
    def logits(rows):
        with torch.no_grad():
            return net(torch.as_tensor(rows, dtype=torch.float32)).double().numpy()

    return logits


def _cycle(inputs, fn):
    """A no-argument callable that explains the next input on each call."""
    rows = itertools.cycle(inputs)
    return lambda: fn(next(rows))


def _paired_times(fns, repeats, warmup=2):
    """Seconds per call of each no-argument callable, timed in alternation.

    Taking turns, call by call, exposes ours and the reference to the same load on a
    shared machine; ratios are taken round by round (see ``_summary``).
    """
    for fn in fns:
        for _ in range(warmup):
            fn()
    gc.collect()
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [np.array(spent) for spent in times]


def _ms(times):
    return 1e3 * float(np.median(times))


def _ratio(numerator, denominator):
    """Median over rounds of the per-round time ratio: steadier than a ratio of medians."""
    return float(np.median(numerator / denominator))


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _lime_row(dataset, net, model, n_samples, repeats):
    from lime.lime_tabular import LimeTabularExplainer

    inputs = dataset.X_test[:repeats]
    logits = _logits_of(net)
    ours = xw.explainers.Lime(model, n_samples=n_samples)
    reference = LimeTabularExplainer(
        np.asarray(dataset.X_train),
        categorical_features=[c for cols in dataset.categorical_groups.values() for c in cols],
        discretize_continuous=False,
        sample_around_instance=True,
        feature_selection="none",
        kernel_width=ours.params["kernel_width"],
        kernel=lambda d, kernel_width: np.exp(-(d**2) / kernel_width**2),
        random_state=0,
    )

    def theirs(x):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # logits do not sum to 1
            return reference.explain_instance(
                x,
                logits,
                labels=(int(np.argmax(logits(x[None]))),),
                num_features=dataset.n_features,
                num_samples=n_samples,
            )

    fresh = xw.explainers.Lime(model, n_samples=n_samples, seed=None)
    t_ours, t_fresh, t_lime = _paired_times(
        [_cycle(inputs, ours.explain), _cycle(inputs, fresh.explain), _cycle(inputs, theirs)],
        3 * repeats,
    )
    r2_ours, r2_lime, cosines = [], [], []
    for x in inputs:
        e, t = ours.explain(x), theirs(x)
        lime_values = np.zeros(dataset.n_features)
        for i, coef in t.local_exp[e.target]:
            lime_values[i] = coef
        r2_ours.append(e.meta["r2"])
        r2_lime.append(t.score)
        cosines.append(_cosine(e.values, lime_values))
    return {
        "model": f"{dataset.name} MLP ({dataset.n_features} columns)",
        "samples": n_samples,
        "ours_ms": _ms(t_ours),
        "fresh_ms": _ms(t_fresh),
        "lime_ms": _ms(t_lime),
        "ratio": _ratio(t_lime, t_ours),
        "ratio_fresh": _ratio(t_lime, t_fresh),
        "r2_ours": float(np.median(r2_ours)),
        "r2_lime": float(np.median(r2_lime)),
        "cosine": float(np.mean(cosines)),
    }


def _lime_table(quick: bool) -> Table:
    table = Table(
        "LIME: ms per explanation, ours vs the lime package (same samples, kernel, output)",
        note="ours: one explainer, seed 0, so the seed's draws are made once and reused "
        "for every input (same results as drawing them anew). fresh: seed=None, new draws "
        "each call, as lime does. ratio = lime / ours (goal >= 3), ratio_fresh = lime / "
        "fresh. r2: median weighted R^2 of each surrogate "
        "(local fidelity). cosine: mean cosine between our and lime's attributions. lime "
        "sees the one-hot columns as separate binary categoricals; ours, as one feature.",
    )
    try:
        import lime  # noqa: F401
    except ImportError as error:  # pragma: no cover - optional reference
        print(f"lime is not installed ({error}); skipping the LIME comparison.")
        return table
    repeats = 5 if quick else 20
    for dataset, net, model in _models():
        for n_samples in (1000, 5000):
            table.add(**_lime_row(dataset, net, model, n_samples, repeats))
    return table


def _shap_row(dataset, net, model, repeats):
    import shap

    inputs = dataset.X_test[:repeats]
    logits = _logits_of(net)
    ours = xw.explainers.Shap(model, background=50, seed=0)
    background = ours._background(0)
    space, algorithm = ours._space, ours.params["algorithm"]
    call = {"max_evals": ours.params["max_evals"]} if algorithm == "permutation" else {}
    # The same game as ours: a one-hot group is one player (identity without groups).
    masker = shap.maskers.Independent(space.encode(background), max_samples=len(background))

    def direct(x):
        target = int(np.argmax(logits(x[None])))

        def f(rows):
            return logits(space.decode(rows))[:, target]

        explainer = shap.Explainer(f, masker, algorithm=algorithm, seed=0)
        return explainer(space.encode(x[None]), silent=True, **call).values[0]

    def kernel(x):
        target = int(np.argmax(logits(x[None])))
        explainer = shap.KernelExplainer(lambda rows: logits(rows)[:, target], background)
        return explainer.shap_values(x[None], silent=True)

    t_ours, t_direct = _paired_times(
        [_cycle(inputs, ours.explain), _cycle(inputs, direct)], 4 * repeats, warmup=1
    )
    t_ours_k, t_kernel = _paired_times(
        [_cycle(inputs, ours.explain), _cycle(inputs, kernel)], max(2, repeats // 2), warmup=1
    )
    difference = max(
        np.abs(ours.explain(x).values - space.spread(direct(x)[None], x[None])[0]).max()
        for x in inputs[:2]
    )
    return {
        "model": f"{dataset.name} MLP",
        "algorithm": f"{algorithm} ({space.n_features} players)",
        "ours_ms": _ms(t_ours),
        "direct_ms": _ms(t_direct),
        "overhead": _ratio(t_ours, t_direct),
        "max_diff": float(difference),
        "kernel_ms": _ms(t_kernel),
        "kernel_ratio": _ratio(t_kernel, t_ours_k),
    }


def _shap_table(quick: bool) -> Table:
    table = Table(
        "SHAP: ms per explanation, ours vs shap called directly (same explainer, background)",
        note="overhead = ours / direct (goal <= 1.1), the median of per-round ratios; "
        "max_diff: largest |ours - direct| value. kernel: shap.KernelExplainer with "
        "default nsamples on the same 50 rows (columns as players); kernel_ratio = "
        "kernel / ours.",
    )
    repeats = 3 if quick else 10
    for dataset, net, model in _models():
        table.add(**_shap_row(dataset, net, model, repeats))
    return table


def run(quick: bool) -> list[Table]:
    return [_lime_table(quick), _shap_table(quick)]
