"""Browser-side latency: from a slider key press to the new explanation image on screen.

The tour (``notebooks/00_tour.ipynb``) runs in JupyterLab in headless Chromium; its
tabular widget (the Workbench's Explore tab: an ``ExplainerWidget`` with integrated
gradients on the credit MLP) gets ``ArrowRight`` presses on the ``age`` slider. Each
press is timed in the page, from the ``keydown`` event to the moment the new PNG is
decoded and painted (``tests/jupyter_browser.py: KeyToImage``); every press gives a
new input, so nothing comes from the explanation cache. The kernel's share (explaining
and drawing, from the widget's status line) is reported beside it; the rest is the
trip through the websocket and the browser's decoding and painting.

The reference is what a notebook does without xaiwidgets: ``ipywidgets.interactive``
with a slider, whose callback explains the same input with the same method and shows
a new matplotlib figure (``plt.show()`` into the output), on the same page, its
presses alternating with ours.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat
from _timing import Table, percentile

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import jupyter_browser as jb  # noqa: E402

GOAL_MS = 250
FEATURE = "age"

REFERENCE_CELL = """\
import ipywidgets
import matplotlib.pyplot as plt

_x0 = credit.X_test[0].copy()
_ig = xw.explainers.IntegratedGradients(model)


def _show(age):
    x = _x0.copy()
    x[credit.feature_names.index("age")] = age
    e = _ig.explain(x)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(6.6, 6), height_ratios=[1, 4])
    top.barh(credit.class_names, e.prediction)
    xw.plot(e, ax=bottom)
    plt.show()


reference = ipywidgets.interactive(
    _show, age=ipywidgets.IntSlider(value=int(_x0[2]), min=18, max=80, description="age")
)
reference.add_class("xw-reference")
reference
"""


def _kernel_ms(status: str) -> tuple[float, float]:
    """Explaining and drawing times (ms) from an ExplainerWidget's status line."""
    explained = re.search(r"explained in ([\d.]+) ms", status)
    drawn = re.search(r"drawn in ([\d.]+) ms", status)
    return (
        float(explained.group(1)) if explained else float("nan"),
        float(drawn.group(1)) if drawn else float("nan"),
    )


def run(quick: bool) -> list[Table]:
    reason = jb.missing_requirements()
    if reason is not None:
        print(f"bench_browser skipped: {reason}")
        return []
    presses = 5 if quick else 20
    tour = nbformat.read(ROOT / "notebooks" / "00_tour.ipynb", as_version=4)
    tour.cells.append(nbformat.v4.new_code_cell(REFERENCE_CELL))
    ours, reference, kernel = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        notebook = Path(tmp) / "00_tour.ipynb"
        nbformat.write(tour, notebook)
        with jb.JupyterServer([notebook]) as server, jb.Browser() as browser:
            page = browser.page(width=1600, height=2600)
            jb.open_and_run(page, server, notebook.name)
            state = jb.wait_rendered(page, ".jp-Notebook", all_outputs=True)
            if state["failures"] or state["errors"]:
                raise RuntimeError(f"The tour did not render: {state}")
            explore = page.locator(".xw-workbench .xw-explainer-widget").first
            ref = page.locator(".xw-reference").first
            watch_ours = jb.KeyToImage(
                page, explore, jb.slider(explore, FEATURE).locator(".noUi-handle"), "ours"
            )
            watch_reference = jb.KeyToImage(
                page, ref, jb.slider(ref, FEATURE).locator(".noUi-handle"), "reference"
            )
            for watch in (watch_ours, watch_reference):
                watch.press("ArrowLeft")  # warm-up: first drawing, imports
            for _ in range(presses):
                ours.append(watch_ours.press("ArrowRight"))
                kernel.append(_kernel_ms(explore.locator(".xw-status").inner_text()))
                reference.append(watch_reference.press("ArrowRight"))
            if browser.page_errors:
                raise RuntimeError(f"Errors in the page: {browser.page_errors}")

    table = Table(
        "Key press on a feature slider -> new explanation image painted "
        "(headless Chromium, JupyterLab; credit MLP, integrated gradients, steps='auto')"
    )
    reference_median = statistics.median(reference)
    for case, times in (
        ("xaiwidgets Workbench, Explore tab", ours),
        ("ipywidgets.interactive + new figure (reference)", reference),
    ):
        median = statistics.median(times)
        row = {
            "case": case,
            "n": len(times),
            "median_ms": median,
            "p95_ms": percentile(times, 95),
            "min_ms": min(times),
            "goal_ms": GOAL_MS,
            "met": "yes" if median <= GOAL_MS else "NO",
            "kernel_explain_ms": "",
            "kernel_draw_ms": "",
            "vs_reference": median / reference_median,
        }
        if times is ours:
            row["kernel_explain_ms"] = statistics.median(k[0] for k in kernel)
            row["kernel_draw_ms"] = statistics.median(k[1] for k in kernel)
        table.add(**row)
    table.note = (
        "Presses alternate between the two widgets; each waits for its image. "
        "kernel_*: the widget's own timings from its status line; the rest of the median "
        "is the websocket round trip, PNG decoding and painting."
    )
    return [table]
