r"""SHAP values from the ``shap`` library, configured for the wrapped model.

Lundberg and Lee 2017, "A Unified Approach to Interpreting Model Predictions"
(NeurIPS). The SHAP value of feature :math:`i` is its Shapley value in the game
:math:`v(S) = \mathbb E_{b}[f(x_S, b_{\bar S})]`, the expected output when the
features outside :math:`S` take values from a background row :math:`b`
(interventional, with an independent background):

.. math:: \phi_i = \sum_{S \subseteq N \setminus \{i\}}
   \frac{|S|!\,(n - |S| - 1)!}{n!} \bigl(v(S \cup \{i\}) - v(S)\bigr).

Efficiency: :math:`\sum_i \phi_i = f(x) - v(\emptyset)`, where the base value
:math:`v(\emptyset)` is the mean output over the background. This module chooses and
configures the ``shap`` explainer and converts its result; the values are ``shap``'s.

The module is named ``_shap`` so that it never stands in for the ``shap`` package.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch

from ..core.explainer import register
from ..core.model import Model
from ..core.seeding import numpy_rng
from ..core.validation import check_batch, check_int, check_option
from ._images import check_fill, fill_image, image_shape
from ._sampled import SampledExplainer
from ._tabular import TabularFeatures

__all__ = ["Shap"]

# shap's permutation and gradient explainers seed and draw from numpy's global random
# state; calls are serialised and the caller's global state is put back afterwards.
_GLOBAL_RNG_LOCK = threading.Lock()
# The exact algorithm needs 2**d evaluations; shap's own cap is 100000 (d = 16).
_MAX_EXACT_FEATURES = 16


@contextmanager
def _global_numpy_state_kept() -> Iterator[None]:
    with _GLOBAL_RNG_LOCK:
        state = np.random.get_state()  # noqa: NPY002 - shap uses the global state
        try:
            yield
        finally:
            np.random.set_state(state)  # noqa: NPY002


@register
class Shap(SampledExplainer):
    r"""SHAP values (Lundberg and Lee 2017) computed by the ``shap`` library.

    **Tabular inputs** are explained with ``shap.Explainer`` and an ``Independent``
    masker over a background of rows: ``algorithm="exact"`` enumerates all
    :math:`2^d` coalitions (exact Shapley values of the game on that background),
    ``"permutation"`` averages over ``max_evals`` // (2d + 1) antithetic permutations;
    ``"auto"`` takes exact for up to 10 features, as ``shap`` does. A one-hot group
    (for example ``employment``) is one player, switched as a whole between the
    input's category and the background row's, so no coalition builds an input with
    no category or two; its value is reported on the column of the input's category
    (its other columns get 0), so efficiency holds over the columns.

    **Images** (inputs ``(channels, height, width)``): ``"partition"`` (the default)
    is shap's ``PartitionExplainer`` with an ``Image`` masker, hierarchical Owen
    values over a pixel clustering in which hidden pixels take the ``fill`` image;
    ``"gradient"`` is shap's ``GradientExplainer`` (expected gradients, Erion et al.
    2021) on a torch model with background images, for which efficiency holds only
    in expectation (the gap is in ``meta["efficiency_gap"]``).

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier (torch, scikit-learn or callable; ``"gradient"`` needs torch).
    algorithm : {"auto", "exact", "permutation", "partition", "gradient"}, default="auto"
        ``"exact"``/``"permutation"`` for tabular inputs, ``"partition"``/``"gradient"``
        for images; ``"auto"`` is exact up to 10 features, permutation above, and
        partition for images.
    background : int or array-like of shape (k, *input_shape), default=50
        The rows hidden features are drawn from: an int summarizes the training
        inputs of the model's data set to that many rows (see ``summarize``); an
        array is used as given. Not used by ``"partition"`` (see ``fill``).
    summarize : {"sample", "kmeans"}, default="sample"
        How an int ``background`` is made: a sample of training rows without
        replacement (seeded with ``seed``; unbiased, and every row is a real
        input), or k-means centres (scikit-learn, on standardized inputs, seeded;
        one-hot groups set to their largest category and integer features
        rounded). ``shap``'s maskers weigh background rows equally, so the centres
        count equally however many rows each stands for.
    max_evals : int or "auto", default=500
        Model evaluations per input for ``"permutation"`` and ``"partition"``
        (``shap``'s default); ``"auto"`` is shap's choice (permutation: ``20 d``,
        10 antithetic pairs of passes; partition: 500). Partition splits its pixel
        clustering only as far as the budget allows and spreads a cluster's value
        evenly over its pixels: an 8x8 image needs 2000 to 3000 to resolve single
        pixels.
    n_samples : int, default=200
        ``"gradient"``: samples of the expectation per input (``shap``'s default).
    fill : {"zero", "mean", "blur"} or float, default="zero"
        ``"partition"``: what hidden pixels show (as for :class:`Lime`).
    seed : int or None, default=0
        Seed of the background sample and of shap's sampling; the same seed gives
        the same result. ``"exact"`` and ``"partition"`` draw nothing else.
    repeats : int, default=1
        Run ``repeats`` seeds and report the spread.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class: the logit where the model has
        one, else the probability.

    Notes
    -----
    ``meta`` holds, per input, ``base_value`` (the expected output on the
    background, or on the fill image for partition), ``output_at_input`` and
    ``efficiency_gap`` (:math:`\sum_i \phi_i - (f(x) - \text{base value})`); and
    ``algorithm``, ``background_size`` and ``seed``; with ``repeats > 1``,
    ``spread`` and ``repeat_values``. ``shap``'s use of numpy's global random
    state is contained: the caller's global state is restored after each call.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> e = xw.explainers.Shap(xw.wrap(xw.zoo.train_mlp(ds), ds)).explain(ds.X_test[0])
    >>> e.meta["algorithm"], abs(e.meta["efficiency_gap"]) < 1e-6
    ('exact', True)
    """

    name = "shap"
    label = "SHAP"

    def __init__(
        self,
        model: Any,
        *,
        algorithm: str = "auto",
        background: int | Any = 50,
        summarize: str = "sample",
        max_evals: int | str = 500,
        n_samples: int = 200,
        fill: str | float = "zero",
        seed: int | None = 0,
        repeats: int = 1,
        output: str = "auto",
    ) -> None:
        super().__init__(model, seed=seed, repeats=repeats, output=output)
        dataset = self.model.dataset
        self._image = (
            dataset.kind == "image" if dataset is not None else len(self.model.input_shape) == 3
        )
        self._space = None if self._image else TabularFeatures.of(self.model)
        algorithm = self._resolve_algorithm(algorithm)
        self.params["algorithm"] = algorithm
        if algorithm in ("permutation", "partition"):
            self.params["max_evals"] = self._check_max_evals(max_evals)
        if algorithm == "gradient":
            self.params["n_samples"] = check_int(n_samples, "n_samples", low=1)
        if algorithm == "partition":
            image_shape(self.model.input_shape)
            self.params["fill"] = check_fill(fill)
            if not isinstance(background, int) or isinstance(background, bool):
                raise ValueError(
                    "algorithm='partition' hides pixels with the 'fill' image, not with "
                    "background rows; pass fill= instead of a background array, or use "
                    "algorithm='gradient'."
                )
            return
        self._fixed_background: np.ndarray | None = None
        if isinstance(background, int | np.integer) and not isinstance(background, bool):
            self.params["background"] = check_int(int(background), "background", low=1)
            self.params["summarize"] = check_option(summarize, "summarize", ["sample", "kmeans"])
            if dataset is None:
                raise ValueError(
                    f"background={background} summarizes the training data, and this model "
                    "has no data set: wrap it with xw.wrap(model, dataset) or pass "
                    "background= as an array of rows."
                )
        elif np.ndim(background) == 0:
            raise TypeError(
                "The 'background' parameter must be an int (training rows to summarize) or "
                f"an array of rows of shape (k, *{self.model.input_shape}); got {background!r}."
            )
        else:
            rows, _ = check_batch(background, self.model.input_shape, name="background")
            self._fixed_background = rows
            self.params["background"] = "array"

    # ------------------------------------------------------------------ set-up
    def _resolve_algorithm(self, algorithm: str) -> str:
        if self._image:
            algorithm = check_option(algorithm, "algorithm", ["auto", "partition", "gradient"])
            if algorithm == "gradient" and not self.model.differentiable:
                raise TypeError(
                    "algorithm='gradient' (shap's GradientExplainer) needs a torch model; "
                    f"this one is {self.model.source}. Use algorithm='partition'."
                )
            return "partition" if algorithm == "auto" else algorithm
        algorithm = check_option(algorithm, "algorithm", ["auto", "exact", "permutation"])
        n_features = self._space.n_features
        if algorithm == "auto":
            return "exact" if n_features <= 10 else "permutation"
        if algorithm == "exact" and n_features > _MAX_EXACT_FEATURES:
            raise ValueError(
                f"algorithm='exact' needs 2**{n_features} model evaluations per background "
                f"row for this model's {n_features} features; it is offered up to "
                f"{_MAX_EXACT_FEATURES} features. Use algorithm='permutation'."
            )
        return algorithm

    def _check_max_evals(self, max_evals: Any) -> int | str:
        if isinstance(max_evals, str):
            return check_option(max_evals, "max_evals", ["auto"])
        minimum = 1
        if self.params["algorithm"] == "permutation":
            minimum = 2 * self._space.n_features + 1  # one antithetic pair of passes
        return check_int(max_evals, "max_evals", low=minimum)

    def _background(self, seed: int) -> np.ndarray:
        """The background rows for ``seed`` (the fixed array, or a seeded summary)."""
        if self._fixed_background is not None:
            return self._fixed_background
        return self._draws(("background", seed), lambda: self._summarize(seed))

    def _summarize(self, seed: int) -> np.ndarray:
        rows = np.asarray(self.model.dataset.X_train, dtype=np.float64)
        size = self.params["background"]
        if size >= len(rows):
            return rows.copy()
        if self.params["summarize"] == "sample":
            return rows[np.sort(numpy_rng(seed).choice(len(rows), size, replace=False))]
        return self._kmeans(rows, size, seed)

    def _kmeans(self, rows: np.ndarray, size: int, seed: int) -> np.ndarray:
        from sklearn.cluster import KMeans

        flat = rows.reshape(len(rows), -1)
        mean, std = flat.mean(axis=0), flat.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        kmeans = KMeans(n_clusters=size, n_init=10, random_state=seed).fit((flat - mean) / std)
        centres = kmeans.cluster_centers_ * std + mean
        if self._space is not None:
            centres = self._space.decode(self._space.encode(centres))
            integer = [
                i for i, kind in enumerate(self.model.dataset.feature_kinds) if kind == "integer"
            ]
            centres[:, integer] = np.round(centres[:, integer])
        return centres.reshape((size, *self.model.input_shape))

    # ------------------------------------------------------------------ attribution
    def _attribute_seeded(self, batch, targets, outputs, seed):
        algorithm = self.params["algorithm"]
        size = None
        if algorithm == "partition":
            values, base = self._partition(batch, targets)
        else:
            background = self._background(seed)
            size = len(background)
            if algorithm == "gradient":
                values = self._expected_gradients(batch, targets, background, seed)
                expected = self.model._outputs_unchecked(np.array(background), self.output)
                base = expected.mean(axis=0)[targets]
            else:
                values, base = self._tabular(batch, targets, background, seed)
        at_input = outputs[np.arange(len(batch)), targets]
        gap = values.reshape(len(batch), -1).sum(axis=1) - (at_input - base)
        meta = {
            "base_value": base,
            "output_at_input": at_input,
            "efficiency_gap": gap,
            "algorithm": algorithm,
            "background_size": size,
        }
        return values, meta

    def _target_function(self, target: int, decode: Callable | None = None) -> Callable:
        """The explained output of class ``target`` as a function of a numpy batch."""
        model, output, shape = self.model, self.output, self.model.input_shape

        def f(rows: np.ndarray) -> np.ndarray:
            rows = rows if decode is None else decode(rows)
            return model._outputs_unchecked(
                np.asarray(rows, dtype=np.float64).reshape((-1, *shape)), output
            )[:, target]

        return f

    def _tabular(self, batch, targets, background, seed):
        import shap

        space, n = self._space, len(batch)
        flat = batch.reshape(n, -1)
        x, players = space.encode(flat), space.encode(background.reshape(len(background), -1))
        masker = shap.maskers.Independent(players, max_samples=len(players))
        algorithm = self.params["algorithm"]
        call = {"max_evals": self.params["max_evals"]} if algorithm == "permutation" else {}
        if algorithm == "exact":
            call["max_evals"] = 2**space.n_features
        logical, base = np.empty((n, space.n_features)), np.empty(n)
        with self.model.inference(), _global_numpy_state_kept():
            for i in range(n):
                f = self._target_function(int(targets[i]), space.decode)
                # A new explainer per input re-seeds shap's sampler, so an input is
                # explained the same alone or in a batch.
                explainer = shap.Explainer(f, masker, algorithm=algorithm, seed=seed)
                result = explainer(x[i : i + 1], silent=True, **call)
                logical[i], base[i] = result.values[0], result.base_values[0]
        return space.spread(logical, flat).reshape(batch.shape), base

    def _expected_gradients(self, batch, targets, background, seed):
        import shap

        dtype = self.model.torch_dtype
        reference = torch.tensor(background, dtype=dtype)  # a copy: the summary is kept
        values = np.empty_like(batch)
        with self.model.inference(), _global_numpy_state_kept():
            for target in np.unique(targets):
                explainer = shap.GradientExplainer(
                    _TargetOutput(self.model, int(target), self.output), reference
                )
                for i in np.flatnonzero(targets == target):
                    result = explainer.shap_values(
                        torch.as_tensor(batch[i : i + 1], dtype=dtype),
                        nsamples=self.params["n_samples"],
                        rseed=seed,
                    )
                    values[i] = np.asarray(result, dtype=np.float64).reshape(batch.shape[1:])
        return values

    def _partition(self, batch, targets):
        import shap

        channels, height, width = image_shape(self.model.input_shape)
        values = np.empty_like(batch)
        base = np.empty(len(batch))
        for i, (image, target) in enumerate(zip(batch, targets, strict=True)):
            hidden = fill_image(image, self.params["fill"], self.model.dataset)
            masker = shap.maskers.Image(
                np.moveaxis(hidden, 0, -1), shape=(height, width, channels)
            )
            f = self._target_function(int(target), _channels_first)
            explainer = shap.PartitionExplainer(f, masker)
            result = explainer(
                np.moveaxis(image, 0, -1)[None], max_evals=self.params["max_evals"], silent=True
            )
            values[i] = np.moveaxis(result.values[0], -1, 0)
            base[i] = float(np.ravel(result.base_values)[0])
        return values, base


def _channels_first(images: np.ndarray) -> np.ndarray:
    """Channels-last images (as shap's image masker makes them) to channels-first."""
    return np.moveaxis(np.asarray(images), -1, 1)


class _TargetOutput(torch.nn.Module):
    """One output column of a wrapped torch model, as shap's GradientExplainer wants.

    The caller's module is held through the :class:`Model`, outside this module's
    tree, so shap's ``model.eval()`` and ``model.zero_grad()`` cannot change its train
    flags or ``.grad`` fields; it runs in eval mode inside ``Model.inference()``.
    """

    def __init__(self, model: Model, target: int, output: str) -> None:
        super().__init__()
        self._model = model
        self._target = target
        self._output = output

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        outputs = self._model.torch_outputs(X.to(self._model.torch_dtype), self._output)
        return outputs[:, self._target : self._target + 1]
