"""Deterministic training of small torch classifiers, cached in the user's cache directory."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..core.cache import cache_dir
from ..core.dataset import Dataset
from ..core.threads import torch_threads

__all__ = ["Checkpoint", "cached_model", "fit", "fold_checkpoints", "fold_standardization"]


@dataclass(frozen=True)
class Checkpoint:
    """The weights of a model after some epoch of training, for TracIn.

    Attributes
    ----------
    epoch : int
        How many epochs had been trained (1-based).
    state : dict of str to Tensor
        ``module.state_dict()`` at that moment (a copy).
    learning_rate : float
        The optimizer's step size then (Adam's ``lr`` for the demo models).
    """

    epoch: int
    state: dict[str, torch.Tensor]
    learning_rate: float


def dataset_fingerprint(dataset: Dataset) -> str:
    """A short hash of a data set's training arrays (different labels, different hash)."""
    digest = hashlib.sha1()
    for array in (dataset.X_train, dataset.y_train):
        digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str(array.shape).encode())
    return digest.hexdigest()[:16]


def cached_model(
    build: Callable[[], torch.nn.Module],
    train: Callable[[torch.nn.Module], list[Checkpoint]],
    key: dict[str, Any],
    cache: bool,
    checkpoints: int = 0,
) -> torch.nn.Module:
    """Build a module and either load its trained weights from the cache or train it.

    Parameters
    ----------
    build : callable
        Returns the untrained architecture (also used to hold cached weights).
    train : callable
        Trains the module in place; returns the checkpoints it kept.
    key : dict
        Everything that determines the weights (JSON-serialisable); hashed into the
        file name together with the package and torch versions.
    cache : bool
        Read and write the cache.
    checkpoints : int, default=0
        How many checkpoints the module must carry as ``checkpoints_`` (cached in a
        file beside the weights; the weights do not depend on it).

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
    saved_checkpoints = path.with_name(f"{path.stem}-checkpoints{checkpoints}.pt")
    module = build()
    if cache and path.exists() and (checkpoints == 0 or saved_checkpoints.exists()):
        try:
            module.load_state_dict(torch.load(path, weights_only=True))
            if checkpoints:
                module.checkpoints_ = [
                    Checkpoint(**entry)
                    for entry in torch.load(saved_checkpoints, weights_only=True)
                ]
            return module.eval()
        except (RuntimeError, EOFError, OSError, TypeError):
            path.unlink(missing_ok=True)  # corrupt or stale file: train again
            saved_checkpoints.unlink(missing_ok=True)
    kept = train(module)
    if checkpoints:
        module.checkpoints_ = kept
    if cache:
        _save(module.state_dict(), path)
        if checkpoints:
            _save([vars(c) for c in kept], saved_checkpoints)
    return module.eval()


def _save(value: Any, path: Any) -> None:
    """Write atomically: to a temporary file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(value, temporary)
    temporary.replace(path)


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
    checkpoints: int = 0,
) -> list[Checkpoint]:
    """Train ``module`` with Adam on cross-entropy, minibatches shuffled under ``seed``.

    The caller's global torch random state is not touched (a private generator
    drives the shuffles; initialisation happens in the caller under ``fork_rng``).
    Training runs on one torch thread: these models are too small to gain from more,
    and one thread makes the weights the same whatever the machine's core count.
    Returns ``checkpoints`` copies of the weights taken at evenly spaced epochs, the
    last one after the final epoch (for TracIn, Pruthi et al. 2020); keeping them
    does not change training.
    """
    from tqdm.auto import tqdm

    dtype = next(module.parameters()).dtype
    inputs = torch.tensor(np.asarray(X), dtype=dtype)
    labels = torch.tensor(np.asarray(y), dtype=torch.long)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    keep_after = {round(epochs * (k + 1) / checkpoints) for k in range(checkpoints)}
    kept = []
    with torch_threads(1):
        module.train()
        bar = tqdm(range(epochs), desc=description, disable=not progress, leave=False)
        for epoch in bar:
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
            if epoch + 1 in keep_after:
                state = {k: v.detach().clone() for k, v in module.state_dict().items()}
                kept.append(Checkpoint(epoch + 1, state, lr))
    module.eval()
    return kept


def fold_standardization(linear: torch.nn.Linear, mean: np.ndarray, std: np.ndarray) -> None:
    """Fold ``(x - mean) / std`` into ``linear`` so that the model takes raw inputs.

    ``W (x - m) / s + b = (W / s) x + (b - W (m / s))``. The folded network is a
    plain stack of Linear and ReLU layers, which keeps gradients in raw units and lets
    exact methods (linear regions, MILP) read the network directly.
    """
    with torch.no_grad():
        _fold(linear.weight, linear.bias, mean, std)


def fold_checkpoints(
    checkpoints: list[Checkpoint], linear_name: str, mean: np.ndarray, std: np.ndarray
) -> list[Checkpoint]:
    """Fold the standardization into the layer ``linear_name`` of every checkpoint."""
    for checkpoint in checkpoints:
        _fold(
            checkpoint.state[f"{linear_name}.weight"],
            checkpoint.state[f"{linear_name}.bias"],
            mean,
            std,
        )
    return checkpoints


def _fold(weight: torch.Tensor, bias: torch.Tensor, mean: np.ndarray, std: np.ndarray) -> None:
    """In place: ``W (x - m) / s + b = (W / s) x + (b - W (m / s))``."""
    scale = torch.as_tensor(1.0 / std, dtype=weight.dtype)
    shift = torch.as_tensor(mean / std, dtype=weight.dtype)
    bias -= weight @ shift
    weight *= scale
