"""LIME explainer: against the lime package, linear models, digits, sampling, seeds."""

from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
import torch
from lime.lime_tabular import LimeTabularExplainer
from scipy.stats import spearmanr
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import r2_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xaiwidgets as xw
from xaiwidgets.explainers import Lime
from xaiwidgets.explainers.lime import _lasso_path_selection, _weighted_r2, _weighted_ridge


def _cosine(a, b):
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_agrees_with_lime_package_on_breast_cancer_mlp(breast_cancer_model, breast_cancer):
    ours = Lime(breast_cancer_model, n_samples=1000)
    width = ours.params["kernel_width"]
    assert width == pytest.approx(0.75 * np.sqrt(30))
    # lime's default kernel is sqrt(exp(-d^2/w^2)) = exp(-d^2/(2 w^2)); give it the
    # paper's kernel so that "the same kernel width" means the same weights. lime
    # samples around the training mean unless sample_around_instance=True.
    reference = LimeTabularExplainer(
        np.asarray(breast_cancer.X_train),
        discretize_continuous=False,
        sample_around_instance=True,
        feature_selection="none",
        kernel_width=width,
        kernel=lambda d, kernel_width: np.exp(-(d**2) / kernel_width**2),
        random_state=0,
    )
    default_kernel = LimeTabularExplainer(
        np.asarray(breast_cancer.X_train), discretize_continuous=False, kernel_width=width
    ).base.kernel_fn
    d = np.linspace(0, 10, 11)
    np.testing.assert_allclose(default_kernel(d), np.exp(-(d**2) / (2 * width**2)))

    def logits(X):
        return breast_cancer_model.logits(X)

    cosines = []
    for x in breast_cancer.X_test[:20]:
        e = ours.explain(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lime warns that logits do not sum to 1
            theirs = reference.explain_instance(
                x, logits, labels=(e.target,), num_features=30, num_samples=1000
            )
        values = np.zeros(30)
        for i, coef in theirs.local_exp[e.target]:
            values[i] = coef
        cosines.append(_cosine(e.values, values))
        assert e.meta["r2"] == pytest.approx(theirs.score, abs=0.05)
    assert np.mean(cosines) >= 0.9, cosines


def _standardized_linear_model(dataset, seed=0):
    """A float64 linear model whose effect per training std is N(0, 1) per feature."""
    rng = np.random.default_rng(seed)
    effects = rng.normal(size=dataset.n_features)
    linear = torch.nn.Linear(dataset.n_features, 2).double()
    with torch.no_grad():
        linear.weight.zero_()
        linear.weight[1] = torch.as_tensor(effects / dataset.train_std)
        linear.bias.zero_()
    return linear, effects


def test_wide_kernel_recovers_linear_coefficients(breast_cancer):
    linear, effects = _standardized_linear_model(breast_cancer)
    model = xw.wrap(linear, breast_cancer)
    e = Lime(model, kernel_width=1e6).explain(breast_cancer.X_test[:3], target=1)
    for i in range(3):
        v = e.values[i]
        assert np.corrcoef(v, effects)[0, 1] > 0.99
        assert spearmanr(v, effects)[0] > 0.99
        np.testing.assert_array_equal(np.sign(v), np.sign(effects))
        assert e.meta["r2"][i] > 0.999
        assert e.meta["local_prediction"][i] == pytest.approx(
            e.meta["output_at_input"][i], abs=1e-2
        )


def test_wide_kernel_on_logistic_pipeline_is_proportional_to_coefficients(breast_cancer):
    # Probabilities of a logistic model: on Gaussian samples the least-squares slope is
    # E[sigmoid'] * w (Stein's lemma), so LIME's coefficients are proportional to w*std.
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=1000))
    pipe.fit(breast_cancer.X_train, breast_cancer.y_train)
    model = xw.wrap(pipe, breast_cancer)
    e = Lime(model, kernel_width=1e6, n_samples=5000).explain(breast_cancer.X_test[0], target=1)
    assert e.output == "probability"
    effects = pipe[-1].coef_[0] / pipe[0].scale_ * breast_cancer.train_std
    assert np.corrcoef(e.values, effects)[0, 1] > 0.99
    assert spearmanr(e.values, effects)[0] > 0.98


def test_digit_patches_put_the_largest_weight_on_ink(digits_cnn, digits):
    predicted = digits_cnn.predict(digits.X_test[:12])
    correct = np.flatnonzero(predicted == digits.y_test[:12])[:6]
    e = Lime(digits_cnn, patch_size=2).explain(digits.X_test[correct])
    assert e.kind == "image" and e.params["segmentation"] == "auto"
    for i, index in enumerate(correct):
        image, labels = digits.X_test[index][0], e.meta["segments"][i]
        assert labels.max() == 15  # 4x4 grid of 2x2 patches
        best = labels.flat[np.argmax(e.values[i][0])]
        assert image[labels == best].max() > 0.25, index
        # An empty patch filled with zeros does not change when switched off.
        empty = [s for s in range(16) if image[labels == s].max() == 0]
        if empty:
            assert np.abs(e.values[i][0][np.isin(labels, empty)]).max() < 0.2 * e.values[i].max()
        assert e.meta["r2"][i] > 0.5


def test_image_segmentations_and_fills(digits_cnn, digits):
    x = digits.X_test[0]
    for kwargs in (
        {"segmentation": "slic", "n_segments": 8},
        {"segmentation": "quickshift"},
        {"segmentation": "grid", "patch_size": 4, "fill": "blur"},
        {"fill": "mean"},
        {"fill": 0.5, "surrogate": "lasso", "n_features": 3},
        {"segmentation": np.repeat(np.arange(8), 8).reshape(8, 8)},
    ):
        e = Lime(digits_cnn, n_samples=300, **kwargs).explain(x)
        labels = e.meta["segments"]
        assert e.values.shape == (1, 8, 8) and labels.shape == (8, 8)
        for s in np.unique(labels):  # every pixel of a region carries its weight
            assert np.ptp(e.values[0][labels == s]) == 0
    assert len(np.unique(e.meta["segments"])) == 8  # rows as given
    lasso = Lime(digits_cnn, surrogate="lasso", n_features=3).explain(x)
    assert len(np.unique(lasso.values[np.abs(lasso.values) > 0])) <= 3


class _Recorder:
    """A probability-only callable that records every batch it is given."""

    def __init__(self, model):
        self.model = model
        self.batches = []

    def __call__(self, X):
        self.batches.append(np.array(X))
        return self.model.predict_proba(X)


def test_tabular_sampling_follows_training_data(credit_model, credit):
    recorder = _Recorder(credit_model)
    model = xw.wrap(recorder, credit)
    recorder.batches.clear()
    x = credit.X_test[:2]
    e = Lime(model, n_samples=4000).explain(x)
    assert len(recorder.batches) == 2  # the prediction, then every LIME sample at once
    samples = recorder.batches[1].reshape(2, 3999, credit.n_features)
    group = list(credit.feature("employment").columns)
    np.testing.assert_array_equal(samples[..., group].sum(axis=2), 1.0)
    train_freq = credit.X_train[:, group].mean(axis=0)
    np.testing.assert_allclose(samples[0][:, group].mean(axis=0), train_freq, atol=0.03)
    continuous = [credit.feature(n).columns[0] for n in ("income", "debt_ratio", "age")]
    shift = samples[0][:, continuous].mean(axis=0) - x[0, continuous]
    assert np.all(np.abs(shift) < 0.1 * credit.train_std[continuous])
    np.testing.assert_allclose(
        samples[0][:, continuous].std(axis=0), credit.train_std[continuous], rtol=0.05
    )
    # The group's one coefficient sits on the input's category column.
    for i in range(2):
        active = group[int(np.argmax(x[i, group]))]
        others = [c for c in group if c != active]
        assert np.all(e.values[i, others] == 0)
    assert e.params["kernel_width"] == pytest.approx(0.75 * np.sqrt(10))

    recorder.batches.clear()
    Lime(model, n_samples=500, sampling="training").explain(x[0])
    train = {tuple(r) for r in credit.X_train}
    assert all(tuple(r) in train for r in recorder.batches[1])


def test_works_for_every_model_kind(credit, credit_model):
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        credit.X_train, credit.y_train
    )
    x = credit.X_test[0]
    for model, output in (
        (credit_model, "logit"),
        (xw.wrap(pipe, credit), "probability"),
        (xw.wrap(credit_model.predict_proba, credit), "probability"),
    ):
        e = Lime(model, n_samples=300).explain(x)
        assert e.output == output and e.method == "lime" and e.values.shape == (13,)
        assert e.meta["output_at_input"] == pytest.approx(model.outputs(x, output)[0, e.target])
    no_data = xw.wrap(credit_model.torch_module, input_shape=(13,))
    with_rows = Lime(no_data, data=credit.X_train[:500], n_samples=300).explain(x)
    assert with_rows.values.shape == (13,)


def test_seeds_repeats_and_batch_invariance(credit_model, credit):
    X = credit.X_test[:3]
    a = Lime(credit_model, seed=1).explain(X)
    np.testing.assert_array_equal(a.values, Lime(credit_model, seed=1).explain(X).values)
    b = Lime(credit_model, seed=2).explain(X)
    assert not np.allclose(a.values, b.values)
    # Same draws alone or in a batch; float32 matmuls round differently per batch size.
    np.testing.assert_allclose(
        Lime(credit_model, seed=1).explain(X[2]).values, a.values[2], rtol=1e-6
    )
    reused = Lime(credit_model, seed=1)  # the seed's draws are kept between calls
    reused.explain(X[0])
    np.testing.assert_array_equal(reused.explain(X).values, a.values)
    fresh = Lime(credit_model, seed=None)
    assert not np.allclose(fresh.explain(X).values, fresh.explain(X).values)

    r = Lime(credit_model, seed=1, repeats=4).explain(X)
    np.testing.assert_array_equal(r.values, a.values)
    assert r.meta["repeats"] == 4 and r.meta["repeat_values"].shape == (3, 4, 13)
    np.testing.assert_array_equal(r.meta["repeat_values"][:, 1], b.values)
    spread = r.meta["spread"]
    np.testing.assert_allclose(spread, r.meta["repeat_values"].std(axis=1, ddof=1))
    assert np.all(spread[:, :8].min(axis=1) > 0)
    assert r[1].meta["spread"].shape == (13,)


def test_lasso_keeps_the_strongest_features(breast_cancer):
    linear, effects = _standardized_linear_model(breast_cancer, seed=3)
    model = xw.wrap(linear, breast_cancer)
    e = Lime(model, surrogate="lasso", n_features=5).explain(breast_cancer.X_test[0], target=1)
    kept = np.flatnonzero(e.values)
    assert set(kept) == set(np.argsort(-np.abs(effects))[:5])


def test_surrogate_helpers_match_scikit_learn():
    rng = np.random.default_rng(0)
    X, y, w = rng.normal(size=(200, 5)), rng.normal(size=200), rng.random(200)
    coef, intercept = _weighted_ridge(X, y, w, alpha=1.0)
    ridge = Ridge(alpha=1.0).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(coef, ridge.coef_, atol=1e-12)
    assert intercept == pytest.approx(ridge.intercept_)
    fitted = X @ coef + intercept
    assert _weighted_r2(y, fitted, w) == pytest.approx(r2_score(y, fitted, sample_weight=w))
    assert _weighted_r2(np.ones(5), np.ones(5), np.ones(5)) == 1.0
    y_sparse = 3 * X[:, 1] - 2 * X[:, 4] + 0.01 * rng.normal(size=200)
    assert set(_lasso_path_selection(X, y_sparse, w, 2)) == {1, 4}


def test_nothing_passed_in_is_changed(credit, digits):
    net = copy.deepcopy(xw.zoo.train_mlp(credit, progress=False)).train()
    before = copy.deepcopy(net.state_dict())
    X = np.array(credit.X_test[:3])
    X_copy, train_copy = X.copy(), credit.X_train.copy()
    data = np.array(credit.X_train[:300])
    np.random.seed(5)  # noqa: NPY002 - the global state must be left alone
    state = np.random.get_state()[1].copy()  # noqa: NPY002 - the global state must be left alone
    Lime(xw.wrap(net, credit), repeats=2, surrogate="lasso").explain(X)
    Lime(xw.wrap(net, input_shape=(13,)), data=data, sampling="training").explain(X)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert all(m.training for m in net.modules())
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(credit.X_train, train_copy)
    np.testing.assert_array_equal(data, credit.X_train[:300])
    assert np.array_equal(np.random.get_state()[1], state)  # noqa: NPY002 - the global state must be left alone
    image = np.array(digits.X_test[0])
    Lime(xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits), fill="blur").explain(image)
    np.testing.assert_array_equal(image, digits.X_test[0])


def test_registry():
    assert xw.explainers.get("lime") is Lime
    assert xw.explainers.get("Lime") is Lime
    assert "lime" in xw.explainers.available()


def test_bad_parameters_raise(credit_model, credit, digits_cnn):
    cases = [
        ({"n_samples": 1}, ValueError, "'n_samples'"),
        ({"n_samples": 10.5}, TypeError, "'n_samples'"),
        ({"kernel_width": 0.0}, ValueError, "'kernel_width'"),
        ({"kernel_width": "wide"}, TypeError, "'kernel_width'"),
        ({"sampling": "uniform"}, ValueError, "'sampling'"),
        ({"surrogate": "tree"}, ValueError, "'surrogate'"),
        ({"alpha": -1.0}, ValueError, "'alpha'"),
        ({"n_features": 3}, ValueError, "'n_features'.*surrogate='lasso'"),
        ({"surrogate": "lasso", "n_features": 11}, ValueError, "'n_features'"),
        ({"surrogate": "lasso", "n_features": 0}, ValueError, "'n_features'"),
        ({"data": np.zeros((4, 3))}, ValueError, "data must have shape"),
        ({"seed": 1.5}, TypeError, "'seed'"),
        ({"repeats": 0}, ValueError, "'repeats'"),
        ({"output": "score"}, ValueError, "'output'"),
    ]
    for kwargs, error, message in cases:
        with pytest.raises(error, match=message):
            Lime(credit_model, **kwargs)
    no_data = xw.wrap(credit_model.torch_module, input_shape=(13,))
    with pytest.raises(ValueError, match="no data set"):
        Lime(no_data)
    image_cases = [
        ({"sampling": "training"}, ValueError, "'sampling' and 'data'"),
        ({"segmentation": "watershed"}, ValueError, "'segmentation'"),
        ({"segmentation": np.zeros((4, 4), dtype=int)}, ValueError, "shape \\(8, 8\\)"),
        ({"segmentation": np.zeros((8, 8))}, ValueError, "int array"),
        ({"fill": "noise"}, ValueError, "'fill'"),
        ({"fill": [0.5]}, TypeError, "'fill'"),
        ({"patch_size": 0}, ValueError, "'patch_size'"),
        ({"n_segments": 0}, ValueError, "'n_segments'"),
    ]
    for kwargs, error, message in image_cases:
        with pytest.raises(error, match=message):
            Lime(digits_cnn, **kwargs)
    with pytest.raises(ValueError, match="target must be a class index"):
        Lime(credit_model).explain(credit.X_test[0], target=5)
    with pytest.raises(ValueError, match="contains NaN"):
        Lime(credit_model).explain(np.full(13, np.nan))
