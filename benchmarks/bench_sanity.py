"""Cascading model-randomization check on the digits CNN: xaiwidgets against Quantus MPRT.

The check of issue 6: Gradient, SmoothGrad (50 samples), Gradient x Input, Integrated
Gradients (64 Gauss-Legendre steps, zero baseline) and Guided Backprop; every layer
randomized top-down; 8 test inputs. Quantus (``pip install quantus``) runs its
``MPRT(layer_order="top_down")`` once per method with a Captum explain function doing
the same work (Captum is what Quantus calls for torch models). Both are timed with
torch's default thread count and on one thread, since xaiwidgets runs single-threaded
by default (``threads=1``). A second table compares the fully randomized similarities
(Spearman of absolute maps, Quantus's default) of the two implementations.
"""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
import torch
from _timing import Table, median_ratio, paired_times

import xaiwidgets as xw
from xaiwidgets.core.threads import torch_threads

METHODS = ["gradient", "smoothgrad", "gradient_x_input", "ig", "guided_backprop"]
N_INPUTS = 8


def _captum_explain(method: str):
    """A Quantus explain_func doing what our explainer of ``method`` does, with Captum."""
    from captum.attr import (
        GuidedBackprop,
        InputXGradient,
        IntegratedGradients,
        NoiseTunnel,
        Saliency,
    )

    def explain(model, inputs, targets, **kwargs):
        model.eval()
        x = torch.as_tensor(np.asarray(inputs), dtype=torch.float32).requires_grad_(True)
        y = torch.as_tensor(np.asarray(targets))
        if method == "gradient":
            a = Saliency(model).attribute(x, target=y, abs=False)
        elif method == "smoothgrad":
            torch.manual_seed(0)
            a = NoiseTunnel(Saliency(model)).attribute(
                x, target=y, nt_type="smoothgrad", nt_samples=50, stdevs=0.15, abs=False
            )
        elif method == "gradient_x_input":
            a = InputXGradient(model).attribute(x, target=y)
        elif method == "ig":
            a = IntegratedGradients(model).attribute(
                x, target=y, baselines=torch.zeros_like(x), n_steps=64, method="gausslegendre"
            )
        else:
            a = GuidedBackprop(model).attribute(x, target=y)
        return a.detach().numpy()

    return explain


def _quantus_check(quantus, module, X, y):
    scores = {}
    for method in METHODS:
        metric = quantus.MPRT(layer_order="top_down", seed=0, disable_warnings=True)
        scores[method] = metric(
            model=module,
            x_batch=X,
            y_batch=y,
            a_batch=None,
            explain_func=_captum_explain(method),
            channel_first=True,
            device="cpu",
        )
    return scores


def run(quick: bool) -> list[Table]:
    digits = xw.datasets.load_digits()
    model = xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)
    X = digits.X_test[:N_INPUTS]
    y = model.predict(X)
    repeats = 3 if quick else 10

    def ours(threads, band=False):
        def check():
            result = xw.sanity.model_randomization(
                model, X, METHODS, progress=False, cache=False, threads=threads
            )
            if band:
                with torch_threads(threads):
                    result.baseline_band()

        return check

    try:
        import quantus
    except ImportError as exc:  # an optional reference: skip, do not crash
        print(f"(bench_sanity: Quantus not installed, {exc}; pip install quantus to compare)")
        quantus = None

    timing = Table(
        f"Cascading model randomization, digits CNN ({len(xw.sanity.layers(model))} layers), "
        f"5 methods, {N_INPUTS} inputs (median of {repeats} alternating rounds)",
        note=(
            "xaiwidgets computes Spearman |map|, Spearman signed and SSIM; 'band' adds the "
            "16-draw chance band (computed on first use). Quantus computes Spearman |map| "
            "only. speedup = Quantus / ours, the median of per-round ratios. "
            "Goal: under 5 s on 2 cores, faster than Quantus."
        ),
    )
    module = model.torch_module
    for threads, label in ((1, "1 thread"), (None, f"{torch.get_num_threads()} threads")):
        fns = [ours(threads), ours(threads, band=True)]
        if quantus is not None:

            def reference(threads=threads):
                with warnings.catch_warnings(), torch_threads(threads):
                    warnings.simplefilter("ignore")
                    _quantus_check(quantus, module, X, y)

            fns.append(reference)
        times = paired_times(fns, repeats=repeats)
        row = {
            "threads": label,
            "xaiwidgets_s": statistics.median(times[0]),
            "with_band_s": statistics.median(times[1]),
        }
        if quantus is not None:
            row["quantus_mprt_s"] = statistics.median(times[2])
            row["speedup"] = f"{median_ratio(times[2], times[0]):.1f}x"
            row["speedup_with_band"] = f"{median_ratio(times[2], times[1]):.1f}x"
        else:
            row["quantus_mprt_s"] = "not installed"
        timing.add(**row)

    tables = [timing]
    if quantus is not None:
        result = xw.sanity.model_randomization(model, X, METHODS, progress=False)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            scores = _quantus_check(quantus, module, X, y)
            quantus_s = time.perf_counter() - start
        summary = result.summary().query("metric == 'spearman_abs'").set_index(["method", "stage"])
        agreement = Table(
            "Mean Spearman rank correlation of |maps| with the trained model's, per stage "
            "(ours / Quantus; different random draws)",
            note=f"(one more Quantus run: {quantus_s:.2f} s)",
        )
        layers = xw.sanity.layers(model)
        for method in METHODS:
            row = {"method": method}
            for stage, layer in enumerate(layers, start=1):
                row[f"top {stage} ({layer})"] = (
                    f"{summary.loc[(method, stage), 'mean']:.2f} / "
                    f"{np.mean(scores[method][layer]):.2f}"
                )
            agreement.add(**row)
        tables.append(agreement)
    return tables
