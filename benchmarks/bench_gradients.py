"""Gradient and Integrated Gradients: ours vs Captum vs the plain-torch floor.

The floor is what any implementation must pay: one batched forward and backward pass
over all path points (for Gradient: over the one input) in plain torch, with nothing
else. Ratios are median times per explanation of one input, measured in this process.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from _timing import Table, median_time
from captum.attr import IntegratedGradients as CaptumIG
from captum.attr import Saliency

import xaiwidgets as xw


def _floor(module: torch.nn.Module, x: torch.Tensor, target: int, steps: int) -> None:
    """One forward/backward over ``steps`` midpoints of the path from 0 to ``x`` (1, ...)."""
    alphas = ((torch.arange(steps) + 0.5) / steps).reshape((steps,) + (1,) * (x.ndim - 1))
    path = (alphas * x).requires_grad_(True)
    module(path)[:, target].sum().backward()


def _cases():
    credit = xw.datasets.load_credit()
    digits = xw.datasets.load_digits()
    yield "credit MLP", xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit), credit
    yield "digits CNN", xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits), digits


def _row(
    table: Table,
    model: str,
    method: str,
    floor: Callable[[], object],
    ours: Callable[[], object],
    captum: Callable[[], object],
    repeats: int,
) -> None:
    floor_s, ours_s, captum_s = (median_time(fn, repeats) for fn in (floor, ours, captum))
    table.add(
        model=model,
        method=method,
        floor_ms=1000 * floor_s,
        ours_ms=1000 * ours_s,
        captum_ms=1000 * captum_s,
        ours_vs_floor=ours_s / floor_s,
        captum_vs_floor=captum_s / floor_s,
        captum_vs_ours=captum_s / ours_s,
    )


def _measure(table: Table, name: str, model: xw.Model, x, repeats: int) -> None:
    module = model.torch_module.eval()
    tensor = torch.tensor(x[None], dtype=torch.float32)
    target = int(model.predict(x)[0])
    gradient = xw.explainers.Gradient(model)
    saliency = Saliency(module)
    _row(
        table,
        name,
        "Gradient",
        lambda: _floor(module, tensor, target, 1),
        lambda: gradient.explain(x, target=target),
        lambda: saliency.attribute(tensor, target=target, abs=False),
        repeats,
    )
    captum_ig = CaptumIG(module)
    for steps in (32, 64, 256):
        ig = xw.explainers.IntegratedGradients(model, steps=steps, method="riemann_middle")
        _row(
            table,
            name,
            f"IG {steps} steps",
            lambda steps=steps: _floor(module, tensor, target, steps),
            lambda ig=ig: ig.explain(x, target=target),
            lambda steps=steps: captum_ig.attribute(
                tensor, target=target, n_steps=steps, method="riemann_middle"
            ),
            repeats,
        )


def run(quick: bool = False) -> list[Table]:
    warnings.filterwarnings("ignore", module="captum")
    repeats = 5 if quick else 50
    table = Table(
        "Gradient and IG (riemann_middle): median ms per explanation of one input",
        note=(
            "ratio = time / floor; floor = one batched forward+backward pass in plain torch. "
            "Goal: ours within 1.5x of the floor."
        ),
    )
    for name, model, dataset in _cases():
        _measure(table, name, model, dataset.X_test[0], repeats)
    return [table]
