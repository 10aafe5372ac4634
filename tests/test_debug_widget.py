"""DebugWidget, driven from Python as a notebook cell or a test would.

The oracle for every number the widget shows is the analysis called directly with the
same settings: ``xw.bugs`` for the bug and the pair, ``xw.debugging`` for the scores,
maps and measures, ``xw.influence`` for the training examples and
``xw.plotting.detection_curve`` for the AUROCs.
"""

from __future__ import annotations

import copy
import html
import threading

import numpy as np
import pandas as pd
import pytest
import torch

import xaiwidgets as xw
from xaiwidgets.widgets import _debug
from xaiwidgets.widgets._base import _Superseded

PNG = b"\x89PNG"
METHODS = ["gradient", "ig"]
MLP = {"hidden": (64, 64)}  # the widget's MLP for digits, as in notebook 09


def _png(view) -> bytes:
    return bytes(view.image.value)


def _direct_maps(normal, buggy, bug, X, methods=METHODS):
    maps = xw.debugging.explain_pair(normal, buggy, bug, X, methods, progress=False)
    return maps, xw.debugging.measures(maps)


def _assert_maps_equal(shown, direct):
    assert set(shown.maps) == set(direct.maps)
    for key, value in direct.maps.items():
        np.testing.assert_array_equal(shown[key], value)


def test_spurious_tag_shows_the_analysis_numbers(digits, widgets):
    X_test = digits.X_test.copy()
    w = xw.DebugWidget(digits, methods=METHODS, n_inputs=5, index=1)
    widgets.append(w)
    table = w.wait()
    assert w.error == "" and not w.busy

    bug = xw.bugs.spurious_signal(digits, kind="tag", aligned_class=0, relabel=0.05, seed=0)
    assert w.planted.key == bug.key and w.architecture == "cnn"
    assert html.escape(bug.description) in w.bug_info.value
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    for mine, theirs in ((w.normal, normal), (w.buggy, buggy)):
        np.testing.assert_array_equal(mine.logits(X_test[:50]), theirs.logits(X_test[:50]))

    # The spurious scores (thesis thresholds) and accuracies, shown as in the analysis.
    scores = {
        name: xw.debugging.spurious_score(model, bug, bug.clean.X_test)
        for name, model in (("normal", normal), ("buggy", buggy))
    }
    assert w.scores == pytest.approx(scores, abs=1e-12)
    assert scores["buggy"] >= 0.85 and scores["normal"] <= 0.1
    for name, score in scores.items():
        assert f"{score:.3f}" in w.scores_box.value
        accuracy = xw.zoo.accuracy(getattr(w, name).torch_module, digits)["test"]
        assert w.accuracies[name] == pytest.approx(accuracy)
        assert f"{accuracy:.1%}" in w.scores_box.value
    assert "spurious</span>" in w.scores_box.value and "normal</span>" in w.scores_box.value

    # Maps and measures: test inputs of the other classes, as explain_pair gives them.
    rows = np.flatnonzero(digits.y_test != 0)[:5]
    maps, direct = _direct_maps(normal, buggy, bug, digits.X_test[rows])
    _assert_maps_equal(w.maps, maps)
    np.testing.assert_array_equal(w.inputs, digits.X_test[rows])
    pd.testing.assert_frame_equal(table, direct)
    assert sorted(table["measure"].unique()) == ["CCM", "FAM", "FAM-GT", "K-SSD"]
    ssim = direct[direct["metric"] == "ssim"].set_index(["method", "measure"])["mean"]
    for value in ssim:
        assert f"{value:.3f} " in w.table_box.value
    for method in METHODS:  # the check: every method's K-SSD beats random maps
        assert ssim[(method, "K-SSD")] > ssim[("random", "K-SSD")]
    assert w.progress.value == w.progress.max and w.progress.description.startswith("explain")

    # Moving through the inputs and the colours redraws the grid; numbers stay.
    grid, bars = _png(w.grid_view), _png(w.bars_view)
    assert grid.startswith(PNG) and bars.startswith(PNG)
    assert w.index_picker.value == 1 and len(w.index_picker.options) == 5
    w.index_picker.value = 3
    assert w.index == 3
    w.wait()
    assert _png(w.grid_view) != grid and _png(w.bars_view) == bars
    w.mode_picker.value = "diverging"
    w.wait()
    assert w.mode == "diverging"
    w.metric_picker.value = "spearman_abs"
    w.wait()
    assert _png(w.bars_view) != bars and "spearman_abs" in w.table_box.value
    pd.testing.assert_frame_equal(w.table, direct)
    assert "models and maps remembered" in w.status.value  # nothing was recomputed
    np.testing.assert_array_equal(digits.X_test, X_test)


def test_signal_options_from_the_controls(digits, widgets):
    w = xw.DebugWidget(digits, architecture="mlp", methods=["gradient"], n_inputs=3)
    widgets.append(w)
    w.wait()
    kind = w.option_controls["kind"]
    assert kind.options == ("tag", "stripe", "blur")
    shown = lambda: [c.description for c in w.options_box.children]  # noqa: E731
    assert "place" in shown() and "blur sigma" not in shown()

    kind.value = "stripe"
    assert w.options["kind"] == "stripe" and w.options["size"] is None
    assert w.option_controls["size"].value == 1  # the stripe's own default thickness
    assert "place" not in shown()
    w.wait()
    bug = xw.bugs.spurious_signal(digits, kind="stripe")
    assert w.planted.key == bug.key and w.error == ""
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False, **MLP)
    assert w.scores["buggy"] == xw.debugging.spurious_score(buggy, bug, bug.clean.X_test)
    assert w.scores["normal"] == xw.debugging.spurious_score(normal, bug, bug.clean.X_test)

    kind.value = "tag"
    w.option_controls["aligned_class"].value = 1
    w.option_controls["place"].value = "top-left"
    w.option_controls["relabel"].value = 0.03
    expected = xw.bugs.spurious_signal(
        digits, kind="tag", aligned_class=1, place="top-left", relabel=0.03
    )
    assert w.planted.key == expected.key
    assert w.planted.mask[0, 0, 0] == 1 and w.planted.mask[0, -1, -1] == 0
    w.wait()
    assert w.error == ""
    np.testing.assert_array_equal(w.inputs, digits.X_test[np.flatnonzero(digits.y_test != 1)[:3]])


def test_noisy_labels_influence_tab(digits, widgets):
    w = xw.DebugWidget(digits, bug="noisy_labels", architecture="mlp", methods=METHODS, n_inputs=4)
    widgets.append(w)
    w.wait()
    bug = xw.bugs.noisy_labels(digits, fraction=0.2, seed=0)
    assert w.planted.key == bug.key and w.scores == {}
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False, **MLP)
    maps, direct = _direct_maps(normal, buggy, bug, 4)
    _assert_maps_equal(w.maps, maps)
    pd.testing.assert_frame_equal(w.table, direct)
    assert "flipped training point" in w.index_picker.options[0][0]
    assert w.top.empty and w.tabs.selected_index == 0  # computed when the tab is shown

    w.tabs.selected_index = 1
    assert w.tab == "influence"
    w.test_row = 7
    w.k = 4
    w.wait()
    assert w.error == ""
    inf = xw.influence.InfluenceFunction(
        buggy, bug.dataset.X_train, bug.dataset.y_train, damping=1e-3, layers="last"
    )
    top = inf.top(digits.X_test[7], k=4)
    pd.testing.assert_frame_equal(w.top.drop(columns="flagged"), top)
    np.testing.assert_array_equal(w.top["flagged"], bug.is_flipped[top["index"]])
    assert w.top["flagged"].any()  # mislabelled points have large loss gradients
    for row in top.itertuples():
        assert f">{row.index}<" in w.examples_table.value
    assert w.examples_table.value.count("(flipped)") == int(w.top["flagged"].sum())
    assert _png(w.examples_view).startswith(PNG)

    # Detection curve: self-influence against the training loss, AUROC as computed.
    y = bug.dataset.y_train
    proba = buggy.predict_proba(bug.dataset.X_train)[np.arange(len(y)), y]
    expected = {
        "self-influence": xw.plotting.detection_curve(inf.self_influence(), bug.is_flipped)[2],
        "training loss": xw.plotting.detection_curve(-np.log(proba), bug.is_flipped)[2],
    }
    assert w.detection == pytest.approx(expected, abs=1e-9)
    assert w.detection["self-influence"] > 0.9
    curve = _png(w.detection_view)
    assert curve.startswith(PNG) and w.detection_view.image.layout.display is None

    # The normal model's ranking (clean labels); the flags still mark the noisy rows.
    w.influence_model_picker.value = "normal"
    w.wait()
    clean = xw.influence.InfluenceFunction(
        normal, bug.clean.X_train, bug.clean.y_train, damping=1e-3, layers="last"
    )
    pd.testing.assert_frame_equal(w.top.drop(columns="flagged"), clean.top(digits.X_test[7], k=4))
    assert _png(w.detection_view) == curve  # the curve is about the noisy-label model


def test_spurious_column_on_credit_marks_the_signal(credit, widgets):
    options = {"relabel": 0.0}
    w = xw.DebugWidget(credit, options=options, methods=METHODS, n_inputs=6)
    widgets.append(w)
    assert options == {"relabel": 0.0}  # the caller's dict is not filled in
    assert w.architecture == "mlp" and w.metric == "spearman_abs"
    assert w.option_controls["kind"].options == ("column",)
    w.tab = "influence"
    w.test_row = 2
    w.wait()
    assert w.error == ""
    bug = xw.bugs.spurious_signal(credit, aligned_class=0, relabel=0.0)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False, hidden=(32, 32))
    assert w.scores["buggy"] == xw.debugging.spurious_score(buggy, bug, bug.clean.X_test)
    rows = np.flatnonzero(credit.y_test != 0)[:6]
    _, direct = _direct_maps(normal, buggy, bug, bug.clean.X_test[rows])
    pd.testing.assert_frame_equal(w.table, direct)
    ticks = [t.get_text() for ax in w.grid_view.figure.axes for t in ax.get_yticklabels()]
    assert any(t.startswith("spurious") for t in ticks)  # features named in the grid

    inf = xw.influence.InfluenceFunction(
        buggy, bug.dataset.X_train, bug.dataset.y_train, damping=1e-3, layers="last"
    )
    top = inf.top(bug.apply(bug.clean.X_test[2]), k=5)
    pd.testing.assert_frame_equal(w.top.drop(columns="flagged"), top)
    flagged = np.isin(top["index"], bug.contaminated)
    np.testing.assert_array_equal(w.top["flagged"], flagged)
    assert w.examples_table.value.count("(signal)") == flagged.sum()
    assert w.examples_view.image.layout.display == "none"  # rows, not images
    assert "spurious</th>" in w.examples_table.value  # the feature columns, spurious last
    assert w.detection == {} and "needs the noisy-labels bug" in w.detection_note.value

    w.signal_box.value = False  # the clean test input
    w.wait()
    pd.testing.assert_frame_equal(w.top.drop(columns="flagged"), inf.top(bug.clean.X_test[2], k=5))


def test_out_of_distribution(digits, widgets):
    w = xw.DebugWidget(digits, architecture="mlp", methods=["gradient"], n_inputs=4)
    widgets.append(w)
    w.set_bug("out_of_distribution", in_classes=[0, 1, 2])
    assert w.bug_picker.value == "out_of_distribution"
    assert w.option_controls["in_classes"].value == (0, 1, 2)
    w.wait()
    bug = xw.bugs.out_of_distribution(digits, in_classes=[0, 1, 2])
    assert w.planted.key == bug.key and w.error == ""
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False, **MLP)
    maps, direct = _direct_maps(normal, buggy, bug, bug.X_ood[:4], ["gradient"])
    _assert_maps_equal(w.maps, maps)
    pd.testing.assert_frame_equal(w.table, direct)
    assert list(w.table["measure"].unique()) == ["normal vs buggy"]


def test_training_runs_in_the_background_and_a_newer_bug_abandons_it(digits, widgets, monkeypatch):
    w = xw.DebugWidget(digits, architecture="mlp", methods=["gradient"], n_inputs=2)
    widgets.append(w)
    w.wait()
    started, go = threading.Event(), threading.Event()
    calls, abandoned = [], []
    real = xw.bugs.train_pair

    def held(bug, train_fn, *, progress, **kwargs):
        calls.append(bug.params["seed"])
        if len(calls) == 1:
            started.set()
            assert go.wait(10)
        try:
            progress(0, 2)  # where the real training reports its start
        except _Superseded:
            abandoned.append(bug.params["seed"])
            raise
        return real(bug, train_fn, progress=progress, **kwargs)

    monkeypatch.setattr(xw.bugs, "train_pair", held)
    w.options = {"seed": 1}  # returns at once: the training waits on the worker thread
    assert started.wait(10) and w.busy
    w.options = {"seed": 2}
    go.set()
    w.wait()
    assert calls == [1, 2] and abandoned == [1]
    assert w.planted.params["seed"] == 2 and w.error == "" and not w.busy
    bug = xw.bugs.spurious_signal(digits, seed=2)
    _, buggy = real(bug, xw.zoo.train_mlp, progress=False, **MLP)
    assert w.scores["buggy"] == xw.debugging.spurious_score(buggy, bug, bug.clean.X_test)


def test_errors_appear_in_the_widget_and_it_keeps_working(digits, widgets, monkeypatch):
    w = xw.DebugWidget(digits, architecture="mlp", methods=["gradient"], n_inputs=3)
    widgets.append(w)
    w.wait()
    before = w.options

    # A bad value from a control: shown, nothing changes.
    w.bug_picker.value = "out_of_distribution"
    w.wait()
    w.option_controls["in_classes"].value = tuple(range(10))
    assert "some but not all" in w.error and w.error_box.layout.display is None
    assert w.options == {"in_classes": [0, 1, 2, 3, 4]}

    # A failure on the worker thread: shown, and the next setting works again.
    def broken(*args, **kwargs):
        raise RuntimeError("explaining failed")

    monkeypatch.setattr(xw.debugging, "explain_pair", broken)
    w.n_inputs = 4
    w.wait()
    assert "RuntimeError: explaining failed" in w.error
    monkeypatch.undo()
    w.bug_picker.value = "spurious_signal"
    w.wait()
    assert w.error == "" and w.error_box.layout.display == "none"
    assert w.options == before and len(w.inputs) == 4


@pytest.mark.parametrize(
    ("trait", "value", "error", "match"),
    [
        ("bug", "typo", ValueError, "bug"),
        ("options", {"fraction": 0.2}, ValueError, "do not apply"),
        ("options", {"relabel": 2.0}, ValueError, "relabel"),
        ("options", {"kind": "column"}, ValueError, "kind"),
        ("architecture", "resnet", ValueError, "architecture"),
        ("methods", [], ValueError, "methods"),
        ("methods", ["nope"], ValueError, "methods"),
        ("n_inputs", 1, ValueError, "n_inputs"),
        ("n_inputs", 2.5, TypeError, "n_inputs"),
        ("index", 12, ValueError, "index"),
        ("mode", "loud", ValueError, "mode"),
        ("metric", "l2", ValueError, "metric"),
        ("tab", "other", ValueError, "tab"),
        ("influence_model", "both", ValueError, "influence_model"),
        ("test_row", -1, ValueError, "test_row"),
        ("k", 0, ValueError, "k"),
        ("damping", -1.0, ValueError, "damping"),
    ],
)
def test_bad_settings_raise_and_change_nothing(digits, widgets, trait, value, error, match):
    w = xw.DebugWidget(digits, methods=["gradient"], n_inputs=3)
    widgets.append(w)
    before = copy.deepcopy(getattr(w, trait))
    with pytest.raises(error, match=match):
        setattr(w, trait, value)
    assert getattr(w, trait) == before
    w.wait()
    assert w.error == ""


def test_bad_arguments_and_the_model_hint(digits, credit, digits_cnn, digits_mlp, widgets):
    with pytest.raises(TypeError, match="Dataset"):
        xw.DebugWidget(digits.X_train)
    with pytest.raises(TypeError, match="dataset"):
        xw.DebugWidget()
    with pytest.raises(ValueError, match="architecture"):
        xw.DebugWidget(credit, architecture="cnn")
    with pytest.raises(ValueError, match="metric"):
        xw.DebugWidget(credit, metric="ssim")
    with pytest.raises(ValueError, match="in_classes"):
        xw.DebugWidget(digits, bug="out_of_distribution", options={"in_classes": []})
    w = xw.DebugWidget(digits, methods=["gradient"], n_inputs=2)
    widgets.append(w)
    with pytest.raises(ValueError, match="do not apply"):
        w.set_bug("noisy_labels", kind="tag")
    assert w.bug == "spurious_signal"

    # The model is an architecture hint only (what a Workbench tab passes), unchanged.
    state = {k: v.clone() for k, v in digits_mlp.torch_module.state_dict().items()}
    assert _debug._architecture_hint(digits_cnn, digits) == ("cnn", ())
    assert _debug._architecture_hint(digits_mlp, digits) == ("mlp", (64, 64))
    logreg = xw.zoo.train_logreg(credit)
    assert _debug._architecture_hint(logreg, credit) == ("logreg", ())
    tab = xw.DebugWidget(model=digits_mlp, methods=["gradient"], n_inputs=2)  # data from m
    widgets.append(tab)
    assert tab.dataset is digits and tab.architecture == "mlp"
    tab.wait()
    assert tab.error == ""
    for key, value in digits_mlp.torch_module.state_dict().items():
        assert torch.equal(value, state[key])
