"""The attack control of the input panels (ExplainerWidget) and the AttackWidget."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

import xaiwidgets as xw


def test_image_attack_flips_the_prediction_and_the_explanation_follows(digits, digits_cnn):
    w = xw.ExplainerWidget(digits_cnn, digits, method="gradient")
    before = w.wait()
    w.inputs.attack = "pgd_linf"
    w.inputs.attack_eps = 0.1
    after = w.wait()
    clean = digits.X_test[0]
    expected = xw.attacks.pgd(digits_cnn, clean, 0.1, steps=20)
    np.testing.assert_allclose(w.x, expected)
    np.testing.assert_allclose(w.inputs.clean, clean)
    direct = xw.explainers.Gradient(digits_cnn).explain(expected)
    np.testing.assert_allclose(after.values, direct.values, atol=1e-6)
    assert after.prediction.argmax() != before.prediction.argmax()
    assert "flips" in w.inputs.attack_controls.readout.value
    # Perturbations apply first, then the attack; reset switches everything off.
    w.inputs.brightness = 0.8
    np.testing.assert_allclose(w.inputs.clean, np.clip(clean * 0.8, 0, 1))
    np.testing.assert_allclose(w.x, xw.attacks.pgd(digits_cnn, w.inputs.clean, 0.1, steps=20))
    w.reset()
    assert w.inputs.attack == "none" and np.array_equal(w.wait().data, clean)
    w.close()


def test_tabular_attack_moves_continuous_features_only(credit, credit_model):
    w = xw.ExplainerWidget(credit_model, credit, method="gradient", index=2)
    w.wait()
    clean = credit.X_test[2]
    w.inputs.attack = "fgsm"
    w.inputs.attack_eps = 0.4
    w.wait()
    continuous = np.array([f.kind == "continuous" for f in credit.features for _ in f.columns])
    moved = w.x - clean
    assert np.all(moved[~continuous] == 0) and np.any(moved[continuous] != 0)
    assert np.all(np.abs(moved) <= 0.4 * credit.train_std * (1 + 1e-6))
    # Moving a feature under attack attacks the moved input again.
    w.set_feature("age", 60)
    moved_clean = clean.copy()
    moved_clean[2] = 60
    np.testing.assert_allclose(w.inputs.clean, moved_clean)
    mask = continuous.astype(float)
    np.testing.assert_allclose(w.x, xw.attacks.fgsm(credit_model, moved_clean, 0.4, mask=mask))
    eps = w.inputs.smallest_flipping_eps()
    assert np.isfinite(eps) and w.inputs.attack_eps == eps
    assert credit_model.predict(w.x)[0] != credit_model.predict(w.inputs.clean)[0]
    w.index = 3  # another row: the attack is off
    assert w.inputs.attack == "none" and np.array_equal(w.x, credit.X_test[3])
    w.close()


def test_no_attack_controls_without_gradients(credit):
    model = xw.wrap(
        DecisionTreeClassifier(max_depth=3).fit(credit.X_train, credit.y_train), credit
    )
    panel = xw.widgets.input_controls(credit, model)
    assert panel.attack_controls is None
    with pytest.raises(TypeError, match="torch model"):
        panel.attack = "fgsm"
    with pytest.raises(ValueError, match="attack must be one of"):
        xw.widgets.input_controls(credit).attack = "deepfool"


def test_attack_widget_runs_the_attack_and_follows_its_controls(digits, digits_cnn):
    w = xw.AttackWidget(digits_cnn, digits, index=0, target_index=5, eps=0.2, steps=40)
    result = w.wait()
    target = xw.attacks.explanation_map(digits_cnn, digits.X_test[5])
    direct = xw.attacks.manipulate_explanation(
        digits_cnn, digits.X_test[0], target, eps=0.2, steps=40
    )
    # The same run (float32 sums differ in the last bits between torch thread counts).
    np.testing.assert_allclose(result.x_adv, direct.x_adv, atol=1e-4)
    assert w.progress == 1.0 and result.distance_after <= result.distance_before
    assert len(w.view.image.value) > 0 and len(w.curve_view.image.value) > 0
    assert "prediction kept" in w.status.value
    w.method = "gradient_x_input"
    w.defence = True
    result = w.wait()
    assert result.params["method"] == "gradient_x_input" and result.params["explain_beta"] == 1.0
    w.steps = 5000
    w.stop()  # stops the run that has just been requested: the best so far is shown
    assert w.wait().meta["stopped"] and w.wait().meta["steps_run"] < 5000
    w.close()


def test_attack_widget_rejects_bad_input(credit, digits, digits_cnn):
    model = xw.wrap(
        DecisionTreeClassifier(max_depth=3).fit(credit.X_train, credit.y_train), credit
    )
    with pytest.raises(TypeError, match="needs a torch model"):
        xw.AttackWidget(model)
    w = xw.AttackWidget(digits_cnn, digits, steps=5)
    with pytest.raises(ValueError, match="'index' parameter"):
        w.index = 10_000
    with pytest.raises(ValueError, match="'method' parameter"):
        w.method = "lime"
    w.close()
