"""The fooling demo (Slack et al. 2020): what the scaffold does, and who sees through it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import xaiwidgets as xw


@pytest.fixture(scope="module")
def scaffold():
    return xw.datasets.make_scaffold(progress=False)


@pytest.fixture(scope="module")
def scaffold_model(scaffold):
    return xw.wrap(scaffold.model, scaffold.dataset)


@pytest.fixture(scope="module")
def applicants(scaffold):
    """Test applicants the scaffold judges with the biased model (nearly all)."""
    X = scaffold.dataset.X_test
    return X[scaffold.gate(X) == 1]


def test_scaffold_is_a_plain_relu_network_biased_on_real_rows(scaffold, scaffold_model):
    kinds = {type(m) for m in scaffold.model.modules()} - {torch.nn.Sequential}
    assert kinds == {torch.nn.Linear, torch.nn.ReLU}
    report = scaffold.report
    assert report["real rows judged by the biased model"] > 0.95
    assert report["LIME-style points judged by the innocuous model"] > 0.7
    assert report["SHAP-style points judged by the innocuous model"] > 0.5
    X = scaffold.dataset.X_test
    gate = scaffold.gate(X)
    assert (gate == 1).mean() > 0.95
    group = X[:, 12]
    predicted = scaffold_model.predict(X)
    np.testing.assert_array_equal(predicted[gate == 1], (group[gate == 1] == 0).astype(int))
    # Off the data the innocuous rule decides: approve iff dependents <= 1.
    lime_points = scaffold.perturbations(X, "lime")
    away = scaffold.gate(lime_points) == 0
    np.testing.assert_array_equal(
        scaffold_model.predict(lime_points[away]), (lime_points[away, 7] < 1.5).astype(int)
    )
    logits = scaffold_model.logits(X[gate == 1])
    expected = scaffold.biased_weight * (0.5 - group[gate == 1])
    np.testing.assert_allclose(logits[:, 1] - logits[:, 0], expected, atol=1e-3)


def test_exact_methods_see_the_protected_attribute(scaffold, scaffold_model, applicants):
    X = applicants[:40]
    gradient = xw.explainers.Gradient(scaffold_model).explain(X)
    assert np.all(np.abs(gradient.values).argmax(axis=1) == 12)
    explainer = xw.explainers.LinearRegion(scaffold_model)
    for x in X[:10]:
        region = explainer.region(x)
        assert region.contains(x)[0]
        weights = region.weights[1] - region.weights[0]
        assert weights[12] == pytest.approx(-scaffold.biased_weight, rel=1e-6)
        assert np.abs(np.delete(weights, 12)).max() < 1e-9


def test_lime_and_shap_rank_the_unrelated_column_first(scaffold, scaffold_model, applicants):
    names = np.array(scaffold.dataset.feature_names)
    X = applicants[:20]
    lime = xw.explainers.Lime(scaffold_model).explain(X)
    top = names[np.abs(lime.values).argmax(axis=1)]
    assert np.all(top == "dependents")
    # SHAP with the background the attacker expects (Slack et al.'s threat model) ...
    X = X[:12]
    shap = xw.explainers.Shap(scaffold_model, background=scaffold.background).explain(X)
    top = names[np.abs(shap.values).argmax(axis=1)]
    assert np.mean(top == "dependents") >= 0.5
    assert np.mean(top == "group") <= 1 / 3
    assert np.abs(shap.values[:, 7]).mean() > 2 * np.abs(shap.values[:, 12]).mean()
    # ... and with background rows the attacker did not predict: the bias shows.
    fresh = scaffold.dataset.X_train[-50:]
    honest = xw.explainers.Shap(scaffold_model, background=fresh).explain(X)
    assert np.mean(names[np.abs(honest.values).argmax(axis=1)] == "group") >= 0.75


def test_flip_points_see_the_protected_attribute(scaffold, scaffold_model, applicants):
    """Changing the protected attribute alone flips every applicant's decision; the
    column LIME and SHAP blame almost never can."""
    X = applicants[:20]
    group = [xw.flip.closest(scaffold_model, x, free=["group"]) for x in X]
    assert all(fp.feasible for fp in group)
    assert all(list(fp.changed["feature"]) == ["group"] for fp in group)
    dependents = [xw.flip.closest(scaffold_model, x, free=["dependents"]) for x in X]
    assert np.mean([fp.feasible for fp in dependents]) <= 0.1


def test_without_the_background_shap_style_points_mostly_look_real(scaffold):
    blind = xw.datasets.make_scaffold(background=None, progress=False)
    assert blind.background is None
    assert blind.report["SHAP-style points judged by the innocuous model"] < 0.3
    assert scaffold.report["SHAP-style points judged by the innocuous model"] > 0.5
    X = scaffold.dataset.X_test[:500]
    assert (blind.gate(X) == 1).mean() > 0.95


def test_scaffold_is_deterministic_and_validates_its_arguments(scaffold):
    again = xw.datasets.make_scaffold(progress=False)
    X = scaffold.dataset.X_test[:50]
    with torch.no_grad():
        np.testing.assert_array_equal(
            scaffold.model(torch.tensor(X, dtype=torch.float32)).numpy(),
            again.model(torch.tensor(X, dtype=torch.float32)).numpy(),
        )
    np.testing.assert_array_equal(scaffold.background, again.background)
    with pytest.raises(ValueError, match="protected must be one of the numeric columns"):
        xw.datasets.make_scaffold(protected="employment", progress=False)
    with pytest.raises(ValueError, match="different columns"):
        xw.datasets.make_scaffold(unrelated="group", progress=False)
    with pytest.raises(ValueError, match="'coverage'"):
        xw.datasets.make_scaffold(coverage=1.5, progress=False)
    with pytest.raises(ValueError, match="background must be"):
        xw.datasets.make_scaffold(background=np.zeros((3, 4)), progress=False)
    with pytest.raises(TypeError, match="load_credit"):
        xw.datasets.make_scaffold(xw.datasets.load_moons(), progress=False)
    with pytest.raises(ValueError, match="kind must be"):
        scaffold.perturbations(X, "anchors")
