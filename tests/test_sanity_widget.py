"""SanityCheckWidget, driven from Python as a notebook cell or a test would.

The oracle for everything the widget shows is ``xw.sanity`` called directly with the
same settings (``cache=False``, so it really recomputes).
"""

import threading

import numpy as np
import pandas as pd
import pytest
import torch

import xaiwidgets as xw
from xaiwidgets.widgets._sanity import MEMORIZER, format_rows, parse_rows

PNG = b"\x89PNG"
METHODS = ["gradient", "gradient_x_input", "guided_backprop"]
ROWS = [3, 1, 4, 5]


def _direct(model, X, order="cascading", seed=0, methods=METHODS):
    return xw.sanity.model_randomization(
        model, X, methods, order=order, seed=seed, progress=False, cache=False
    )


def _assert_strip(w, direct, position, stage):
    """The strip shows the direct maps of one input, stages 0..stage of the shown methods."""
    assert set(w.strip_maps) == {(m, s) for m in w.shown_methods for s in range(stage + 1)}
    for (method, s), shown in w.strip_maps.items():
        np.testing.assert_array_equal(shown, direct.maps[(method, s)][position])


def _state(model):
    return {k: v.detach().clone() for k, v in model.torch_module.state_dict().items()}


def test_controls_change_what_is_shown_and_it_equals_the_analysis(digits, digits_cnn, widgets):
    before = _state(digits_cnn)
    X_test = digits.X_test.copy()
    w = xw.SanityCheckWidget(digits_cnn, digits, methods=METHODS, rows=ROWS, index=4)
    widgets.append(w)
    result = w.wait()
    assert w.error == "" and not w.busy
    direct = _direct(digits_cnn, digits.X_test[ROWS])
    last = len(direct.stages) - 1
    assert result.stage_labels == direct.stage_labels
    assert w.stage == last and w.stage_slider.max == last and w.play.max == last
    np.testing.assert_array_equal(result.X, digits.X_test[ROWS])
    _assert_strip(w, direct, ROWS.index(4), last)
    pd.testing.assert_frame_equal(w.curves, direct.summary())
    png = bytes(w.strip_view.image.value)
    curves_png = bytes(w.curves_image.value)
    assert png.startswith(PNG) and curves_png.startswith(PNG)
    assert "every layer random" in w.stage_label.value

    # The stage slider walks down the layers: only stages up to it are shown.
    w.stage_slider.value = 1
    w.wait()
    _assert_strip(w, direct, ROWS.index(4), 1)
    assert direct.stage_labels[1] in w.stage_label.value
    assert bytes(w.strip_view.image.value) != png
    assert bytes(w.curves_image.value) != curves_png  # the stage marker moved
    # The play button is linked to the slider.
    w.play.value = 2
    assert w.stage == 2 and w.stage_slider.value == 2
    w.wait()
    _assert_strip(w, direct, ROWS.index(4), 2)

    # The order toggle: the independent check, as the analysis gives it.
    png = bytes(w.strip_view.image.value)
    w.order_picker.value = "independent"
    result = w.wait()
    independent = _direct(digits_cnn, digits.X_test[ROWS], order="independent")
    assert result.order == "independent" and w.order == "independent"
    _assert_strip(w, independent, ROWS.index(4), 2)
    pd.testing.assert_frame_equal(w.curves, independent.summary())
    assert bytes(w.strip_view.image.value) != png
    assert "only" in w.stage_label.value

    # Colours change the picture, not the numbers.
    png = bytes(w.strip_view.image.value)
    w.mode_picker.value = "diverging"
    assert w.wait() is result
    assert bytes(w.strip_view.image.value) != png
    _assert_strip(w, independent, ROWS.index(4), 2)

    # Hiding a method removes its row and its curve.
    w.method_buttons["gradient_x_input"].value = False
    w.wait()
    assert w.shown_methods == ["gradient", "guided_backprop"]
    assert {m for m, _ in w.strip_maps} == {"gradient", "guided_backprop"}
    assert set(w.curves["method"]) == {"gradient", "guided_backprop"}
    w.shown_methods = ["gradient_x_input"]
    assert [b.value for b in w.method_buttons.values()] == [False, True, False]
    w.wait()
    _assert_strip(w, independent, ROWS.index(4), 2)

    # Another input of the selection, then another selection.
    w.index_picker.value = 1
    w.wait()
    _assert_strip(w, independent, ROWS.index(1), 2)
    w.rows_text.value = "0-2"
    assert w.rows == [0, 1, 2] and w.index == 1  # the shown row is still selected
    result = w.wait()
    np.testing.assert_array_equal(result.X, digits.X_test[:3])
    _assert_strip(w, _direct(digits_cnn, digits.X_test[:3], order="independent"), 1, 2)
    w.index = 9  # a row outside the selection joins it
    assert w.rows == [0, 1, 2, 9] and w.rows_text.value == "0-2, 9"
    assert w.wait().X.shape[0] == 4

    # The caller's model and data are untouched, bit for bit.
    after = _state(digits_cnn)
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not digits_cnn.torch_module.training
    np.testing.assert_array_equal(digits.X_test, X_test)


def test_progress_reaches_the_end_and_cached_settings_do_not_recompute(
    digits, digits_cnn, widgets, monkeypatch
):
    calls = []
    real = xw.sanity.model_randomization

    def counting(*args, **kwargs):
        calls.append(kwargs["order"])
        return real(*args, **kwargs)

    monkeypatch.setattr(xw.sanity, "model_randomization", counting)
    w = xw.SanityCheckWidget(digits_cnn, digits, methods=["gradient"], rows=[0, 1], seed=3)
    widgets.append(w)
    seen = []
    w.progress.observe(lambda change: seen.append(change["new"]), names="value")
    first = w.wait()
    assert calls == ["cascading"]
    assert w.progress.value == w.progress.max == len(first.stages)  # one step per stage
    w.order = "independent"
    w.wait()
    run = seen[len(seen) - 1 - seen[::-1].index(0) :]  # since the last reset
    assert run == sorted(run) and run[-1] == w.progress.max == len(first.stages)
    assert w.progress.description == f"independent {w.progress.max}/{w.progress.max}"
    assert calls == ["cascading", "independent"]
    # Back to cascading, then the slider, colours and methods: all from the cache.
    w.order = "cascading"
    assert w.wait() is first
    w.stage = 0
    w.mode = "diverging"
    w.spread = "sem"
    w.wait()
    assert calls == ["cascading", "independent"]
    assert "remembered" in w.status.value and w.progress.description == "remembered 1/1"
    assert w.timings["compute_s"] < 0.05
    # A new seed is a new check; refresh() forgets everything.
    w.seed = 4
    w.wait()
    w.refresh()
    w.wait()
    assert calls == ["cascading", "independent", "cascading", "cascading"]


def test_a_newer_setting_abandons_a_running_check(digits, digits_cnn, widgets, monkeypatch):
    w = xw.SanityCheckWidget(digits_cnn, digits, methods=["gradient"], rows=[0, 1])
    widgets.append(w)
    w.wait()
    started, go = threading.Event(), threading.Event()
    calls = []
    real = xw.sanity.model_randomization

    def held(*args, **kwargs):
        calls.append((kwargs["order"], kwargs["seed"]))
        if len(calls) == 1:
            started.set()
            assert go.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(xw.sanity, "model_randomization", held)
    w.order = "independent"
    assert started.wait(10)
    w.seed = 7  # arrives while the first check runs: that one is abandoned
    go.set()
    result = w.wait()
    assert calls == [("independent", 0), ("independent", 7)]
    assert (result.order, result.params["seed"]) == ("independent", 7)
    assert w.error == ""


def test_errors_appear_in_the_widget_and_it_keeps_working(digits, digits_cnn, widgets):
    failures = [RuntimeError("the cluster is down")]

    def flaky(dataset):
        if failures:
            raise failures.pop()
        return MEMORIZER(dataset)

    w = xw.SanityCheckWidget(digits_cnn, digits, methods=METHODS, rows=[0, 1], train_fn=flaky)
    widgets.append(w)
    w.wait()
    # Text that is not rows: the message is shown, the selection kept.
    w.rows_text.value = "0-two"
    assert "rows" in w.error and w.error_box.layout.display is None
    assert "0-two" in w.error_box.value
    assert w.rows == [0, 1]
    w.rows_text.value = "2-3"
    assert w.wait().X.shape[0] == 2 and w.error == ""
    assert w.error_box.layout.display == "none"
    # Training fails: the error is shown, the model tab was still updated.
    w.train()
    assert w.tabs.selected_index == 1
    assert w.wait(120) is not None
    assert "the cluster is down" in w.error
    assert w.data_result is None and not w.train_button.disabled
    w.stage = 0
    w.wait()
    assert w.error == "" and set(w.strip_maps) == {(m, 0) for m in METHODS}
    # The second try trains; the maps are those of the analysis called directly.
    w.train()
    w.wait(120)
    assert w.error == ""
    data = w.data_result
    direct = xw.sanity.data_randomization(
        digits, MEMORIZER, METHODS, X=digits.X_test[2:4], progress=False, cache=False
    )
    assert data.stage_labels == ["true labels", "random labels"]
    for key in direct.maps:
        np.testing.assert_array_equal(data.maps[key], direct.maps[key])
    pd.testing.assert_frame_equal(data.accuracy, direct.accuracy)
    random = direct.accuracy.set_index("model").loc["random labels"]
    assert f"{100 * random.train:.1f} %" in w.accuracy_box.value
    assert f"{100 * random.test:.1f} %" in w.accuracy_box.value
    assert bytes(w.data_view.image.value).startswith(PNG)
    assert bytes(w.bars_view.image.value).startswith(PNG)
    assert w.data_box.layout.display is None and w.train_button.disabled


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"methods": ["nope"]}, ValueError, "Unknown explainer"),
        ({"methods": "gradient", "rows": []}, ValueError, "rows is empty"),
        ({"rows": [0, 10**6]}, ValueError, "'rows'"),
        ({"rows": "0-3"}, TypeError, "rows must be a list"),
        ({"order": "bottom_up"}, ValueError, "'order'"),
        ({"mode": "loud"}, ValueError, "'mode'"),
        ({"stage": 9}, ValueError, "'stage'"),
        ({"seed": -1}, ValueError, "'seed'"),
        ({"train_fn": "mlp"}, TypeError, "train_fn"),
        ({"interval_ms": 0}, ValueError, "'interval_ms'"),
    ],
)
def test_bad_arguments_raise(digits, digits_cnn, kwargs, error, match):
    with pytest.raises(error, match=match):
        xw.SanityCheckWidget(digits_cnn, digits, **kwargs)


def test_bad_models_and_states_raise(digits, digits_cnn, credit, widgets):
    from sklearn.dummy import DummyClassifier

    prior = DummyClassifier().fit(credit.X_train, credit.y_train)
    with pytest.raises(TypeError, match="torch model"):
        xw.SanityCheckWidget(prior, credit)
    with pytest.raises(TypeError, match="dataset"):
        xw.SanityCheckWidget(digits_cnn.torch_module, digits.X_test)
    w = xw.SanityCheckWidget(digits_cnn, digits, methods=["gradient", "ig"], rows=[0])
    widgets.append(w)
    with pytest.raises(ValueError, match="shown_methods"):
        w.shown_methods = []
    with pytest.raises(ValueError, match="shown_methods"):
        w.shown_methods = ["smoothgrad"]
    # The last shown method's button cannot be switched off.
    w.method_buttons["ig"].value = False
    w.method_buttons["gradient"].value = False
    assert w.shown_methods == ["gradient"] and w.method_buttons["gradient"].value
    assert w.wait() is not None and w.error == ""


def test_tabular_model(credit, credit_model, widgets):
    w = xw.SanityCheckWidget(credit_model, credit, methods=["gradient", "ig"], rows=[5, 6, 7])
    widgets.append(w)
    result = w.wait()
    direct = _direct(credit_model, credit.X_test[[5, 6, 7]], methods=["gradient", "ig"])
    _assert_strip(w, direct, 0, len(direct.stages) - 1)
    pd.testing.assert_frame_equal(w.curves, direct.summary())
    assert result.stage_labels == ["original", "Linear 4", "Linear 2", "Linear 0"]
    w.stage = 1
    w.wait()
    _assert_strip(w, direct, 0, 1)
    assert bytes(w.strip_view.image.value).startswith(PNG)


def test_rows_text_round_trip():
    assert parse_rows(" 4, 0-2  9-10 ", 20) == [4, 0, 1, 2, 9, 10]
    assert parse_rows("1, 1-2", 20) == [1, 2]
    assert format_rows([4, 0, 1, 2, 9, 10]) == "4, 0-2, 9-10"
    assert parse_rows(format_rows([7, 3, 4, 5, 0]), 8) == [7, 3, 4, 5, 0]
    with pytest.raises(ValueError, match="backwards"):
        parse_rows("5-2", 20)
    with pytest.raises(ValueError, match="'rows'"):
        parse_rows("0-20", 20)
    with pytest.raises(ValueError, match="rows is empty"):
        parse_rows(" , ", 20)
