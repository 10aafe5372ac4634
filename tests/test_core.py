"""The model adapter, data sets, Explanation, validation errors and demo models."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xaiwidgets as xw
from xaiwidgets.datasets._credit import EFFECT_SIGNS

# ---------------------------------------------------------------------------- wrap


@pytest.fixture(scope="module")
def pipeline(credit):
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(
        credit.X_train, credit.y_train
    )


def test_wrap_torch_module(credit, credit_model):
    m = credit_model
    assert (m.source, m.differentiable, m.has_logits) == ("torch", True, True)
    assert m.n_classes == 2 and m.input_shape == (13,)
    proba = m.predict_proba(credit.X_test[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    logits = m.logits(credit.X_test[:5])
    expected = m.torch_module(torch.tensor(credit.X_test[:5], dtype=torch.float32))
    np.testing.assert_allclose(logits, expected.detach().numpy(), atol=1e-6)
    np.testing.assert_array_equal(m.predict(credit.X_test[:5]), logits.argmax(axis=1))
    assert m.class_names == ["denied", "approved"]


def test_wrap_sklearn_pipeline(credit, pipeline):
    m = xw.wrap(pipeline, credit)
    assert (m.source, m.differentiable, m.has_logits) == ("sklearn", False, False)
    np.testing.assert_allclose(
        m.predict_proba(credit.X_test[:7]), pipeline.predict_proba(credit.X_test[:7])
    )
    assert m.default_output == "probability"
    with pytest.raises(TypeError, match="probabilities only, so logits"):
        m.logits(credit.X_test[:2])
    # without a data set the input shape comes from n_features_in_
    assert xw.wrap(pipeline).input_shape == (13,)


def test_wrap_callable(credit, pipeline):
    m = xw.wrap(lambda X: pipeline.predict_proba(X), input_shape=(13,))
    assert m.source == "callable" and m.n_classes == 2
    np.testing.assert_allclose(
        m.predict_proba(credit.X_test[:3]), pipeline.predict_proba(credit.X_test[:3])
    )


def test_wrap_callable_must_return_probabilities():
    with pytest.raises(ValueError, match="must return class probabilities"):
        xw.wrap(lambda X: np.ones((len(X), 2)) * 3.0, input_shape=(2,))


def test_wrap_needs_an_input_shape_it_cannot_guess():
    with pytest.raises(ValueError, match="pass dataset= or input_shape="):
        xw.wrap(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match=r"model must be a torch\.nn\.Module"):
        xw.wrap("not a model", input_shape=(2,))


def test_wrap_checks_class_count_against_the_dataset(credit):
    with pytest.raises(ValueError, match="3 classes but the data set 'credit' has 2"):
        xw.wrap(torch.nn.Linear(13, 3), credit)


def test_torch_module_returning_probabilities():
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Softmax(dim=1))
    m = xw.wrap(net, input_shape=(3,), output="probs")
    assert not m.has_logits and m.default_output == "probability"
    e = xw.explainers.Gradient(m).explain(np.ones(3))
    assert e.output == "probability"
    with pytest.raises(ValueError, match="output='logit' needs a model with pre-softmax"):
        xw.explainers.Gradient(m, output="logit")


def test_single_logit_binary_module_gets_two_symmetric_logits():
    torch.manual_seed(0)
    net = torch.nn.Linear(2, 1)
    m = xw.wrap(net, input_shape=(2,))
    x = np.array([[0.3, -1.2]])
    with torch.no_grad():
        z = float(net(torch.tensor(x, dtype=torch.float32))[0, 0])
    np.testing.assert_allclose(m.logits(x), [[-z / 2, z / 2]], atol=1e-6)
    np.testing.assert_allclose(m.predict_proba(x)[0, 1], 1 / (1 + np.exp(-z)), atol=1e-6)


def test_gradient_methods_on_sklearn_model_raise_a_helpful_type_error(credit, pipeline):
    m = xw.wrap(pipeline, credit)
    with pytest.raises(TypeError) as info:
        xw.explainers.IntegratedGradients(m)
    message = str(info.value)
    assert "has no gradients" in message and "Pipeline" in message
    assert "Methods that apply to it" in message
    for name in xw.explainers.available(m):
        assert name in message
    assert not any(
        n in xw.explainers.available(m)
        for n in ["gradient", "gradient_x_input", "smoothgrad", "ig", "guided_backprop"]
    )


def test_inference_restores_modes_even_across_threads():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout(0.5)).train()
    net[0].eval()
    m = xw.wrap(net, input_shape=(2,))
    seen = []

    def worker():
        with m.inference():
            seen.append(net[1].training)

    with m.inference():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
        seen.append(net[1].training)
    assert seen == [False, False]
    assert [mod.training for mod in net.modules()] == [True, False, True]


def test_models_wrapping_one_network_share_its_eval_mode():
    # Two widgets given one network in training mode wrap it separately; when the
    # first finishes, the second must still see eval mode (dropout off).
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5)).train()
    first, second = xw.wrap(net, input_shape=(4,)), xw.wrap(net, input_shape=(4,))
    outer, inner = first.inference(), second.inference()
    outer.__enter__()
    inner.__enter__()
    outer.__exit__(None, None, None)  # the first caller leaves before the second
    assert not net.training and not net[1].training
    inner.__exit__(None, None, None)
    assert net.training and net[1].training
    copied = pickle.loads(pickle.dumps(first))
    with copied.inference():
        assert not copied.torch_module.training
        assert net.training  # the copy's module has a guard of its own
    assert copied.torch_module.training


def test_predictions_are_deterministic_in_eval_mode_even_for_a_training_model():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 2))
    net.train()
    m = xw.wrap(net, input_shape=(4,))
    x = np.ones((3, 4))
    np.testing.assert_array_equal(m.logits(x), m.logits(x))
    assert net.training


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.zeros(12), ValueError, r"x must have shape \(13,\) for one input or \(n, 13\)"),
        (np.zeros((2, 3, 13)), ValueError, "got shape"),
        (np.full(13, np.nan), ValueError, "x contains NaN or infinite values"),
        (np.r_[np.zeros(12), np.inf], ValueError, r"first at index \(0, 12\)"),
        (np.zeros((0, 13)), ValueError, "x is empty"),
        (np.array(["a"] * 13), TypeError, "x must be a numeric array"),
    ],
)
def test_bad_input_raises_a_clear_error(credit_model, x, error, match):
    with pytest.raises(error, match=match):
        xw.explainers.Gradient(credit_model).explain(x)


@pytest.mark.parametrize("target", [2, -1, [0, 5]])
def test_target_out_of_range(credit, credit_model, target):
    with pytest.raises(ValueError, match=r"target must be .*class index in \[0, 1\]|one per"):
        xw.explainers.Gradient(credit_model).explain(credit.X_test[:2], target=target)


def test_target_of_the_wrong_type(credit, credit_model):
    with pytest.raises(TypeError, match="target must be an int class index"):
        xw.explainers.Gradient(credit_model).explain(credit.X_test[0], target="approved")


def test_empty_dataset_is_refused(credit):
    with pytest.raises(ValueError, match="X_train is empty"):
        credit.replace(X_train=credit.X_train[:0], y_train=credit.y_train[:0])


def test_dataset_validation_messages(credit):
    with pytest.raises(ValueError, match="y_train must have shape"):
        credit.replace(y_train=credit.y_train[:-1])
    with pytest.raises(ValueError, match="X_test contains NaN"):
        bad = credit.X_test.copy()
        bad[3, 2] = np.nan
        credit.replace(X_test=bad)
    with pytest.raises(ValueError, match="y_test must hold class indices"):
        credit.replace(y_test=credit.y_test + 5)
    with pytest.raises(ValueError, match="feature_names must have one name per column"):
        credit.replace(feature_names=["a"])


# ---------------------------------------------------------------------------- data sets


def test_datasets_are_read_only_and_replace_does_not_mutate(credit):
    with pytest.raises(ValueError, match="read-only"):
        credit.X_train[0, 0] = 1.0
    before = credit.X_train.copy()
    changed = credit.replace(y_train=1 - credit.y_train)
    np.testing.assert_array_equal(credit.X_train, before)
    assert not np.array_equal(changed.y_train, credit.y_train)


@pytest.mark.parametrize(
    ("loader", "shape", "kind", "n_classes"),
    [
        (xw.datasets.load_digits, (1, 8, 8), "image", 10),
        (xw.datasets.load_breast_cancer, (30,), "tabular", 2),
        (xw.datasets.load_moons, (2,), "tabular", 2),
        (xw.datasets.load_credit, (13,), "tabular", 2),
    ],
)
def test_bundled_datasets(loader, shape, kind, n_classes):
    ds = loader()
    assert ds.input_shape == shape and ds.kind == kind and ds.n_classes == n_classes
    assert len(ds.feature_names) == ds.n_features == len(ds.feature_kinds)
    assert ds.bounds.shape == (ds.n_features, 2)
    flat = ds.X_train.reshape(len(ds.X_train), -1)
    assert np.all(flat >= ds.bounds[:, 0] - 1e-9) and np.all(flat <= ds.bounds[:, 1] + 1e-9)
    assert ds.description
    assert set(np.unique(ds.y_train)) == set(range(n_classes))


def test_digits_are_images_in_unit_range(digits):
    assert digits.X_train.min() == 0.0 and digits.X_train.max() == 1.0
    assert digits.feature_kinds == ["continuous"] * 64


def test_credit_metadata(credit):
    assert credit.feature("age").kind == "integer"
    employment = credit.feature("employment")
    assert employment.kind == "categorical" and len(employment.columns) == 4
    assert credit.categorical_groups == {"employment": [8, 9, 10, 11]}
    np.testing.assert_array_equal(credit.X_train[:, employment.columns].sum(axis=1), 1.0)
    for name in ["age", "years_employed", "late_payments", "dependents", "group"]:
        column = credit.X_train[:, credit.feature(name).columns[0]]
        np.testing.assert_array_equal(column, np.round(column))
    assert employment.value_of(credit.X_train[0]) in employment.categories
    with pytest.raises(KeyError, match="No feature named 'salary'"):
        credit.feature("salary")


def test_credit_rule_is_the_documented_one(credit):
    gt = credit.ground_truth
    agreement = ((gt["score"](credit.X_test) > 0) == credit.y_test).mean()
    assert agreement > 0.85  # only the label noise separates rule and labels
    subspace = gt["in_bias_subspace"](credit.X_train)
    assert 0.05 < subspace.mean() < 0.4
    X = credit.X_train.copy()
    group = credit.feature("group").columns[0]
    X[:, group] = 0
    without = gt["score"](X)
    X[:, group] = 1
    with_group = gt["score"](X)
    np.testing.assert_allclose((with_group - without)[subspace], gt["bias_effect"])
    np.testing.assert_allclose((with_group - without)[~subspace], 0.0)


def test_logistic_regression_recovers_the_documented_effect_signs(credit):
    scaler = StandardScaler().fit(credit.X_train)
    fitted = LogisticRegression(max_iter=2000).fit(
        scaler.transform(credit.X_train), credit.y_train
    )
    coefficients = dict(zip(credit.feature_names, fitted.coef_[0], strict=True))
    for name, sign in EFFECT_SIGNS.items():
        if sign == 0:
            assert abs(coefficients[name]) < 0.1, name  # ignored by the rule
        else:
            assert np.sign(coefficients[name]) == sign, name
    weights = credit.ground_truth["weights"]["employment"]
    order = sorted(weights, key=weights.get)
    learned = [coefficients[f"employment={e}"] for e in order]
    assert learned == sorted(learned)


def test_load_adult_says_it_needs_the_network(monkeypatch):
    import sklearn.datasets

    def offline(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(sklearn.datasets, "fetch_openml", offline)
    with pytest.raises(ConnectionError, match="needs a network connection"):
        xw.datasets.load_adult()


# ---------------------------------------------------------------------------- zoo


def test_training_is_deterministic_and_cached(tmp_path, monkeypatch, credit):
    monkeypatch.setenv("XAIWIDGETS_CACHE_DIR", str(tmp_path))
    small = credit.replace(X_train=credit.X_train[:400], y_train=credit.y_train[:400])
    a = xw.zoo.train_mlp(small, epochs=3, progress=False, cache=False)
    b = xw.zoo.train_mlp(small, epochs=3, progress=False)
    files = list((tmp_path / "xaiwidgets" / "models").glob("mlp-*.pt"))
    assert len(files) == 1
    c = xw.zoo.train_mlp(small, epochs=3, progress=False)  # from the cache
    d = xw.zoo.train_mlp(small, epochs=3, progress=False, seed=1, cache=False)
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(p, q) and torch.equal(p, r)
    assert not torch.equal(next(a.parameters()), next(d.parameters()))


def test_training_does_not_touch_the_global_random_state(credit):
    small = credit.replace(X_train=credit.X_train[:200], y_train=credit.y_train[:200])
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    xw.zoo.train_mlp(small, epochs=1, progress=False, cache=False)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_demo_models_are_accurate(credit, credit_model, digits, digits_cnn, digits_mlp):
    assert xw.zoo.accuracy(credit_model.torch_module, credit)["test"] > 0.9
    assert xw.zoo.accuracy(digits_cnn.torch_module, digits)["test"] >= 0.95
    assert xw.zoo.accuracy(digits_mlp.torch_module, digits)["test"] >= 0.95


def test_standardization_is_folded_into_a_plain_network(credit, credit_model):
    layers = list(credit_model.torch_module)
    assert [type(layer).__name__ for layer in layers] == [
        "Linear", "ReLU", "Linear", "ReLU", "Linear"
    ]  # fmt: skip


def test_logreg_matches_scikit_learn(breast_cancer):
    net = xw.zoo.train_logreg(breast_cancer)
    scaler = StandardScaler().fit(breast_cancer.X_train)
    reference = LogisticRegression(max_iter=5000).fit(
        scaler.transform(breast_cancer.X_train), breast_cancer.y_train
    )
    ours = xw.wrap(net, breast_cancer).predict_proba(breast_cancer.X_test)
    theirs = reference.predict_proba(scaler.transform(breast_cancer.X_test))
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_train_cnn_refuses_tabular_data(credit):
    with pytest.raises(ValueError, match="train_cnn needs an image data set"):
        xw.zoo.train_cnn(credit)
    with pytest.raises(TypeError, match="dataset must be an xaiwidgets Dataset"):
        xw.zoo.train_mlp(np.zeros((3, 3)))


# ---------------------------------------------------------------------------- Explanation


def test_explanation_to_frame_and_to_shap(credit, credit_model):
    import shap

    e = xw.explainers.IntegratedGradients(credit_model, baseline="mean").explain(credit.X_test[:3])
    frame = e.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert frame.columns.tolist() == ["sample", "feature", "value", "attribution"]
    assert len(frame) == 3 * 13
    np.testing.assert_allclose(frame["attribution"], e.values.reshape(-1))
    single = e[1]
    assert single.to_frame()["feature"].tolist() == credit.feature_names
    s = single.to_shap()
    assert isinstance(s, shap.Explanation)
    np.testing.assert_allclose(s.values, single.values)
    assert s.base_values == pytest.approx(single.meta["base_value"])
    # with IG's base value, the SHAP-style sum ends at f(x) up to the completeness gap
    assert s.base_values + s.values.sum() == pytest.approx(
        single.meta["output_at_input"], abs=abs(single.meta["convergence_delta"]) + 1e-6
    )


def test_image_explanation_frame(digits, digits_cnn):
    frame = xw.explainers.Gradient(digits_cnn).explain(digits.X_test[0]).to_frame()
    assert frame.columns.tolist() == ["channel", "row", "col", "value", "attribution"]
    assert len(frame) == 64


def test_explanation_repr_and_indexing_errors(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[0])
    assert "gradient" in repr(e) and "ms" in repr(e)
    with pytest.raises(TypeError, match="holds one input"):
        e[0]


# ---------------------------------------------------------------------------- plots


def test_bar_plot_sorted_by_magnitude_with_values_in_labels(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[0])
    ax = xw.plot(e, max_features=13)
    widths = [patch.get_width() for patch in ax.patches]
    positions = [patch.get_y() for patch in ax.patches]
    by_height = [w for _, w in sorted(zip(positions, widths, strict=True), reverse=True)]
    assert np.all(np.diff(np.abs(by_height)) <= 1e-12)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(label.startswith("age = ") for label in labels)
    assert "logit" in ax.get_xlabel()


def test_bar_plot_groups_the_tail(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[0])
    ax = xw.plotting.plot_bars(e, max_features=4)
    assert len(ax.patches) == 4
    assert ax.get_yticklabels()[-1].get_text() == "10 other features"
    total = sum(p.get_width() for p in ax.patches)
    assert total == pytest.approx(e.values.sum())


@pytest.mark.parametrize("mode", ["absolute", "diverging"])
def test_image_plot_names_its_normalization(digits, digits_cnn, mode):
    e = xw.explainers.Gradient(digits_cnn).explain(digits.X_test[0])
    ax = xw.plot(e, mode=mode)
    assert ax.get_xlabel().startswith(mode) and "clipped" in ax.get_xlabel()
    assert len(ax.images) == 2  # input and heatmap overlay


def test_plot_refuses_a_batch(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[:2])
    with pytest.raises(ValueError, match=r"xw.plot\(e\[0\]\)"):
        xw.plot(e)


def test_display_normalization():
    values = np.array([-4.0, 2.0, 1.0, 0.0])
    absolute, text = xw.plotting.normalize_for_display(values, "absolute", 100)
    np.testing.assert_allclose(absolute, [1.0, 0.5, 0.25, 0.0])
    assert text == "absolute: |v| / max|v|, clipped to [0, 1]"
    diverging, _ = xw.plotting.normalize_for_display(values, "diverging", 50)
    np.testing.assert_allclose(diverging, [-1.0, 1.0, 2 / 3, 0.0])
    zeros, _ = xw.plotting.normalize_for_display(np.zeros(3))
    np.testing.assert_array_equal(zeros, 0.0)
    with pytest.raises(ValueError, match="'clip_percentile' parameter"):
        xw.plotting.normalize_for_display(values, clip_percentile=101)
