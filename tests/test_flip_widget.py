"""FlipPointWidget driven from Python as a notebook or the browser would drive it.

The oracle for every number the widget shows is ``xw.flip`` called directly with the
same input and constraints: ``closest``, ``FlipPoint.path``, ``report`` and ``audit``.
"""

import html

import numpy as np
import pandas as pd
import pytest
import torch

import xaiwidgets as xw
from xaiwidgets.widgets import _flip
from xaiwidgets.widgets._flip import PATH_T

PNG = b"\x89PNG"


def _assert_same_flip(shown, direct):
    """The same flip point up to solver noise: the widget solves in its worker thread,
    where BLAS may sum in another order than in the test's thread, and SLSQP stops
    where the change falls below its tolerance (differences of about 1e-7 seen)."""
    assert shown.feasible == direct.feasible
    assert shown.classes == direct.classes
    np.testing.assert_array_equal(shown.x, direct.x)
    if direct.feasible:
        np.testing.assert_allclose(shown.point, direct.point, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(shown.relaxed, direct.relaxed, rtol=1e-6, atol=1e-6)
        assert shown.distance == pytest.approx(direct.distance, rel=1e-6)
        assert shown.residual == pytest.approx(direct.residual, abs=1e-6)
        assert shown.changed_features == direct.changed_features
        pd.testing.assert_frame_equal(shown.changed, direct.changed, rtol=1e-6, atol=1e-6)
    assert shown.approximate == direct.approximate
    assert shown.reason == direct.reason


def _column(credit, name):
    return credit.feature(name).columns[0]


# ---------------------------------------------------------------- the flip point
def test_shown_flip_point_is_closest_with_the_same_constraints(credit, credit_model, widgets):
    w = xw.FlipPointWidget(credit_model, credit, index=28)
    widgets.append(w)
    fp = w.wait()
    x = credit.X_test[28]
    _assert_same_flip(fp, xw.flip.closest(credit_model, x))
    assert w.error == "" and bytes(w.view.image.value).startswith(PNG)
    # The summary and the table show the flip point's own numbers.
    assert f"{fp.distance:.3g}" in w.summary.value
    for row in fp.changed.to_dict("records"):
        assert f"<b>{row['feature']}</b>" in w.table.value
        assert f"{row['scaled change']:+.3g}" in w.table.value
    assert "flip point solved in" in w.status.value

    # Constraints, norm, scale, discreteness and the class to flip to, from Python.
    w.set_constraint("group", "locked")
    w.set_constraint("age", "increase")
    w.norm = "l1"
    w.scale = "range"
    w.discrete = False
    w.target = "approved"
    options = dict(
        classes=[1],
        fixed=["group"],
        monotone={"age": "increase"},
        norm="l1",
        scale="range",
        discrete=False,
    )
    assert w.flip_options == options
    fp = w.wait()
    direct = xw.flip.closest(credit_model, x, **options)
    _assert_same_flip(fp, direct)
    assert fp.point[_column(credit, "group")] == x[_column(credit, "group")]
    assert fp.point[_column(credit, "age")] >= x[_column(credit, "age")]
    # The controls show the state.
    assert w.constraint_controls["group"].value == "locked"
    assert w.constraint_controls["age"].value == "increase"
    assert w.norm_picker.value == "l1" and w.scale_picker.value == "range"
    assert not w.discrete_box.value and w.target_picker.value == 1
    assert "L1 norm, range scales" in w.summary.value

    # A custom scale shows as "custom"; editing the row and picking another one.
    w.free_all()
    w.norm, w.discrete, w.target = "l2", True, None
    w.scale = {"income": 10.0}
    assert w.scale_picker.value == "custom"
    w.set_feature("income", 80.0)
    edited = x.copy()
    edited[_column(credit, "income")] = 80.0
    _assert_same_flip(w.wait(), xw.flip.closest(credit_model, edited, scale={"income": 10.0}))
    w.scale_picker.value = "std"  # as the browser does
    assert w.scale == "std"
    w.inputs.row_picker.value = 5
    _assert_same_flip(w.wait(), xw.flip.closest(credit_model, credit.X_test[5]))


def test_toggling_a_lock_changes_the_constraints_and_the_result(credit, credit_model, widgets):
    w = xw.FlipPointWidget(credit_model, credit, index=3)
    widgets.append(w)
    free = w.wait()
    x = credit.X_test[3]
    moved = free.changed.reindex(free.changed["scaled change"].abs().sort_values().index)
    largest = moved["feature"].iloc[-1]
    column = _column(credit, largest)
    png = bytes(w.view.image.value)

    w.constraint_controls[largest].value = "locked"  # a click in the browser
    assert w.fixed == [largest] and w.monotone == {}
    assert w.flip_options["fixed"] == [largest]
    locked = w.wait()
    _assert_same_flip(locked, xw.flip.closest(credit_model, x, fixed=[largest]))
    assert locked.point[column] == x[column] and locked.relaxed[column] == x[column]
    assert largest not in locked.changed_features
    assert locked.distance >= free.distance * (1 - 1e-9)  # a smaller domain is never closer
    assert bytes(w.view.image.value) != png  # the new flip point's curves are drawn
    np.testing.assert_allclose(
        w.path_display.gap_line.get_ydata(),
        locked.path(PATH_T, towards="relaxed")["gap"],
        rtol=1e-9,
    )

    # "Only increase" on a feature the free flip point decreases.
    others = moved[moved["feature"] != largest]
    decreased = others.loc[others["change"] < 0, "feature"].iloc[-1]
    w.constraint_controls[decreased].value = "increase"
    assert w.fixed == [largest] and w.monotone == {decreased: "increase"}
    fp = w.wait()
    direct = xw.flip.closest(credit_model, x, fixed=[largest], monotone={decreased: "increase"})
    _assert_same_flip(fp, direct)
    assert fp.point[_column(credit, decreased)] >= x[_column(credit, decreased)]
    # Locking a monotone feature switches it in one step; "only decrease" too.
    w.constraint_controls[decreased].value = "locked"
    assert w.fixed == sorted([largest, decreased], key=credit.feature_names.index)
    assert w.monotone == {}
    w.constraint_controls[decreased].value = "decrease"
    assert w.monotone == {decreased: "decrease"} and w.fixed == [largest]
    _assert_same_flip(
        w.wait(),
        xw.flip.closest(credit_model, x, fixed=[largest], monotone={decreased: "decrease"}),
    )
    # Categorical features can be locked but have no direction.
    assert [v for _, v in w.constraint_controls["employment"].options] == ["free", "locked"]
    # Back to free: the first flip point again, remembered.
    w.free_all_button.click()
    assert w.fixed == [] and w.monotone == {}
    assert all(c.value == "free" for c in w.constraint_controls.values())
    assert w.wait() is free
    assert "(remembered)" in w.status.value


def test_the_path_slider_shows_fp_path(credit, credit_model, widgets):
    w = xw.FlipPointWidget(credit_model, credit, index=28)
    widgets.append(w)
    fp = w.wait()
    pd.testing.assert_frame_equal(w.path, fp.path(PATH_T, towards="relaxed"))
    # The gap crosses zero at t = 1 on the way to the relaxed point.
    gap = w.path.set_index("t")["gap"]
    assert gap.iloc[0] > 0 and gap.iloc[-1] < 0
    assert abs(fp.path([1.0], towards="relaxed")["gap"].iloc[0]) <= fp.meta["tolerance"]
    renders = w.view.full_renders
    png = bytes(w.view.image.value)

    w.t_slider.value = 0.6  # the browser moves the slider
    assert w.t == 0.6
    w.wait()
    expected = fp.path([0.6], towards="relaxed")
    pd.testing.assert_frame_equal(w.position, expected)
    display = w.path_display
    np.testing.assert_allclose(display.gap_dot.get_xydata(), [[0.6, expected["gap"][0]]])
    for k, name in enumerate(fp.class_names):
        np.testing.assert_allclose(display.dots[k].get_xydata(), [[0.6, expected[name][0]]])
    assert list(display.t_lines[1].get_xdata()) == [0.6, 0.6]
    assert f"{expected['gap'][0]:+.3g}" in w.position_box.value
    # Only the marker moved: blitted, not redrawn; the PNG changed.
    assert w.view.full_renders == renders and bytes(w.view.image.value) != png
    at = fp.at(0.6, towards="relaxed")
    income = _column(credit, "income")
    if "income" in fp.changed_features:
        assert f"<b>{at[income]:.4g}</b>" in w.position_box.value

    # Walking to the discrete point instead, and the play button driving t.
    w.towards_picker.value = "point"
    w.play.value = 110
    assert w.t == 1.1
    w.wait()
    pd.testing.assert_frame_equal(w.position, fp.path([1.1], towards="point"))
    pd.testing.assert_frame_equal(w.path, fp.path(PATH_T, towards="point"))
    with pytest.raises(ValueError, match="'t'"):
        w.t = 1.5


def test_no_flip_point_is_said_plainly(credit, credit_model, widgets):
    w = xw.FlipPointWidget(credit_model, credit, index=0)
    widgets.append(w)
    w.wait()
    w.fixed = [f.name for f in credit.features if f.name != "dependents"]
    fp = w.wait()
    direct = xw.flip.closest(credit_model, credit.X_test[0], fixed=w.fixed)
    assert not direct.feasible
    _assert_same_flip(fp, direct)
    assert "No flip point" in w.summary.value and html.escape(fp.reason) in w.summary.value
    assert w.table.value == "" and w.position is None and w.path is None
    assert "No flip point" in w.path_display.message.get_text()
    assert w.error == ""
    w.t = 0.3  # the slider has nothing to move along, but nothing breaks
    assert w.wait() is fp and w.error == ""
    w.tab = "report"
    w.wait()
    assert "No change in any subspace flips this decision" in w.report_html.value
    w.fixed = list(credit.feature_names[:8])  # nothing but employment and group
    w.fixed = [f.name for f in credit.features]  # nothing at all may change
    fp = w.wait()
    assert not fp.feasible and "No feature may change" in w.summary.value
    w.free_all()
    assert w.wait().feasible


# ---------------------------------------------------------------- report and audit
def test_report_tab_equals_flip_report(credit, credit_model, widgets):
    groups = {"money": ["income", "savings", "loan_amount"]}
    w = xw.FlipPointWidget(credit_model, credit, index=28, groups=groups, fixed="group")
    widgets.append(w)
    w.wait()
    assert w.fixed == ["group"]
    assert w.report is None  # computed only when its tab is shown
    w.tabs.selected_index = 1  # the browser shows the tab
    assert w.tab == "report"
    w.wait()
    direct = xw.flip.report(credit_model, credit.X_test[28], groups=groups, fixed=["group"])
    pd.testing.assert_frame_equal(w.report.table, direct.table)
    assert direct.to_html() in w.report_html.value
    assert "report in" in w.status.value
    w.pairs_box.value = True
    w.fixed = ["group", "employment", "dependents", "late_payments", "years_employed"]
    w.set_constraint("age", "increase")
    w.wait()
    direct = xw.flip.report(
        credit_model,
        credit.X_test[28],
        groups=groups,
        pairs=True,
        fixed=w.fixed,
        monotone={"age": "increase"},
    )
    pd.testing.assert_frame_equal(w.report.table, direct.table)
    assert "income + savings" in w.report.kinds
    # Back on the first tab, a new input makes the shown report stale: it is dropped.
    w.tab = "flip point"
    w.set_feature("income", 50.0)
    w.wait()
    assert w.report is None and "computed when this tab is shown" in w.report_html.value


def test_audit_tab_equals_flip_audit_is_cached_and_can_be_stopped(credit, credit_model, widgets):
    young = (credit.X_test[:, _column(credit, "age")] < 30) & (
        credit.X_test[:, _column(credit, "years_employed")] < 3
    )
    w = xw.FlipPointWidget(
        credit_model, credit, index=0, audit_rows=16, subgroups={"young, new job": young}
    )
    widgets.append(w)
    w.tab = "group audit"
    w.wait()
    assert w.audit is None and "No audit for these settings" in w.audit_note.value
    w.set_constraint("group", "locked")
    w.subgroup_picker.value = "young, new job"
    result = w.run_audit(wait=True)
    rows = np.flatnonzero(young)[:16]
    direct = xw.flip.audit(
        credit_model, credit.X_test[rows], credit.y_test[rows], progress=False, fixed=["group"]
    )
    assert w.audit is result and result.complete
    # The same audit up to solver noise (the widget solves in its own thread).
    pd.testing.assert_frame_equal(result.table, direct.table, rtol=1e-6)
    np.testing.assert_allclose(result.directions, direct.directions, rtol=1e-6, atol=1e-5)
    pd.testing.assert_frame_equal(result.ranking(), direct.ranking(), rtol=1e-4, atol=1e-5)
    pd.testing.assert_frame_equal(result.change_frequency(), direct.change_frequency())
    np.testing.assert_allclose(result.pca().scores, direct.pca().scores, atol=1e-4)
    assert w.progress.value == 16 and w.progress_label.value.startswith("16 / 16 rows")
    assert bytes(w.audit_view.image.value).startswith(PNG)
    assert f"<b>{int(direct.table['feasible'].sum())}</b> of 16" in w.audit_note.value
    assert not w.audit_running and not w.run_button.disabled and w.stop_button.disabled

    # Remembered: other settings show none, going back shows it at once.
    png = bytes(w.audit_view.image.value)
    w.set_constraint("group", "free")
    w.wait()
    assert w.audit is None and w.audit_view.image.layout.display == "none"
    w.set_constraint("group", "locked")
    w.wait()
    assert w.audit is result and bytes(w.audit_view.image.value) == png
    assert w.run_audit() is result and w._audit_thread is not None

    # Stopped early: what was finished is shown, marked partial, and not remembered.
    w.audit_subgroup = "all test rows"
    w.audit_rows = 200
    w.progress.observe(lambda change: change["new"] >= 2 and w.stop_audit(), names="value")
    partial = w.run_audit(wait=True)
    done = sum(fp is not None for fp in partial.flip_points)
    assert not partial.complete and 2 <= done < 200
    assert w.audit is partial and "partial" in w.audit_note.value
    assert "stopped" in w.progress_label.value
    assert w._audits.get(w._audit_request()[0]) is None
    with pytest.raises(ValueError, match="'audit_rows'"):
        w.audit_rows = len(credit.X_test) + 1
    # Closing the widget stops a running audit.
    w.audit_rows = 300
    w.run_audit()
    assert w.audit_running
    w.close()
    assert not w._audit_thread.is_alive()


# ---------------------------------------------------------------- other models, errors
def test_sklearn_model_is_marked_approximate(credit, pipeline_model, widgets):
    w = xw.FlipPointWidget(pipeline_model, credit, index=28, audit_rows=6)
    widgets.append(w)
    fp = w.wait()
    _assert_same_flip(fp, xw.flip.closest(pipeline_model, credit.X_test[28]))
    assert fp.approximate and "approximate" in w.summary.value
    assert w.path_display.ax_scores.get_ylabel() == "class probability"
    pd.testing.assert_frame_equal(w.path, fp.path(PATH_T, towards="relaxed"))
    w.set_constraint("income", "locked")
    _assert_same_flip(
        w.wait(), xw.flip.closest(pipeline_model, credit.X_test[28], fixed=["income"])
    )
    w.tab = "report"
    w.wait()
    assert "Approximate" in w.report_html.value
    result = w.run_audit(wait=True)
    assert result.complete and "approximate" in w.audit_note.value


def test_errors_show_in_the_widget_and_it_keeps_working(
    credit, credit_model, digits, digits_cnn, widgets, monkeypatch
):
    w = xw.FlipPointWidget(credit_model, credit, index=28)
    widgets.append(w)
    fp = w.wait()
    own = fp.classes[0]
    w.target_picker.value = own  # the input's own class: nothing to flip to
    assert w.wait() is None and w.flip_point is None
    assert "own class" in w.error and w.error_box.layout.display != "none"
    assert "No result" in w.summary.value
    w.target_picker.value = "predicted"
    assert w.wait() is fp and w.error == "" and w.error_box.layout.display == "none"

    def broken(*args, **kwargs):
        raise RuntimeError("the solver broke")

    monkeypatch.setattr(_flip, "closest", broken)
    w.set_feature("income", 55.0)
    assert w.wait() is None and w.error == "RuntimeError: the solver broke"
    assert "the solver broke" in w.error_box.value
    monkeypatch.undo()
    w.set_feature("income", 56.0)
    x = credit.X_test[28].copy()
    x[_column(credit, "income")] = 56.0
    _assert_same_flip(w.wait(), xw.flip.closest(credit_model, x))
    assert w.error == ""

    # Bad values from Python raise, naming the argument.
    with pytest.raises(ValueError, match="unknown feature 'salary'"):
        w.fixed = ["salary"]
    with pytest.raises(ValueError, match="no order"):
        w.monotone = {"employment": "increase"}
    with pytest.raises(ValueError, match=r"monotone\['age'\]"):
        w.monotone = {"age": "up"}
    with pytest.raises(ValueError, match="not both"):
        w.fixed, w.monotone = ["age"], {"age": "increase"}
    w.fixed = []
    w.monotone = {"age": "increase"}
    with pytest.raises(ValueError, match="not both"):  # the other order
        w.fixed = ["age"]
    w.monotone = {}
    with pytest.raises(ValueError, match="'norm'"):
        w.norm = "l3"
    with pytest.raises(ValueError, match="'scale'"):
        w.scale = "magic"
    with pytest.raises(ValueError, match="unknown feature"):
        w.scale = {"salary": 2.0}
    with pytest.raises(ValueError, match="'kind'"):
        w.set_constraint("age", "sideways")
    with pytest.raises(ValueError, match="'tab'"):
        w.tab = "summary"
    with pytest.raises(ValueError, match="'towards'"):
        w.towards = "away"
    with pytest.raises(TypeError, match="tabular"):
        xw.FlipPointWidget(digits_cnn, digits)
    with pytest.raises(ValueError, match="subgroups"):
        xw.FlipPointWidget(credit_model, credit, subgroups={"bad": np.ones(3, dtype=bool)})
    with pytest.raises(ValueError, match=r"groups\['money'\]"):
        xw.FlipPointWidget(credit_model, credit, groups={"money": ["income", "gold"]})
    with pytest.raises(ValueError, match="'audit_rows'"):
        xw.FlipPointWidget(credit_model, credit, audit_rows=1)
    # Still working after all that.
    w.set_constraint("savings", "locked")
    _assert_same_flip(w.wait(), xw.flip.closest(credit_model, x, fixed=["savings"]))


def test_nothing_passed_in_is_mutated(credit, credit_model, widgets):
    net = credit_model.torch_module
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    training = net.training
    X_test = credit.X_test.copy()
    fixed, monotone = ["group"], {"age": "increase"}
    groups = {"money": ["income", "savings"]}
    mask = credit.X_test[:, 0] > 40
    mask_before = mask.copy()
    scale = np.asarray(credit.train_std, dtype=float).copy() * 2
    scale_before = scale.copy()
    w = xw.FlipPointWidget(
        credit_model,
        credit,
        index=2,
        fixed=fixed,
        monotone=monotone,
        groups=groups,
        scale=scale,
        audit_rows=4,
        subgroups={"rich": mask},
    )
    widgets.append(w)
    w.set_constraint("income", "decrease")
    w.tab = "report"
    w.wait()
    w.audit_subgroup = "rich"
    w.run_audit(wait=True)
    x = w.x
    x[0] = -5.0  # reading x gives a copy
    assert w.x[0] == credit.X_test[2][0]
    options = w.flip_options
    options["fixed"].append("age")  # flip_options is a copy
    assert w.fixed == ["group"]
    assert fixed == ["group"] and monotone == {"age": "increase"}
    assert groups == {"money": ["income", "savings"]}
    np.testing.assert_array_equal(mask, mask_before)
    np.testing.assert_array_equal(scale, scale_before)
    np.testing.assert_array_equal(credit.X_test, X_test)
    assert net.training == training and torch.get_num_threads() >= 1
    for name, value in state.items():
        assert torch.equal(net.state_dict()[name], value)
