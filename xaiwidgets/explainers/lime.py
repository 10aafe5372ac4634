r"""LIME: a weighted linear surrogate fitted to the model around one input.

Ribeiro, Singh and Guestrin 2016, "Why Should I Trust You?": Explaining the
Predictions of Any Classifier (KDD). LIME draws samples :math:`z` around the input
:math:`x`, weighs them with the kernel :math:`\pi_x(z) = \exp(-D(x, z)^2 / \sigma^2)`
and fits a linear model :math:`g` on an interpretable representation :math:`z'` by
minimising :math:`\sum_z \pi_x(z) (f(z) - g(z'))^2 + \Omega(g)` (Eqs. 1-2 of the
paper). The attributions are the coefficients of :math:`g`.

How this compares with the reference implementation, the ``lime`` package 0.2:

- ``lime``'s default kernel is :math:`\sqrt{\exp(-d^2/w^2)} = \exp(-d^2 / (2 w^2))`,
  not the paper's :math:`\exp(-d^2/w^2)` used here: ``lime`` with width :math:`w`
  weighs samples as this class does with width :math:`\sqrt2 w`.
- ``LimeTabularExplainer`` samples around the training *mean* by default
  (``sample_around_instance=False``) and discretizes continuous features into
  quartiles (``discretize_continuous=True``). This class samples around the input
  and uses standardized continuous values, as ``lime`` does with
  ``sample_around_instance=True, discretize_continuous=False``.
- ``LimeImageExplainer`` fills switched-off superpixels with each superpixel's mean
  colour and segments with quickshift; here the fill and segmentation are chosen
  (default: zeros, and a grid of 2x2 patches for small images).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import scipy.linalg
from sklearn.linear_model import lars_path

from ..core.explainer import register
from ..core.seeding import numpy_rng
from ..core.validation import check_batch, check_int, check_option, check_real
from ._images import check_fill, check_segmentation, fill_image, image_shape, segment
from ._sampled import SampledExplainer
from ._tabular import TabularFeatures

__all__ = ["Lime"]


@register
class Lime(SampledExplainer):
    r"""LIME (Ribeiro et al. 2016) for tabular and image inputs.

    **Tabular inputs.** Samples are drawn around the input: each continuous or
    integer column as :math:`x_i + s_i \epsilon` with :math:`\epsilon \sim \mathcal
    N(0, 1)` and :math:`s_i` the training standard deviation (``sampling="gaussian"``),
    or as whole training rows (``sampling="training"``). A one-hot group (for example
    ``employment``) is one feature: its category is drawn with the training
    frequencies and represented as 1 when it is the input's category, else 0.
    Continuous features are represented standardized, :math:`(z_i - \mu_i)/s_i`. The
    distance :math:`D` is Euclidean in that representation (0 or 1 per group) and the
    default width is :math:`0.75 \sqrt{d}` for :math:`d` logical features. A
    coefficient is the change of the explained output per training standard
    deviation of a feature, or for keeping the input's category; a group's
    coefficient is reported on the column of the input's category (its other columns
    get 0).

    **Images.** The image is cut into regions (a grid of patches, or SLIC or
    quickshift superpixels from scikit-image); a sample switches each region on or
    off with probability 1/2, and off regions take their pixels from a fill image.
    :math:`D` is the cosine distance between the on/off vector and all-on, with
    default width 0.25 (as ``lime``'s image explainer). Every pixel of a region gets
    the region's coefficient.

    The model is called once per ``explain`` on all samples of all inputs (images:
    once per input). The surrogate is a weighted ridge regression (the fit of
    scikit-learn's ``Ridge``, solved directly) or K-LASSO: the ``n_features``
    features chosen along the LARS lasso path, then ridge on those (the paper's
    sparse explanations, as in ``lime``).

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier (torch, scikit-learn or callable).
    n_samples : int, default=1000
        Samples per input, the input itself included (as in ``lime``).
    kernel_width : float, optional
        :math:`\sigma` of the kernel; default :math:`0.75\sqrt{d}` (tabular) or 0.25
        (images).
    sampling : {"gaussian", "training"}, default="gaussian"
        Tabular only: Gaussian noise around the input, or training rows.
    surrogate : {"ridge", "lasso"}, default="ridge"
        Weighted ridge on all features, or K-LASSO keeping ``n_features``.
    alpha : float, default=1.0
        Ridge penalty (``lime`` uses 1.0).
    n_features : int, optional
        Features kept by ``surrogate="lasso"`` (default ``min(10, d)``).
    data : array-like of shape (n, *input_shape), optional
        Tabular only: the rows whose spread and category frequencies shape the
        samples. Default: the training inputs of the model's data set; a model
        wrapped without a data set needs it.
    segmentation : {"auto", "grid", "slic", "quickshift"} or int array, default="auto"
        Images only: how regions are made; an array of shape ``(height, width)``
        gives the region of each pixel. ``"auto"`` is a grid below 32 pixels a side.
    patch_size : int, default=2
        Images, ``"grid"``: side of a patch (2 gives 16 regions on an 8x8 digit).
    n_segments : int, default=50
        Images, ``"slic"``: approximate number of superpixels.
    fill : {"zero", "mean", "blur"} or float, default="zero"
        Images: what a switched-off region shows.
    seed : int or None, default=0
        Seed of the samples; the same seed gives the same result.
    repeats : int, default=1
        Run ``repeats`` seeds and report the spread (see ``meta`` below).
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class: the logit where the model has
        one, else the probability.

    Notes
    -----
    ``meta`` holds, per input: ``r2`` (the surrogate's weighted :math:`R^2` on its
    samples, the local fidelity), ``intercept`` (also ``base_value``),
    ``local_prediction`` (the surrogate at the input), ``output_at_input`` (the
    model at the input); and ``kernel_width``, ``n_samples``, ``seed``; for images
    ``segments`` (the region of each pixel, shape ``(n, height, width)``); with
    ``repeats > 1``, ``spread`` and ``repeat_values``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> lime = xw.explainers.Lime(xw.wrap(xw.zoo.train_mlp(ds), ds), n_samples=500)
    >>> e = lime.explain(ds.X_test[0])
    >>> e.values.shape, 0.0 <= e.meta["r2"] <= 1.0
    ((13,), True)
    """

    name = "lime"
    label = "LIME"

    def __init__(
        self,
        model: Any,
        *,
        n_samples: int = 1000,
        kernel_width: float | None = None,
        sampling: str = "gaussian",
        surrogate: str = "ridge",
        alpha: float = 1.0,
        n_features: int | None = None,
        data: Any = None,
        segmentation: str | Any = "auto",
        patch_size: int = 2,
        n_segments: int = 50,
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
        self.params.update(
            n_samples=check_int(n_samples, "n_samples", low=2),
            surrogate=check_option(surrogate, "surrogate", ["ridge", "lasso"]),
            alpha=check_real(alpha, "alpha", low=0.0),
        )
        if self._image:
            self._init_image(sampling, data, segmentation, patch_size, n_segments, fill)
        else:
            self._init_tabular(sampling, data)
        n_interpretable = self._space.n_features if not self._image else None
        if n_features is not None:
            if surrogate != "lasso":
                raise ValueError(
                    "The 'n_features' parameter selects features for surrogate='lasso'; "
                    f"with surrogate={surrogate!r} every feature is used. Got n_features="
                    f"{n_features!r}."
                )
            check_int(n_features, "n_features", low=1, high=n_interpretable)
        elif surrogate == "lasso":
            n_features = min(10, n_interpretable) if n_interpretable else 10
        self.params["n_features"] = n_features
        if kernel_width is None:
            kernel_width = 0.25 if self._image else 0.75 * np.sqrt(self._space.n_features)
        self.params["kernel_width"] = check_real(
            kernel_width, "kernel_width", low=0.0, low_inclusive=False
        )

    # ------------------------------------------------------------------ set-up
    def _init_tabular(self, sampling: str, data: Any) -> None:
        self.params["sampling"] = check_option(sampling, "sampling", ["gaussian", "training"])
        self._space = TabularFeatures.of(self.model)
        if data is not None:
            rows, _ = check_batch(data, self.model.input_shape, name="data")
        elif self.model.dataset is not None:
            rows = np.asarray(self.model.dataset.X_train, dtype=np.float64)
        else:
            raise ValueError(
                "LIME samples tabular inputs with the spread of the training data, and this "
                "model has no data set: wrap it with xw.wrap(model, dataset) or pass "
                "data= (training rows of shape (n, n_features))."
            )
        rows = rows.reshape(len(rows), -1)
        space = self._space
        std = rows[:, space.continuous_columns].std(axis=0)
        self._mean = rows[:, space.continuous_columns].mean(axis=0)
        self._std = np.where(std > 0, std, 1.0)
        self._cumulative = [np.cumsum(f) for f in space.category_frequencies(rows)]
        self._training = space.encode(rows) if self.params["sampling"] == "training" else None

    def _init_image(self, sampling, data, segmentation, patch_size, n_segments, fill) -> None:
        image_shape(self.model.input_shape)
        if sampling != "gaussian" or data is not None:
            raise ValueError(
                "The 'sampling' and 'data' parameters apply to tabular inputs; image LIME "
                "switches regions on and off (see 'segmentation' and 'fill')."
            )
        self._segmentation = check_segmentation(segmentation, self.model.input_shape)
        self.params.update(
            segmentation=segmentation if isinstance(segmentation, str) else "array",
            patch_size=check_int(patch_size, "patch_size", low=1),
            n_segments=check_int(n_segments, "n_segments", low=1),
            fill=check_fill(fill),
        )

    # ------------------------------------------------------------------ attribution
    def _attribute_seeded(self, batch, targets, outputs, seed):
        at_input = outputs[np.arange(len(batch)), targets]
        if self._image:
            coef, fits, meta = self._explain_images(batch, targets, at_input, seed)
        else:
            coef, fits, meta = self._explain_tabular(batch, targets, at_input, seed)
        intercept, r2, local = (np.array(column) for column in zip(*fits, strict=True))
        meta.update(
            r2=r2,
            intercept=intercept,
            base_value=intercept.copy(),
            local_prediction=local,
            output_at_input=at_input,
            kernel_width=self.params["kernel_width"],
            n_samples=self.params["n_samples"],
        )
        return coef, meta

    def _explain_tabular(self, batch, targets, at_input, seed):
        space, n = self._space, len(batch)
        flat = batch.reshape(n, -1)
        x = space.encode(flat)
        samples = self._draw_tabular(x, seed)
        columns = space.decode(samples[:, 1:].reshape(-1, space.n_features))
        predicted = self.model._outputs_unchecked(
            columns.reshape((-1, *self.model.input_shape)), self.output
        ).reshape(n, -1, self.model.n_classes)
        y = np.concatenate([at_input[:, None], predicted[np.arange(n), :, targets]], axis=1)

        # Continuous features standardized with the training mean and spread; a group
        # as "same category as the input" (1) or not (0). D is Euclidean in this space.
        cont, cats = space.continuous, [i for i, _ in space.categorical_features]
        standardized = (samples[..., cont] if cats else samples) - self._mean
        standardized /= self._std
        distance2 = ((standardized - standardized[:, :1]) ** 2).sum(axis=2)
        if cats:
            same = samples[..., cats] == x[:, None, cats]
            distance2 += (~same).sum(axis=2)
            representation = np.empty_like(samples)
            representation[..., cont] = standardized
            representation[..., cats] = same
        else:
            representation = standardized
        weights = np.exp(-distance2 / self.params["kernel_width"] ** 2)

        coefs, fits = [], []
        for i in range(n):
            coef, *fit = self._fit(representation[i], y[i], weights[i])
            coefs.append(coef)
            fits.append(fit)
        values = space.spread(np.array(coefs), flat).reshape(batch.shape)
        return values, fits, {}

    def _draw_tabular(self, x: np.ndarray, seed: int) -> np.ndarray:
        """Samples in logical coordinates, shape ``(n, n_samples, d)``; sample 0 is ``x``.

        Every input gets the same draws for a seed (noise scaled by the training
        spread, categories, or training rows), shifted to it, so an input is
        explained the same alone or in a batch.
        """
        space = self._space
        draws = self._draws(("tabular", seed), lambda: self._tabular_draws(seed))
        samples = np.empty((len(x), len(draws) + 1, space.n_features))
        samples[:, 0] = x
        if self.params["sampling"] == "training":
            samples[:, 1:] = draws
        elif not space.has_groups:
            np.add(x[:, None], draws, out=samples[:, 1:])
        else:
            cont, cats = space.continuous, [i for i, _ in space.categorical_features]
            samples[:, 1:, cont] = x[:, None, cont] + draws[:, cont]
            samples[:, 1:, cats] = draws[:, cats]
        return samples

    def _tabular_draws(self, seed: int) -> np.ndarray:
        """What ``seed`` draws, shape ``(n_samples - 1, d)``.

        Training rows (logical values), or Gaussian offsets of the continuous
        features (scaled by the training spread) and category indices.
        """
        space, n_draws = self._space, self.params["n_samples"] - 1
        rng = numpy_rng(seed)
        if self.params["sampling"] == "training":
            return self._training[rng.integers(len(self._training), size=n_draws)]
        draws = np.empty((n_draws, space.n_features))
        draws[:, space.continuous] = rng.standard_normal((n_draws, len(space.continuous)))
        draws[:, space.continuous] *= self._std
        uniform = rng.random((n_draws, len(self._cumulative)))
        for j, ((i, cols), cumulative) in enumerate(
            zip(space.categorical_features, self._cumulative, strict=True)
        ):
            category = np.searchsorted(cumulative, uniform[:, j], side="right")
            draws[:, i] = np.minimum(category, len(cols) - 1)
        return draws

    def _explain_images(self, batch, targets, at_input, seed):
        _, height, width = image_shape(self.model.input_shape)
        n_draws = self.params["n_samples"] - 1
        values = np.empty_like(batch)
        segments = np.empty((len(batch), height, width), dtype=np.int64)
        fits = []
        for i, (image, target) in enumerate(zip(batch, targets, strict=True)):
            labels = segment(
                image,
                self._segmentation,
                patch_size=self.params["patch_size"],
                n_segments=self.params["n_segments"],
            )
            n_regions = int(labels.max()) + 1
            off_image = fill_image(image, self.params["fill"], self.model.dataset)
            on = self._draws(
                ("regions", seed, n_regions), partial(_on_off, seed, (n_draws, n_regions))
            )
            pixels_on = on[:, labels][:, None]  # (n_draws, 1, height, width)
            perturbed = np.where(pixels_on, image, off_image)
            y = np.concatenate(
                [[at_input[i]], self.model._outputs_unchecked(perturbed, self.output)[:, target]]
            )
            representation = np.concatenate([np.ones((1, n_regions)), on]).astype(np.float64)
            # Cosine distance to the all-on vector: 1 - sqrt(k / K) with k regions on.
            distance = 1.0 - np.sqrt(representation.sum(axis=1) / n_regions)
            weights = np.exp(-(distance**2) / self.params["kernel_width"] ** 2)
            coef, *fit = self._fit(representation, y, weights)
            values[i] = coef[labels][None]
            segments[i] = labels
            fits.append(fit)
        return values, fits, {"segments": segments}

    # ------------------------------------------------------------------ surrogate
    def _fit(
        self, representation: np.ndarray, y: np.ndarray, weights: np.ndarray
    ) -> tuple[np.ndarray, float, float, float]:
        """Fit the surrogate; returns coefficients, intercept, weighted R^2, g(x)."""
        if self.params["surrogate"] == "ridge":
            coef, intercept = _weighted_ridge(representation, y, weights, self.params["alpha"])
        else:
            selected = _lasso_path_selection(representation, y, weights, self.params["n_features"])
            coef_selected, intercept = _weighted_ridge(
                representation[:, selected], y, weights, self.params["alpha"]
            )
            coef = np.zeros(representation.shape[1])
            coef[selected] = coef_selected
        fitted = representation @ coef + intercept
        return coef, intercept, _weighted_r2(y, fitted, weights), float(fitted[0])


def _on_off(seed: int, shape: tuple[int, int]) -> np.ndarray:
    """Which regions each image sample keeps: independent fair coin flips."""
    return numpy_rng(seed).integers(0, 2, size=shape).astype(bool)


def _weighted_ridge(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, alpha: float
) -> tuple[np.ndarray, float]:
    r"""Weighted ridge with an unpenalised intercept; the same fit as scikit-learn's ``Ridge``.

    Minimises :math:`\sum_k w_k (y_k - b - X_k \beta)^2 + \alpha \|\beta\|^2`. With
    ``X`` and ``y`` centred at their weighted means (which removes the intercept), the
    normal equations are :math:`(X^T W X + \alpha I) \beta = X^T W y` (Hastie,
    Tibshirani and Friedman, The Elements of Statistical Learning, Eq. 3.44), solved
    by Cholesky (SciPy); :math:`b = \bar y - \bar X \beta`. The system is ``d x d``
    for ``d`` features, so this costs far less than ``Ridge.fit``'s validation,
    which dominated LIME's time; the tests hold it to ``Ridge`` within 1e-12.
    """
    total = weights.sum()
    X_mean = weights @ X / total
    y_mean = float(weights @ y / total)
    if X.shape[1] == 0:
        return np.zeros(0), y_mean
    centred = X - X_mean
    weighted = centred.T * weights
    gram = weighted @ centred
    gram[np.diag_indices_from(gram)] += alpha
    rhs = weighted @ (y - y_mean)
    try:
        coef = scipy.linalg.solve(gram, rhs, assume_a="pos", check_finite=False)
    except np.linalg.LinAlgError:  # alpha = 0 with collinear features
        coef = scipy.linalg.lstsq(gram, rhs, check_finite=False)[0]
    return coef, y_mean - float(X_mean @ coef)


def _weighted_r2(y: np.ndarray, fitted: np.ndarray, weights: np.ndarray) -> float:
    """Weighted coefficient of determination (as ``sklearn.metrics.r2_score``)."""
    y_mean = weights @ y / weights.sum()
    residual = weights @ (y - fitted) ** 2
    total = weights @ (y - y_mean) ** 2
    if total <= 0:
        return 1.0 if residual <= 0 else 0.0
    return float(1.0 - residual / total)


def _lasso_path_selection(
    X: np.ndarray, y: np.ndarray, weights: np.ndarray, n_features: int
) -> np.ndarray:
    """K-LASSO's feature selection: the last step of the lasso path with <= K features.

    The path (``sklearn.linear_model.lars_path``) is computed on the weighted,
    weighted-mean-centred data, as in Ribeiro et al. 2016 and ``lime``.
    """
    total = weights.sum()
    root = np.sqrt(weights)[:, None]
    X_weighted = (X - weights @ X / total) * root
    y_weighted = (y - weights @ y / total) * root[:, 0]
    _, _, path = lars_path(X_weighted, y_weighted, method="lasso")
    for step in range(path.shape[1] - 1, -1, -1):
        selected = np.flatnonzero(path[:, step])
        if len(selected) <= n_features:
            return selected
    return np.zeros(0, dtype=int)  # pragma: no cover - the path starts at zero
