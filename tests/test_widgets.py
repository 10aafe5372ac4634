"""ExplainerWidget and CompareWidget, driven from Python as a test or a notebook would.

The oracle for every widget result is the explainer called directly on the same input.
"""

import threading
import time

import numpy as np
import pandas as pd
import pytest
import torch
from matplotlib.figure import Figure

import xaiwidgets as xw
from xaiwidgets.analysis.agreement import agreement
from xaiwidgets.analysis.perturbation import perturb_image
from xaiwidgets.explainers.gradients import Gradient

PNG = b"\x89PNG"


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _explain(model, name, x, target=None, **params):
    """The oracle: the explainer called directly."""
    return xw.explainers.get(name)(model, **params).explain(x, target=target)


def _assert_same(widget_explanation, direct):
    assert widget_explanation.method == direct.method
    assert widget_explanation.target == direct.target
    np.testing.assert_array_equal(widget_explanation.data, direct.data)
    np.testing.assert_array_equal(widget_explanation.values, direct.values)
    np.testing.assert_array_equal(widget_explanation.prediction, direct.prediction)


def _state_of_model(model):
    return {k: v.detach().clone() for k, v in model.torch_module.state_dict().items()}


# ---------------------------------------------------------------- tabular
def test_feature_change_gives_the_direct_explanation(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="ig", index=7, baseline="mean")
    widgets.append(w)
    first = w.wait()
    _assert_same(first, _explain(credit_model, "ig", credit.X_test[7], baseline="mean"))
    png_before = bytes(w.view.image.value)
    assert png_before.startswith(PNG)
    w.set_feature("debt_ratio", 1.2)
    w.set_feature("employment", "unemployed")
    w.set_feature("late_payments", 6)
    e = w.wait()
    x = credit.X_test[7].copy()
    x[credit.feature("debt_ratio").columns[0]] = 1.2
    x[list(credit.feature("employment").columns)] = [0, 0, 0, 1]
    x[credit.feature("late_payments").columns[0]] = 6
    np.testing.assert_array_equal(w.x, x)
    direct = _explain(credit_model, "ig", x, baseline="mean")
    _assert_same(e, direct)
    # The prediction moved too (this applicant goes from approved to denied).
    assert first.prediction.argmax() == 1 and e.prediction.argmax() == 0
    assert e.target == 0  # "predicted" follows the new prediction
    # The reference explanation is the original row's, for the same class.
    _assert_same(
        w.reference, _explain(credit_model, "ig", credit.X_test[7], target=0, baseline="mean")
    )
    assert bytes(w.view.image.value) != png_before
    assert "explained in" in w.status.value and not w.busy and w.error == ""
    # The controls show the new values.
    assert w.inputs.feature_controls["debt_ratio"].value == 1.2
    assert w.inputs.feature_controls["employment"].value == "unemployed"
    assert w.inputs.feature_value("late_payments") == 6


def test_moving_a_slider_is_the_same_as_set_feature(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=2)
    widgets.append(w)
    w.wait()
    w.inputs.feature_controls["age"].value = 61  # what the browser does
    e = w.wait()
    x = credit.X_test[2].copy()
    x[credit.feature("age").columns[0]] = 61
    _assert_same(e, _explain(credit_model, "gradient", x))


def test_the_browser_snapping_a_slider_does_not_move_the_input(credit, credit_model, widgets):
    """A browser slider rounds a value set from Python to its step and sends it back."""
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=3)
    widgets.append(w)
    slider = w.inputs.feature_controls["debt_ratio"]
    w.set_feature("debt_ratio", 0.16549)  # off the slider's 0.001 grid
    slider.value = 0.165  # the echo from the browser
    assert w.inputs.feature_value("debt_ratio") == 0.16549
    slider.value = 0.166  # a real move, one step
    assert w.inputs.feature_value("debt_ratio") == 0.166
    # The same for a method parameter shown on a slider.
    w.method = "smoothgrad"
    w.params = {"sigma": 0.1234}
    w.param_box.children[0].controls["sigma"].value = 0.12
    assert w.params["sigma"] == 0.1234
    # The target dropdown shows "predicted class" rather than an empty selection.
    assert w.target_picker.value == "predicted" and w.target is None
    w.target_picker.value = 1
    assert w.target == 1
    w.target = None
    assert w.target_picker.value == "predicted"


def test_assigning_x_moves_the_controls_and_reset_restores(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=4)
    widgets.append(w)
    original = w.wait()
    x = credit.X_test[11].copy()
    x_before = x.copy()
    w.x = x
    assert np.array_equal(x, x_before)  # the caller's array is not kept or changed
    x[0] = 999.0
    assert w.x[0] == credit.X_test[11][0]
    copy = w.x
    copy[0] = -1.0  # reading gives a copy: the widget is unaffected
    assert w.x[0] == credit.X_test[11][0]
    for feature in credit.features:
        expected = feature.value_of(credit.X_test[11])
        assert w.inputs.feature_controls[feature.name].value == expected
    _assert_same(w.wait(), _explain(credit_model, "gradient", credit.X_test[11]))
    w.reset()
    np.testing.assert_array_equal(w.x, credit.X_test[4])
    _assert_same(w.wait(), original)
    # A value beyond the plausible range widens the slider instead of being clipped.
    w.set_feature("income", 400.0)
    assert w.inputs.feature_controls["income"].value == 400.0
    assert w.wait().data[0] == 400.0


def test_index_loads_a_row_and_shows_its_classes(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient")
    widgets.append(w)
    w.index = 25
    np.testing.assert_array_equal(w.x, credit.X_test[25])
    assert w.inputs.row_picker.value == 25
    _assert_same(w.wait(), _explain(credit_model, "gradient", credit.X_test[25]))
    true = credit.class_names[credit.y_test[25]]
    predicted = credit.class_names[credit_model.predict(credit.X_test[25])[0]]
    assert f"true: <b>{true}</b>" in w.inputs.row_label.value
    assert f"model: <b>{predicted}</b>" in w.inputs.row_label.value
    w.inputs.row_picker.value = 26  # the picker drives the index
    assert w.index == 26


def test_target_method_and_params_from_python_and_controls(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="ig", index=1, steps=16)
    widgets.append(w)
    assert w.params["steps"] == 16 and w.params["baseline"] == "zeros"
    _assert_same(w.wait(), _explain(credit_model, "ig", credit.X_test[1], steps=16))
    w.target = "denied"
    assert w.target == 0
    _assert_same(w.wait(), _explain(credit_model, "ig", credit.X_test[1], target=0, steps=16))
    w.target = None
    # The method dropdown offers what applies; choosing one resets its parameters.
    assert [v for _, v in w.method_picker.options] == xw.explainers.available(credit_model)
    w.method_picker.value = "smoothgrad"
    assert w.method == "smoothgrad" and w.params["n_samples"] == 50
    w.params = {"n_samples": 8, "seed": 3}
    assert w.param_box.children[0].controls["n_samples"].value == 8
    _assert_same(
        w.wait(), _explain(credit_model, "smoothgrad", credit.X_test[1], n_samples=8, seed=3)
    )
    # A parameter control drives params.
    w.param_box.children[0].controls["sigma"].value = 0.3
    assert w.params["sigma"] == 0.3
    _assert_same(
        w.wait(),
        _explain(credit_model, "smoothgrad", credit.X_test[1], n_samples=8, seed=3, sigma=0.3),
    )
    w.method = "IntegratedGradients"  # class names work too
    assert w.method == "ig" and w.params["steps"] == 64


def test_bad_input_raises_naming_the_argument(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient")
    widgets.append(w)
    with pytest.raises(ValueError, match="Unknown feature 'salary'"):
        w.set_feature("salary", 3.0)
    with pytest.raises(ValueError, match="categories"):
        w.set_feature("employment", "astronaut")
    with pytest.raises(ValueError, match="integer feature"):
        w.set_feature("age", 30.5)
    with pytest.raises(TypeError, match="takes a number"):
        w.set_feature("income", "high")
    with pytest.raises(ValueError, match=r"x must have shape \(13,\)"):
        w.x = np.zeros(12)
    with pytest.raises(ValueError, match="one-hot"):
        w.x = np.zeros(13)
    with pytest.raises(ValueError, match="'index'"):
        w.index = len(credit.X_test)
    with pytest.raises(ValueError, match="Unknown explainer"):
        w.method = "magic"
    with pytest.raises(ValueError, match="Unknown parameter"):
        w.params = {"stepz": 3}
    with pytest.raises(ValueError, match="'target'"):
        w.target = 5
    with pytest.raises(ValueError, match="class name"):
        w.target = "maybe"
    with pytest.raises(TypeError, match="Dataset"):
        xw.ExplainerWidget(credit_model.predictor, "credit")
    # The widget still works after all that.
    np.testing.assert_array_equal(w.x, credit.X_test[0])
    _assert_same(w.wait(), _explain(credit_model, "gradient", credit.X_test[0]))


def test_stale_results_are_dropped(credit, credit_model, widgets, monkeypatch):
    """The first change is still computing when the second arrives: only the second shows."""
    started, release = threading.Event(), threading.Event()
    original = Gradient.explain

    def slow(self, x, target=None):
        if x[0] == 100.0:  # the first change: block until the second arrived
            started.set()
            release.wait(5)
        return original(self, x, target)

    monkeypatch.setattr(Gradient, "explain", slow)
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=3)
    widgets.append(w)
    w.wait()
    shown = []
    w.observe(lambda change: shown.append(change["new"]), names="explanation")
    w.set_feature("income", 100.0)
    assert started.wait(5)
    assert w.busy
    w.set_feature("income", 200.0)
    release.set()
    e = w.wait()
    assert e.data[0] == 200.0
    _assert_same(e, _explain(credit_model, "gradient", w.x))
    assert [s.data[0] for s in shown if s is not None] == [200.0]
    assert not w.busy


def test_slow_work_is_debounced(credit, credit_model, widgets, monkeypatch):
    """After a slow computation, a burst of changes is computed once, for the last value."""
    seen = []
    original = Gradient.explain

    def slow(self, x, target=None):
        seen.append(float(x[0]))
        time.sleep(0.05)
        return original(self, x, target)

    monkeypatch.setattr(Gradient, "explain", slow)
    w = xw.ExplainerWidget(
        credit_model, credit, method="gradient", index=3, slow_s=0.01, debounce_s=0.3
    )
    widgets.append(w)
    w.wait()
    seen.clear()
    for income in (60.0, 70.0, 80.0, 90.0):
        w.set_feature("income", income)
    assert w.wait().data[0] == 90.0
    assert seen == [90.0]


def test_errors_are_shown_in_the_widget_and_it_keeps_working(
    credit, credit_model, widgets, monkeypatch
):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=5)
    widgets.append(w)
    w.wait()
    original = Gradient.explain

    def broken(self, x, target=None):
        raise RuntimeError("the explainer broke")

    monkeypatch.setattr(Gradient, "explain", broken)
    w.set_feature("savings", 50.0)
    assert w.wait() is None and w.explanation is None
    assert w.error == "RuntimeError: the explainer broke"
    assert "the explainer broke" in w.error_box.value
    assert w.error_box.layout.display != "none"
    monkeypatch.setattr(Gradient, "explain", original)
    w.set_feature("savings", 60.0)
    e = w.wait()
    _assert_same(e, _explain(credit_model, "gradient", w.x))
    assert w.error == "" and w.error_box.layout.display == "none"
    # An exception in a control callback is shown, not raised into the event loop.
    w.method_picker.value = None
    assert w.error.startswith("TraitError") and "'method'" in w.error


def test_sklearn_pipeline_lime_and_shap_but_no_gradients(credit, pipeline_model, widgets):
    w = xw.ExplainerWidget(pipeline_model, credit, method="gradient", index=2)
    widgets.append(w)
    offered = [v for label, v in w.method_picker.options if "not applicable" not in label]
    assert offered == xw.explainers.available(pipeline_model)
    assert set(offered) >= {"lime", "shap"}
    assert not any(xw.explainers.get(m).requires_gradients for m in offered)
    # Forced from Python, a gradient method gives a readable message in the widget.
    assert w.wait() is None
    assert "needs gradients" in w.error and "has no gradients" in w.error_box.value
    # The panel keeps working; choosing an applicable method clears the error.
    w.set_feature("income", 30.0)
    predicted = credit.class_names[pipeline_model.predict(credit.X_test[2])[0]]
    assert f"model: <b>{predicted}</b>" in w.inputs.row_label.value
    w.method_picker.value = "lime"
    x = w.x
    _assert_same(w.wait(), _explain(pipeline_model, "lime", x))
    assert w.error == "" and w.explanation.output == "probability"
    w.params = {"n_samples": 500, "seed": 2, "kernel_width": 1.5}
    _assert_same(
        w.wait(), _explain(pipeline_model, "lime", x, n_samples=500, seed=2, kernel_width=1.5)
    )
    # kernel_width is optional: the "auto" box gives the explainer's default (None).
    controls = w.param_box.children[0]
    controls._auto["kernel_width"].value = True
    assert w.params["kernel_width"] is None and controls.controls["kernel_width"].disabled
    _assert_same(w.wait(), _explain(pipeline_model, "lime", x, n_samples=500, seed=2))
    controls._auto["kernel_width"].value = False  # untick: the last width comes back
    assert w.params["kernel_width"] == 1.5 and not controls.controls["kernel_width"].disabled
    w.params = {}  # all defaults: auto, and the slider waits at its start value
    assert w.params["kernel_width"] is None and controls.controls["kernel_width"].value == 1.0
    w.method = "shap"
    w.set_feature("late_payments", 4)
    _assert_same(w.wait(), _explain(pipeline_model, "shap", w.x))
    assert "efficiency gap" in w.status.value
    w.reset()
    _assert_same(w.wait(), _explain(pipeline_model, "shap", credit.X_test[2]))


# ---------------------------------------------------------------- images
def test_image_perturbations_give_the_direct_explanation(digits, digits_cnn, widgets):
    model_state = _state_of_model(digits_cnn)
    w = xw.ExplainerWidget(digits_cnn, digits, method="ig", index=9)
    widgets.append(w)
    _assert_same(w.wait(), _explain(digits_cnn, "ig", digits.X_test[9]))
    w.inputs.noise = 0.1
    w.inputs.seed = 4
    w.inputs.occlusion = (1, 2, 3, 0.5)
    w.inputs.brightness_slider.value = 1.3  # as from the browser
    expected = perturb_image(
        digits.X_test[9], brightness=1.3, occlusion=(1, 2, 3, 0.5), noise=0.1, seed=4
    )
    np.testing.assert_array_equal(w.x, expected)
    assert w.inputs.occlude_box.value and w.inputs.patch_size.value == 3
    e = w.wait()
    _assert_same(e, _explain(digits_cnn, "ig", expected))
    assert not np.array_equal(
        e.prediction, _explain(digits_cnn, "ig", digits.X_test[9]).prediction
    )
    w.mode = "diverging"
    e2 = w.wait()
    _assert_same(e2, e)
    assert "diverging" in w._displays["heatmap"].ax.get_xlabel()
    w.reset()
    np.testing.assert_array_equal(w.x, digits.X_test[9])
    assert w.inputs.noise == 0.0 and w.inputs.occlusion is None and w.inputs.brightness == 1.0
    _assert_same(w.wait(), _explain(digits_cnn, "ig", digits.X_test[9]))
    # Assigning x makes it the new unperturbed image.
    w.x = digits.X_test[3]
    w.inputs.contrast = 0.5
    np.testing.assert_array_equal(w.x, perturb_image(digits.X_test[3], contrast=0.5))
    with pytest.raises(TypeError, match="tabular"):
        w.set_feature("pixel[0,0]", 1.0)
    with pytest.raises(ValueError, match="occlusion row"):
        w.inputs.occlusion = (9, 0, 1, 0.0)
    for name, value in model_state.items():
        assert torch.equal(digits_cnn.torch_module.state_dict()[name], value)


# ---------------------------------------------------------------- drawing
def test_figures_update_in_place(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=0)
    widgets.append(w)
    w.wait()
    axes, bars = list(w.view.figure.axes), w._displays["attributions"].bars
    w.set_feature("income", 90.0)
    e = w.wait()
    assert list(w.view.figure.axes) == axes and w._displays["attributions"].bars is bars
    widths = [bar.get_width() for bar in bars]
    np.testing.assert_allclose(widths, e.values)
    probabilities = [bar.get_width() for bar in w._displays["probabilities"].bars]
    np.testing.assert_allclose(probabilities, e.prediction)


def test_the_prediction_line_follows_the_input(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=0)
    widgets.append(w)
    names = credit.class_names

    def line(p):
        k = int(np.argmax(p))
        return f"<b>{names[k]}</b> {100 * p[k]:.1f} %"

    original = credit_model.predict_proba(credit.X_test[0])[0]
    w.wait()
    assert w.prediction_box.value == f"prediction: {line(original)}"
    assert "xw-prediction" in w.prediction_box._dom_classes
    w.set_feature("late_payments", 6)
    w.set_feature("debt_ratio", 1.4)
    now = credit_model.predict_proba(w.x)[0]
    w.wait()
    assert np.argmax(now) != np.argmax(original)  # the line has something to show
    was = line(original).replace("<b>", "").replace("</b>", "")
    assert w.prediction_box.value == f"prediction: {line(now)} · original input: {was}"


def test_export_returns_a_table_and_a_new_figure(credit, credit_model, widgets):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=0)
    widgets.append(w)
    w.set_feature("income", 90.0)
    frame, figure = w.export()
    e = w.explanation
    assert isinstance(figure, Figure) and figure is not w.view.figure
    assert list(frame["attribution"]) == list(e.values)
    assert frame.loc[0, "value"] == 90.0 and frame.loc[0, "original"] == credit.X_test[0][0]
    assert set(frame["method"]) == {"gradient"} and set(frame["target"]) == {e.target_name}


def test_nothing_passed_in_is_mutated(credit, credit_model, widgets):
    state = _state_of_model(credit_model)
    training = credit_model.torch_module.training
    X_test = credit.X_test.copy()
    params = {"steps": 8}
    w = xw.ExplainerWidget(credit_model, credit, method="ig", **params)
    widgets.append(w)
    w.params = params
    w.set_feature("income", 80.0)
    w.wait()
    c = xw.CompareWidget(credit_model, credit, methods=["gradient", "ig"], params={"ig": params})
    widgets.append(c)
    c.wait()
    assert params == {"steps": 8}
    assert np.array_equal(credit.X_test, X_test)
    assert credit_model.torch_module.training == training
    for name, value in state.items():
        assert torch.equal(credit_model.torch_module.state_dict()[name], value)


# ---------------------------------------------------------------- compare
def test_compare_explains_each_method_and_measures_agreement(credit, credit_model, widgets):
    c = xw.CompareWidget(
        credit_model,
        credit,
        methods=["gradient", "ig", "smoothgrad"],
        index=6,
        params={"smoothgrad": {"n_samples": 12}},
    )
    widgets.append(c)
    explanations = c.wait()
    assert list(explanations) == ["gradient", "ig", "smoothgrad"]
    direct = {
        "gradient": _explain(credit_model, "gradient", credit.X_test[6]),
        "ig": _explain(credit_model, "ig", credit.X_test[6]),
        "smoothgrad": _explain(credit_model, "smoothgrad", credit.X_test[6], n_samples=12),
    }
    for method, e in explanations.items():
        _assert_same(e, direct[method])
    pd.testing.assert_frame_equal(c.agreement, agreement(direct, k=5))
    assert "Spearman" in c.agreement_box.value and "top-5 overlap" in c.agreement_box.value
    # A feature change updates every column.
    c.set_feature("loan_amount", 40.0)
    x = c.x
    for method, e in c.wait().items():
        _assert_same(e, _explain(credit_model, method, x, **c.params[method]))
    # Add and remove methods; edit one method's parameters in place.
    c.add_method("gradient_x_input")
    assert c.methods == ["gradient", "ig", "smoothgrad", "gradient_x_input"]
    c.remove_method("gradient")
    assert list(c.wait()) == ["ig", "smoothgrad", "gradient_x_input"]
    assert len(c.agreement) == 3
    c._columns["ig"].controls.controls["steps"].value = 16
    assert c.params["ig"]["steps"] == 16
    _assert_same(c.wait()["ig"], _explain(credit_model, "ig", x, steps=16))
    c.top_k = 3
    c.wait()
    assert c.agreement.attrs["k"] == 3
    frame, figure = c.export()
    assert set(frame["method"]) == {"ig", "smoothgrad", "gradient_x_input"}
    assert len(frame) == 3 * credit.n_features and isinstance(figure, Figure)


def test_compare_lime_and_shap_on_a_pipeline_and_an_mlp(
    credit, credit_model, pipeline_model, widgets
):
    c = xw.CompareWidget(pipeline_model, credit, index=4)  # default: what applies
    widgets.append(c)
    assert c.methods == ["lime", "shap"]
    explanations = c.wait()
    for method in ["lime", "shap"]:
        _assert_same(explanations[method], _explain(pipeline_model, method, credit.X_test[4]))
    pd.testing.assert_frame_equal(c.agreement, agreement(explanations, k=5))
    m = xw.CompareWidget(credit_model, credit, index=4)
    widgets.append(m)
    assert m.methods == ["gradient", "ig", "lime", "shap"]
    m.set_feature("employment", "contract")
    x = m.x
    for method, e in m.wait().items():
        _assert_same(e, _explain(credit_model, method, x))
    assert len(m.agreement) == 6


def test_compare_controls_and_bad_input(credit, credit_model, pipeline_model, widgets):
    c = xw.CompareWidget(credit_model, credit, methods=["gradient", "ig"])
    widgets.append(c)
    c.wait()
    # The add dropdown offers the applicable methods not shown yet; the button adds one.
    offered = [v for _, v in c.add_picker.options]
    assert "gradient" not in offered and "smoothgrad" in offered
    c.add_picker.value = "smoothgrad"
    c.add_button.click()
    assert c.methods[-1] == "smoothgrad"
    c._columns["smoothgrad"].remove_button.click()
    assert c.methods == ["gradient", "ig"]
    with pytest.raises(ValueError, match="distinct"):
        c.methods = ["ig", "ig"]
    with pytest.raises(ValueError, match="at least one"):
        c.methods = []
    with pytest.raises(ValueError, match="not shown"):
        c.params = {"lime": {}}
    with pytest.raises(ValueError, match="top_k"):
        c.top_k = 0
    with pytest.raises(ValueError, match="shown already"):
        c.add_method("ig")
    # A failing method shows its message in its column; the others still work.
    c.methods = ["gradient", "ig"]
    g = xw.CompareWidget(pipeline_model, credit, methods=["gradient", "ig"])
    widgets.append(g)
    assert g.wait() == {}
    assert "needs gradients" in g._columns["ig"].status.value and "needs gradients" in g.error
    # The widget's traceback reaches into the method that failed, not only the widget.
    assert "direct cause" in g.error_box.value and "core/explainer.py" in g.error_box.value


def test_compare_on_images(digits, digits_cnn, widgets):
    c = xw.CompareWidget(digits_cnn, digits, methods=["gradient", "guided_backprop"], index=2)
    widgets.append(c)
    c.inputs.occlusion = (2, 2, 2, 1.0)
    x = perturb_image(digits.X_test[2], occlusion=(2, 2, 2, 1.0))
    explanations = c.wait()
    for method, e in explanations.items():
        _assert_same(e, _explain(digits_cnn, method, x))
    assert c.agreement.attrs["k"] == 6  # 10 % of 64 pixels
    for column in c._columns.values():
        assert bytes(column.view.image.value).startswith(PNG)


def test_under_voila_the_first_result_is_ready_when_the_widget_is_built(
    credit, credit_model, digits, digits_cnn, widgets, monkeypatch
):
    """Voila fetches widget state after the cells ran; an update from the worker thread
    during that fetch can be lost, so there the first result is computed before the
    constructor returns (later updates stay in the background)."""
    monkeypatch.setenv("VOILA_BASE_URL", "/")
    w = xw.ExplainerWidget(credit_model, credit, method="ig")
    widgets.append(w)
    assert not w.busy and w.explanation is not None and len(w.view.image.value) > 0
    np.testing.assert_array_equal(
        w.explanation.values, _explain(credit_model, "ig", credit.X_test[0]).values
    )
    sanity = xw.SanityCheckWidget(digits_cnn, digits)
    widgets.append(sanity)
    assert not sanity.busy and sanity.result is not None
    w.set_feature("income", 60.0)  # later changes are not waited for
    assert w.wait().data[0] == 60.0


def test_first_computations_run_one_at_a_time_and_later_ones_together():
    """Cold-start code of other libraries (numba compiling shap's kernels, lazy
    imports) is not always thread-safe, so no two widgets compute their first result
    at once; after that, widgets compute concurrently."""
    from xaiwidgets.widgets._base import _Worker

    lock, running, seen = threading.Lock(), [0], []
    together = threading.Barrier(2, timeout=10)

    def compute(state):
        with lock:
            running[0] += 1
            seen.append((state, running[0]))
        try:
            if state == "later":
                together.wait()  # broken (an error) unless both run at the same time
            else:
                time.sleep(0.2)
        finally:
            with lock:
                running[0] -= 1
        return state

    delivered = []
    workers = [
        _Worker(
            compute,
            lambda state, result, error: delivered.append((state, error)),
            lambda busy: None,
            debounce_s=0.0,
            slow_s=10.0,
            torch_threads=None,
        )
        for _ in range(2)
    ]
    try:
        for state in ["first", "later"]:
            for worker in workers:
                worker.submit(state)
            for worker in workers:
                assert worker.wait(timeout=20)
    finally:
        for worker in workers:
            worker.close()
    assert max(n for state, n in seen if state == "first") == 1
    assert max(n for state, n in seen if state == "later") == 2
    assert [error for _, error in delivered] == [None] * 4
