"""The Workbench: tabs that apply, built when first opened, sharing the input; xw.demo().

The oracle for what a tab shows is the explainer called directly on the same input.
"""

import ipywidgets
import numpy as np
import pytest
import torch

import xaiwidgets as xw
from xaiwidgets.widgets import TABS, Tab
from xaiwidgets.widgets._workbench import gradients

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _explain(model, name, x, **params):
    return xw.explainers.get(name)(model, **params).explain(x)


def _counting(title, applies=gradients, needs="gradients (a torch model)"):
    """A Tab whose factory counts its calls and builds an ExplainerWidget on gradients."""
    calls = []

    def factory(model, dataset):
        calls.append((model, dataset))
        return xw.ExplainerWidget(model, dataset, method="gradient")

    return Tab(title, factory, applies, needs), calls


def test_tabs_are_built_when_first_opened_and_share_the_input(credit, credit_model, widgets):
    wb = xw.Workbench(credit_model, credit, index=4)
    widgets.append(wb)
    assert wb.titles == [t.title for t in TABS if t.applies(wb.model, credit)]
    assert wb.titles[:2] == ["Explore", "Compare"] and list(wb.hidden) == ["Attacks"]
    assert list(wb.widgets) == ["Explore"] and wb.selected == "Explore"
    assert wb.tab.titles == tuple(wb.titles)
    assert all(len(box.children) == 0 for box in wb.tab.children[1:])  # not built yet
    explore = wb.widgets["Explore"]
    assert isinstance(explore, xw.ExplainerWidget) and explore.method == "ig"
    assert explore.params["steps"] == "auto"  # the completeness gap stays below 1 %
    assert explore.index == 4
    explore.set_feature("debt_ratio", 1.2)
    explore.set_feature("late_payments", 3)
    moved = explore.x
    e = explore.wait()
    np.testing.assert_array_equal(
        e.values, _explain(credit_model, "ig", moved, steps="auto").values
    )
    # Opening a tab in the browser sets selected_index: Compare is built on that input.
    wb.tab.selected_index = wb.titles.index("Compare")
    assert wb.selected == "Compare"
    compare = wb.widgets["Compare"]
    assert isinstance(compare, xw.CompareWidget) and wb.tab.children[1].children == (compare,)
    assert compare.index == 4
    np.testing.assert_array_equal(compare.x, moved)
    for method, explanation in compare.wait().items():
        np.testing.assert_array_equal(explanation.data, moved)
        np.testing.assert_array_equal(
            explanation.values, _explain(credit_model, method, moved).values
        )
    # ... and back: another row chosen in Compare travels to Explore (same widget).
    compare.index = 9
    wb.selected = "Explore"
    assert wb.tab.selected_index == 0 and wb.widgets["Explore"] is explore
    assert explore.index == 9
    np.testing.assert_array_equal(explore.x, credit.X_test[9])
    np.testing.assert_array_equal(
        explore.wait().values, _explain(credit_model, "ig", credit.X_test[9], steps="auto").values
    )


def test_the_input_survives_a_tab_without_one(credit, credit_model, widgets):
    wb = xw.Workbench(credit_model, credit, index=2)
    widgets.append(wb)
    assert wb.titles[:3] == ["Explore", "Compare", "Sanity checks"]
    wb.widgets["Explore"].set_feature("income", 77.0)
    moved = wb.widgets["Explore"].x
    wb.selected = "Sanity checks"
    sanity = wb.widgets["Sanity checks"]
    assert isinstance(sanity, xw.SanityCheckWidget)
    result = sanity.wait()
    direct = xw.sanity.model_randomization(
        credit_model,
        credit.X_test[sanity.rows],
        sanity.methods,
        order="cascading",
        seed=0,
        progress=False,
        cache=False,
    )
    assert result.stage_labels == direct.stage_labels
    np.testing.assert_array_equal(result.table["value"], direct.table["value"])
    wb.selected = "Compare"  # from a tab without an input: the last input shown travels on
    np.testing.assert_array_equal(wb.widgets["Compare"].x, moved)
    assert wb.widgets["Compare"].index == 2


def test_a_factory_runs_once_per_tab_and_only_when_opened(credit, credit_model, widgets):
    tab, calls = _counting("Gradients")
    wb = xw.Workbench(credit_model, credit, tabs=["Explore", tab])
    widgets.append(wb)
    assert wb.titles == ["Explore", "Gradients"] and calls == []
    wb.selected = "Gradients"
    wb.selected = "Explore"
    wb.selected = "Gradients"
    assert len(calls) == 1
    model, dataset = calls[0]
    assert model is wb.model and dataset is credit
    # widget() builds without opening the tab.
    wb2 = xw.Workbench(credit_model, credit, tabs=["Explore", tab])
    widgets.append(wb2)
    assert wb2.widget("Gradients").method == "gradient" and wb2.selected == "Explore"


def test_gradient_tabs_are_left_out_for_scikit_learn(credit, pipeline_model, widgets):
    tab, calls = _counting("Gradients")
    wb = xw.Workbench(pipeline_model, credit, tabs=["Explore", "Compare", tab])
    widgets.append(wb)
    assert wb.titles == ["Explore", "Compare"]
    assert wb.hidden == {"Gradients": "gradients (a torch model)"}
    assert "Gradients (needs gradients (a torch model))" in wb.note.value
    assert wb.note.layout.display is None
    with pytest.raises(ValueError, match=r"no tab 'Gradients' \(left out: it needs gradients"):
        wb.widget("Gradients")
    assert calls == []
    # Without gradients, Explore explains with SHAP; it works, with no error shown.
    explore = wb.widgets["Explore"]
    assert explore.method == "shap"
    e = explore.wait()
    assert explore.error == ""
    np.testing.assert_array_equal(e.values, _explain(pipeline_model, "shap", e.data).values)
    # Every default tab that needs gradients is left out too, with the reason.
    default = xw.Workbench(pipeline_model, credit)
    widgets.append(default)
    needs_gradients = [t.title for t in TABS if not t.applies(pipeline_model, credit)]
    assert sorted(default.hidden) == sorted(needs_gradients)
    assert not set(needs_gradients) & set(default.titles)


def test_a_tab_whose_widget_fails_shows_the_error_and_the_rest_works(
    credit, credit_model, widgets
):
    attempts = []

    def broken(model, dataset):
        attempts.append(1)
        raise RuntimeError("the widget could not be built")

    wb = xw.Workbench(credit_model, credit, tabs=["Explore", Tab("Broken", broken)])
    widgets.append(wb)
    wb.selected = "Broken"
    (message,) = wb.tab.children[1].children
    assert isinstance(message, ipywidgets.HTML)
    assert "<b>RuntimeError</b>: the widget could not be built" in message.value
    assert "Broken" not in wb.widgets
    with pytest.raises(RuntimeError, match="could not be built"):
        wb.widget("Broken")  # from Python the error is raised
    wb.selected = "Explore"
    wb.widgets["Explore"].set_feature("income", 50.0)
    assert wb.widgets["Explore"].wait().data[0] == 50.0
    wb.selected = "Broken"  # opening it again tries again
    assert len(attempts) == 3


def test_bad_input_raises_naming_the_argument(credit, credit_model, pipeline_model, widgets):
    with pytest.raises(TypeError, match="tabs must be a list"):
        xw.Workbench(credit_model, credit, tabs="Explore")
    with pytest.raises(ValueError, match=r"unknown tab 'Nope'; the tabs are \['Explore'"):
        xw.Workbench(credit_model, credit, tabs=["Explore", "Nope"])
    with pytest.raises(TypeError, match="tab titles or Tab entries; got 3"):
        xw.Workbench(credit_model, credit, tabs=[3])
    with pytest.raises(ValueError, match="at least one tab"):
        xw.Workbench(credit_model, credit, tabs=[])
    with pytest.raises(ValueError, match=r"distinct titles; \['Explore'\]"):
        xw.Workbench(credit_model, credit, tabs=["Explore", "Explore"])
    with pytest.raises(ValueError, match="index"):
        xw.Workbench(credit_model, credit, index=len(credit.X_test))
    with pytest.raises(TypeError, match="dataset must be an xaiwidgets Dataset"):
        xw.Workbench(credit_model.predictor, credit.X_test)
    gradient_tab, _ = _counting("Gradients")
    with pytest.raises(ValueError, match="None of the tabs applies"):
        xw.Workbench(pipeline_model, credit, tabs=[gradient_tab])
    needs_gradients = [t.title for t in TABS if not t.applies(pipeline_model, credit)]
    for title in needs_gradients:  # asked for by name, a tab that does not apply is an error
        with pytest.raises(ValueError, match=f"{title!r} does not apply to this model"):
            xw.Workbench(pipeline_model, credit, tabs=[title])
    wb = xw.Workbench(credit_model, credit, tabs=["Compare"])
    widgets.append(wb)
    assert wb.titles == ["Compare"]
    with pytest.raises(ValueError, match=r"selected must be one of the tabs \['Compare'\]"):
        wb.selected = "Explore"
    with pytest.raises(ValueError, match=r"There is no tab 'Explore'; the tabs are"):
        wb.widget("Explore")
    assert wb.selected == "Compare"


def test_close_stops_every_built_widget(credit, credit_model):
    wb = xw.Workbench(credit_model, credit)
    wb.selected = "Compare"
    built = list(wb.widgets.values())
    wb.close()
    assert len(built) == 2
    for widget in built:
        assert widget._worker._closed
        with pytest.raises(RuntimeError, match="closed"):
            widget.refresh()


def test_nothing_passed_in_is_mutated(credit, credit_model, widgets):
    state = {k: v.clone() for k, v in credit_model.torch_module.state_dict().items()}
    X_test = credit.X_test.copy()
    wb = xw.Workbench(credit_model, credit)
    widgets.append(wb)
    wb.widgets["Explore"].set_feature("income", 99.0)
    wb.widgets["Explore"].wait()
    wb.selected = "Compare"
    wb.widgets["Compare"].wait()
    for name, value in credit_model.torch_module.state_dict().items():
        assert torch.equal(value, state[name])
    np.testing.assert_array_equal(credit.X_test, X_test)


def test_demo_opens_the_workbench_on_bundled_data(widgets):
    wb = xw.demo()
    widgets.append(wb)
    assert isinstance(wb, xw.Workbench)
    assert wb.dataset.name == "credit" and wb.model.source == "torch"
    assert "credit data (tabular, 13 features, 2 classes)" in wb.header.value
    explore = wb.widgets["Explore"]
    np.testing.assert_array_equal(
        explore.wait().values, _explain(wb.model, "ig", wb.dataset.X_test[0], steps="auto").values
    )
    digits = xw.demo("digits", index=3)
    widgets.append(digits)
    assert digits.dataset.kind == "image" and digits.widgets["Explore"].index == 3
    assert digits.widgets["Explore"].wait().values.shape == (1, 8, 8)
    with pytest.raises(ValueError, match=r"data must be one of \['credit', 'digits'"):
        xw.demo("mnist")


def test_flip_and_regions_tabs_show_what_direct_calls_compute(credit, credit_model, widgets):
    wb = xw.Workbench(credit_model, credit, index=6)
    widgets.append(wb)
    assert wb.titles == [
        "Explore",
        "Compare",
        "Sanity checks",
        "Flip points",
        "Regions",
        "Debugging lab",
    ]
    assert "Attacks" in wb.hidden  # the explanation attack moves maps of images
    wb.widgets["Explore"].set_feature("debt_ratio", 0.9)
    moved = wb.widgets["Explore"].x
    wb.selected = "Flip points"
    flip = wb.widgets["Flip points"]
    assert isinstance(flip, xw.FlipPointWidget)
    np.testing.assert_array_equal(flip.x, moved)
    direct = xw.flip.closest(credit_model, moved)
    np.testing.assert_allclose(flip.wait().point, direct.point, rtol=1e-6, atol=1e-6)
    wb.selected = "Regions"
    regions = wb.widgets["Regions"]
    np.testing.assert_array_equal(regions.x, moved)
    expected = xw.explainers.LinearRegion(credit_model, normalize=True).explain(moved)
    np.testing.assert_allclose(regions.wait().values, expected.values, rtol=1e-9)


def test_the_attacks_tab_manipulates_the_row_chosen_elsewhere(digits, digits_cnn, widgets):
    wb = xw.Workbench(digits_cnn, digits, index=6)
    widgets.append(wb)
    assert wb.titles == ["Explore", "Compare", "Sanity checks", "Attacks", "Debugging lab"]
    wb.widgets["Explore"].index = 8
    wb.selected = "Attacks"  # it manipulates a test row: the row travels
    attack = wb.widgets["Attacks"]
    assert isinstance(attack, xw.AttackWidget) and attack.index == 8
    attack.steps = 40
    result = attack.wait()
    np.testing.assert_array_equal(result.x, digits.X_test[8])
    direct = xw.attacks.manipulate_explanation(
        digits_cnn,
        digits.X_test[8],
        xw.attacks.explanation_map(digits_cnn, digits.X_test[attack.target_index]),
        eps=attack.eps,
        steps=40,
    )
    np.testing.assert_allclose(result.x_adv, direct.x_adv, atol=1e-4)


def test_the_debugging_lab_tab_takes_the_row_and_the_models_architecture(
    credit, credit_model, widgets
):
    wb = xw.Workbench(credit_model, credit, index=5)
    widgets.append(wb)
    wb.widgets["Explore"].index = 7
    wb.selected = "Debugging lab"
    lab = wb.widgets["Debugging lab"]
    assert isinstance(lab, xw.DebugWidget) and lab.test_row == 7
    table = lab.wait()
    assert lab.error == "" and set(table["method"]) >= {"random"}
    assert lab.planted.dataset.kind == "tabular"
    wb.selected = "Explore"
    wb.widgets["Explore"].index = 3
    wb.selected = "Debugging lab"  # the same widget, on the new row
    assert wb.widgets["Debugging lab"] is lab and lab.test_row == 3
