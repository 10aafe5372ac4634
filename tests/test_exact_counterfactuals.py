"""Exact counterfactuals: leaf enumeration, the tree-ensemble MILP and the ReLU MILP.

Oracles: a brute force over every leaf box (each box's closest point by its own small
MILP), dense random and grid searches, the nearest training point of the other class,
and the local SLSQP flip point, which the certified optimum may never exceed.
"""

from __future__ import annotations

import itertools
import pickle

import numpy as np
import pytest
import torch
from scipy.optimize import Bounds, LinearConstraint, milp
from sklearn.ensemble import (
    ExtraTreesClassifier,
    GradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.tree import DecisionTreeClassifier

import xaiwidgets as xw
from xaiwidgets.explainers._trees import read_tree

MARGIN = 1e-4


@pytest.fixture(scope="module")
def tree_model(credit):
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(credit.X_train, credit.y_train)
    return xw.wrap(tree, credit)


@pytest.fixture(scope="module")
def forest_model(credit):
    forest = RandomForestClassifier(n_estimators=30, max_depth=5, random_state=0)
    return xw.wrap(forest.fit(credit.X_train, credit.y_train), credit)


def leaf_box_oracle(model, x, constraints):
    """Brute force: every leaf of another class, its closest point by its own MILP."""
    tree = model.predictor
    info = read_tree(tree.tree_, len(x))
    own = int(model.predict(x)[0])
    leaf_class = np.argmax(info.values, axis=1)
    lower, upper = constraints.box(x)
    s = constraints.scale
    d = len(x)
    best = np.inf
    for lo, hi, k in zip(info.lo, info.hi, leaf_class, strict=True):
        if k == own:
            continue
        a = np.where(np.isfinite(lo), lo + np.where(lower < upper, MARGIN * s, 0.0), -np.inf)
        a, b = np.maximum(a, lower), np.minimum(hi, upper)
        integral = np.zeros(2 * d + 1)
        integral[:d] = constraints.integer
        for group in constraints.groups:
            integral[list(group)] = 1
        for c in np.flatnonzero(constraints.integer):
            a[c] = max(np.floor(lo[c]) + 1, np.ceil(lower[c]))
            b[c] = min(np.floor(hi[c]), np.floor(upper[c]))
        integers = integral[:d] > 0
        a[integers], b[integers] = np.ceil(a[integers]), np.floor(b[integers])
        if np.any(a > b):
            continue
        # variables: y (d), |y - x| / s (d), t (max)
        rows, lows, highs = [], [], []
        eye = np.eye(d)
        for c in range(d):
            rows += [np.r_[eye[c] / s[c], -eye[c], 0.0], np.r_[-eye[c] / s[c], -eye[c], 0.0]]
            lows += [-np.inf, -np.inf]
            highs += [x[c] / s[c], -x[c] / s[c]]
            rows.append(np.r_[np.zeros(d), eye[c], -1.0])
            lows.append(-np.inf)
            highs.append(0.0)
        for group in constraints.groups:
            row = np.zeros(2 * d + 1)
            row[list(group)] = 1.0
            rows.append(row)
            lows.append(1.0)
            highs.append(1.0)
        cost = (
            np.r_[np.zeros(d), np.ones(d), 0.0]
            if constraints.norm == "l1"
            else np.r_[np.zeros(2 * d), 1.0]
        )
        result = milp(
            cost,
            constraints=LinearConstraint(np.array(rows), lows, highs),
            integrality=integral,
            bounds=Bounds(np.r_[a, np.zeros(d + 1)], np.r_[b, np.full(d + 1, np.inf)]),
        )
        if result.status == 0:
            best = min(best, result.fun)
    return best


@pytest.mark.parametrize("norm", ["l1", "linf"])
@pytest.mark.parametrize("fixed", [None, ["group", "age", "employment"]])
def test_tree_leaf_enumeration_equals_milp_and_brute_force(credit, tree_model, norm, fixed):
    for x in credit.X_test[:6]:
        leaves = xw.flip.closest(tree_model, x, norm=norm, fixed=fixed)
        exact = xw.flip.closest(tree_model, x, norm=norm, fixed=fixed, method="milp")
        oracle = leaf_box_oracle(tree_model, x, leaves.constraints)
        assert leaves.method == "leaves" and exact.method == "milp"
        assert exact.meta["status"] == "optimal"
        assert leaves.distance == pytest.approx(oracle, rel=1e-6, abs=1e-9)
        assert exact.distance == pytest.approx(oracle, rel=1e-6, abs=1e-9)
        for fp in (leaves, exact):
            assert tree_model.predict(fp.point)[0] == fp.classes[1] != fp.classes[0]
            assert fp.constraints.violations(fp.point, x) == []
            assert fp.meta["verified"] and not fp.on_boundary
            # The relaxed point is the closure's: on the boundary, no farther than the point.
            assert fp.relaxed_distance <= fp.distance + 1e-12


def test_tree_l2_is_no_farther_than_any_other_counterfactual(credit, tree_model):
    rng = np.random.default_rng(0)
    options = {"monotone": {"income": "increase"}, "fixed": ["group"]}
    for x in credit.X_test[:4]:
        fp = xw.flip.closest(tree_model, x, norm="l2", **options)
        assert fp.feasible and fp.point[0] >= x[0]
        assert fp.constraints.violations(fp.point, x) == []
        candidates = [
            xw.flip.closest(tree_model, x, norm=n, **options).point for n in ("l1", "linf")
        ]
        points = random_domain_points(fp.constraints, x, 5000, rng)
        candidates += list(points[tree_model.predict(points) != fp.classes[0]])
        assert fp.distance <= fp.constraints.distance(x, np.array(candidates)).min() + 1e-9
    with pytest.raises(ValueError, match="only the input's own class"):
        xw.flip.closest(tree_model, x, classes=[int(tree_model.predict(x)[0])])


def random_domain_points(constraints, x, n, rng):
    """Random points of the allowed domain: uniform in the box, and near x."""
    lower, upper = constraints.box(x)
    free = lower < upper
    wide = rng.uniform(lower, upper, size=(n, len(x)))
    near = x + rng.normal(size=(n, len(x))) * constraints.scale * rng.uniform(0.05, 1.5, (n, 1))
    sparse = rng.random((n, len(x))) < 0.3  # move few features at a time
    near = np.where(sparse, near, x)
    points = np.clip(np.vstack([wide, near]), lower, upper)
    points[:, ~free] = x[~free]
    integer = constraints.integer
    points[:, integer] = np.clip(
        np.round(points[:, integer]), np.ceil(lower[integer]), np.floor(upper[integer])
    )
    for group in constraints.groups:
        cols = list(group)
        if not free[cols].any():
            continue
        pick = rng.integers(len(cols), size=len(points))
        keep = rng.random(len(points)) < 0.5
        points[:, cols] = np.where(keep[:, None], x[cols], np.eye(len(cols))[pick])
    return points


def test_forest_milp_is_valid_and_beats_dense_search_and_training_points(credit, forest_model):
    rng = np.random.default_rng(0)
    own_labels = forest_model.predict(credit.X_train)
    options = {"norm": "l1", "fixed": ["group"], "monotone": {"age": "increase"}}
    for x in credit.X_test[:4]:
        fp = xw.flip.closest(forest_model, x, **options)
        assert fp.method == "milp" and fp.meta["status"] == "optimal" and fp.meta["mip_gap"] == 0
        i, j = fp.classes
        assert forest_model.predict(fp.point)[0] == j != i
        assert fp.constraints.violations(fp.point, x) == []
        assert fp.meta["lower_bound"] == pytest.approx(fp.distance, rel=1e-5, abs=1e-7)
        # (a) a dense random search of the same domain finds nothing closer
        points = random_domain_points(fp.constraints, x, 10000, rng)
        other = points[forest_model.predict(points) != i]
        assert len(other) > 0
        assert fp.distance <= fp.constraints.distance(x, other).min() + 1e-9
        # (b) nor is any training point of another class closer (unconstrained problem)
        free = xw.flip.closest(forest_model, x, norm="l1")
        train = credit.X_train[own_labels != i]
        assert free.distance <= free.constraints.distance(x, train).min() + 1e-9
        assert free.distance <= fp.distance + 1e-9


@pytest.mark.parametrize("kind", ["extra_trees", "boosting"])
def test_other_ensembles_are_valid_and_optimal(credit, kind):
    if kind == "extra_trees":
        estimator = ExtraTreesClassifier(n_estimators=15, max_depth=4, random_state=0)
    else:
        estimator = GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0)
    model = xw.wrap(estimator.fit(credit.X_train, credit.y_train), credit)
    rng = np.random.default_rng(1)
    for x in credit.X_test[:3]:
        fp = xw.flip.closest(model, x, norm="linf", fixed=["group"])
        assert fp.meta["status"] == "optimal"
        assert model.predict(fp.point)[0] == fp.classes[1] != fp.classes[0]
        points = random_domain_points(fp.constraints, x, 5000, rng)
        other = points[model.predict(points) != fp.classes[0]]
        assert fp.distance <= fp.constraints.distance(x, other).min() + 1e-9


def test_time_limit_reports_the_best_found(credit):
    forest = RandomForestClassifier(n_estimators=80, max_depth=8, random_state=0)
    model = xw.wrap(forest.fit(credit.X_train, credit.y_train), credit)
    fp = xw.flip.closest(model, credit.X_test[2], norm="l1", time_limit=0.05)
    assert fp.meta["status"].startswith(("time limit", "optimal"))
    if fp.meta["status"].startswith("time limit"):
        assert fp.meta["lower_bound"] <= fp.distance
        assert ("best found" in fp.meta["status"]) == fp.feasible


def test_exact_solvers_leave_models_and_inputs_unchanged(credit, forest_model):
    before = pickle.dumps(forest_model.predictor)
    x = credit.X_test[0].copy()
    xw.flip.closest(forest_model, x, norm="l1")
    assert pickle.dumps(forest_model.predictor) == before
    np.testing.assert_array_equal(x, credit.X_test[0])


def test_exact_solvers_reject_what_they_cannot_do(credit, tree_model, forest_model, digits_cnn):
    x = credit.X_test[0]
    with pytest.raises(ValueError, match="L1 or L-infinity"):
        xw.flip.closest(forest_model, x, norm="l2", method="milp")
    # method="auto" in L2 falls back to the approximate bisection instead.
    assert xw.flip.closest(forest_model, x, norm="l2").method == "bisection"
    with pytest.raises(TypeError, match="enumerates the leaves of one"):
        xw.flip.closest(forest_model, x, method="leaves")
    with pytest.raises(TypeError, match="Linear and ReLU"):
        xw.flip.closest(digits_cnn, digits_cnn.dataset.X_test[0], method="milp", norm="l1")
    with pytest.raises(TypeError, match="Unknown option"):
        xw.flip.closest(forest_model, x, method="derivative-free", time_limit=1.0)
    with pytest.raises(ValueError, match="time_limit"):
        xw.flip.closest(forest_model, x, norm="l1", time_limit=0)
    with pytest.raises(ValueError, match="mip_gap"):
        xw.flip.closest(forest_model, x, norm="l1", mip_gap=2.0)
    with pytest.raises(ValueError, match="margin"):
        xw.flip.closest(tree_model, x, margin=-1.0)
    three = GradientBoostingClassifier(n_estimators=3).fit(
        credit.X_train[:300], np.arange(300) % 3
    )
    with pytest.raises(ValueError, match="two classes"):
        xw.flip.closest(xw.wrap(three, input_shape=(13,)), x, norm="l1")
    assert xw.flip.milp_applies(forest_model) == (True, "")
    big = xw.wrap(xw.zoo.train_mlp(credit, hidden=(200, 200), epochs=1, progress=False), credit)
    ok, why = xw.flip.milp_applies(big)
    assert not ok and "400 hidden units" in why
    with pytest.raises(ValueError, match="max_units"):
        xw.flip.closest(big, x, method="milp", norm="l1")


def test_flip_point_explainer_uses_the_exact_solver(credit, forest_model):
    explainer = xw.explainers.get("flip_point")(forest_model, norm="l1")
    e = explainer.explain(credit.X_test[0])
    fp = xw.flip.closest(forest_model, credit.X_test[0], norm="l1", discrete=False)
    np.testing.assert_allclose(e.values, (credit.X_test[0] - fp.point) / fp.constraints.scale)


# ---------------------------------------------------------------------- ReLU networks
def random_net(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).double()


@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_relu_milp_on_a_2d_net_equals_grid_search(norm):
    net = random_net([2, 16, 16, 2], seed=3)
    model = xw.wrap(net, input_shape=(2,))
    bounds = np.tile([-3.0, 3.0], (2, 1))
    axis = np.linspace(-3.0, 3.0, 601)
    h = axis[1] - axis[0]
    grid = np.stack(np.meshgrid(axis, axis, indexing="ij"), axis=-1).reshape(-1, 2)
    labels = model.predict(grid)
    rng = np.random.default_rng(0)
    for x in rng.uniform(-2, 2, size=(3, 2)):
        exact = xw.flip.closest(model, x, norm=norm, bounds=bounds, method="milp")
        local = xw.flip.closest(model, x, norm=norm, bounds=bounds)
        i = exact.classes[0]
        assert exact.meta["status"] == "optimal"
        assert exact.on_boundary and exact.residual < 1e-6
        assert exact.distance <= local.distance + 1e-7
        other = grid[labels != i]
        grid_best = exact.constraints.distance(x, other).min()
        # The boundary lies within one grid cell of the nearest grid point of the other class.
        assert grid_best - 2 * h <= exact.distance <= grid_best + 1e-9
        # Without the local bound (the whole box) the MILP reaches the same optimum.
        full = xw.flip.closest(model, x, norm=norm, bounds=bounds, method="milp", shrink=False)
        assert full.distance == pytest.approx(exact.distance, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("norm", ["l1", "linf"])
def test_relu_milp_certifies_slsqp_on_a_3_class_net(norm):
    net = random_net([6, 20, 20, 3], seed=1)
    model = xw.wrap(net, input_shape=(6,))
    bounds = np.tile([-2.0, 2.0], (6, 1))
    rng = np.random.default_rng(2)
    for x in rng.uniform(-1, 1, size=(2, 6)):
        local = xw.flip.closest(model, x, norm=norm, bounds=bounds)
        cert = xw.flip.certify(local)
        exact = cert.exact
        assert cert.status == "optimal" and exact.meta["status"] == "optimal"
        assert exact.distance <= local.distance + 1e-7
        assert cert.gap >= -1e-7 and cert.gap == pytest.approx(
            local.distance - exact.distance, abs=1e-6
        )
        z = model.logits(exact.point)[0]
        i, j = exact.classes
        assert abs(z[i] - z[j]) < 1e-6 and z[j] >= np.delete(z, [i, j]).max() - 1e-6


def test_relu_milp_respects_the_domain_on_credit(credit):
    model = xw.wrap(xw.zoo.train_mlp(credit, hidden=(8, 8), progress=False), credit)
    x = credit.X_test[1]
    options = {"norm": "l1", "fixed": ["group"], "monotone": {"age": "increase"}}
    exact = xw.flip.closest(model, x, method="milp", **options)
    local = xw.flip.closest(model, x, **options)
    assert exact.meta["status"] == "optimal"
    assert exact.constraints.violations(exact.point, x) == []
    assert model.predict(exact.point)[0] == exact.classes[1] or exact.on_boundary
    assert exact.distance <= local.distance + 1e-7
    assert exact.relaxed_distance <= local.relaxed_distance + 1e-7
