"""Flip points (xw.flip.closest) against oracles: analytic projections, grid search,
bisection baselines, exhaustive enumeration, and torch autograd."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xaiwidgets as xw
from xaiwidgets.explainers.flip_points import (
    _DenseReluScores,
    _exact_scores,
    _TorchScores,
    single_threaded,
)


# ---------------------------------------------------------------------- helpers
def assert_valid_flip(model, fp, tol=1e-4):
    """The point ties classes i and j (or, for a discrete crossing, is in another
    class), beats every other class, and respects every constraint of its domain."""
    assert fp.feasible, fp.reason
    x = fp.x.reshape(-1)
    assert fp.constraints.violations(fp.point, x, tol=1e-6) == []
    i, j = fp.classes
    logits = model.logits(fp.x)[0]
    scale = tol * max(1.0, logits.max() - logits.min())
    assert np.argmax(logits) == i
    relaxed_logits = model.logits(fp.relaxed)[0]
    assert abs(relaxed_logits[i] - relaxed_logits[j]) <= scale
    z = model.logits(fp.point)[0]
    others = np.delete(z, [i, j])
    if fp.on_boundary:
        assert abs(z[i] - z[j]) <= scale
        assert others.size == 0 or others.max() <= max(z[i], z[j]) + scale
    else:  # every free feature discrete: the closest discrete point past the boundary
        assert np.argmax(z) != i


def linear_weights(model):
    """Logit-gap weights and bias (class 1 minus class 0) of a zoo logistic regression."""
    linear = model.torch_module[1]
    W = linear.weight.detach().double().numpy()
    b = linear.bias.detach().double().numpy()
    return W[1] - W[0], b[1] - b[0]


def bisect(f_in_class, a, b, steps=60):
    """Plain bisection on a segment whose start is in the class and end is not."""
    lo, hi = 0.0, 1.0
    for _ in range(steps):
        middle = 0.5 * (lo + hi)
        if f_in_class(a + middle * (b - a)):
            lo = middle
        else:
            hi = middle
    return a + hi * (b - a)


@pytest.fixture(scope="module")
def logreg(credit):
    return xw.wrap(xw.zoo.train_logreg(credit), credit)


@pytest.fixture(scope="module")
def moons_model():
    moons = xw.datasets.load_moons(n=600)
    with single_threaded():
        net = xw.zoo.train_mlp(moons, hidden=(16, 16), progress=False)
    return xw.wrap(net, moons)


# ---------------------------------------------------------------------- feasibility
def test_credit_flip_points_are_feasible_with_every_kind_of_constraint(credit, credit_model):
    options = [
        {},
        {"discrete": False},
        {"fixed": ["group", "employment"], "monotone": {"age": "increase"}},
        {"bounds": {"income": (20.0, 90.0)}, "monotone": {"late_payments": "decrease"}},
        {"norm": "l1", "fixed": ["group"]},
    ]
    for k, x in enumerate(credit.X_test[:30:3]):
        fp = xw.flip.closest(credit_model, x, **options[k % len(options)])
        assert_valid_flip(credit_model, fp)
        assert fp.same_partition in (True, False)
        assert fp.distance_raw > 0 and fp.distance > 0


def test_locked_and_monotone_features_are_respected(credit, credit_model):
    x = credit.X_test[5]
    fp = xw.flip.closest(
        credit_model,
        x,
        fixed=["group", "employment"],
        monotone={"age": "increase", "debt_ratio": "decrease"},
    )
    assert_valid_flip(credit_model, fp)
    assert fp.point[12] == x[12] and np.array_equal(fp.point[8:12], x[8:12])
    assert fp.point[2] >= x[2] and fp.point[1] <= x[1]
    # Integers whole and the one-hot group one-hot in the discrete point.
    integer = fp.constraints.integer
    assert np.array_equal(fp.point[integer], np.round(fp.point[integer]))


def test_digits_cnn_flip_points_tie_two_of_ten_classes(digits, digits_cnn):
    for x in digits.X_test[:3]:
        fp = xw.flip.closest(digits_cnn, x)
        assert_valid_flip(digits_cnn, fp)
        assert fp.point.shape == x.shape
        assert fp.point.min() >= 0.0 and fp.point.max() <= 1.0


@pytest.mark.parametrize(
    ("sizes", "seed"), [((5, 12, 12, 2), 0), ((6, 20, 3), 1), ((4, 16, 16, 4), 2)]
)
def test_random_small_mlps(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for a, b in itertools.pairwise(sizes):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1])
    rng = np.random.default_rng(seed)
    with torch.no_grad():  # centre each logit so that every class occupies part of the box
        out = net(torch.as_tensor(rng.uniform(-4, 4, size=(4000, sizes[0])), dtype=torch.float32))
        net[-1].bias -= out.median(dim=0).values
    model = xw.wrap(net, input_shape=(sizes[0],))
    for x in rng.normal(size=(4, sizes[0])):
        fp = xw.flip.closest(model, x, bounds=np.tile([-4.0, 4.0], (sizes[0], 1)))
        assert_valid_flip(model, fp)


# ---------------------------------------------------------------------- optimality
@pytest.mark.parametrize("norm", ["l2", "l1", "linf"])
def test_linear_model_gives_the_analytic_projection(credit, logreg, norm):
    """Closest point on {w.x + c = 0} in the scaled norm: for L2 the projection
    x - g s^2 w / |s w|^2, for L1 a move of the single feature with the largest |s w|,
    for L-infinity the same scaled move t s sign(w) of every feature, t = g / sum |s w|."""
    weights, bias = linear_weights(logreg)
    w = weights.copy()
    w[8:12] = 0.0  # employment is fixed below: it takes no part in the projection
    s = credit.train_std
    for x in credit.X_test[:6]:
        fp = xw.flip.closest(
            logreg, x, bounds=None, discrete=False, fixed=["employment"], norm=norm
        )
        g = weights @ x + bias
        if norm == "l2":
            expected = x - g * s**2 * w / (w @ (s**2 * w))
        elif norm == "l1":
            k = int(np.argmax(np.abs(w * s)))
            expected = x.copy()
            expected[k] -= g / w[k]
        else:
            expected = x - g / np.abs(w * s).sum() * s * np.sign(w)
        np.testing.assert_allclose(fp.point, expected, rtol=0, atol=1e-8 * np.abs(expected).max())
        assert fp.distance == pytest.approx(fp.constraints.distance(x, expected), rel=1e-9)
        assert fp.same_partition


def test_derivative_free_path_matches_the_projection_for_scikit_learn(credit):
    pipeline = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        credit.X_train, credit.y_train
    )
    model = xw.wrap(pipeline, credit)
    scaler, clf = pipeline
    w = clf.coef_[0] / scaler.scale_
    c = clf.intercept_[0] - w @ scaler.mean_
    held = w.copy()
    held[8:12] = 0.0
    s = credit.train_std
    for x in credit.X_test[:3]:
        fp = xw.flip.closest(model, x, bounds=None, discrete=False, fixed=["employment"])
        assert fp.approximate and fp.method == "slsqp-fd"
        expected = x - (w @ x + c) * s**2 * held / (held @ (s**2 * held))
        assert fp.distance == pytest.approx(fp.constraints.distance(x, expected), rel=1e-6)
        np.testing.assert_allclose((fp.point - expected) / s, 0, atol=1e-6)


def test_two_dimensional_mlp_within_one_percent_of_a_dense_grid(moons_model):
    net = moons_model.torch_module
    lows, highs = moons_model.dataset.bounds.T
    h = 0.002
    a = np.arange(lows[0], highs[0] + h, h)
    b = np.arange(lows[1], highs[1] + h, h)
    grid = np.stack(np.meshgrid(a, b, indexing="ij"), axis=-1).reshape(-1, 2)
    with torch.no_grad():
        labels = net(torch.as_tensor(grid, dtype=torch.float32)).argmax(1).numpy()
    for x in moons_model.dataset.X_test[:5]:
        fp = xw.flip.closest(moons_model, x, scale="unit", discrete=False)
        other = grid[labels != fp.classes[0]]
        grid_distance = np.sqrt(((other - x) ** 2).sum(axis=1)).min()
        # The grid's nearest other-class point is at most h / sqrt(2) beyond the boundary.
        assert fp.distance <= grid_distance * 1.01
        assert fp.distance >= grid_distance - h


def gradient_path_baseline(model, x, i, scale, low, high):
    """Bisection along the projected gradient path clip(x + t d) of the logit gap, with
    d = -s^2 grad (steepest descent in the scaled metric); a feature stops at its bound,
    the one-hot employment columns are held (clipping them one by one would break the
    one-hot sum)."""
    tensor = torch.tensor(x[None], dtype=torch.float32, requires_grad=True)
    out = model.torch_module(tensor)[0]
    (gradient,) = torch.autograd.grad(out[i] - out[1 - i], tensor)
    d = -(scale**2) * gradient[0].double().numpy()
    d[8:12] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        limits = np.where(d > 0, (high - x) / d, np.where(d < 0, (low - x) / d, np.nan))
    end = np.nanmax(limits)
    lo, hi = 0.0, 1.0
    if model.predict(np.clip(x + end * d, low, high))[0] == i:
        return None
    for _ in range(60):
        middle = 0.5 * (lo + hi)
        if model.predict(np.clip(x + middle * end * d, low, high))[0] == i:
            lo = middle
        else:
            hi = middle
    return np.clip(x + hi * end * d, low, high)


def test_never_farther_than_the_bisection_baselines(credit, credit_model):
    """Over 50 credit inputs: (a) bisection along the projected gradient path,
    (b) the nearest training point of the other predicted class, moved onto the
    boundary by bisection along the segment."""
    s = credit.train_std
    low, high = credit.bounds.T
    train_labels = credit_model.predict(credit.X_train)
    margins, found = [], 0
    for x in credit.X_test[:50]:
        fp = xw.flip.closest(credit_model, x, discrete=False)
        i = fp.classes[0]
        baselines = []
        along_gradient = gradient_path_baseline(credit_model, x, i, s, low, high)
        if along_gradient is not None:
            found += 1
            baselines.append(along_gradient)
        others = credit.X_train[train_labels != i]
        nearest = others[np.argmin((((others - x) / s) ** 2).sum(axis=1))]
        baselines.append(bisect(lambda y, i=i: credit_model.predict(y)[0] == i, x, nearest))
        for y in baselines:
            assert fp.constraints.violations(y, x) == []
            margins.append(fp.constraints.distance(x, y) - fp.distance)
    assert found >= 40  # the gradient path reaches the boundary for most inputs
    assert min(margins) >= -1e-6


# ---------------------------------------------------------------------- discrete domain
def test_single_integer_feature_equals_brute_force_enumeration(credit, credit_model):
    for x in credit.X_test[:8]:
        fp = xw.flip.closest(credit_model, x, free=["age"])
        ages = np.arange(18, 76)
        rows = np.repeat(x[None], len(ages), axis=0)
        rows[:, 2] = ages
        flips = credit_model.predict(rows) != credit_model.predict(x)[0]
        if not flips.any():
            assert not fp.feasible and "enumeration" in fp.reason
            continue
        best = np.abs(ages[flips] - x[2]).min() / credit.train_std[2]
        assert fp.feasible and fp.distance == pytest.approx(best)
        assert fp.point[2] == np.round(fp.point[2])


def test_categorical_group_flip_is_one_hot_and_relaxed_point_ties(credit, credit_model):
    """Employment and income free: brute force over the 4 categories x 2001 incomes
    says whether a flip exists and bounds its distance from above."""
    incomes = np.linspace(10.0, 250.0, 2001)
    for x in credit.X_test[:6]:
        fp = xw.flip.closest(credit_model, x, free=["employment", "income"])
        rows = np.repeat(x[None], 4 * len(incomes), axis=0)
        rows[:, 8:12] = np.repeat(np.eye(4), len(incomes), axis=0)
        rows[:, 0] = np.tile(incomes, 4)
        flips = credit_model.predict(rows) != credit_model.predict(x)[0]
        assert fp.feasible == bool(flips.any()), fp.reason
        if fp.feasible:
            assert_valid_flip(credit_model, fp)
            assert sorted(fp.point[8:12]) == [0.0, 0.0, 0.0, 1.0]
            assert fp.relaxed[8:12].sum() == pytest.approx(1.0)
            assert fp.distance <= fp.constraints.distance(x, rows[flips]).min() + 1e-9


def test_tree_ensemble_gets_a_crossing_marked_approximate(credit):
    forest = RandomForestClassifier(20, max_depth=5, random_state=0).fit(
        credit.X_train, credit.y_train
    )
    model = xw.wrap(forest, credit)
    x = credit.X_test[1]
    fp = xw.flip.closest(model, x)
    assert fp.approximate and fp.method == "bisection" and fp.meta["smooth"] is False
    assert fp.feasible and not fp.on_boundary
    assert model.predict(fp.point)[0] != model.predict(x)[0]
    assert fp.constraints.violations(fp.point, x) == []


def test_no_flip_is_stated_when_nothing_can_change(credit, credit_model):
    fp = xw.flip.closest(
        credit_model, credit.X_test[0], free=["income"], bounds={"income": (22.3, 22.3)}
    )
    assert not fp.feasible and fp.point is None and fp.distance == np.inf
    assert "No feature may change" in fp.reason
    with pytest.raises(ValueError, match="no flip point"):
        fp.path()


# ---------------------------------------------------------------------- fast evaluators
def test_numpy_evaluator_matches_torch_autograd(credit, credit_model):
    fast = _DenseReluScores.from_model(credit_model)
    slow = _TorchScores(credit_model.to_dtype(torch.float64))
    rows = credit.X_test[:20]
    np.testing.assert_allclose(fast(rows), slow(rows), rtol=1e-12, atol=1e-10)
    columns = np.array([0, 2, 5, 12])
    for y in rows[:5]:
        z_fast, j_fast = fast.jacobian(y, columns)
        z_slow, j_slow = slow.jacobian(y, columns)
        np.testing.assert_allclose(z_fast, z_slow, atol=1e-10)
        np.testing.assert_allclose(j_fast, j_slow, rtol=1e-10, atol=1e-12)


def test_single_logit_networks_are_read_as_two_classes():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    model = xw.wrap(net, input_shape=(3,))
    fast = _DenseReluScores.from_model(model)
    slow = _TorchScores(model.to_dtype(torch.float64))
    y = np.array([0.3, -1.0, 2.0])
    for a, b in zip(fast.jacobian(y, np.arange(3)), slow.jacobian(y, np.arange(3)), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-12)
    assert_valid_flip(model, xw.flip.closest(model, y))


def test_evaluator_is_cached_and_refreshed_after_training(credit):
    net = copy.deepcopy(xw.zoo.train_mlp(credit, progress=False))
    model = xw.wrap(net, credit)
    first = _exact_scores(model)
    assert _exact_scores(model) is first
    with torch.no_grad():
        net[0].bias.add_(0.5)  # an in-place update, as an optimizer step makes
    second = _exact_scores(model)
    assert second is not first
    np.testing.assert_allclose(
        second(credit.X_test[:3]), model.logits(credit.X_test[:3]), atol=1e-4
    )


# ---------------------------------------------------------------------- nothing mutated
def test_inputs_models_and_settings_are_left_as_they_were(credit, credit_model):
    net = credit_model.torch_module
    before = {k: v.clone() for k, v in net.state_dict().items()}
    net.train()
    threads = torch.get_num_threads()
    x = credit.X_test[0].copy()
    x_before = x.copy()
    with torch.no_grad():
        xw.flip.closest(credit_model, x, fixed=["group"])
        assert not torch.is_grad_enabled()
    try:
        assert net.training
        assert torch.get_num_threads() == threads
        np.testing.assert_array_equal(x, x_before)
        for key, value in net.state_dict().items():
            assert torch.equal(value, before[key])
        assert not credit.X_train.flags.writeable
    finally:
        net.eval()


# ---------------------------------------------------------------------- results
def test_flip_point_fields_changed_table_and_path(credit, credit_model):
    x = credit.X_test[0]
    fp = xw.flip.closest(credit_model, x)
    table = fp.changed
    assert list(table.columns) == [
        "feature",
        "original",
        "flip value",
        "relaxed value",
        "change",
        "scaled change",
    ]
    row = table[table["feature"] == "income"].iloc[0]
    assert row["original"] == x[0] and row["flip value"] == pytest.approx(fp.point[0])
    assert row["scaled change"] == pytest.approx((fp.point[0] - x[0]) / credit.train_std[0])
    path = fp.path(np.linspace(0, 1.2, 13), towards="relaxed")
    gap = path["gap"].to_numpy()
    assert gap[0] > 0 and abs(gap[10]) < 1e-3 and gap[-1] < 0
    np.testing.assert_allclose(fp.at(0.5, towards="relaxed"), (x + fp.relaxed) / 2)
    gap_at_point = fp.path([1.0])["gap"].iloc[0]
    assert abs(gap_at_point) < 1e-3 if fp.on_boundary else gap_at_point < 0
    with pytest.raises(ValueError, match="'towards' parameter"):
        fp.at(0.5, towards="tie")
    assert fp.meta["time_s"] > 0 and fp.meta["tolerance"] > 0 and len(fp.meta["starts"]) >= 2
    assert "approved" in repr(fp) and "<table" in fp._repr_html_()


def test_flip_point_explainer_in_the_registry(credit, credit_model, logreg):
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    sklearn_model = xw.wrap(pipeline.fit(credit.X_train, credit.y_train), credit)
    assert "flip_point" in xw.explainers.available(sklearn_model)
    explainer = xw.explainers.get("flip_point")(logreg, bounds=None, fixed=["employment"])
    x = credit.X_test[:2]
    e = explainer.explain(x)
    w = linear_weights(logreg)[0]
    for k in range(2):
        fp = xw.flip.closest(logreg, x[k], bounds=None, discrete=False, fixed=["employment"])
        np.testing.assert_allclose(e.values[k], (x[k] - fp.point) / credit.train_std, atol=1e-9)
        assert e.meta["distance"][k] == pytest.approx(fp.distance)
    # For the predicted class the values point along the scaled gradient of its logit.
    gradient_sign = np.sign((w if e.target[0] == 1 else -w) * credit.train_std)
    nonzero = np.abs(e.values[0]) > 1e-9
    assert np.array_equal(np.sign(e.values[0][nonzero]), gradient_sign[nonzero])
    other = explainer.explain(x[0], target=1 - int(e.target[0]))
    np.testing.assert_allclose(other.values, -e.values[0], atol=1e-9)


# ---------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(credit, credit_model):
    x = credit.X_test[0]
    with pytest.raises(ValueError, match="x must have shape"):
        xw.flip.closest(credit_model, x[:5])
    with pytest.raises(ValueError, match="one input"):
        xw.flip.closest(credit_model, credit.X_test[:2])
    with pytest.raises(ValueError, match="fixed names an unknown feature 'salary'"):
        xw.flip.closest(credit_model, x, fixed=["salary"])
    with pytest.raises(ValueError, match="classes must hold class indices"):
        xw.flip.closest(credit_model, x, classes=[2])
    with pytest.raises(TypeError, match="classes must be class indices"):
        xw.flip.closest(credit_model, x, classes=["approved"])
    with pytest.raises(ValueError, match="only the input's own class"):
        xw.flip.closest(credit_model, x, classes=[int(credit_model.predict(x)[0])])
    with pytest.raises(ValueError, match="'norm' parameter"):
        xw.flip.closest(credit_model, x, norm="l3")
    with pytest.raises(ValueError, match="categorical feature has no order"):
        xw.flip.closest(credit_model, x, monotone={"employment": "increase"})
    with pytest.raises(ValueError, match="monotone\\['age'\\]"):
        xw.flip.closest(credit_model, x, monotone={"age": "up"})
    with pytest.raises(ValueError, match="'tol' parameter"):
        xw.flip.closest(credit_model, x, tol=0.0)
    with pytest.raises(ValueError, match=r"low 5\.0 above high 1\.0"):
        xw.flip.closest(credit_model, x, bounds={"income": (5.0, 1.0)})
    with pytest.raises(ValueError, match="scale as an array must have 13"):
        xw.flip.closest(credit_model, x, scale=np.ones(3))
    with pytest.raises(ValueError, match="free names no feature"):
        xw.flip.closest(credit_model, x, free=np.zeros(13, dtype=bool))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression())
    sklearn_model = xw.wrap(pipeline.fit(credit.X_train, credit.y_train), credit)
    with pytest.raises(TypeError, match="method='gradient' needs a torch model"):
        xw.flip.closest(sklearn_model, x, method="gradient")
    constraints = xw.flip.FlipConstraints.from_model(credit_model)
    with pytest.raises(ValueError, match=r"Pass bounds to FlipConstraints\.from_model"):
        xw.flip.closest(credit_model, x, constraints=constraints, bounds=None)
    with pytest.raises(TypeError, match="constraints must be a FlipConstraints"):
        xw.flip.closest(credit_model, x, constraints={"fixed": ["group"]})
    with pytest.raises(TypeError, match="Unknown option"):
        xw.explainers.get("flip_point")(credit_model, steps=3)


def test_single_threaded_from_overlapping_threads_restores_the_limits_last(monkeypatch):
    """Thread A enters, B enters, A leaves, B leaves: one limit, lifted when B leaves.

    A widget solves in its worker thread while a flip-point audit runs in another. Had
    each thread set and restored the process-wide BLAS limit on its own, B would record
    A's limit of one thread as "original" and restore it last, leaving the process on
    one thread. (Recorded with a stand-in for threadpoolctl's controller: whether
    OpenBLAS honours a limit set from a non-main thread depends on its history.)
    """
    import threading

    from xaiwidgets.explainers import flip_points

    events = []

    class Limiter:
        def restore_original_limits(self):
            events.append(("restore", threading.current_thread().name))

    class Controller:
        def limit(self, *, limits):
            events.append((f"limit {limits}", threading.current_thread().name))
            return Limiter()

    monkeypatch.setattr(flip_points, "_THREADPOOLS", Controller())
    a_inside, b_inside, a_left = threading.Event(), threading.Event(), threading.Event()

    def first():
        with single_threaded():
            a_inside.set()
            b_inside.wait(5)
        events.append(("left", "A"))
        a_left.set()

    def second():
        a_inside.wait(5)
        with single_threaded():
            b_inside.set()
            a_left.wait(5)

    threads = [
        threading.Thread(target=first, name="A"),
        threading.Thread(target=second, name="B"),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert events == [("limit 1", "A"), ("left", "A"), ("restore", "B")]
    assert flip_points._LIMIT_DEPTH == 0
