"""Believability: k-nearest training points of the new class and the local outlier factor."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.neighbors import LocalOutlierFactor

import xaiwidgets as xw


@pytest.fixture(scope="module")
def reference(credit):
    return xw.flip.Believability(credit)


def test_training_and_test_points_are_not_flagged(credit, reference):
    train = reference.score(credit.X_train[::3], credit.y_train[::3])
    test = reference.score(credit.X_test, credit.y_test)
    assert train.off_manifold.mean() <= 0.03
    assert test.off_manifold.mean() <= 0.05


def test_a_point_far_outside_the_data_is_flagged(credit, reference):
    x = credit.X_test[0].copy()
    far = x.copy()
    far[[0, 1, 5]] = [245.0, 1.45, 295.0]  # within the bounds, far from every applicant
    beyond = x + 8 * credit.train_std  # outside the data altogether
    report = reference.score(np.stack([far, beyond]), [1, 1])
    assert report.off_manifold.all()
    assert (report.table["knn_ratio"] > 3).all() and (report.table["lof"] > 1.5).all()


def test_knn_distance_and_lof_match_a_brute_force(credit, reference):
    points = credit.X_test[:5]
    classes = np.array([0, 1, 0, 1, 1])
    report = reference.score(points, classes)
    s = credit.train_std
    for p, c, row, found in zip(
        points, classes, report.table.itertuples(), report.neighbours, strict=True
    ):
        members = credit.X_train[credit.y_train == c]
        distances = np.sort(np.sqrt((((members - p) / s) ** 2).sum(axis=1)))[:5]
        assert row.knn_distance == pytest.approx(distances.mean(), rel=1e-9)
        assert row.nearest_distance == pytest.approx(distances[0], rel=1e-9)
        assert set(credit.y_train[found]) == {c}
    lof = LocalOutlierFactor(n_neighbors=20, novelty=True).fit(credit.X_train / s)
    np.testing.assert_allclose(report.table["lof"], -lof.score_samples(points / s), rtol=1e-9)


def test_every_solver_gets_a_verdict_next_to_its_changes(credit, credit_model):
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    forest_model = xw.wrap(forest.fit(credit.X_train, credit.y_train), credit)
    x = credit.X_test[0]
    flips = [
        xw.flip.closest(credit_model, x),
        xw.flip.closest(credit_model, x, norm="l1", method="milp"),
        xw.flip.closest(forest_model, x, norm="l1"),
    ]
    for fp in flips:
        report = xw.flip.believability(fp)
        assert report.table["class"].iloc[0] == fp.class_labels[1]
        assert report.changes is not None and report.changes[0].equals(fp.changed)
        assert "Believability" in report._repr_html_() and "believable" in report.summary()
        assert report.nearest().shape == (5, 13)
    many = xw.flip.believability(flips)
    assert len(many.table) == 3


def test_points_with_a_model_and_bad_input(credit, credit_model):
    x = credit.X_test[:4].copy()
    before = x.copy()
    report = xw.flip.believability(x, credit_model)
    np.testing.assert_array_equal(
        report.table["class"], np.array(credit.class_names)[credit_model.predict(x)]
    )
    np.testing.assert_array_equal(x, before)
    with pytest.raises(TypeError, match="model is required"):
        xw.flip.believability(x)
    with pytest.raises(ValueError, match="shape"):
        xw.flip.believability(np.zeros((2, 5)), credit_model)
    with pytest.raises(ValueError, match="'k' parameter"):
        xw.flip.believability(x, credit_model, k=0)
    with pytest.raises(TypeError, match="Dataset"):
        xw.flip.Believability(credit.X_train)
    with pytest.raises(ValueError, match="'norm' parameter"):
        xw.flip.Believability(credit, norm="l3")
    infeasible = xw.flip.closest(credit_model, credit.X_test[0], free=["dependents"])
    with pytest.raises(ValueError, match="None of the flip points is feasible"):
        xw.flip.believability(infeasible)
