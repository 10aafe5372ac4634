"""FGSM and PGD against Captum's captum.robust, and what it takes to flip a prediction."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from captum.robust import FGSM, PGD

import xaiwidgets as xw


def cross_entropy(out, target):
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


@pytest.fixture(scope="module")
def images(digits, digits_cnn):
    X = digits.X_test[:16]
    return X, digits_cnn.predict(X)


def test_fgsm_equals_captum(digits_cnn, images):
    X, y = images
    captum = FGSM(digits_cnn.torch_module, cross_entropy, lower_bound=0.0, upper_bound=1.0)
    captum.zero_thresh = 0.0  # Captum skips gradients below 1e-6; sign(0) = 0 here
    tensor = torch.tensor(X, dtype=torch.float32)
    expected = captum.perturb(tensor, 0.1, torch.tensor(y)).detach().numpy()
    np.testing.assert_allclose(xw.attacks.fgsm(digits_cnn, X, 0.1), expected, atol=1e-6)
    target = (y + 3) % 10
    expected = captum.perturb(tensor, 0.1, torch.tensor(target), targeted=True).detach().numpy()
    ours = xw.attacks.fgsm(digits_cnn, X, 0.1, target=target)
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    assert np.abs(ours - X).max() <= 0.1 + 1e-6 and ours.min() >= 0 and ours.max() <= 1


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_equals_captum(digits_cnn, images, norm, targeted):
    X, y = images
    eps = 0.2 if norm == "linf" else 1.2
    captum = PGD(digits_cnn.torch_module, cross_entropy, lower_bound=0.0, upper_bound=1.0)
    captum.fgsm.zero_thresh = 0.0
    labels = (y + 1) % 10 if targeted else y
    expected = captum.perturb(
        torch.tensor(X, dtype=torch.float32),
        radius=eps,
        step_size=0.02,
        step_num=25,
        target=torch.tensor(labels),
        targeted=targeted,
        norm="Linf" if norm == "linf" else "L2",
    ).numpy()
    options = {"target": labels} if targeted else {}
    # Captum's L2 PGD takes sign steps; step="sign" reproduces it (the default is Madry's
    # normalised-gradient step).
    ours = xw.attacks.pgd(
        digits_cnn, X, eps, norm=norm, steps=25, step_size=0.02, step="sign", **options
    )
    np.testing.assert_allclose(ours, expected, atol=1e-6)
    moved = (ours - X).reshape(len(X), -1)
    size = np.abs(moved).max(axis=1) if norm == "linf" else np.linalg.norm(moved, axis=1)
    assert size.max() <= eps * (1 + 1e-6) and ours.min() >= 0 and ours.max() <= 1


def test_pgd_with_per_feature_bounds_equals_captum(credit, credit_model):
    X = credit.X_test[:8]
    low, high = credit.bounds.T
    captum = PGD(credit_model.torch_module, cross_entropy)
    captum.fgsm.zero_thresh = 0.0
    lo, hi = torch.tensor(low, dtype=torch.float32), torch.tensor(high, dtype=torch.float32)
    captum.bound = lambda t: torch.clamp(t, lo, hi)  # Captum's documented override
    expected = captum.perturb(
        torch.tensor(X, dtype=torch.float32),
        radius=2.0,
        step_size=0.5,
        step_num=10,
        target=torch.tensor(credit_model.predict(X)),
    ).numpy()
    ours = xw.attacks.pgd(credit_model, X, 2.0, steps=10, step_size=0.5, scale="unit")
    np.testing.assert_allclose(ours, expected, atol=1e-5)


def test_madry_l2_steps_random_start_scale_and_mask(credit, credit_model, digits_cnn, images):
    X, y = images
    adv = xw.attacks.pgd(digits_cnn, X, 1.0, norm="l2", steps=30)
    moved = np.linalg.norm((adv - X).reshape(len(X), -1), axis=1)
    assert moved.max() <= 1.0 + 1e-5 and (digits_cnn.predict(adv) != y).mean() > 0.5
    first = xw.attacks.pgd(digits_cnn, X, 0.1, steps=5, random_start=True, seed=3)
    again = xw.attacks.pgd(digits_cnn, X, 0.1, steps=5, random_start=True, seed=3)
    other = xw.attacks.pgd(digits_cnn, X, 0.1, steps=5, random_start=True, seed=4)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other) and np.abs(first - X).max() <= 0.1 + 1e-6
    x = credit.X_test[:5]
    adv = xw.attacks.pgd(credit_model, x, 0.5, steps=10)  # scale "auto": training std
    assert np.all(np.abs(adv - x) <= 0.5 * credit.train_std + 1e-4)
    mask = np.zeros(13)
    mask[[0, 1, 5]] = 1
    adv = xw.attacks.pgd(credit_model, x, 0.5, steps=10, mask=mask)
    np.testing.assert_array_equal(adv[:, mask == 0], x[:, mask == 0])
    assert np.any(adv[:, mask == 1] != x[:, mask == 1])


def test_what_it_takes_finds_the_smallest_flipping_epsilon(credit, credit_model, digits_cnn):
    x = credit.X_test[0]
    report = xw.attacks.what_it_takes(credit_model, x, steps=10, tol=1e-3)
    assert report.flipped and report.classes[1] != report.classes[0]
    assert credit_model.predict(report.x_adv)[0] == report.classes[1]
    # The bracket: the largest epsilon below it that did not flip lies within tol.
    history = report.history
    below = history[~history["flipped"] & (history["eps"] < report.eps)]["eps"].max()
    assert 0 < report.eps - below <= 1e-3 * report.meta["eps_max"]
    at_below = xw.attacks.pgd(credit_model, x, below, steps=10)
    assert credit_model.predict(at_below)[0] == report.classes[0]
    assert report.history["flipped"].iloc[0] and len(report.changes) > 0
    assert "flips" in report.summary() and report.believability().table.shape[0] == 1
    targeted = xw.attacks.what_it_takes(
        digits_cnn, digits_cnn.dataset.X_test[0], target=7, steps=10
    )
    assert targeted.classes[1] == 7
    locked = xw.attacks.what_it_takes(credit_model, x, steps=5, mask=np.eye(13)[12], eps_max=0.5)
    assert not locked.flipped and locked.eps == np.inf and "does not change" in locked.summary()


def test_attacks_change_nothing_passed_in(credit, credit_model):
    x = credit.X_test[:3].copy()
    state = copy.deepcopy(credit_model.torch_module.state_dict())
    xw.attacks.pgd(credit_model, x, 0.3, steps=5, random_start=True)
    xw.attacks.fgsm(credit_model, x, 0.3)
    np.testing.assert_array_equal(x, credit.X_test[:3])
    for name, value in credit_model.torch_module.state_dict().items():
        assert torch.equal(value, state[name])


def test_attacks_reject_bad_input(credit, credit_model):
    from sklearn.tree import DecisionTreeClassifier

    x = credit.X_test[0]
    sklearn_model = xw.wrap(
        DecisionTreeClassifier(max_depth=3).fit(credit.X_train, credit.y_train), credit
    )
    with pytest.raises(TypeError, match="need a torch model"):
        xw.attacks.fgsm(sklearn_model, x, 0.1)
    with pytest.raises(ValueError, match="'norm' parameter"):
        xw.attacks.pgd(credit_model, x, 0.1, norm="l1")
    with pytest.raises(ValueError, match="'eps' parameter"):
        xw.attacks.pgd(credit_model, x, -0.1)
    with pytest.raises(ValueError, match="not both"):
        xw.attacks.pgd(credit_model, x, 0.1, target=0, y=1)
    with pytest.raises(ValueError, match="mask must have one entry"):
        xw.attacks.pgd(credit_model, x, 0.1, mask=np.ones(3))
    with pytest.raises(ValueError, match="bounds must be"):
        xw.attacks.pgd(credit_model, x, 0.1, bounds=np.ones((3, 2)))
    with pytest.raises(ValueError, match="target must be a class index"):
        xw.attacks.fgsm(credit_model, x, 0.1, target=5)
    with pytest.raises(ValueError, match="'step' parameter"):
        xw.attacks.pgd(credit_model, x, 0.1, step="newton")
    with pytest.raises(ValueError, match="own class"):
        xw.attacks.what_it_takes(credit_model, x, target=int(credit_model.predict(x)[0]))
