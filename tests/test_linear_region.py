"""Exact linear regions of ReLU networks, checked against the networks themselves.

Oracles: the network's own forward pass in float64 (inside the region, along a fine
grid, at random points of a slice), autograd gradients, a closed form of integrated
gradients for one hidden layer, matplotlib's point-in-polygon test, and dense grids.
"""

from __future__ import annotations

import copy
import itertools
import warnings

import matplotlib.path
import numpy as np
import pytest
import torch

import xaiwidgets as xw
from xaiwidgets.explainers import LinearRegion


def random_mlp(n_in=4, hidden=(8, 8), n_out=3, seed=0, leaky=False):
    torch.manual_seed(seed)
    layers, width = [], n_in
    for h in hidden:
        layers += [
            torch.nn.Linear(width, h),
            torch.nn.LeakyReLU(0.1) if leaky else torch.nn.ReLU(),
        ]
        width = h
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers).double().eval()


def wrap(net, n_in):
    return xw.wrap(net, input_shape=(n_in,))


def network_logits(model, X):
    with torch.no_grad():
        return model.torch_module(torch.as_tensor(X, dtype=torch.float64)).numpy()


def hit_and_run(region, rng, n_points=40):
    """Random points inside {A y <= b}: move along random chords of the polytope."""
    y, points = region.x.copy(), []
    for _ in range(n_points):
        direction = rng.normal(size=y.size)
        moved = xw.explainers.Region(**{**region.__dict__, "x": y})
        low, high = moved.interval(direction)
        low, high = max(low, -5.0), min(high, 5.0)
        y = y + rng.uniform(low, high) * direction
        points.append(y)
    return np.array(points)


# ----------------------------------------------------------------------------- the region
@pytest.mark.parametrize(
    ("hidden", "leaky", "seed"), [((8, 8), False, 0), ((16, 8, 8), False, 1), ((8, 8), True, 2)]
)
def test_affine_map_equals_network_inside_region(hidden, leaky, seed):
    net = random_mlp(hidden=hidden, leaky=leaky, seed=seed)
    model = wrap(net, 4)
    rng = np.random.default_rng(seed)
    explainer = LinearRegion(model)
    for x in rng.normal(size=(5, 4)):
        region = explainer.region(x)
        assert region.contains(x)[0]
        assert region.n_units == sum(hidden)
        points = hit_and_run(region, rng)
        assert region.contains(points).all()
        np.testing.assert_allclose(
            region.logits(points), network_logits(model, points), atol=1e-10
        )
        pattern = np.concatenate(region.pattern)
        for y in points[::8]:
            assert np.array_equal(
                np.concatenate(explainer.net.patterns(y[None]), axis=1)[0], pattern
            )


def test_interval_is_exact_in_both_directions():
    """Inside the interval the pattern holds; just beyond its ends a unit has switched."""
    net = random_mlp(hidden=(16, 16), seed=3)
    explainer = LinearRegion(wrap(net, 4))
    rng = np.random.default_rng(3)
    for x in rng.normal(size=(10, 4)):
        region = explainer.region(x)
        pattern = np.concatenate(region.pattern)
        direction = rng.normal(size=4)
        low, high = region.interval(direction)
        assert low < 0 < high
        for t, same in ((0.999 * low, True), (0.999 * high, True)):
            inside = np.concatenate(explainer.net.patterns((x + t * direction)[None]), axis=1)
            assert np.array_equal(inside[0], pattern) == same
        for t in (low - 1e-7 * abs(low), high + 1e-7 * high):
            beyond = np.concatenate(explainer.net.patterns((x + t * direction)[None]), axis=1)
            assert not np.array_equal(beyond[0], pattern)


def test_region_on_credit_has_box_rows_and_matches_model(credit, credit_model):
    explainer = LinearRegion(credit_model)
    x = credit.X_test[3]
    region = explainer.region(x)
    assert region.A.shape == (64 + 26, 13)
    assert np.array_equal(region.row_units[-26:, 0], np.full(26, -1))
    np.testing.assert_allclose(region.logits(x), credit_model.logits(x), atol=1e-4)
    low, high = region.interval("income")
    assert credit.bounds[0, 0] <= low <= x[0] <= high <= credit.bounds[0, 1]
    w, c = region.pairwise(1, 0)
    np.testing.assert_allclose(w, region.weights[1] - region.weights[0])
    assert c == pytest.approx(region.bias[1] - region.bias[0])
    np.testing.assert_allclose(region.normalized_weights, region.weights * credit.train_std)
    center, radius = region.chebyshev_center()
    assert radius > 0 and region.contains(center)[0]


def test_explain_equals_autograd_gradient_and_bias_closes_the_model(credit, credit_model):
    X = credit.X_test[:20]
    e = LinearRegion(credit_model).explain(X)
    g = xw.explainers.Gradient(credit_model).explain(X)
    np.testing.assert_allclose(e.values, g.values, rtol=1e-4, atol=1e-6)
    logits = credit_model.logits(X)[np.arange(20), e.target]
    np.testing.assert_allclose((e.values * X).sum(axis=1) + e.meta["bias"], logits, atol=1e-4)
    normalized = LinearRegion(credit_model, normalize=True).explain(X)
    np.testing.assert_allclose(normalized.values, e.values * credit.train_std, rtol=1e-12)
    assert xw.explainers.get("linear_region") is LinearRegion
    assert "linear_region" in xw.explainers.available(credit_model)


def test_conv_batchnorm_dropout_leaky_layers_are_read_exactly():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3, padding=1),
        torch.nn.BatchNorm2d(3),
        torch.nn.LeakyReLU(0.05),
        torch.nn.Dropout(0.3),
        torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU()),
        torch.nn.Flatten(),
        torch.nn.Linear(4 * 2 * 2, 6),
        torch.nn.BatchNorm1d(6),
        torch.nn.ReLU(),
        torch.nn.Linear(6, 3),
    ).double()
    with torch.no_grad():
        for bn in (net[1], net[7]):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
    net.train()  # the explainer must read it in evaluation mode and restore this
    model = xw.wrap(net, input_shape=(1, 6, 6))
    explainer = LinearRegion(model)
    assert net.training and net[3].training
    x = np.random.default_rng(0).normal(size=(1, 6, 6))
    region = explainer.region(x)
    np.testing.assert_allclose(region.logits(x), model.logits(x), atol=1e-10)
    e = explainer.explain(x)
    inputs = torch.tensor(x[None], requires_grad=True)
    net.eval()
    net(inputs)[0, e.target].backward()
    np.testing.assert_allclose(e.values, inputs.grad[0].numpy(), atol=1e-10)


def test_digits_cnn_region(digits, digits_cnn):
    explainer = LinearRegion(digits_cnn)
    x = digits.X_test[5]
    region = explainer.region(x)
    assert region.contains(x)[0]
    assert region.weights.shape == (10, 64)
    np.testing.assert_allclose(region.logits(x), digits_cnn.logits(x), atol=1e-4)
    g = xw.explainers.Gradient(digits_cnn).explain(x)
    np.testing.assert_allclose(explainer.explain(x).values, g.values, rtol=1e-4, atol=1e-5)


def test_single_logit_binary_network_is_read_as_the_adapter_reads_it():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
    model = xw.wrap(net, input_shape=(2,))
    x = np.array([0.3, -0.2])
    np.testing.assert_allclose(LinearRegion(model).region(x).logits(x), model.logits(x), atol=1e-6)


class Residual(torch.nn.Sequential):
    def forward(self, x):
        return x + super().forward(x)


@pytest.mark.parametrize(
    ("net", "message"),
    [
        (
            torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)),
            "Tanh",
        ),
        (torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Softmax(dim=1)), "Softmax"),
        (
            Residual(torch.nn.Linear(4, 4), torch.nn.ReLU(), torch.nn.Linear(4, 4)),
            "overrides forward",
        ),
        (
            torch.nn.Sequential(
                torch.nn.Linear(4, 4),
                torch.nn.BatchNorm1d(4, track_running_stats=False),
                torch.nn.ReLU(),
                torch.nn.Linear(4, 2),
            ),
            "running",
        ),
    ],
)
def test_unsupported_layers_raise_clear_errors(net, message):
    model = xw.wrap(net, input_shape=(4,), n_classes=2)
    with pytest.raises(TypeError, match=message):
        LinearRegion(model)
    assert not LinearRegion.applies_to(model)
    assert "linear_region" not in xw.explainers.available(model)


def test_maxpool_cnn_is_refused(digits_cnn):
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 2, 3), torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(8, 2)
    )
    model = xw.wrap(net, input_shape=(1, 6, 6))
    with pytest.raises(TypeError, match="MaxPool2d"):
        LinearRegion(model)
    assert not LinearRegion.applies_to(model)
    assert LinearRegion.applies_to(digits_cnn)


def test_models_that_are_not_relu_networks_are_refused(credit):
    from sklearn.tree import DecisionTreeClassifier

    sk = xw.wrap(DecisionTreeClassifier(max_depth=2).fit(credit.X_train, credit.y_train), credit)
    with pytest.raises(TypeError, match="gradients"):
        LinearRegion(sk)
    probs = xw.wrap(random_mlp(n_in=13, n_out=2), credit, output="probs")
    with pytest.raises(ValueError, match="logit"):
        LinearRegion(probs)
    with pytest.raises(ValueError, match="logit"):
        LinearRegion(xw.wrap(random_mlp(), input_shape=(4,)), output="probability")


# ----------------------------------------------------------------------------- 1-D
@pytest.mark.parametrize("which", ["random", "credit"])
def test_curve_breakpoints_match_network_on_fine_grid(which, credit, credit_model):
    if which == "random":
        model, x, feature = wrap(random_mlp(hidden=(16, 16), seed=4), 4), np.zeros(4), 1
        kwargs = {"low": -6.0, "high": 6.0}
    else:
        model, x, feature, kwargs = credit_model.to_dtype(torch.float64), credit.X_test[7], 0, {}
    explainer = LinearRegion(model)
    curve = explainer.curve(x, feature, **kwargs)
    assert len(curve.breakpoints) > 5
    assert np.all(np.diff(curve.positions) > 0)
    grid = np.linspace(curve.positions[0], curve.positions[-1], 4001)
    inputs = np.repeat(x[None], len(grid), axis=0)
    inputs[:, feature] = grid
    np.testing.assert_allclose(curve(grid), network_logits(model, inputs), atol=1e-9)
    # Every breakpoint is real (the pattern changes across it) and none is missing (the
    # pattern is constant inside each piece).
    rng = np.random.default_rng(0)
    previous = None
    for left, right in zip(curve.positions[:-1], curve.positions[1:], strict=True):
        ts = left + (right - left) * rng.uniform(0.01, 0.99, size=6)
        points = np.repeat(x[None], len(ts), axis=0)
        points[:, feature] = ts
        patterns = np.concatenate(explainer.net.patterns(points), axis=1)
        assert (patterns == patterns[0]).all()
        if previous is not None:
            assert not np.array_equal(previous, patterns[0])
        previous = patterns[0]
    # The ratio-test interval is the piece that contains the input.
    low, high = curve.interval
    assert low <= curve.current <= high
    assert np.any(np.isclose(curve.positions, low, rtol=0, atol=1e-9))
    assert np.any(np.isclose(curve.positions, high, rtol=0, atol=1e-9))
    assert not np.any((curve.positions > low + 1e-9) & (curve.positions < high - 1e-9))


def test_curve_sources_name_the_switching_unit():
    model = wrap(random_mlp(hidden=(8,), seed=5), 4)
    explainer = LinearRegion(model)
    curve = explainer.curve(np.zeros(4), 2, low=-5, high=5)
    for position, (layer, unit) in zip(curve.breakpoints, curve.sources[1:-1], strict=True):
        y = np.zeros(4)
        y[2] = position
        pre = explainer.net.forward(y[None])[0][layer][0, unit]
        assert abs(pre) < 1e-9


def test_curve_along_a_direction_needs_a_range():
    explainer = LinearRegion(wrap(random_mlp(), 4))
    with pytest.raises(ValueError, match=r"direction .* needs low= and high="):
        explainer.curve(np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="without data bounds needs low= and high="):
        explainer.curve(np.zeros(4), 0)
    curve = explainer.curve(np.zeros(4), np.ones(4), low=-1, high=2)
    assert curve.feature is None and curve.positions[0] == -1 and curve.positions[-1] == 2


# ----------------------------------------------------------------------------- exact IG
def test_exact_ig_equals_closed_form_for_one_hidden_layer():
    """f(y) = v . relu(W y + b) + c: along the path each unit is active for a known
    fraction tau_j of [0, 1], so IG_i = (x_i - x'_i) sum_j v_j W_ji tau_j."""
    net = random_mlp(n_in=5, hidden=(12,), n_out=2, seed=6)
    explainer = LinearRegion(wrap(net, 5))
    W, b = net[0].weight.detach().numpy(), net[0].bias.detach().numpy()
    rng = np.random.default_rng(6)
    for _ in range(5):
        x, baseline = rng.normal(size=5), rng.normal(size=5)
        target = 1
        v = net[2].weight.detach().numpy()[target]
        a0, a1 = W @ baseline + b, W @ x + b
        root = a0 / (a0 - a1)
        tau = np.where(
            (a0 > 0) & (a1 > 0),
            1.0,
            np.where((a0 <= 0) & (a1 <= 0), 0.0, np.where(a0 > 0, root, 1 - root)),
        )
        expected = (x - baseline) * ((v * tau) @ W)
        e = explainer.integrated_gradients(x, baseline=baseline, target=target)
        np.testing.assert_allclose(e.values, expected, atol=1e-12)
        assert abs(e.meta["convergence_delta"]) < 1e-12
        assert e.method == "ig" and e.params["method"] == "exact"


def test_riemann_ig_error_falls_with_steps_within_the_exact_bound(credit, credit_model):
    """Midpoint Riemann IG on a piecewise-constant gradient: each jump of the gradient
    costs at most |jump| / (2 steps) (times x_i - x'_i); the exact IG is the oracle."""
    model = credit_model.to_dtype(torch.float64)
    explainer = LinearRegion(model)
    rng = np.random.default_rng(0)
    X = credit.X_test[rng.choice(len(credit.X_test), 6, replace=False)]
    exact = explainer.integrated_gradients(X, baseline="mean")
    assert np.abs(exact.meta["convergence_delta"]).max() < 1e-9
    errors = []
    for steps in (8, 32, 128, 512):
        riemann = xw.explainers.IntegratedGradients(
            model, steps=steps, method="riemann_middle", baseline="mean"
        ).explain(X, target=exact.target)
        error = np.abs(riemann.values - exact.values)
        for row in range(len(X)):
            alphas = exact.meta["breakpoints"][row]
            mid = credit.train_mean + (0.5 * (alphas[1:] + alphas[:-1]))[:, None] * (
                X[row] - credit.train_mean
            )
            grads = explainer.net.jacobians(
                explainer.net.patterns(mid), len(mid), np.full(len(mid), exact.target[row])
            )
            jumps = np.abs(np.diff(grads, axis=0)).sum(axis=0)
            bound = np.abs(X[row] - credit.train_mean) * jumps / (2 * steps)
            assert np.all(error[row] <= bound + 1e-9)
        errors.append(error.max())
    assert errors[-1] < errors[0] / 20
    assert all(later <= earlier * 1.5 for earlier, later in itertools.pairwise(errors))


# ----------------------------------------------------------------------------- 2-D
@pytest.mark.parametrize("which", ["random", "credit"])
def test_region_map_tiles_the_slice(which, credit, credit_model):
    if which == "random":
        model = wrap(random_mlp(n_in=2, hidden=(12, 12), seed=7), 2)
        x, features, kwargs = np.array([0.2, -0.1]), (0, 1), {"low": [-3, -3], "high": [3, 3]}
    else:
        model = credit_model.to_dtype(torch.float64)
        x, features, kwargs = credit.X_test[0], ("income", "debt_ratio"), {}
    explainer = LinearRegion(model)
    rm = explainer.region_map(x, features, **kwargs)
    assert rm.complete and len(rm) > 20
    assert rm.areas.sum() == pytest.approx(rm.box_area, rel=1e-9)
    assert len({p.tobytes() for p in rm.patterns}) == len(rm)
    # Disjoint and covering: random points lie in exactly one polygon (matplotlib's
    # point-in-polygon as the oracle), whose pattern is the network's pattern there.
    rng = np.random.default_rng(0)
    points = rm.low + rng.uniform(size=(3000, 2)) * (rm.high - rm.low)
    inside = np.array(
        [matplotlib.path.Path(p).contains_points(points, radius=-1e-9) for p in rm.polygons]
    )
    near_edge = np.array(
        [matplotlib.path.Path(p).contains_points(points, radius=1e-9) for p in rm.polygons]
    )
    clear = near_edge.sum(axis=0) == 1
    assert clear.mean() > 0.95
    assert np.all(inside[:, clear].sum(axis=0) == 1)
    where = rm.locate(points)
    np.testing.assert_array_equal(where[clear], inside[:, clear].argmax(axis=0))
    inputs = np.repeat(x[None], len(points), axis=0)
    inputs[:, list(rm.columns)] = points
    patterns = np.concatenate(explainer.net.patterns(inputs), axis=1)
    assert np.array_equal(patterns[clear], rm.patterns[where[clear]])
    np.testing.assert_allclose(rm.slice_logits(points), network_logits(model, inputs), atol=1e-8)
    # The input's own region is marked and contains it.
    assert rm.locate(x[list(rm.columns)][None])[0] == rm.current
    # Exact class cells also tile the slice and carry the network's prediction.
    cells = rm.class_cells()
    total = sum(
        0.5 * abs(np.dot(c[:, 0], np.roll(c[:, 1], -1)) - np.dot(c[:, 1], np.roll(c[:, 0], -1)))
        for _, _, c in cells
    )
    assert total == pytest.approx(rm.box_area, rel=1e-9)
    for _r, cls, cell in cells[:: max(1, len(cells) // 60)]:
        centroid = cell.mean(axis=0)
        probe = x.copy()
        probe[list(rm.columns)] = centroid
        assert network_logits(model, probe[None])[0].argmax() == cls


def test_region_map_weights_and_ranks_match_each_region(credit, credit_model):
    explainer = LinearRegion(credit_model)
    x = credit.X_test[1]
    with pytest.warns(RuntimeWarning, match="max_regions"):
        rm = explainer.region_map(x, ("age", "savings"), max_regions=400)
    weights = rm.input_weights()
    ranks = rm.feature_ranks("income")
    for r in range(0, len(rm), max(1, len(rm) // 15)):
        probe = x.copy()
        probe[list(rm.columns)] = rm.centers[r]
        region = explainer.region(probe)
        np.testing.assert_allclose(weights[r], region.weights[rm.target], rtol=1e-9, atol=1e-12)
        magnitude = np.abs(region.normalized_weights[rm.target])
        assert ranks[r] == 1 + np.sum(magnitude > magnitude[0])
    np.testing.assert_allclose(
        rm.feature_weights("savings", normalized=True), weights[:, 5] * credit.train_std[5]
    )
    assert np.array_equal(rm.predicted, np.argmax(rm.slice_logits(rm.centers), axis=1))


def test_region_map_cap_warns_and_says_incomplete(credit, credit_model):
    with pytest.warns(RuntimeWarning, match="max_regions=5"):
        rm = LinearRegion(credit_model).region_map(credit.X_test[0], (0, 1), max_regions=5)
    assert len(rm) == 5 and not rm.complete
    assert rm.areas.sum() < rm.box_area


def test_region_map_on_the_digits_cnn(digits, digits_cnn):
    explainer = LinearRegion(digits_cnn)
    x = digits.X_test[0]
    rm = explainer.region_map(x, (27, 36), low=[0.0, 0.0], high=[0.4, 0.4], max_regions=3000)
    assert rm.complete
    assert rm.areas.sum() == pytest.approx(rm.box_area, rel=1e-8)


# ----------------------------------------------------------------------------- MILP
def test_class_in_box_against_a_dense_grid():
    model = wrap(random_mlp(n_in=2, hidden=(10, 10), n_out=3, seed=8), 2)
    explainer = LinearRegion(model)
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 301), np.linspace(-2, 2, 301)), -1)
    grid = grid.reshape(-1, 2)
    logits = network_logits(model, grid)
    bounds = np.array([[-2.0, 2.0], [-2.0, 2.0]])
    for target in range(3):
        others = np.delete(logits, target, axis=1)
        grid_best = (logits[:, target] - others.max(axis=1)).max()
        query = explainer.class_in_box(target, bounds)
        assert query.status == "optimal"
        assert query.margin >= grid_best - 1e-7
        assert query.margin <= grid_best + 0.2  # the grid spacing times a Lipschitz bound
        assert query.found == (query.margin >= 0)
        witness = network_logits(model, query.point[None])[0]
        assert witness[target] - np.delete(witness, target).max() == pytest.approx(
            query.margin, abs=1e-6
        )
        if query.found:
            assert query.verified


def test_class_in_box_on_credit_respects_the_domain(credit, credit_model):
    explainer = LinearRegion(credit_model)
    hopeless = {
        "late_payments": 12,
        "income": (10, 20),
        "debt_ratio": (1.2, 1.5),
        "employment": "unemployed",
        "savings": (0, 5),
    }
    no = explainer.class_in_box(1, hopeless)
    assert no.found is False and no.bound < 0
    # Sampling the same box never finds an approval.
    rng = np.random.default_rng(0)
    samples = np.repeat(credit.X_test[:1], 20000, axis=0)
    for name, (low, high) in [
        ("income", (10, 20)),
        ("debt_ratio", (1.2, 1.5)),
        ("savings", (0, 5)),
    ]:
        samples[:, credit.feature_names.index(name)] = rng.uniform(low, high, 20000)
    for name in ("age", "years_employed", "dependents", "group"):
        column = credit.feature_names.index(name)
        low, high = credit.bounds[column]
        samples[:, column] = rng.integers(low, high + 1, 20000)
    samples[:, 4] = 12
    samples[:, 8:12] = np.eye(4)[3]
    assert not np.any(credit_model.predict(samples) == 1)
    yes = explainer.class_in_box(1, {"group": 1, "age": (18, 29)})
    assert yes.found and yes.verified
    point = yes.point
    assert point[credit.feature_names.index("group")] == 1
    assert 18 <= point[2] <= 29
    integer_columns = [i for i, k in enumerate(credit.feature_kinds) if k != "continuous"]
    np.testing.assert_allclose(point[integer_columns], np.round(point[integer_columns]), atol=1e-6)
    assert point[8:12].sum() == pytest.approx(1.0)


# ----------------------------------------------------------------------------- hygiene
def test_nothing_passed_in_is_changed(credit, credit_model):
    net = credit_model.torch_module
    state = copy.deepcopy(net.state_dict())
    flags = [m.training for m in net.modules()]
    x = credit.X_test[2].copy()
    keep = x.copy()
    explainer = LinearRegion(credit_model)
    explainer.region(x)
    explainer.curve(x, "age")
    explainer.integrated_gradients(x, baseline="mean")
    explainer.region_map(x, ("age", "income"), low=[30, 40], high=[40, 60])
    explainer.class_in_box(0, {"income": (10, 30)})
    assert np.array_equal(x, keep)
    assert [m.training for m in net.modules()] == flags
    for key, value in net.state_dict().items():
        assert torch.equal(value, state[key])


def test_bad_arguments_raise_errors_naming_them(credit, credit_model):
    explainer = LinearRegion(credit_model)
    x = credit.X_test[0]
    with pytest.raises(ValueError, match="employment"):
        explainer.curve(x, "employment")
    with pytest.raises(ValueError, match="No input column named 'salary'"):
        explainer.curve(x, "salary")
    with pytest.raises(ValueError, match="out of range"):
        explainer.region_map(x, (0, 99))
    with pytest.raises(ValueError, match="two different columns"):
        explainer.region_map(x, ("age", "age"))
    with pytest.raises(ValueError, match="features must be two columns"):
        explainer.region_map(x, "age")
    with pytest.raises(ValueError, match="low must be below high"):
        explainer.region_map(x, (0, 1), low=[50, 1], high=[40, 2])
    with pytest.raises(ValueError, match="contain the input"):
        explainer.region_map(x, (0, 1), low=[200, 0], high=[250, 1])
    with pytest.raises(ValueError, match="'max_regions'"):
        explainer.region_map(x, (0, 1), max_regions=0)
    with pytest.raises(ValueError, match="low must be smaller than high"):
        explainer.curve(x, "age", low=50, high=40)
    with pytest.raises(ValueError, match="all zeros"):
        explainer.region(x).interval(np.zeros(13))
    with pytest.raises(ValueError, match="one input"):
        explainer.region(credit.X_test[:2])
    with pytest.raises(ValueError, match="shape"):
        explainer.region(np.zeros(5))
    with pytest.raises(ValueError, match="categories"):
        explainer.class_in_box(1, {"employment": "astronaut"})
    with pytest.raises(ValueError, match="target must be a class index"):
        explainer.class_in_box(5)
    with pytest.raises(ValueError, match="low, high"):
        explainer.class_in_box(1, {"income": (30, 20)})
    with pytest.raises(ValueError, match=r"shape \(13, 2\)"):
        LinearRegion(credit_model, bounds=np.zeros((3, 2)))
    with pytest.raises(TypeError, match="'normalize'"):
        LinearRegion(credit_model, normalize="yes")
    with pytest.raises(ValueError, match="normalize=True needs"):
        LinearRegion(xw.wrap(random_mlp(), input_shape=(4,)), normalize=True)
    with pytest.raises(ValueError, match="no data bounds"):
        LinearRegion(xw.wrap(random_mlp(), input_shape=(4,))).region_map(np.zeros(4), (0, 1))


# ----------------------------------------------------------------------------- plots
def test_plots_draw_the_map_and_the_curve(credit, credit_model):
    from matplotlib.axes import Axes

    explainer = LinearRegion(credit_model)
    x = credit.X_test[0]
    rm = explainer.region_map(x, ("income", "debt_ratio"), high=[100, 1.5])
    ax = xw.plotting.plot_region_map(rm)
    assert isinstance(ax, Axes)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert set(labels) <= set(credit.class_names) and labels
    ax = xw.plotting.plot_region_map(rm, color="weight", feature="income")
    assert ax.collections[0].get_array().shape == (len(rm),)
    ax = xw.plotting.plot_region_map(rm, color="rank", feature="group")
    assert ax.collections[0].get_array().max() <= 10
    with pytest.raises(ValueError, match="'color'"):
        xw.plotting.plot_region_map(rm, color="weights")
    curve = explainer.curve(x, "income")
    ax = xw.plotting.plot_curve(curve, classes=1)
    assert ax.get_xlabel() == "income"
    with pytest.raises(ValueError, match="classes"):
        xw.plotting.plot_curve(curve, classes=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xw.plotting.plot_curve(curve)
