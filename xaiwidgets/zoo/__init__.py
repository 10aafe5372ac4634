"""Small demo models, trained deterministically in seconds on a CPU and cached.

Every function returns a plain ``torch.nn.Sequential`` of standard layers (Linear,
Conv2d, ReLU, Flatten) that takes the data set's raw inputs: for tabular data the
standardization used in training is folded into the first layer. That keeps the
models readable by every method, including the exact ones (linear regions, MILP).
Weights are cached in the user's cache directory (see
:func:`xaiwidgets.core.cache.cache_dir`); the first call trains with a progress bar.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from ..core.dataset import Dataset
from ..core.validation import check_int, check_real
from ._training import (
    Checkpoint,
    cached_model,
    dataset_fingerprint,
    fit,
    fold_checkpoints,
    fold_standardization,
)

__all__ = ["Checkpoint", "accuracy", "train_cnn", "train_logreg", "train_mlp"]


def _check_dataset(dataset: Dataset, name: str = "dataset") -> Dataset:
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"{name} must be an xaiwidgets Dataset (for example xw.datasets.load_credit()); "
            f"got {type(dataset).__name__}."
        )
    return dataset


def _standardization(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Training mean and std of tabular data; identity for images (already in [0, 1])."""
    if dataset.kind == "image":
        return np.zeros(dataset.n_features), np.ones(dataset.n_features)
    return dataset.train_mean, dataset.train_std


def train_mlp(
    dataset: Dataset,
    hidden: Sequence[int] = (32, 32),
    *,
    epochs: int = 60,
    lr: float = 3e-3,
    weight_decay: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
    checkpoints: int = 0,
) -> torch.nn.Sequential:
    """A ReLU multilayer perceptron for a tabular (or flattened image) data set.

    ``Flatten`` (images only), then ``Linear -> ReLU`` for each hidden width, then a
    ``Linear`` layer to one logit per class. Trained with Adam on cross-entropy over
    standardized inputs; the standardization is folded into the first layer so the
    model takes raw inputs.

    Parameters
    ----------
    dataset : Dataset
        Training data.
    hidden : sequence of int, default=(32, 32)
        Hidden layer widths.
    epochs, lr, weight_decay, batch_size : training settings
        Adam's learning rate and L2 weight decay; minibatch size.
    seed : int, default=0
        Seed of initialisation and shuffling: the same seed gives the same weights.
    cache : bool, default=True
        Load from and save to the user's cache directory.
    progress : bool, default=True
        Show a progress bar while training.
    checkpoints : int, default=0
        Keep this many copies of the weights, taken at evenly spaced epochs (the
        last after the final epoch), as the list ``model.checkpoints_`` of
        :class:`Checkpoint` (for TracIn, ``xw.influence.TracIn``). The weights are
        the same whatever the value.

    Returns
    -------
    torch.nn.Sequential
        In eval mode; outputs logits.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> net = xw.zoo.train_mlp(ds, progress=False)
    >>> xw.zoo.accuracy(net, ds)["test"] > 0.8
    True
    """
    dataset = _check_dataset(dataset)
    hidden = [check_int(h, "hidden", low=1) for h in hidden]
    settings = _settings(epochs, lr, weight_decay, batch_size, seed)
    checkpoints = check_int(checkpoints, "checkpoints", low=0, high=settings["epochs"])

    def build() -> torch.nn.Sequential:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[torch.nn.Module] = [torch.nn.Flatten()] if dataset.kind == "image" else []
            width = dataset.n_features
            for h in hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
                width = h
            layers.append(torch.nn.Linear(width, dataset.n_classes))
            return torch.nn.Sequential(*layers)

    def train(module: torch.nn.Sequential) -> list[Checkpoint]:
        mean, std = _standardization(dataset)
        X = (dataset.X_train.reshape(len(dataset.X_train), -1) - mean) / std
        if dataset.kind == "image":
            X = X.reshape(dataset.X_train.shape)
        kept = fit(
            module,
            X,
            dataset.y_train,
            **settings,
            progress=progress,
            description=f"training MLP on {dataset.name}",
            checkpoints=checkpoints,
        )
        name, first_linear = next(
            (name, m) for name, m in module.named_children() if isinstance(m, torch.nn.Linear)
        )
        fold_standardization(first_linear, mean, std)
        return fold_checkpoints(kept, name, mean, std)

    key = {"kind": "mlp", "hidden": hidden, **settings, "data": dataset_fingerprint(dataset)}
    return cached_model(build, train, key, cache, checkpoints)


def train_cnn(
    dataset: Dataset,
    channels: Sequence[int] = (16, 32),
    *,
    hidden: int = 64,
    epochs: int = 40,
    lr: float = 3e-3,
    weight_decay: float = 1e-4,
    batch_size: int = 64,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
    checkpoints: int = 0,
) -> torch.nn.Sequential:
    """A small ReLU convolutional network for image data (8x8 digits: >= 95 % accuracy).

    ``Conv2d(3x3, padding 1) -> ReLU``, then ``Conv2d(3x3, stride 2) -> ReLU`` (strided
    convolution instead of max pooling keeps the network piecewise linear), then
    ``Flatten -> Linear -> ReLU -> Linear``.

    Parameters
    ----------
    dataset : Dataset
        An image data set (``kind="image"``).
    channels : sequence of two int, default=(16, 32)
        Channels of the two convolutions.
    hidden : int, default=64
        Width of the fully connected hidden layer.
    epochs, lr, weight_decay, batch_size, seed, cache, progress, checkpoints
        As in :func:`train_mlp`.

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> xw.zoo.accuracy(xw.zoo.train_cnn(ds, progress=False), ds)["test"] >= 0.95
    True
    """
    dataset = _check_dataset(dataset)
    if dataset.kind != "image":
        raise ValueError(
            f"train_cnn needs an image data set; {dataset.name!r} is {dataset.kind}. "
            "Use train_mlp for tabular data."
        )
    c1, c2 = (check_int(c, "channels", low=1) for c in channels)
    hidden = check_int(hidden, "hidden", low=1)
    settings = _settings(epochs, lr, weight_decay, batch_size, seed)
    checkpoints = check_int(checkpoints, "checkpoints", low=0, high=settings["epochs"])
    in_channels, height, width = dataset.input_shape
    reduced = ((height + 1) // 2) * ((width + 1) // 2)

    def build() -> torch.nn.Sequential:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return torch.nn.Sequential(
                torch.nn.Conv2d(in_channels, c1, 3, padding=1),
                torch.nn.ReLU(),
                torch.nn.Conv2d(c1, c2, 3, stride=2, padding=1),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
                torch.nn.Linear(c2 * reduced, hidden),
                torch.nn.ReLU(),
                torch.nn.Linear(hidden, dataset.n_classes),
            )

    def train(module: torch.nn.Sequential) -> list[Checkpoint]:
        return fit(
            module,
            dataset.X_train,
            dataset.y_train,
            **settings,
            progress=progress,
            description=f"training CNN on {dataset.name}",
            checkpoints=checkpoints,
        )

    key = {
        "kind": "cnn",
        "channels": [c1, c2],
        "hidden": hidden,
        **settings,
        "data": dataset_fingerprint(dataset),
    }
    return cached_model(build, train, key, cache, checkpoints)


def train_logreg(dataset: Dataset, *, C: float = 1.0) -> torch.nn.Sequential:
    """Multinomial logistic regression, fitted by scikit-learn, as a torch module.

    scikit-learn's ``LogisticRegression`` (lbfgs, L2 penalty ``C``) is fitted on
    standardized inputs; its coefficients are copied into ``Flatten -> Linear`` with
    the standardization folded in. For two classes the single score ``s`` becomes the
    logits ``(-s/2, s/2)``, which give the same probabilities.

    Parameters
    ----------
    dataset : Dataset
        Training data.
    C : float, default=1.0
        Inverse regularisation strength.

    Returns
    -------
    torch.nn.Sequential

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_breast_cancer()
    >>> xw.zoo.accuracy(xw.zoo.train_logreg(ds), ds)["test"] > 0.9
    True
    """
    dataset = _check_dataset(dataset)
    C = check_real(C, "C", low=0.0, low_inclusive=False)
    mean, std = _standardization(dataset)
    X = (dataset.X_train.reshape(len(dataset.X_train), -1) - mean) / std
    fitted = LogisticRegression(C=C, max_iter=5000).fit(X, dataset.y_train)
    coef, intercept = fitted.coef_, fitted.intercept_
    if coef.shape[0] == 1:  # binary: one score s -> logits (-s/2, s/2)
        coef = np.vstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    linear = torch.nn.Linear(dataset.n_features, dataset.n_classes)
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(coef))
        linear.bias.copy_(torch.as_tensor(intercept))
    fold_standardization(linear, mean, std)
    return torch.nn.Sequential(torch.nn.Flatten(), linear).eval()


def accuracy(model: torch.nn.Module, dataset: Dataset) -> dict[str, float]:
    """Training and test accuracy of a torch classifier on a data set.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons(n=400)
    >>> sorted(xw.zoo.accuracy(xw.zoo.train_logreg(ds), ds))
    ['test', 'train']
    """
    from ..core.model import wrap

    wrapped = wrap(model, dataset)
    return {
        "train": float((wrapped.predict(dataset.X_train) == dataset.y_train).mean()),
        "test": float((wrapped.predict(dataset.X_test) == dataset.y_test).mean()),
    }


def _settings(epochs: int, lr: float, weight_decay: float, batch_size: int, seed: int) -> dict:
    return {
        "epochs": check_int(epochs, "epochs", low=1),
        "lr": check_real(lr, "lr", low=0.0, low_inclusive=False),
        "weight_decay": check_real(weight_decay, "weight_decay", low=0.0),
        "batch_size": check_int(batch_size, "batch_size", low=1),
        "seed": check_int(seed, "seed", low=0),
    }
