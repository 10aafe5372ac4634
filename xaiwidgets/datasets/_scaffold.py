r"""The fooling demo: a biased ReLU network that hides its bias from LIME and SHAP.

Slack, Hilgard, Jia, Singh & Lakkaraju, "Fooling LIME and SHAP: Adversarial Attacks
on Post hoc Explanation Methods" (AIES 2020). Perturbation-based explainers evaluate a
model on points that do not look like data: LIME's Gaussian noise around the input,
SHAP's rows stitched together from the input and background rows. A *scaffold*
classifier uses a detector of such points to switch between two models:

.. math:: f(x) = \begin{cases} f_\text{biased}(x) & \text{if } x \text{ looks like data} \\
          f_\text{innocuous}(x) & \text{otherwise,} \end{cases}

so every real applicant is judged by the protected attribute alone, while the
explainers, which mostly see the innocuous model, report an unrelated column as the
reason. Here the whole scaffold is one ``nn.Sequential`` of Linear and ReLU layers
(the detector, the two scores and the switch are written as ReLU units), so exact
methods that read the network at the real input (gradients, the exact linear region,
flip points) see the biased model that is actually used.

Two detectors feed the switch. A trained ReLU network catches LIME's Gaussian
samples (almost all of them). SHAP's interventional coalitions are harder: on
``load_credit`` six of the ten features are drawn independently of the others, so a
row stitched from an applicant and a background row is usually a plausible applicant
(a gradient-boosted detector flags 8 % of them at 1 % false alarms). Slack et al.'s
SHAP attack assumes the adversary knows SHAP's background rows, and so does this one:
a second, exact detector flags rows that share two or more continuous values with the
same background row, which real rows never do here and SHAP's coalitions often do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..core.dataset import Dataset
from ..core.validation import as_numpy, check_finite, check_int, check_real
from ..zoo._training import cached_model, dataset_fingerprint, fit, fold_standardization
from ._credit import load_credit

__all__ = ["Scaffold", "make_scaffold"]

# Bound on |score| that the switch relies on (big-M).
_BIG = 1000.0
# Version of the detector's training data and procedure, part of the cache key.
_FORMAT = 2


@dataclass(frozen=True, eq=False)
class Scaffold:
    """A scaffolded classifier and what it hides (see :func:`make_scaffold`).

    Attributes
    ----------
    model : torch.nn.Sequential
        The adversarial classifier: Linear and ReLU layers, raw credit rows in, two
        logits (denied, approved) out. Wrap it with ``xw.wrap(model, dataset)``.
    detector : torch.nn.Sequential
        The trained out-of-distribution detector inside it: its output ``r`` is the
        logit of "this row looks like data".
    dataset : Dataset
        The credit data.
    background : ndarray of shape (k, 13) or None
        The background rows the attack expects SHAP to use (pass them to SHAP as
        ``background=``); None when the attack ignores SHAP's background.
    protected, unrelated : str
        The column the model really uses on data, and the column it shows to
        perturbation-based explainers.
    biased_weight, innocuous_weight, innocuous_threshold : float
        The two scores (logits of approval): ``biased_weight * (0.5 - protected)``
        on data and ``innocuous_weight * (innocuous_threshold - unrelated)`` elsewhere.
    gate_low : float
        The trained detector's part of the switch is ``clip(r - gate_low, 0, 1)``:
        full from ``r >= gate_low + 1`` (reached by ``coverage`` of held-out real
        rows).
    report : dict
        Fractions of held-out real rows and of LIME-style and SHAP-style
        perturbations of them that each model judges.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> sc = xw.datasets.make_scaffold(progress=False)
    >>> sc.report["real rows judged by the biased model"] > 0.95
    True
    """

    model: torch.nn.Sequential
    detector: torch.nn.Sequential
    dataset: Dataset
    background: np.ndarray | None
    protected: str
    unrelated: str
    biased_weight: float
    innocuous_weight: float
    innocuous_threshold: float
    gate_low: float
    report: dict[str, float] = field(default_factory=dict)
    _switch: torch.nn.Sequential | None = field(default=None, repr=False)

    def gate(self, X: Any) -> np.ndarray:
        """The share of each row's score that comes from the biased model, in ``[0, 1]``.

        Read from the network itself (the layers up to the switch).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> sc = xw.datasets.make_scaffold(progress=False)
        >>> float((sc.gate(sc.dataset.X_test) == 1).mean()) > 0.95
        True
        """
        X = np.array(X, dtype=np.float32, ndmin=2)
        with torch.no_grad():
            share = self._switch(torch.from_numpy(X))[:, 0]
        share = np.clip(share.double().numpy(), 0.0, 1.0)
        # clip(t, 0, 1) computed as relu(t) - relu(t - 1) in float32 can miss 1 by
        # one rounding step.
        return np.where(share > 1 - 1e-6, 1.0, np.where(share < 1e-6, 0.0, share))

    def perturbations(self, X: Any, kind: str, seed: int = 0) -> np.ndarray:
        """Points like those LIME (``"lime"``) or SHAP (``"shap"``) evaluates around ``X``.

        One perturbation per row, drawn as described in :func:`make_scaffold`; SHAP's
        use :attr:`background` when there is one.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> sc = xw.datasets.make_scaffold(progress=False)
        >>> float((sc.gate(sc.perturbations(sc.dataset.X_test, "lime")) == 0).mean()) > 0.7
        True
        """
        rng = np.random.default_rng(check_int(seed, "seed", low=0))
        X = np.atleast_2d(np.asarray(X, dtype=np.float64))
        if kind == "lime":
            return _lime_like(X, self.dataset, rng)
        if kind == "shap":
            return _shap_like(X, self.dataset, rng, self.background)
        raise ValueError(f"kind must be 'lime' or 'shap'; got {kind!r}.")


def make_scaffold(
    dataset: Dataset | None = None,
    *,
    protected: str = "group",
    unrelated: str = "dependents",
    background: Any = 50,
    biased_weight: float = 4.0,
    innocuous_weight: float = 6.0,
    coverage: float = 0.99,
    hidden: tuple[int, ...] = (64, 64),
    perturbations_per_row: int = 2,
    epochs: int = 15,
    seed: int = 0,
    cache: bool = True,
    progress: bool = True,
) -> Scaffold:
    """Build Slack et al.'s scaffolding attack on ``load_credit`` as one ReLU network.

    1. Perturbations of the training rows are drawn as the explainers draw them:
       LIME-style, Gaussian noise with the training standard deviation on every
       numeric column and each one-hot group redrawn with the training frequencies;
       SHAP-style, a random subset of the features (a one-hot group counts as one)
       kept from the row and the rest taken from another training row (the
       interventional background of an ``Independent`` masker).
    2. A ReLU detector is trained to tell real rows (80 % of the training rows) from
       those perturbations (cross-entropy; the standardization folded into its first
       layer). Its logit ``r`` at the other 20 % of real rows sets the switch: the
       biased score is used in full from the ``1 - coverage`` quantile ``r_hi`` up,
       and not at all below ``r_lo = r_hi - 1``.
    3. With a SHAP ``background``, an exact detector counts, for each background row,
       the continuous columns whose value equals that row's (a ReLU bump of half the
       data's resolution per value); two or more matches with one row switch to the
       innocuous score.
    4. One ``nn.Sequential`` computes, side by side, ``r``, the matches, the biased
       score ``b = w_b (0.5 - protected)`` and the innocuous score
       ``u = w_u (t - unrelated)`` (carried through the layers as ``relu(v)`` and
       ``relu(-v)``); then the switch ``a = relu(clip(r - r_lo, 0, 1) - matched)``
       and ``s = [relu(b - M(1 - a)) - relu(-b - M(1 - a))] + [relu(u - M a) -
       relu(-u - M a)]``, which is ``b`` where ``a = 1`` and ``u`` where ``a = 0``;
       the logits are ``(-s/2, s/2)``.

    Parameters
    ----------
    dataset : Dataset, optional
        A ``load_credit`` data set (default ``load_credit()``).
    protected : str, default="group"
        The column the model uses on real rows.
    unrelated : str, default="dependents"
        A column the data's rule ignores, used on perturbations.
    background : int, array-like of shape (k, 13) or None, default=50
        The SHAP background the attack expects: that many training rows drawn
        without replacement with ``seed``, the rows given, or None (no exact
        detector; SHAP is then rarely fooled on this data).
    biased_weight, innocuous_weight : float, default=4.0, 6.0
        Slopes of the two scores. SHAP still sees the biased score on the coalitions
        the detectors miss; a steeper innocuous score outweighs them (with 3.0 the
        protected column still comes first for about a third of applicants).
    coverage : float, default=0.99
        Share of held-out real rows the trained detector must pass as data.
    hidden : tuple of int, default=(64, 64)
        The trained detector's hidden layers.
    perturbations_per_row : int, default=2
        LIME-style and SHAP-style perturbations drawn per training row (each).
    epochs : int, default=15
        Training epochs of the detector.
    seed : int, default=0
        Seed of the background, the split, the perturbations and the training.
    cache : bool, default=True
        Cache the trained detector in the user's cache directory.
    progress : bool, default=True
        Show a progress bar while training.

    Returns
    -------
    Scaffold

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> sc = xw.datasets.make_scaffold(progress=False)
    >>> m = xw.wrap(sc.model, sc.dataset)
    >>> g = xw.explainers.Gradient(m).explain(sc.dataset.X_test[0])
    >>> g.to_frame().set_index("feature")["attribution"].abs().idxmax()
    'group'
    """
    dataset = load_credit() if dataset is None else dataset
    if not isinstance(dataset, Dataset) or dataset.name != "credit":
        raise TypeError(
            f"make_scaffold builds the demo on xw.datasets.load_credit() data; got {dataset!r}."
        )
    names = dataset.feature_names
    numeric = [f.name for f in dataset.features if f.kind != "categorical"]
    for argument, column in (("protected", protected), ("unrelated", unrelated)):
        if column not in numeric:
            raise ValueError(
                f"{argument} must be one of the numeric columns {numeric}; got {column!r}."
            )
    if protected == unrelated:
        raise ValueError("protected and unrelated must be different columns.")
    biased_weight = check_real(biased_weight, "biased_weight", low=0.0, low_inclusive=False)
    innocuous_weight = check_real(
        innocuous_weight, "innocuous_weight", low=0.0, low_inclusive=False
    )
    coverage = check_real(coverage, "coverage", low=0.5, high=1.0)
    hidden = tuple(check_int(h, "hidden", low=1) for h in hidden)
    perturbations_per_row = check_int(perturbations_per_row, "perturbations_per_row", low=1)
    epochs = check_int(epochs, "epochs", low=1)
    seed = check_int(seed, "seed", low=0)
    rows = np.asarray(dataset.X_train, dtype=np.float64)
    background = _resolve_background(background, rows, seed)

    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(rows))
    split = int(0.8 * len(rows))
    real, held_out = rows[order[:split]], rows[order[split:]]
    repeated = np.repeat(real, perturbations_per_row, axis=0)
    fake = np.vstack([_lime_like(repeated, dataset, rng), _shap_like(repeated, dataset, rng)])
    # Real rows are outnumbered 2 * perturbations_per_row to 1: repeat them so that
    # both kinds weigh the same in the loss.
    X = np.vstack([np.repeat(real, 2 * perturbations_per_row, axis=0), fake])
    y = np.concatenate([np.ones(len(fake), int), np.zeros(len(fake), int)])
    mean, std = X.mean(axis=0), X.std(axis=0)
    std = np.where(std > 0, std, 1.0)

    def build() -> torch.nn.Sequential:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            layers: list[torch.nn.Module] = []
            width = X.shape[1]
            for h in hidden:
                layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
                width = h
            layers.append(torch.nn.Linear(width, 2))
            return torch.nn.Sequential(*layers)

    def train(module: torch.nn.Sequential) -> None:
        fit(
            module,
            (X - mean) / std,
            y,
            epochs=epochs,
            lr=2e-3,
            batch_size=256,
            weight_decay=1e-4,
            seed=seed,
            progress=progress,
            description="training the scaffold's detector",
        )
        fold_standardization(module[0], mean, std)

    key = {
        "kind": "scaffold-detector",
        "format": _FORMAT,
        "hidden": list(hidden),
        "perturbations_per_row": perturbations_per_row,
        "epochs": epochs,
        "seed": seed,
        "data": dataset_fingerprint(dataset),
    }
    detector = _logit_difference(cached_model(build, train, key, cache))
    with torch.no_grad():
        held_out_r = detector(torch.as_tensor(held_out, dtype=torch.float32))[:, 0].numpy()
    gate_low = float(np.quantile(held_out_r, 1.0 - coverage)) - 1.0
    threshold = 1.5
    branches = [
        _detector_branch(detector, gate_low),
        _score_branch(
            len(names),
            names.index(protected),
            names.index(unrelated),
            (biased_weight, innocuous_weight, threshold),
        ),
    ]
    if background is not None:
        continuous = [c for f in dataset.features if f.kind == "continuous" for c in f.columns]
        branches.append(_match_branch(background, continuous, rows))
    model, switch = _assemble(branches, len(names))
    scaffold = Scaffold(
        model=model,
        detector=detector,
        dataset=dataset,
        background=background,
        protected=protected,
        unrelated=unrelated,
        biased_weight=biased_weight,
        innocuous_weight=innocuous_weight,
        innocuous_threshold=threshold,
        gate_low=gate_low,
        _switch=switch,
    )
    check = np.random.default_rng(seed + 2)
    scaffold.report.update(
        {
            "real rows judged by the biased model": float(np.mean(scaffold.gate(held_out) == 1)),
            "LIME-style points judged by the innocuous model": float(
                np.mean(scaffold.gate(_lime_like(held_out, dataset, check)) == 0)
            ),
            "SHAP-style points judged by the innocuous model": float(
                np.mean(scaffold.gate(_shap_like(held_out, dataset, check, background)) == 0)
            ),
        }
    )
    return scaffold


def _resolve_background(background: Any, rows: np.ndarray, seed: int) -> np.ndarray | None:
    if background is None:
        return None
    if isinstance(background, int | np.integer) and not isinstance(background, bool):
        size = check_int(background, "background", low=1, high=len(rows))
        return rows[np.sort(np.random.default_rng(seed).choice(len(rows), size, replace=False))]
    array = np.array(as_numpy(background, "background"), dtype=np.float64)
    if array.ndim != 2 or array.shape[1] != rows.shape[1] or not len(array):
        raise ValueError(
            f"background must be an int, None or rows of shape (k, {rows.shape[1]}); got "
            f"shape {array.shape}."
        )
    check_finite(array, "background")
    return array


def _lime_like(X: np.ndarray, dataset: Dataset, rng: np.random.Generator) -> np.ndarray:
    """LIME-style points: Gaussian noise on numeric columns, one-hot groups redrawn.

    The noise has the training standard deviation; each group's category is drawn
    with the training frequencies (as LIME's default tabular sampler does).
    """
    out = X + rng.normal(size=X.shape) * dataset.train_std
    for columns in dataset.categorical_groups.values():
        frequencies = dataset.X_train[:, columns].mean(axis=0)
        chosen = rng.choice(len(columns), size=len(X), p=frequencies / frequencies.sum())
        out[:, columns] = np.eye(len(columns))[chosen]
    return out


def _shap_like(
    X: np.ndarray,
    dataset: Dataset,
    rng: np.random.Generator,
    background: np.ndarray | None = None,
) -> np.ndarray:
    """SHAP-style points: a random coalition of features kept, the rest from a data row.

    Each feature (a one-hot group counts as one) is kept from the row or taken from a
    random row of ``background`` (default: the training rows); the coalition size is
    uniform (an interventional ``Independent`` masker over a background of rows).
    """
    features = [list(f.columns) for f in dataset.features]
    pool = dataset.X_train if background is None else background
    background = pool[rng.integers(len(pool), size=len(X))]
    sizes = rng.integers(0, len(features), size=len(X))
    ranks = np.argsort(rng.uniform(size=(len(X), len(features))), axis=1)
    keep = ranks < sizes[:, None]
    out = np.array(background, dtype=np.float64)
    for f, columns in enumerate(features):
        rows = keep[:, f]
        out[np.ix_(rows, columns)] = X[np.ix_(rows, columns)]
    return out


def _logit_difference(classifier: torch.nn.Sequential) -> torch.nn.Sequential:
    """The detector as one logit: (logit of real) - (logit of perturbation)."""
    last = classifier[-1]
    single = torch.nn.Linear(last.in_features, 1)
    with torch.no_grad():
        single.weight.copy_(last.weight[1:2] - last.weight[0:1])
        single.bias.copy_(last.bias[1:2] - last.bias[0:1])
    return torch.nn.Sequential(*list(classifier)[:-1], single).eval()


# A branch is a list of (weight, bias) stages, each followed by a ReLU: it reads the
# input row and ends in non-negative channels. Branches run side by side.
Branch = list[tuple[np.ndarray, np.ndarray]]


def _detector_branch(detector: torch.nn.Sequential, gate_low: float) -> Branch:
    """The trained detector, ending in (relu(r - r_lo), relu(r - r_lo - 1))."""
    linears = [m for m in detector if isinstance(m, torch.nn.Linear)]
    stages = [
        (m.weight.detach().double().numpy(), m.bias.detach().double().numpy()) for m in linears
    ]
    weight, bias = stages[-1]
    stages[-1] = (np.vstack([weight, weight]), bias[0] - np.array([gate_low, gate_low + 1.0]))
    return stages


def _score_branch(
    n_inputs: int, protected: int, unrelated: int, scores: tuple[float, float, float]
) -> Branch:
    """(relu(b), relu(-b), relu(u), relu(-u)) for b = w_b (0.5 - x_p), u = w_u (t - x_u)."""
    biased_weight, innocuous_weight, threshold = scores
    weight = np.zeros((4, n_inputs))
    weight[0, protected], weight[1, protected] = -biased_weight, biased_weight
    weight[2, unrelated], weight[3, unrelated] = -innocuous_weight, innocuous_weight
    b, u = 0.5 * biased_weight, threshold * innocuous_weight
    return [(weight, np.array([b, -b, u, -u]))]


def _match_branch(background: np.ndarray, columns: list[int], rows: np.ndarray) -> Branch:
    """(relu(k), relu(k - 1)) where k counts background rows matched on >= 2 columns.

    A value matches when it is within half the data's resolution of the background
    row's value: bump = relu(1 - |x - v| / eps), with |x - v| = relu(x - v) + relu(v - x).
    """
    n_rows, n_columns, n_inputs = len(background), len(columns), rows.shape[1]
    eps = np.array([0.5 * _resolution(rows[:, c]) for c in columns])
    # Stage 1: relu(x_c - v) and relu(v - x_c) for every background row and column.
    values = background[:, columns].reshape(-1)
    picks = np.zeros((n_rows * n_columns, n_inputs))
    picks[np.arange(n_rows * n_columns), np.tile(columns, n_rows)] = 1.0
    first = (np.vstack([picks, -picks]), np.concatenate([-values, values]))
    # Stage 2: the bumps.
    scale = 1.0 / np.tile(eps, n_rows)
    second = (np.hstack([-np.diag(scale), -np.diag(scale)]), np.ones(n_rows * n_columns))
    # Stage 3: per background row m = sum of bumps; relu(m - 1) and relu(m - 2).
    per_row = np.kron(np.eye(n_rows), np.ones((1, n_columns)))
    third = (
        np.vstack([per_row, per_row]),
        np.concatenate([-np.ones(n_rows), -2 * np.ones(n_rows)]),
    )
    # Stage 4: k = sum over rows of clip(m - 1, 0, 1); relu(k) and relu(k - 1).
    count = np.hstack([np.ones((1, n_rows)), -np.ones((1, n_rows))])
    fourth = (np.vstack([count, count]), np.array([0.0, -1.0]))
    return [first, second, third, fourth]


def _resolution(values: np.ndarray) -> float:
    """The smallest positive gap between distinct values of a column."""
    gaps = np.diff(np.unique(values))
    return float(gaps[gaps > 0].min()) if np.any(gaps > 0) else 1.0


def _assemble(
    branches: list[Branch], n_inputs: int
) -> tuple[torch.nn.Sequential, torch.nn.Sequential]:
    """Run the branches side by side, then the switch; returns (model, switch part).

    Shorter branches are carried to the common depth by identity stages (a ReLU keeps
    a non-negative value). The switch stage takes (detector halves, score halves,
    match halves) to (a, relu(b), relu(-b), relu(u), relu(-u)) with
    ``a = relu((d1 - d2) - (k1 - k2))``.
    """
    depth = max(len(branch) for branch in branches)
    padded = []
    for branch in branches:
        width = branch[-1][0].shape[0]
        padded.append(branch + [(np.eye(width), np.zeros(width))] * (depth - len(branch)))
    layers: list[torch.nn.Module] = []
    for level in range(depth):
        blocks = [branch[level] for branch in padded]
        weight = (
            np.vstack([w for w, _ in blocks])
            if level == 0
            else _block_diagonal([w for w, _ in blocks])
        )
        layers += [_linear(weight, np.concatenate([b for _, b in blocks])), torch.nn.ReLU()]
    # Channels now: detector (2), scores (4), matches (2, if any).
    n_channels = 6 + (2 if len(branches) > 2 else 0)
    gate = np.zeros((5, n_channels))
    gate[0, 0], gate[0, 1] = 1.0, -1.0
    if len(branches) > 2:
        gate[0, 6], gate[0, 7] = -1.0, 1.0
    gate[1:5, 2:6] = np.eye(4)
    layers += [_linear(gate, np.zeros(5)), torch.nn.ReLU()]
    switch_index = len(layers)
    # Units: relu(b - M(1 - a)), relu(-b - M(1 - a)), relu(u - M a), relu(-u - M a).
    switch = np.array(
        [
            [_BIG, 1.0, -1.0, 0.0, 0.0],
            [_BIG, -1.0, 1.0, 0.0, 0.0],
            [-_BIG, 0.0, 0.0, 1.0, -1.0],
            [-_BIG, 0.0, 0.0, -1.0, 1.0],
        ]
    )
    layers += [_linear(switch, np.array([-_BIG, -_BIG, 0.0, 0.0])), torch.nn.ReLU()]
    # s = relu(..b..) - relu(..-b..) + relu(..u..) - relu(..-u..); logits (-s/2, s/2).
    combine = np.array([1.0, -1.0, 1.0, -1.0])
    layers.append(_linear(np.vstack([-combine / 2, combine / 2]), np.zeros(2)))
    model = torch.nn.Sequential(*layers).float().eval()
    return model, model[:switch_index]


def _block_diagonal(blocks: list[np.ndarray]) -> np.ndarray:
    out = np.zeros((sum(b.shape[0] for b in blocks), sum(b.shape[1] for b in blocks)))
    r = c = 0
    for block in blocks:
        out[r : r + block.shape[0], c : c + block.shape[1]] = block
        r, c = r + block.shape[0], c + block.shape[1]
    return out


def _linear(weight: np.ndarray, bias: np.ndarray) -> torch.nn.Linear:
    linear = torch.nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(weight))
        linear.bias.copy_(torch.as_tensor(bias))
    return linear
