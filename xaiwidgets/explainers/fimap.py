r"""FIMAP: feature importance by minimal adversarial perturbation, amortised by a network.

Chapman-Rounds, Bhatt, Pazos, Schulz & Georgatzis, "FIMAP: Feature Importance by
Minimal Adversarial Perturbation" (AAAI 2021). Two networks are trained once per model:

1. a surrogate :math:`s` that imitates the model's *hard labels* on the training data
   (so any classifier, even a random forest, gets a differentiable stand-in);
2. a perturbation network :math:`g` (4 fully connected layers of 100 units, ReLU,
   dropout 0.2), trained with :math:`s` frozen to minimise

   .. math:: \mathcal L(x) = -\log s_{\neg y}(x + g(x)) + \lambda \lVert g(x) \rVert_2
             + \eta \, \#\{\text{changed categories}\}

   where :math:`s_{\neg y}` is the surrogate's probability of any class other than the
   model's label :math:`y` at :math:`x`. Each one-hot group gets its own head and a
   Gumbel-softmax sample (Jang et al. 2017) in training, so the change of category is
   differentiable; the cost :math:`\eta` (about ten times :math:`\lambda`) is charged
   per changed category.

After training an explanation is one forward pass: ``-g(x)`` is the attribution (the
direction of steepest support for the current class, scaled by how far the boundary
is) and ``x + g(x)`` a counterfactual, checked against the real model.

Two choices beyond the paper, both measured on ``load_moons`` with a random forest:
``g`` also receives the model's label of ``x`` (one-hot), because the minimal
perturbation reverses direction across the decision boundary and a network of ``x``
alone must blur it there (with the label, the real model flips at 100 % of the test
counterfactuals instead of 98.6 %); and ``g``'s output layers start at zero, so training
starts from "no change" and each input descends towards its nearest boundary.
Distances and ``lam`` are in standardized units (training mean and standard deviation).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..core.dataset import Dataset
from ..core.explainer import Explainer, register
from ..core.threads import torch_threads
from ..core.validation import check_int, check_real
from ..zoo._training import cached_model, dataset_fingerprint, fit

__all__ = ["Fimap"]

# Logit bonus of the input's own category in each categorical head of g.
_KEEP = 3.0

# Version of the training procedure, part of the cache key: bump it when training
# changes so that cached networks from an older procedure are not reused.
_FORMAT = 3


class _PerturbationNet(torch.nn.Module):
    """g: a trunk of fully connected ReLU layers with dropout, one head per output kind.

    The input is the standardized ``x`` and the one-hot label the model gives ``x``.
    The continuous head gives the perturbation of the standardized continuous and
    integer columns; each categorical head gives the logits of its group's category,
    offset by ``_KEEP`` on the input's own category so that keeping it is the default.
    """

    def __init__(
        self,
        n_inputs: int,
        n_classes: int,
        n_continuous: int,
        groups: list[list[int]],
        width: int,
        depth: int,
        dropout: float,
    ) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        self.n_classes = n_classes
        size = n_inputs + n_classes
        for _ in range(depth):
            layers += [torch.nn.Linear(size, width), torch.nn.ReLU(), torch.nn.Dropout(dropout)]
            size = width
        self.trunk = torch.nn.Sequential(*layers)
        self.shift = torch.nn.Linear(width, n_continuous)
        self.groups = [list(g) for g in groups]
        self.categories = torch.nn.ModuleList(torch.nn.Linear(width, len(g)) for g in groups)
        # Start from "no change": a zero shift everywhere and the input's own category,
        # so that training moves each input down its own loss gradient towards the
        # nearest boundary of the surrogate, rather than from a random offset into
        # whichever basin that offset points to.
        for head in (self.shift, *self.categories):
            torch.nn.init.zeros_(head.weight)
            torch.nn.init.zeros_(head.bias)

    def forward(
        self, x: torch.Tensor, label: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        onehot = torch.nn.functional.one_hot(label, self.n_classes).to(x.dtype)
        hidden = self.trunk(torch.cat([x, onehot], dim=1))
        categories = [
            head(hidden) + _KEEP * x[:, columns]
            for head, columns in zip(self.categories, self.groups, strict=True)
        ]
        return self.shift(hidden), categories


@register
class Fimap(Explainer):
    r"""FIMAP (Chapman-Rounds et al., AAAI 2021): amortised minimal perturbations.

    Call :meth:`fit` once (it trains a surrogate on the model's hard labels, then the
    perturbation network :math:`g`, with a progress bar; the trained weights are cached
    in the user's cache directory); ``explain`` is then one forward pass. ``explain``
    fits on the model's data set first if :meth:`fit` was not called.

    The attribution is :math:`-g(x)`, in each column's own units (its sign says which
    way the feature supports the current class; ``meta["standardized"]`` divides it by
    the training standard deviation, which makes it comparable to LIME's coefficients
    per standard deviation). For a one-hot group, :math:`-g` is +1 on the input's
    category and -1 on the category the counterfactual switches to.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        Any classifier: only its predicted classes are used.
    lam : float, default=0.1
        :math:`\lambda`, the price of the perturbation's length (standardized units).
    eta : float, optional
        :math:`\eta`, the price of each changed category; default ``10 * lam``.
    locked : sequence of str, default=()
        Features that must not change (names of features or one-hot groups, for
        example ``"age"`` or ``"employment"``).
    width, depth, dropout : int, int, float, default=100, 4, 0.2
        The perturbation network, as in the paper.
    surrogate_hidden : sequence of int, default=(16,)
        Hidden layers of the surrogate ReLU network. Keep it small: the surrogate
        should generalize the model's decision function, not reproduce the noise in
        its labels on the training points (a random forest memorizes those). Measured
        on ``load_moons`` with a 200-tree random forest: the mean cosine between
        FIMAP and LIME is 0.93 with 16 hidden units, 0.84 with 32, and 0.66 / 0.58
        with two layers of 32 / 64, where the surrogate grows islands around
        mislabelled points and ``g`` points at them; all agree with the forest on
        98.6-98.8 % of test points.
    epochs, surrogate_epochs : int, default=150, 100
        Training epochs of ``g`` and of the surrogate.
    lr : float, default=1e-3
        Adam's learning rate for ``g``.
    batch_size : int, default=128
    temperature : float, default=0.5
        Gumbel-softmax temperature of the categorical heads.
    verify : bool, default=True
        Evaluate the real model at each counterfactual (one more batched model call)
        and report whether it flips.
    seed : int, default=0
        Seed of initialisation, shuffling, dropout and Gumbel noise: the same seed
        gives the same networks.
    cache : bool, default=True
        Load trained networks from, and save them to, the cache directory.
    progress : bool, default=True
        Show progress bars while training.
    output : {"auto", "logit", "probability"}, default="auto"
        Recorded in the explanations (FIMAP itself uses only hard labels).

    Attributes
    ----------
    surrogate_, perturbation_ : torch.nn.Module
        The trained networks (after :meth:`fit`).
    surrogate_agreement_ : float
        How often the surrogate's class equals the model's on the test inputs.
    flip_rate_ : float
        How often the real model flips at ``x + g(x)`` on the test inputs.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> from sklearn.ensemble import RandomForestClassifier
    >>> ds = xw.datasets.load_moons()
    >>> forest = RandomForestClassifier(50, random_state=0).fit(ds.X_train, ds.y_train)
    >>> fimap = xw.explainers.Fimap(xw.wrap(forest, ds), progress=False).fit(ds)
    >>> e = fimap.explain(ds.X_test[:3])
    >>> e.values.shape, e.meta["counterfactual"].shape
    ((3, 2), (3, 2))
    """

    name = "fimap"
    label = "FIMAP"
    requires_gradients = False

    def __init__(
        self,
        model: Any,
        *,
        lam: float = 0.1,
        eta: float | None = None,
        locked: Any = (),
        width: int = 100,
        depth: int = 4,
        dropout: float = 0.2,
        surrogate_hidden: Any = (16,),
        epochs: int = 150,
        surrogate_epochs: int = 100,
        lr: float = 1e-3,
        batch_size: int = 128,
        temperature: float = 0.5,
        verify: bool = True,
        seed: int = 0,
        cache: bool = True,
        progress: bool = True,
        output: str = "auto",
    ) -> None:
        super().__init__(model, output=output)
        lam = check_real(lam, "lam", low=0.0, low_inclusive=False)
        if isinstance(locked, str):
            locked = (locked,)
        if not all(isinstance(name, str) for name in locked):
            raise TypeError(f"locked must be a sequence of feature names; got {locked!r}.")
        self.params.update(
            lam=lam,
            eta=10 * lam if eta is None else check_real(eta, "eta", low=0.0),
            locked=tuple(locked),
            width=check_int(width, "width", low=1),
            depth=check_int(depth, "depth", low=1),
            dropout=check_real(dropout, "dropout", low=0.0, high=0.95),
            surrogate_hidden=tuple(
                check_int(h, "surrogate_hidden", low=1) for h in surrogate_hidden
            ),
            epochs=check_int(epochs, "epochs", low=1),
            surrogate_epochs=check_int(surrogate_epochs, "surrogate_epochs", low=1),
            lr=check_real(lr, "lr", low=0.0, low_inclusive=False),
            batch_size=check_int(batch_size, "batch_size", low=1),
            temperature=check_real(temperature, "temperature", low=0.0, low_inclusive=False),
            verify=bool(verify),
            seed=check_int(seed, "seed", low=0),
        )
        self._cache = bool(cache)
        self._progress = bool(progress)
        self._fitted = False
        if self.model.dataset is not None:
            self._layout(self.model.dataset)  # check the locks early

    # ------------------------------------------------------------------ layout
    def _layout(self, dataset: Dataset) -> None:
        """Column roles from the data set: continuous/integer columns and one-hot groups."""
        if not isinstance(dataset, Dataset):
            raise TypeError(
                f"dataset must be an xaiwidgets Dataset; got {type(dataset).__name__}."
            )
        if dataset.kind != "tabular":
            raise ValueError(
                f"FIMAP perturbs tabular features; the data set {dataset.name!r} is "
                f"{dataset.kind}. Use a gradient method or LIME for images."
            )
        if dataset.input_shape != self.model.input_shape:
            raise ValueError(
                f"The data set's inputs have shape {dataset.input_shape}; the model expects "
                f"{self.model.input_shape}."
            )
        names = {f.name for f in dataset.features}
        unknown = [name for name in self.params["locked"] if name not in names]
        if unknown:
            raise ValueError(
                f"locked names unknown features {unknown}; the features are: "
                f"{', '.join(f.name for f in dataset.features)}."
            )
        locked = set(self.params["locked"])
        self._groups = [list(f.columns) for f in dataset.features if f.kind == "categorical"]
        self._group_locked = [
            f.name in locked for f in dataset.features if f.kind == "categorical"
        ]
        self._continuous = np.array(
            [c for f in dataset.features if f.kind != "categorical" for c in f.columns], int
        )
        self._continuous_locked = np.array(
            [
                f.name in locked
                for f in dataset.features
                if f.kind != "categorical"
                for _ in f.columns
            ],
            bool,
        )
        self._integer = np.array(
            [c for f in dataset.features if f.kind == "integer" for c in f.columns], int
        )
        self._bounds = np.asarray(dataset.bounds, float)
        self._mean = dataset.train_mean.copy()
        self._std = dataset.train_std.copy()
        self._mean[[c for g in self._groups for c in g]] = 0.0
        self._std[[c for g in self._groups for c in g]] = 1.0

    def _standardize(self, X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor((X - self._mean) / self._std, dtype=torch.float32)

    # ------------------------------------------------------------------ training
    def fit(self, dataset: Dataset | None = None) -> Fimap:
        """Train the surrogate on the model's hard labels, then the perturbation network.

        Parameters
        ----------
        dataset : Dataset, optional
            Training inputs (``X_train``; ``X_test`` measures the surrogate's agreement
            and the flip rate). Default: the data set the model was wrapped with.

        Returns
        -------
        Fimap
            ``self``, fitted.
        """
        dataset = self.model.dataset if dataset is None else dataset
        if dataset is None:
            raise ValueError(
                "FIMAP trains on data: pass fit(dataset) or wrap the model with its data set."
            )
        self._layout(dataset)
        X = np.asarray(dataset.X_train, float)
        labels = self.model.predict(X)
        p = self.params
        settings = {k: v for k, v in p.items() if k not in ("output", "verify")}
        key = {
            "kind": "fimap",
            "format": _FORMAT,
            **settings,
            "data": dataset_fingerprint(dataset),
            "labels": dataset_fingerprint(dataset.replace(y_train=labels)),
        }

        def build() -> torch.nn.ModuleDict:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(p["seed"])
                layers: list[torch.nn.Module] = []
                size = X.shape[1]
                for h in p["surrogate_hidden"]:
                    layers += [torch.nn.Linear(size, h), torch.nn.ReLU()]
                    size = h
                layers.append(torch.nn.Linear(size, self.model.n_classes))
                return torch.nn.ModuleDict(
                    {
                        "surrogate": torch.nn.Sequential(*layers),
                        "perturbation": _PerturbationNet(
                            X.shape[1],
                            self.model.n_classes,
                            len(self._continuous),
                            self._groups,
                            p["width"],
                            p["depth"],
                            p["dropout"],
                        ),
                    }
                )

        def train(networks: torch.nn.ModuleDict) -> None:
            inputs = self._standardize(X).numpy()
            fit(
                networks["surrogate"],
                inputs,
                labels,
                epochs=p["surrogate_epochs"],
                lr=3e-3,
                batch_size=p["batch_size"],
                weight_decay=1e-4,
                seed=p["seed"],
                progress=self._progress,
                description="FIMAP surrogate",
            )
            self._train_perturbation(networks, inputs, labels)

        with torch_threads(1):
            networks = cached_model(build, train, key, self._cache)
        self.surrogate_ = networks["surrogate"].eval()
        self.perturbation_ = networks["perturbation"].eval()
        for parameter in networks.parameters():
            parameter.requires_grad_(False)
        self._fitted = True
        X_test = np.asarray(dataset.X_test, float)
        test_labels = self.model.predict(X_test)
        with torch.no_grad():
            imitated = self.surrogate_(self._standardize(X_test)).argmax(1).numpy()
        self.surrogate_agreement_ = float(np.mean(imitated == test_labels))
        counterfactual, _, _ = self._perturb(X_test, test_labels)
        self.flip_rate_ = float(np.mean(self.model.predict(counterfactual) != test_labels))
        return self

    def _train_perturbation(
        self, networks: torch.nn.ModuleDict, inputs: np.ndarray, labels: np.ndarray
    ) -> None:
        """Minimise the FIMAP loss over ``g`` with the surrogate frozen (Adam)."""
        from tqdm.auto import tqdm

        p = self.params
        surrogate, g = networks["surrogate"].eval(), networks["perturbation"]
        for parameter in surrogate.parameters():
            parameter.requires_grad_(False)
        X = torch.as_tensor(inputs, dtype=torch.float32)
        y = torch.as_tensor(labels, dtype=torch.long)
        keep = torch.as_tensor(~self._continuous_locked, dtype=torch.float32)
        optimizer = torch.optim.Adam(g.parameters(), lr=p["lr"])
        generator = torch.Generator().manual_seed(p["seed"])
        g.train()
        bar = tqdm(
            range(p["epochs"]),
            desc="FIMAP perturbation network",
            disable=not self._progress,
            leave=False,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])  # dropout and Gumbel noise
            for _ in bar:
                order = torch.randperm(len(X), generator=generator)
                total = 0.0
                for start in range(0, len(X), p["batch_size"]):
                    rows = order[start : start + p["batch_size"]]
                    loss = self._loss(surrogate, g, X[rows], y[rows], keep).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    total += loss.item() * len(rows)
                bar.set_postfix(loss=f"{total / len(X):.4f}")
        g.eval()

    def _loss(
        self,
        surrogate: torch.nn.Module,
        g: torch.nn.Module,
        x: torch.Tensor,
        y: torch.Tensor,
        keep: torch.Tensor,
    ) -> torch.Tensor:
        """Per-row FIMAP loss: -log s_not_y(x + g(x)) + lam ||shift|| + eta * changes."""
        shift, category_logits = g(x, y)
        shift = shift * keep
        perturbed = x.clone()
        perturbed[:, self._continuous] = x[:, self._continuous] + shift
        changes = torch.zeros(len(x))
        for columns, logits, locked in zip(
            self._groups, category_logits, self._group_locked, strict=True
        ):
            if locked:
                continue
            choice = torch.nn.functional.gumbel_softmax(
                logits, tau=self.params["temperature"], hard=True
            )
            perturbed[:, columns] = choice
            changes = changes + 1.0 - (choice * x[:, columns]).sum(dim=1)
        scores = surrogate(perturbed)
        others = scores.scatter(1, y[:, None], float("-inf"))
        flip = torch.logsumexp(others, dim=1) - torch.logsumexp(scores, dim=1)
        length = torch.sqrt((shift**2).sum(dim=1) + 1e-12)
        return -flip + self.params["lam"] * length + self.params["eta"] * changes

    # ------------------------------------------------------------------ explaining
    def _perturb(
        self, batch: np.ndarray, labels: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Counterfactuals (in the data's domain), raw perturbations and surrogate classes.

        Returns ``(counterfactual, g, surrogate_class)``: ``x + g(x)`` rounded to whole
        values where a feature is an integer and clipped to the bounds, ``g(x)`` in raw
        units, and the surrogate's class at the counterfactual.
        """
        with torch.no_grad():
            shift, category_logits = self.perturbation_(
                self._standardize(batch), torch.as_tensor(labels, dtype=torch.long)
            )
        shift = shift.double().numpy() * ~self._continuous_locked
        g = np.zeros_like(batch)
        g[:, self._continuous] = shift * self._std[self._continuous]
        for columns, logits, locked in zip(
            self._groups, category_logits, self._group_locked, strict=True
        ):
            if not locked:
                chosen = np.eye(len(columns))[logits.argmax(dim=1).numpy()]
                g[:, columns] = chosen - batch[:, columns]
        counterfactual = batch + g
        counterfactual[:, self._integer] = np.round(counterfactual[:, self._integer])
        counterfactual = np.clip(counterfactual, self._bounds[:, 0], self._bounds[:, 1])
        with torch.no_grad():
            surrogate_class = self.surrogate_(self._standardize(counterfactual)).argmax(1).numpy()
        return counterfactual, g, surrogate_class

    def _attribute(self, batch, targets, outputs):
        if not self._fitted:
            self.fit()
        flat = batch.reshape(len(batch), -1)
        predicted = np.argmax(outputs, axis=1)
        other = targets != predicted
        if np.any(other) and self.model.n_classes > 2:
            raise ValueError(
                "FIMAP explains the predicted class (its perturbation moves away from it); "
                "use target=None."
            )
        counterfactual, g, surrogate_class = self._perturb(flat, predicted)
        # -g supports the predicted class; for the other class of a binary model, +g.
        values = np.where(other[:, None], g, -g)
        meta = {
            "counterfactual": counterfactual.reshape(batch.shape),
            "standardized": values / self._std,
            "distance": np.linalg.norm(g / self._std, axis=1),
            "surrogate_flipped": surrogate_class != predicted,
        }
        if self.params["verify"]:
            meta["flipped"] = self.model.predict(counterfactual) != predicted
        return values.reshape(batch.shape), meta
