"""Training-point influence: xaiwidgets against Captum's influence module and retraining.

On the credit MLP (6000 training rows) and the digits CNN (1347 training images),
with the last layer's parameters (the same layer for Captum):

- the influence of every training point on one test point, from scratch (Hessian,
  its eigendecomposition, training gradients) and per further test point;
- self-influence of the whole training set;
- TracIn over the trainer's 5 checkpoints, against Captum's ``TracInCP``;
- leave-one-out retraining: the demo trainer on the data minus one row, timed on a
  few retrains and extrapolated to every training point.

Ours and Captum both run in float64 (ours always does) on one torch thread (ours by
default; the threads of two busy cores only wait for each other), timed in
alternation; ratios are medians of per-round ratios.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch
from _timing import Table, median_ratio, paired_times

import xaiwidgets as xw
from xaiwidgets.core.threads import torch_threads

DAMPING = 1e-3


def _cases():
    credit = xw.datasets.load_credit()
    digits = xw.datasets.load_digits()
    yield (
        "credit MLP",
        credit,
        "4",
        lambda ds, **kw: xw.zoo.train_mlp(ds, progress=False, **kw),
    )
    yield (
        "digits CNN",
        digits,
        "7",
        lambda ds, **kw: xw.zoo.train_cnn(ds, progress=False, **kw),
    )


def _captum():
    try:
        from captum.influence import NaiveInfluenceFunction, TracInCP
    except ImportError as exc:  # pragma: no cover - captum is a test dependency
        print(f"(Captum's influence module is not installed, skipping it: {exc})")
        return None
    return NaiveInfluenceFunction, TracInCP


def _influence_rows(table, name, dataset, layer, net, repeats, captum):
    from torch.utils.data import DataLoader, TensorDataset

    X, y, n = dataset.X_train, dataset.y_train, len(dataset.y_train)
    x_test, y_test = dataset.X_test[:1], dataset.y_test[:1]
    model = xw.wrap(net, dataset)
    net64 = copy.deepcopy(net).double()
    folder = Path(tempfile.mkdtemp())
    torch.save(net64.state_dict(), folder / "weights.pt")
    train = TensorDataset(torch.tensor(X), torch.tensor(y))
    test = (torch.tensor(x_test), torch.tensor(y_test))
    ours = xw.influence.InfluenceFunction(model, X, y, damping=DAMPING, layers=layer)

    def ours_fresh():
        fresh = xw.influence.InfluenceFunction(model, X, y, damping=DAMPING, layers=layer)
        fresh.influence(x_test, y_test)

    def captum_fresh():
        captum_naive().influence(test)

    def captum_naive():
        return captum[0](
            net64,
            train,
            str(folder / "weights.pt"),
            layers=[layer],
            loss_fn=torch.nn.CrossEntropyLoss(reduction="none"),
            batch_size=512,
            projection_dim=ours.n_params_,
            hessian_reg=n * DAMPING,
            hessian_inverse_tol=1e-12,
        )

    def ours_self():
        xw.influence.InfluenceFunction(model, X, y, damping=DAMPING, layers=layer).self_influence()

    loader = DataLoader(train, batch_size=512)
    ours.influence(x_test, y_test)  # builds the Hessian and training gradients once
    rows = [
        ("influence on 1 test point, from scratch", ours_fresh, captum_fresh),
        (
            "self-influence of all points, from scratch",
            ours_self,
            lambda: captum_naive().self_influence(loader),
        ),
    ]
    if captum is not None:
        built = captum_naive()
        rows.append(
            (
                "influence on 1 more test point",
                lambda: ours.influence(x_test, y_test),
                lambda: built.influence(test),
            )
        )
    for task, mine, theirs in rows:
        if captum is None:
            times = paired_times([mine], repeats)
            table.add(
                model=name, task=task, params=ours.n_params_, ours_s=statistics.median(times[0])
            )
            continue
        times = paired_times([mine, theirs], repeats)
        table.add(
            model=name,
            task=task,
            params=ours.n_params_,
            ours_s=statistics.median(times[0]),
            captum_s=statistics.median(times[1]),
            captum_vs_ours=median_ratio(times[1], times[0]),
        )
    return statistics.median(paired_times([ours_fresh], 1, warmup=0)[0])


def _tracin_rows(table, name, dataset, layer, train_fn, repeats, captum):
    from torch.utils.data import DataLoader, TensorDataset

    net = train_fn(dataset, checkpoints=5)
    X, y = dataset.X_train, dataset.y_train
    x_test, y_test = dataset.X_test[:1], dataset.y_test[:1]
    folder = Path(tempfile.mkdtemp())
    paths = []
    for i, checkpoint in enumerate(net.checkpoints_):
        paths.append(str(folder / f"checkpoint{i}.pt"))
        torch.save({"state": checkpoint.state, "lr": checkpoint.learning_rate}, paths[-1])

    def load(module, path):
        saved = torch.load(path)
        module.load_state_dict(saved["state"])
        return saved["lr"]

    model = xw.wrap(net, dataset)
    train = TensorDataset(torch.tensor(X), torch.tensor(y))
    test = (torch.tensor(x_test), torch.tensor(y_test))

    def ours_influence():
        xw.influence.TracIn(model, X, y, layers=layer).influence(x_test, y_test)

    def ours_self():
        xw.influence.TracIn(model, X, y, layers=layer).self_influence()

    def tracincp():
        return captum[1](
            copy.deepcopy(net).double(),
            train,
            paths,
            checkpoints_load_func=load,
            layers=[layer],
            loss_fn=torch.nn.CrossEntropyLoss(reduction="none"),
            batch_size=512,
        )

    for task, mine, theirs in (
        (
            "TracIn on 1 test point (5 checkpoints)",
            ours_influence,
            lambda: tracincp().influence(test),
        ),
        (
            "TracIn self-influence (5 checkpoints)",
            ours_self,
            lambda: tracincp().self_influence(DataLoader(train, batch_size=512)),
        ),
    ):
        times = paired_times([mine, theirs], repeats)
        table.add(
            model=name,
            task=task,
            params=xw.influence.TracIn(model, X[:1], y[:1], layers=layer).n_params_,
            ours_s=statistics.median(times[0]),
            captum_s=statistics.median(times[1]),
            captum_vs_ours=median_ratio(times[1], times[0]),
        )


def _retraining(table, name, dataset, train_fn, ours_s, retrains):
    """Seconds per leave-one-out retrain, extrapolated to every training point."""
    seconds = []
    for i in range(retrains):
        keep = [j for j in range(len(dataset.y_train)) if j != i]
        reduced = dataset.replace(X_train=dataset.X_train[keep], y_train=dataset.y_train[keep])
        start = time.perf_counter()
        train_fn(reduced, cache=False)
        seconds.append(time.perf_counter() - start)
    per_retrain = statistics.median(seconds)
    total = per_retrain * len(dataset.y_train)
    table.add(
        model=name,
        retrain_s=per_retrain,
        retrains_timed=retrains,
        all_points_h=total / 3600,
        influence_s=ours_s,
        retraining_vs_ours=total / ours_s,
    )


def run(quick: bool = False) -> list[Table]:
    warnings.filterwarnings("ignore", module="captum")
    repeats = 1 if quick else 5
    retrains = 1 if quick else 5
    captum = _captum()
    influence = Table(
        f"Influence functions (last layer, damping {DAMPING}): median seconds",
        note="Captum: NaiveInfluenceFunction on the same layer, all eigenvectors kept "
        "(exact). 'from scratch' includes the Hessian, its eigendecomposition and the "
        "training gradients; '1 more test point' reuses them.",
    )
    retraining = Table(
        "Leave-one-out retraining vs influence of every training point on one test point",
        note="retraining_vs_ours = retrain_s * n_train / influence_s (from scratch). "
        "Goal: at least 100x.",
    )
    tracin = Table("TracIn vs Captum TracInCP (last layer, 5 checkpoints): median seconds")
    with torch_threads(1):
        for name, dataset, layer, train_fn in _cases():
            net = train_fn(dataset)
            ours_s = _influence_rows(influence, name, dataset, layer, net, repeats, captum)
            if captum is not None:
                _tracin_rows(tracin, name, dataset, layer, train_fn, repeats, captum)
            _retraining(retraining, name, dataset, train_fn, ours_s, retrains)
    return [influence, tracin, retraining] if captum is not None else [influence, retraining]
