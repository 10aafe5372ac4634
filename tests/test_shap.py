"""SHAP explainer: closed forms, exact enumeration, efficiency, shap itself as oracle."""

from __future__ import annotations

import copy
import itertools
from math import factorial

import numpy as np
import pytest
import shap
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xaiwidgets as xw
from xaiwidgets.explainers import Shap


def exact_shapley(f, x, background):
    """Interventional Shapley values of f at x by enumerating all 2^d coalitions.

    v(S) = mean over background rows b of f(x on S, b elsewhere).
    """
    d = len(x)
    value = {}
    for mask in itertools.product([False, True], repeat=d):
        rows = np.where(np.array(mask), x, background)
        value[mask] = f(rows).mean()
    phi = np.zeros(d)
    for i in range(d):
        for mask in value:
            if mask[i]:
                continue
            size = sum(mask)
            weight = factorial(size) * factorial(d - size - 1) / factorial(d)
            with_i = tuple(True if j == i else m for j, m in enumerate(mask))
            phi[i] += weight * (value[with_i] - value[mask])
    return phi, value[(False,) * d]


@pytest.fixture(scope="module")
def six_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    background = X[:20]
    inputs = rng.normal(size=(3, 6))
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(6, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 16),
        torch.nn.ReLU(),
        torch.nn.Linear(16, 3),
    ).double()
    y = np.digitize(X[:, 0] + X[:, 1] * X[:, 2], [-0.5, 0.5])  # three classes
    return X, y, background, inputs, net


def _kinds(six_features):
    """The same 6-feature problem as a torch module, a sklearn pipeline and a callable."""
    X, y, _, _, net = six_features
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y)

    def proba(batch):
        with torch.no_grad():
            return torch.softmax(net(torch.as_tensor(batch)), dim=1).numpy()

    return {
        "torch": xw.wrap(net, input_shape=(6,)),
        "sklearn": xw.wrap(pipe),
        "callable": xw.wrap(proba, input_shape=(6,)),
    }


@pytest.mark.parametrize("kind", ["torch", "sklearn", "callable"])
def test_exact_and_permutation_match_enumeration(six_features, kind):
    _, _, background, inputs, _ = six_features
    model = _kinds(six_features)[kind]
    output = "logit" if kind == "torch" else "probability"
    target = 1
    exact = Shap(model, algorithm="exact", background=background).explain(inputs, target=target)
    permutation = Shap(model, algorithm="permutation", background=background).explain(
        inputs, target=target
    )
    assert exact.output == permutation.output == output
    for i, x in enumerate(inputs):
        phi, base = exact_shapley(
            lambda rows: model.outputs(rows, output)[:, target], x, background
        )
        np.testing.assert_allclose(exact.values[i], phi, atol=1e-6)
        assert exact.meta["base_value"][i] == pytest.approx(base, abs=1e-9)
        relative = np.linalg.norm(permutation.values[i] - phi) / np.linalg.norm(phi)
        assert relative < 0.05, (kind, i, relative)


def test_linear_model_equals_closed_form_with_one_hot_group(credit):
    torch.manual_seed(1)
    linear = torch.nn.Linear(credit.n_features, 2).double()
    model = xw.wrap(linear, credit)
    background = credit.X_train[:40]
    X = credit.X_test[:6]
    e = Shap(model, algorithm="exact", background=background).explain(X, target=1)
    w = linear.weight[1].detach().numpy()
    expected = w * (X - background.mean(axis=0))
    # The employment group is one player: its value is the sum over its columns,
    # shown on the column of the input's category.
    group = list(credit.feature("employment").columns)
    active = np.asarray(group)[np.argmax(X[:, group], axis=1)]
    group_value = expected[:, group].sum(axis=1)
    expected[:, group] = 0.0
    expected[np.arange(len(X)), active] = group_value
    np.testing.assert_allclose(e.values, expected, atol=1e-6)
    f_x = model.logits(X)[:, 1]
    np.testing.assert_allclose(e.values.sum(axis=1), f_x - e.meta["base_value"], atol=1e-9)


def test_auto_algorithm_and_efficiency_on_demo_models(credit_model, credit, breast_cancer_model):
    e = Shap(credit_model).explain(credit.X_test[:4])
    assert e.meta["algorithm"] == "exact"  # 10 logical features: 9 columns + one group
    assert e.params["algorithm"] == "exact"
    assert e.output == "logit"
    f_x = credit_model.logits(credit.X_test[:4])[np.arange(4), e.target]
    np.testing.assert_allclose(e.meta["output_at_input"], f_x)
    np.testing.assert_allclose(e.values.sum(axis=1), f_x - e.meta["base_value"], atol=1e-4)
    assert np.all(np.abs(e.meta["efficiency_gap"]) < 1e-4)
    shap_e = e[0].to_shap()
    assert shap_e.base_values + shap_e.values.sum() == pytest.approx(f_x[0], abs=1e-4)

    bc = breast_cancer_model.dataset
    p = Shap(breast_cancer_model, max_evals=200).explain(bc.X_test[:2])
    assert p.meta["algorithm"] == "permutation"
    assert np.all(np.abs(p.meta["efficiency_gap"]) < 1e-4)


def test_values_come_from_shap(breast_cancer_model, breast_cancer):
    background = breast_cancer.X_train[:25]
    x = breast_cancer.X_test[3]
    ours = Shap(breast_cancer_model, background=background, seed=7).explain(x, target=0)

    def f(rows):
        return breast_cancer_model.logits(rows)[:, 0]

    masker = shap.maskers.Independent(background, max_samples=len(background))
    direct = shap.Explainer(f, masker, algorithm="permutation", seed=7)(x[None], silent=True)
    np.testing.assert_array_equal(ours.values, direct.values[0])
    assert ours.base_value == pytest.approx(direct.base_values[0])


def test_probability_output_and_probability_only_models(credit, credit_model):
    x = credit.X_test[0]
    e = Shap(credit_model, output="probability").explain(x)
    assert e.output == "probability"
    p = credit_model.predict_proba(x)[0, e.target]
    assert e.values.sum() + e.base_value == pytest.approx(p, abs=1e-5)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        credit.X_train, credit.y_train
    )
    sk = Shap(xw.wrap(pipe, credit)).explain(x)
    assert sk.output == "probability"
    with pytest.raises(ValueError, match="output='logit'"):
        Shap(xw.wrap(pipe, credit), output="logit")


def test_seeds_repeats_and_batch_invariance(breast_cancer_model, breast_cancer):
    X = breast_cancer.X_test[:3]
    kw = {"max_evals": 200, "background": 20}
    a = Shap(breast_cancer_model, seed=3, **kw).explain(X)
    b = Shap(breast_cancer_model, seed=3, **kw).explain(X)
    c = Shap(breast_cancer_model, seed=4, **kw).explain(X)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.allclose(a.values, c.values)
    assert a.meta["seed"] == 3
    one = Shap(breast_cancer_model, seed=3, **kw).explain(X[1])
    np.testing.assert_array_equal(one.values, a.values[1])

    r = Shap(breast_cancer_model, seed=3, repeats=3, **kw).explain(X)
    np.testing.assert_array_equal(r.values, a.values)
    assert r.meta["repeat_values"].shape == (3, 3, 30)
    np.testing.assert_array_equal(r.meta["repeat_values"][:, 0], a.values)
    np.testing.assert_array_equal(r.meta["repeat_values"][:, 1], c.values)
    np.testing.assert_allclose(r.meta["spread"], r.meta["repeat_values"].std(axis=1, ddof=1))
    assert np.all(r.meta["spread"].max(axis=1) > 0)
    assert r[0].meta["spread"].shape == (30,)


def test_exact_with_fixed_background_has_no_spread(credit_model, credit):
    e = Shap(credit_model, background=credit.X_train[:10], repeats=2).explain(credit.X_test[0])
    assert np.all(e.meta["spread"] == 0)


def test_kmeans_background_is_valid_and_seeded(credit_model, credit):
    explainer = Shap(credit_model, background=8, summarize="kmeans", seed=0)
    rows = explainer._background(0)
    assert rows.shape == (8, credit.n_features)
    group = list(credit.feature("employment").columns)
    np.testing.assert_array_equal(rows[:, group].sum(axis=1), 1.0)
    integer = [i for i, k in enumerate(credit.feature_kinds) if k == "integer"]
    np.testing.assert_array_equal(rows[:, integer], np.round(rows[:, integer]))
    np.testing.assert_array_equal(
        rows, Shap(credit_model, background=8, summarize="kmeans")._background(0)
    )
    e = explainer.explain(credit.X_test[0])
    assert e.meta["background_size"] == 8
    assert abs(e.meta["efficiency_gap"]) < 1e-4


def test_sample_background_is_training_rows(credit_model, credit):
    rows = Shap(credit_model, background=30, seed=5)._background(5)
    train = {tuple(r) for r in credit.X_train}
    assert len(rows) == 30 and all(tuple(r) in train for r in rows)


def _linear_image_model():
    torch.manual_seed(2)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10)).double()


@pytest.mark.parametrize("fill", ["zero", "mean", "blur", 0.5])
def test_partition_on_linear_image_model_is_contribution(digits, fill):
    net = _linear_image_model()
    model = xw.wrap(net, digits)
    x = digits.X_test[:2]
    # 4000 evaluations split the pixel clustering down to single pixels on 8x8;
    # with fewer, clusters that are not split share their value evenly.
    e = Shap(model, fill=fill, max_evals=4000).explain(x, target=3)
    assert e.meta["algorithm"] == "partition" and e.kind == "image"
    from xaiwidgets.explainers._images import fill_image

    w = net[1].weight[3].detach().numpy().reshape(1, 8, 8)
    for i in range(2):
        hidden = fill_image(x[i], fill if isinstance(fill, str) else float(fill), digits)
        # Owen values of an additive game are each player's own contribution.
        np.testing.assert_allclose(e.values[i], w * (x[i] - hidden), atol=1e-9)
        assert e.meta["base_value"][i] == pytest.approx(model.logits(hidden)[0, 3])
    assert np.all(np.abs(e.meta["efficiency_gap"]) < 1e-9)


def test_partition_efficiency_on_cnn_and_sklearn_image_model(digits_cnn, digits):
    e = Shap(digits_cnn, max_evals=300).explain(digits.X_test[:2])
    assert e.values.shape == (2, 1, 8, 8) and e.output == "logit"
    assert np.all(np.abs(e.meta["efficiency_gap"]) < 1e-4)
    flat = digits.X_train.reshape(len(digits.X_train), -1)
    logreg = LogisticRegression(max_iter=300).fit(flat, digits.y_train)
    sk = Shap(xw.wrap(logreg, digits), max_evals=300).explain(digits.X_test[0])
    assert sk.output == "probability" and sk.values.shape == (1, 8, 8)
    assert abs(sk.meta["efficiency_gap"]) < 1e-9


def test_expected_gradients_on_linear_model_and_cnn(digits, digits_cnn):
    net = _linear_image_model()
    model = xw.wrap(net, digits)
    reference = digits.X_train[:1]
    x = digits.X_test[0]
    e = Shap(model, algorithm="gradient", background=reference).explain(x, target=4)
    w = net[1].weight[4].detach().numpy().reshape(1, 8, 8)
    # One reference image: expected gradients of a linear model are w * (x - b).
    np.testing.assert_allclose(e.values, w * (x - reference[0]), atol=1e-9)
    assert abs(e.meta["efficiency_gap"]) < 1e-9

    cnn = Shap(digits_cnn, algorithm="gradient", background=20, n_samples=100)
    a = cnn.explain(digits.X_test[:2])
    np.testing.assert_array_equal(a.values, cnn.explain(digits.X_test[:2]).values)
    f_x = a.meta["output_at_input"]
    relative_gap = np.abs(a.meta["efficiency_gap"]) / np.abs(f_x - a.meta["base_value"])
    assert np.all(relative_gap < 0.5)  # efficiency holds in expectation only


def test_nothing_passed_in_is_changed(credit, digits):
    torch.manual_seed(0)
    net = xw.zoo.train_mlp(credit, progress=False)
    net.train()
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    before = copy.deepcopy(net.state_dict())
    X = np.array(credit.X_test[:2])
    X_copy = X.copy()
    train_copy = credit.X_train.copy()
    background = np.array(credit.X_train[:10])
    np.random.seed(123)  # noqa: NPY002 - the global state must be left alone
    state = np.random.get_state()  # noqa: NPY002 - the global state must be left alone
    model = xw.wrap(net, credit)
    Shap(model, algorithm="permutation", background=background, repeats=2).explain(X)
    Shap(model, background=12, summarize="kmeans").explain(X)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training and all(m.training for m in net.modules())
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in net.parameters())
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(credit.X_train, train_copy)
    np.testing.assert_array_equal(background, credit.X_train[:10])
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002 - the global state must be left alone

    cnn = _linear_image_model().train()
    cnn_before = copy.deepcopy(cnn.state_dict())
    Shap(xw.wrap(cnn, digits), algorithm="gradient", background=5).explain(digits.X_test[0])
    assert cnn.training and all(m.training for m in cnn.modules())
    assert all(torch.equal(cnn_before[k], v) for k, v in cnn.state_dict().items())
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002 - the global state must be left alone


def test_registry():
    assert xw.explainers.get("shap") is Shap
    assert "shap" in xw.explainers.available()
    assert not Shap.requires_gradients


def test_bad_parameters_raise(credit_model, credit, digits_cnn, digits, breast_cancer_model):
    with pytest.raises(ValueError, match="'algorithm'"):
        Shap(credit_model, algorithm="kernel")
    with pytest.raises(ValueError, match="'algorithm'"):
        Shap(credit_model, algorithm="partition")
    with pytest.raises(ValueError, match="'algorithm'"):
        Shap(digits_cnn, algorithm="exact")
    with pytest.raises(ValueError, match=r"algorithm='exact'.*30 features"):
        Shap(breast_cancer_model, algorithm="exact")
    with pytest.raises(ValueError, match=r"'max_evals'.*\[61, inf\]"):
        Shap(breast_cancer_model, max_evals=60)
    with pytest.raises(ValueError, match="'max_evals'"):
        Shap(breast_cancer_model, max_evals="many")
    with pytest.raises(TypeError, match="'background'"):
        Shap(credit_model, background=2.5)
    with pytest.raises(ValueError, match="'background'"):
        Shap(credit_model, background=0)
    with pytest.raises(ValueError, match="background must have shape"):
        Shap(credit_model, background=np.zeros((5, 3)))
    with pytest.raises(ValueError, match="background contains NaN"):
        Shap(credit_model, background=np.full((5, 13), np.nan))
    with pytest.raises(ValueError, match="'summarize'"):
        Shap(credit_model, summarize="median")
    with pytest.raises(ValueError, match="'seed'"):
        Shap(credit_model, seed=-1)
    with pytest.raises(ValueError, match="'repeats'"):
        Shap(credit_model, repeats=0)
    with pytest.raises(ValueError, match="'n_samples'"):
        Shap(digits_cnn, algorithm="gradient", n_samples=0)
    with pytest.raises(ValueError, match="'fill'"):
        Shap(digits_cnn, fill="noise")
    with pytest.raises(ValueError, match="fill= instead"):
        Shap(digits_cnn, background=digits.X_train[:5])
    no_data = xw.wrap(credit_model.torch_module, input_shape=(13,))
    with pytest.raises(ValueError, match="no data set"):
        Shap(no_data)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200))
    flat = digits.X_train.reshape(len(digits.X_train), -1)
    sk_digits = xw.wrap(pipe.fit(flat, digits.y_train), digits)
    with pytest.raises(TypeError, match="needs a torch model"):
        Shap(sk_digits, algorithm="gradient")
    with pytest.raises(ValueError, match="x must have shape"):
        Shap(credit_model).explain(np.zeros(5))
