"""RegionWidget, driven from Python as a test or a notebook would.

The oracle for every number the widget shows is ``LinearRegion`` called directly on the
same input; the figures are checked against the same numbers.
"""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import xaiwidgets as xw
from xaiwidgets.explainers import LinearRegion
from xaiwidgets.widgets import ParamControls, method_params

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def direct(credit_model):
    return LinearRegion(credit_model)


def _moved(x, credit, **values):
    x = np.array(x, dtype=float)
    for name, value in values.items():
        x[credit.feature(name).columns[0]] = value
    return x


def _polygon_key(polygon):
    return sorted(map(tuple, np.round(polygon, 9)))


def test_curve_weights_and_map_are_linear_regions_own(credit, credit_model, direct, widgets):
    w = xw.RegionWidget(credit_model, credit, index=3, zoom=0.25)
    widgets.append(w)
    e = w.wait()
    x = credit.X_test[3]
    assert w.error == "" and w.feature == "income" and w.features == ("income", "debt_ratio")
    # The weights: LinearRegion's explanation (normalized by default), and the region.
    expected = LinearRegion(credit_model, normalize=True).explain(x)
    np.testing.assert_array_equal(e.values, expected.values)
    assert e.target == expected.target and e.params["normalize"] is True
    reg = direct.region(x)
    np.testing.assert_array_equal(w.region.weights, reg.weights)
    np.testing.assert_array_equal(w.region.A, reg.A)
    # The curve along the active feature, its breakpoints and interval.
    curve = direct.curve(x, "income")
    np.testing.assert_array_equal(w.curve.positions, curve.positions)
    np.testing.assert_array_equal(w.curve.logits, curve.logits)
    assert w.curve.interval == curve.interval == reg.interval("income")
    # The map: the same slice computed directly.
    rm = w.region_map
    fresh = direct.region_map(x, ("income", "debt_ratio"), low=rm.low, high=rm.high)
    assert len(rm) == len(fresh) and rm.complete
    for shown, own in zip(rm.polygons, fresh.polygons, strict=True):
        np.testing.assert_array_equal(shown, own)
    np.testing.assert_array_equal(rm.patterns, fresh.patterns)
    assert rm.current == fresh.current == 0
    assert np.isclose(rm.areas.sum(), rm.box_area)
    # The zoomed window is a quarter of each data range, around the input.
    span = credit.bounds[:2, 1] - credit.bounds[:2, 0]
    np.testing.assert_allclose(rm.high - rm.low, 0.25 * span)
    assert np.all((rm.low <= x[:2]) & (x[:2] <= rm.high))

    # What is drawn is those numbers.
    displays = w._displays
    bars = displays["bars"].bars
    np.testing.assert_allclose([b.get_width() for b in bars], e.values)
    assert bars[0].get_linewidth() > 0 and bars[1].get_linewidth() == 0  # active: income
    target_line = displays["curve"].lines[e.target]
    np.testing.assert_array_equal(target_line.get_xdata(), curve.positions)
    np.testing.assert_array_equal(target_line.get_ydata(), curve.logits[:, e.target])
    band = displays["curve"].band
    assert (band.get_x(), band.get_x() + band.get_width()) == pytest.approx(curve.interval)
    np.testing.assert_array_equal(displays["curve"].ticks.get_xdata(), curve.breakpoints)
    marker = w._marker
    assert marker.star.get_xdata()[0] == x[0] and marker.star.get_ydata()[0] == x[1]
    np.testing.assert_array_equal(marker.outline.get_xy()[:-1], fresh.polygons[0])
    segment = marker.segment.get_xydata()
    np.testing.assert_allclose(segment[:, 0], curve.interval)  # inside the window here
    np.testing.assert_array_equal(segment[:, 1], [x[1], x[1]])
    assert bytes(w.view.image.value).startswith(PNG)
    assert bytes(w.map_view.image.value).startswith(PNG)
    assert "income ∈" in displays["banner"].interval.get_text()
    assert f"{len(rm)} regions, computed in" in w.map_status.value


def test_weights_stay_inside_the_interval_and_jump_at_its_end(credit, credit_model, widgets):
    w = xw.RegionWidget(credit_model, credit, index=0, show_map=False)
    widgets.append(w)
    first = w.wait()
    low, high = w.curve.interval
    widths = [b.get_width() for b in w._displays["bars"].bars]
    full_renders = w.view.full_renders
    for value in np.linspace(low, high, 7)[1:-1]:
        w.inputs.feature_controls["income"].value = float(value)  # as from the browser
        e = w.wait()
        np.testing.assert_array_equal(e.values, first.values)
        assert [b.get_width() for b in w._displays["bars"].bars] == widths
        assert w.curve.interval == pytest.approx((low, high), rel=1e-12)
        assert "Same linear region" in w._displays["banner"].note.get_text()
    assert w.view.full_renders == full_renders  # only the moving artists were redrawn
    # Just past the end, one unit switches: the weights jump, and the banner says so.
    w.set_feature("income", high + 1e-3 * (high - low))
    jumped = w.wait()
    assert not np.allclose(jumped.values, first.values)
    assert jumped.target == first.target
    direct = LinearRegion(credit_model, normalize=True).explain(w.x)
    np.testing.assert_array_equal(jumped.values, direct.values)
    assert w.curve.interval[0] == pytest.approx(high, rel=1e-9)  # the next piece
    assert "New linear region (1 unit switched)" in w._displays["banner"].note.get_text()
    assert w._displays["banner"].note.get_color() == "#e07000"
    assert [b.get_width() for b in w._displays["bars"].bars] != widths


def test_the_active_feature_follows_the_slider_moved_last(credit, credit_model, widgets):
    w = xw.RegionWidget(credit_model, credit, index=1, show_map=False, normalize=False)
    widgets.append(w)
    w.wait()
    w.inputs.feature_controls["age"].value = 52
    e = w.wait()
    assert w.feature == "age" and w.feature_picker.value == "age"
    x = _moved(credit.X_test[1], credit, age=52)
    np.testing.assert_array_equal(
        w.curve.logits, LinearRegion(credit_model).curve(x, "age").logits
    )
    np.testing.assert_array_equal(e.values, LinearRegion(credit_model).explain(x).values)
    # A categorical change or a new row leaves the active feature alone.
    w.set_feature("employment", "contract")
    w.index = 2
    w.wait()
    assert w.feature == "age"
    # The dropdown picks it; with follow off, it stays picked.
    w.follow_box.value = False
    w.feature_picker.value = "savings"
    w.set_feature("income", 80.0)
    w.wait()
    assert w.feature == "savings" and w.curve.feature == "savings"
    # The explained class: the curve draws that logit thicker and the bars explain it.
    w.target = "denied"
    e = w.wait()
    assert e.target == 0 and e.target_name == "denied"
    lines = w._displays["curve"].lines
    assert lines[0].get_linewidth() > lines[1].get_linewidth()
    np.testing.assert_array_equal(e.values, LinearRegion(credit_model).explain(w.x, 0).values)


def test_the_map_is_remembered_per_slice(credit, credit_model, direct, widgets, monkeypatch):
    calls = []
    original = LinearRegion.region_map

    def counted(self, *args, **kwargs):
        calls.append(args[1])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LinearRegion, "region_map", counted)
    w = xw.RegionWidget(credit_model, credit, index=7, zoom=0.1)
    widgets.append(w)
    w.wait()
    assert len(calls) == 1 and not w.map_cached
    first = w.region_map
    # Moving one of the map's features inside the window: the same map, the star moves.
    debt_ratio = float(first.low[1] + 0.3 * (first.high[1] - first.low[1]))
    x = _moved(credit.X_test[7], credit, debt_ratio=debt_ratio)
    w.set_feature("debt_ratio", float(x[1]))
    w.wait()
    assert len(calls) == 1 and w.map_cached and w.feature == "debt_ratio"
    rm = w.region_map
    np.testing.assert_array_equal(rm.x, x)
    assert rm.polygons is first.polygons
    # Its current region is the input's own: the polygon of the map computed anew there.
    fresh = original(direct, x, ("income", "debt_ratio"), low=rm.low, high=rm.high)
    assert _polygon_key(rm.polygons[rm.current]) == _polygon_key(fresh.polygons[0])
    np.testing.assert_array_equal(rm.patterns[rm.current], fresh.patterns[0])
    np.testing.assert_array_equal(w._marker.outline.get_xy()[:-1], rm.polygons[rm.current])
    assert w._marker.star.get_ydata()[0] == x[1]
    # Another feature moves the slice: a new map; moving back finds the first again.
    w.set_feature("age", 60)
    w.wait()
    assert len(calls) == 2 and not w.map_cached
    w.set_feature("age", int(credit.X_test[7][2]))
    w.wait()
    assert len(calls) == 2 and w.map_cached
    # Colours only redraw, from the same map.
    png = bytes(w.map_view.image.value)
    w.color = "weight"
    w.wait()
    assert w.color_picker.value == "weight" and bytes(w.map_view.image.value) != png
    w.color_picker.value = "rank"
    w.color_feature = "group"
    w.wait()
    assert len(calls) == 2 and w.map_cached
    assert "rank of group" in w.map_view.figure.axes[0].get_title()
    # The cap: a walk stopped early says so in the widget (the RuntimeWarning is not
    # raised in the worker; pytest would turn it into an error).
    w.max_regions = 3
    w.wait()
    assert len(w.region_map) == 3 and not w.region_map.complete
    assert "Incomplete" in w.map_status.value and w.error == ""
    assert not w.map_busy and not w.busy


def test_map_controls(credit, credit_model, widgets):
    w = xw.RegionWidget(credit_model, credit, index=5, zoom=0.1, show_map=False)
    widgets.append(w)
    w.wait()
    assert w.region_map is None and w.map_view.image.layout.display == "none"
    w.show_map_box.value = True
    w.wait()
    assert w.region_map.features == ("income", "debt_ratio")
    # Picking the other axis's feature swaps the axes.
    w.map_x.value = "debt_ratio"
    assert w.features == ("debt_ratio", "income")
    w.map_y.value = "savings"
    w.wait()
    assert w.region_map.features == ("debt_ratio", "savings")
    w.features = ["age", "income"]  # from Python; the dropdowns follow
    assert (w.map_x.value, w.map_y.value) == ("age", "income")
    w.zoom_picker.value = 0.25
    w.wait()
    rm = w.region_map
    np.testing.assert_allclose(rm.high - rm.low, 0.25 * np.ptp(credit.bounds[[2, 0]], axis=1))
    w.zoom = 0.2  # a value the dropdown did not offer is added to it
    assert w.zoom_picker.value == 0.2


def test_unsupported_models_get_a_message_and_the_widget_keeps_working(credit, widgets):
    tanh = torch.nn.Sequential(torch.nn.Linear(13, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipe.fit(credit.X_train, credit.y_train)
    for model, reason in ((tanh, "Tanh"), (pipe, "needs gradients")):
        w = xw.RegionWidget(model, credit, index=2)
        widgets.append(w)
        assert w.wait() is None
        assert "RegionWidget shows exact linear regions" in w.error and reason in w.error
        assert "only piecewise-linear networks" in w.error_box.value
        assert w.error_box.layout.display != "none"
        assert w.view.image.layout.display == "none" and w.map_box.layout.display == "none"
        w.set_feature("income", 99.0)  # the panel still works
        assert w.wait() is None and w.x[0] == 99.0 and reason in w.error
        assert w.region_map is None and not w.map_busy


def test_failures_are_shown_and_the_widget_recovers(credit, credit_model, widgets, monkeypatch):
    w = xw.RegionWidget(credit_model, credit, index=4, zoom=0.1)
    widgets.append(w)
    w.wait()

    def broken(*args, **kwargs):
        raise RuntimeError("the curve broke")

    curve = LinearRegion.curve
    monkeypatch.setattr(LinearRegion, "curve", broken)
    w.set_feature("savings", 40.0)
    assert w.wait() is None and w.curve is None
    assert w.error == "RuntimeError: the curve broke" and "the curve broke" in w.error_box.value
    monkeypatch.setattr(LinearRegion, "curve", curve)
    w.set_feature("savings", 41.0)
    e = w.wait()
    assert w.error == "" and w.error_box.layout.display == "none"
    np.testing.assert_array_equal(
        e.values, LinearRegion(credit_model, normalize=True).explain(w.x).values
    )
    # A failing map leaves the weights and the curve working, and says why.
    region_map = LinearRegion.region_map
    monkeypatch.setattr(LinearRegion, "region_map", broken)
    w.set_feature("savings", 42.0)
    assert w.wait() is not None and w.curve is not None
    assert w.region_map is None and "the curve broke" in w.error
    assert "no map" in w.map_status.value
    monkeypatch.setattr(LinearRegion, "region_map", region_map)
    w.set_feature("savings", 43.0)
    w.wait()
    assert w.region_map is not None and w.error == ""


def test_bad_input_raises_naming_the_argument(credit, credit_model, digits, digits_mlp, widgets):
    w = xw.RegionWidget(credit_model, credit, show_map=False)
    widgets.append(w)
    with pytest.raises(ValueError, match="categorical feature has no slider"):
        w.feature = "employment"
    with pytest.raises(ValueError, match="feature must name a numeric feature"):
        w.feature = "salary"
    with pytest.raises(ValueError, match="two different features"):
        w.features = ("income", "income")
    with pytest.raises(ValueError, match="features must be two feature names"):
        w.features = "income"
    with pytest.raises(ValueError, match="'color'"):
        w.color = "weights"
    with pytest.raises(ValueError, match="color_feature"):
        w.color_feature = "salary"
    with pytest.raises(ValueError, match="max_regions"):
        w.max_regions = 0
    with pytest.raises(ValueError, match="zoom"):
        w.zoom = 1.5
    with pytest.raises(TypeError, match="tabular"):
        xw.RegionWidget(digits_mlp, digits)
    with pytest.raises(ValueError, match="feature"):
        xw.RegionWidget(credit_model, credit, feature="employment")
    # Still working.
    np.testing.assert_array_equal(
        w.wait().values, LinearRegion(credit_model, normalize=True).explain(w.x).values
    )


def test_many_features_show_the_largest_weights_and_the_active_one(
    breast_cancer, breast_cancer_model, widgets
):
    w = xw.RegionWidget(breast_cancer_model, breast_cancer, index=1, show_map=False)
    widgets.append(w)
    e = w.wait()
    bars = w._displays["bars"]
    assert breast_cancer.n_features == 30 and len(bars.rows) == 19 and len(bars.bars) == 20
    original = LinearRegion(breast_cancer_model, normalize=True).explain(breast_cancer.X_test[1])
    largest = np.argsort(-np.abs(original.values), kind="stable")[:19]
    assert bars.rows == largest.tolist()
    np.testing.assert_allclose([b.get_width() for b in bars.bars[:19]], e.values[largest])
    np.testing.assert_allclose(bars.bars[19].get_width(), np.delete(e.values, largest).sum())
    quiet = breast_cancer.feature_names[int(np.argmin(np.abs(original.values)))]
    w.feature = quiet  # a small weight: its row is shown too, in place of the 19th
    w.wait()
    column = breast_cancer.feature_names.index(quiet)
    assert column in w._displays["bars"].rows
    assert w.curve.feature == quiet


def test_nothing_passed_in_is_mutated(credit, credit_model, widgets):
    state = {k: v.clone() for k, v in credit_model.torch_module.state_dict().items()}
    training = credit_model.torch_module.training
    X_test, bounds = credit.X_test.copy(), credit.bounds.copy()
    features = ["savings", "income"]
    w = xw.RegionWidget(credit_model, credit, features=features, zoom=0.1)
    widgets.append(w)
    x = credit.X_test[9].copy()
    w.x = x
    w.set_feature("savings", 50.0)
    w.wait()
    assert features == ["savings", "income"] and w.features == ("savings", "income")
    np.testing.assert_array_equal(x, credit.X_test[9])
    np.testing.assert_array_equal(credit.X_test, X_test)
    np.testing.assert_array_equal(credit.bounds, bounds)
    assert credit_model.torch_module.training == training
    for name, value in state.items():
        assert torch.equal(credit_model.torch_module.state_dict()[name], value)


def test_parameter_controls_of_linear_region_and_fimap(credit, credit_model, widgets):
    params, _ = method_params("linear_region", credit_model)
    assert [p.name for p in params] == ["normalize", "output"]
    assert params[1].options == ("auto", "logit")  # probabilities are not piecewise linear
    controls = ParamControls("fimap", credit_model, {"lam": 0.3})
    assert list(controls.controls) == ["lam", "seed", "output"]
    assert controls.value["lam"] == 0.3 and controls.value["seed"] == 0
    w = xw.ExplainerWidget(credit_model, credit, method="linear_region", index=6)
    widgets.append(w)
    w.param_box.children[0].controls["normalize"].value = True
    assert w.params["normalize"] is True
    np.testing.assert_array_equal(
        w.wait().values,
        LinearRegion(credit_model, normalize=True).explain(credit.X_test[6]).values,
    )
