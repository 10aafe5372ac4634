"""Deterministic training of small torch classifiers, cached in the user's cache directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..core.cache import cache_dir
from ..core.dataset import Dataset
from ..core.threads import torch_threads

__all__ = ["cached_model", "fit", "fold_standardization"]


def dataset_fingerprint(dataset: Dataset) -> str:
    """A short hash of a data set's training arrays (different labels, different hash)."""
    digest = hashlib.sha1()
    for array in (dataset.X_train, dataset.y_train):
        digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str(array.shape).encode())
    return digest.hexdigest()[:16]


def cached_model(
    build: Callable[[], torch.nn.Module],
    train: Callable[[torch.nn.Module], None],
    key: dict[str, Any],
    cache: bool,
) -> torch.nn.Module:
    """Build a module and either load its trained weights from the cache or train it.

    Parameters
    ----------
    build : callable
        Returns the untrained architecture (also used to hold cached weights).
    train : callable
        Trains the module in place.
    key : dict
        Everything that determines the weights (JSON-serialisable); hashed into the
        file name together with the package and torch versions.
    cache : bool
        Read and write the cache.

    Returns
    -------
    torch.nn.Module
        In eval mode.
    """
    key = {
        **key,
        "xaiwidgets": __version__,
        "torch": torch.__version__.split("+")[0],
        "training_threads": 1,
    }
    text = json.dumps(key, sort_keys=True, default=str)
    path = (
        cache_dir() / "models" / f"{key['kind']}-{hashlib.sha1(text.encode()).hexdigest()[:20]}.pt"
    )
    module = build()
    if cache and path.exists():
        try:
            module.load_state_dict(torch.load(path, weights_only=True))
            return module.eval()
        except (RuntimeError, EOFError, OSError):
            path.unlink(missing_ok=True)  # corrupt or stale file: train again
    train(module)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        torch.save(module.state_dict(), temporary)
        temporary.replace(path)
    return module.eval()


def fit(
    module: torch.nn.Module,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    lr: float,
    batch_size: int,
    weight_decay: float,
    seed: int,
    progress: bool,
    description: str,
) -> None:
    """Train ``module`` with Adam on cross-entropy, minibatches shuffled under ``seed``.

    The caller's global torch random state is not touched (a private generator
    drives the shuffles; initialisation happens in the caller under ``fork_rng``).
    Training runs on one torch thread: these models are too small to gain from more,
    and one thread makes the weights the same whatever the machine's core count.
    """
    from tqdm.auto import tqdm

    dtype = next(module.parameters()).dtype
    inputs = torch.tensor(np.asarray(X), dtype=dtype)
    labels = torch.tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    with torch_threads(1):
        module.train()
        bar = tqdm(range(epochs), desc=description, disable=not progress, leave=False)
        for _ in bar:
            order = torch.randperm(len(inputs), generator=generator)
            total = 0.0
            for start in range(0, len(inputs), batch_size):
                rows = order[start : start + batch_size]
                optimizer.zero_grad()
                loss = loss_fn(module(inputs[rows]), labels[rows])
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
            bar.set_postfix(loss=f"{total / len(inputs):.4f}")
    module.eval()


def fold_standardization(linear: torch.nn.Linear, mean: np.ndarray, std: np.ndarray) -> None:
    """Fold ``(x - mean) / std`` into ``linear`` so that the model takes raw inputs.

    ``W (x - m) / s + b = (W / s) x + (b - W (m / s))``. The folded network is a
    plain stack of Linear and ReLU layers, which keeps gradients in raw units and lets
    exact methods (linear regions, MILP) read the network directly.
    """
    with torch.no_grad():
        scale = torch.as_tensor(1.0 / std, dtype=linear.weight.dtype)
        shift = torch.as_tensor(mean / std, dtype=linear.weight.dtype)
        linear.bias -= linear.weight @ shift
        linear.weight *= scale
