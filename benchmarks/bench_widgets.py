"""Widget latency: from a control change to the new PNG, kernel side.

For each case a widget is driven as the browser drives it (a control's ``value`` is
set), then ``wait()`` returns when the redrawn PNG bytes are in the ``Image`` widget.
Every change gives a new input, so nothing comes from the explanation cache. The time
splits into explaining (the worker's computation) and drawing (updating the displays
in place, blitting, PNG encoding); the rest is the hand-over between threads.

The reference is what a plain ``ipywidgets.interactive`` callback does: a new figure
per change (``xw.plot``) saved as PNG, timed on the same explanations.
"""

from __future__ import annotations

import io
import statistics
import time
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
from _timing import Table, percentile

import xaiwidgets as xw

warnings.filterwarnings("ignore", message=".*non-writable.*")

GOALS_MS = {"gradient": 50, "ig": 50, "lime": 250, "shap": 250, "image ig": 80}


def _rebuild_png(explanation) -> float:
    """Seconds for the naive redraw: new figure, plot, savefig, close."""
    start = time.perf_counter()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.6, 6), height_ratios=[1, 4])
    top.barh(np.arange(len(explanation.prediction)), explanation.prediction)
    xw.plot(explanation, ax=bottom)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return time.perf_counter() - start


def _drive(widget, change, values) -> dict[str, list[float]]:
    """Apply ``change(value)`` for each value; time each until the PNG is ready."""
    times: dict[str, list[float]] = {"total": [], "explain": [], "draw": [], "rebuild": []}
    full = widget.view.full_renders
    for value in values:
        start = time.perf_counter()
        change(value)
        explanation = widget.wait()
        times["total"].append(time.perf_counter() - start)
        if explanation is None:
            raise RuntimeError(f"The widget failed: {widget.error}")
        times["explain"].append(widget.timings["compute_s"])
        times["draw"].append(widget.timings["show_s"])
        times["rebuild"].append(_rebuild_png(explanation))
    times["full_redraws"] = [widget.view.full_renders - full]
    return times


def _row(table: Table, case: str, model: str, times: dict[str, list[float]]) -> None:
    ms = {k: [1000 * t for t in v] for k, v in times.items()}
    median = statistics.median(ms["total"])
    table.add(
        case=case,
        model=model,
        n=len(ms["total"]),
        median_ms=median,
        p95_ms=percentile(ms["total"], 95),
        explain_ms=statistics.median(ms["explain"]),
        draw_ms=statistics.median(ms["draw"]),
        full_redraws=int(times["full_redraws"][0]),
        goal_ms=GOALS_MS[case],
        met="yes" if median <= GOALS_MS[case] else "NO",
        rebuild_draw_ms=statistics.median(ms["rebuild"]),
        draw_speedup=statistics.median(ms["rebuild"]) / statistics.median(ms["draw"]),
    )


def run(quick: bool = False) -> list[Table]:
    n = 10 if quick else 50
    table = Table(
        "Widget latency: control change -> PNG bytes ready (kernel side, ms)",
        note=(
            "explain_ms: the worker's computation (explanation of the new input); draw_ms: "
            "updating the displays in place, blitting and PNG encoding (full_redraws: "
            "changes that needed a full draw, when the scale or title changed); median_ms also "
            "includes the thread hand-over. rebuild_draw_ms: a new matplotlib figure "
            "(xw.plot) saved as PNG for the same explanation, as an `interactive` "
            "callback would; draw_speedup = rebuild / ours."
        ),
    )
    credit = xw.datasets.load_credit()
    credit_model = xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)
    for method, params in (("gradient", {}), ("ig", {"baseline": "mean"})):
        widget = xw.ExplainerWidget(credit_model, credit, method=method, index=0, **params)
        widget.wait()
        slider = widget.inputs.feature_controls["income"]
        _drive(widget, lambda v, s=slider: setattr(s, "value", v), np.linspace(30, 34, 5))
        times = _drive(widget, lambda v, s=slider: setattr(s, "value", v), np.linspace(35, 95, n))
        _row(table, method, "credit MLP", times)
        widget.close()

    cancer = xw.datasets.load_breast_cancer()
    registered = xw.explainers.available()
    cancer_model = None
    for method in ("lime", "shap"):
        if method not in registered:
            reason = f"{method}: skipped, the explainer is not registered on this branch yet"
            print(reason)
            table.add(case=method, model="breast-cancer MLP", n=0, median_ms=reason)
            continue
        if cancer_model is None:
            cancer_model = xw.wrap(xw.zoo.train_mlp(cancer, progress=False), cancer)
        widget = xw.ExplainerWidget(cancer_model, cancer, method=method, index=0)
        widget.wait()
        feature = cancer.features[0]
        slider = widget.inputs.feature_controls[feature.name]
        low, high = feature.bounds
        change = lambda v, s=slider: setattr(s, "value", v)  # noqa: E731
        _drive(widget, change, np.linspace(low, low + 0.01 * (high - low), 3))
        times = _drive(widget, change, np.linspace(low + 0.1 * (high - low), high, n))
        _row(table, method, "breast-cancer MLP", times)
        widget.close()

    digits = xw.datasets.load_digits()
    cnn = xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)
    widget = xw.ExplainerWidget(cnn, digits, method="ig", index=0)
    widget.wait()
    noise = widget.inputs.noise_slider
    _drive(widget, lambda v: setattr(noise, "value", v), [0.01, 0.02, 0.03])
    times = _drive(widget, lambda v: setattr(noise, "value", v), np.linspace(0.05, 0.4, n))
    _row(table, "image ig", "digits CNN", times)
    widget.close()
    return [table]


if __name__ == "__main__":
    for result in run():
        print(result.render())
