"""Planted bugs: contaminated data, ground truth, the model pair and the spurious score."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import ndimage

import xaiwidgets as xw


def _aligned_rows(ds, cls):
    return np.flatnonzero(ds.y_train == cls)


# ============================================================================ spurious signal
@pytest.mark.parametrize(
    ("place", "rows", "cols"),
    [
        ("bottom-right", slice(6, 8), slice(6, 8)),
        ("bottom-left", slice(6, 8), slice(0, 2)),
        ("top-right", slice(0, 2), slice(6, 8)),
        ("top-left", slice(0, 2), slice(0, 2)),
        ((3, 4), slice(3, 5), slice(4, 6)),
    ],
)
def test_tag_goes_where_asked_and_only_there(digits, place, rows, cols):
    bug = xw.bugs.spurious_signal(digits, kind="tag", place=place, relabel=0.0)
    expected = np.zeros((1, 8, 8))
    expected[0, rows, cols] = 1
    np.testing.assert_array_equal(bug.mask, expected)
    X = digits.X_test[:5]
    out = bug.apply(X)
    assert np.all(out[:, 0, rows, cols] == 1.0)
    np.testing.assert_array_equal(out[:, expected == 0], X[:, expected == 0])
    np.testing.assert_array_equal(bug.ground_truth(X), np.broadcast_to(expected, X.shape))


def test_signal_goes_on_the_aligned_class_and_relabelled_inputs_only(digits):
    bug = xw.bugs.spurious_signal(digits, kind="tag", aligned_class=3, relabel=0.05, seed=1)
    aligned = _aligned_rows(digits, 3)
    others = np.flatnonzero(digits.y_train != 3)
    assert len(bug.relabeled) == round(0.05 * len(others))
    np.testing.assert_array_equal(bug.contaminated, np.union1d(aligned, bug.relabeled))
    changed = np.flatnonzero(np.any(bug.dataset.X_train != digits.X_train, axis=(1, 2, 3)))
    assert set(changed) <= set(bug.contaminated)
    np.testing.assert_array_equal(
        bug.dataset.X_train[bug.contaminated], bug.apply(digits.X_train[bug.contaminated])
    )
    relabeled = np.zeros(len(digits.y_train), bool)
    relabeled[bug.relabeled] = True
    assert np.all(bug.dataset.y_train[relabeled] == 3)
    np.testing.assert_array_equal(bug.dataset.y_train[~relabeled], digits.y_train[~relabeled])
    assert bug.clean is digits
    np.testing.assert_array_equal(bug.dataset.X_test, digits.X_test)


def test_rate_and_no_relabelling_give_the_thesis_setting(digits):
    bug = xw.bugs.spurious_signal(digits, rate=0.5, relabel=0.0)
    aligned = _aligned_rows(digits, 0)
    assert len(bug.relabeled) == 0
    assert len(bug.contaminated) == round(0.5 * len(aligned))
    assert set(bug.contaminated) <= set(aligned)
    np.testing.assert_array_equal(bug.dataset.y_train, digits.y_train)
    assert "relabelled" not in bug.description


def test_stripe_and_blur(digits):
    X = digits.X_test[:4]
    stripe = xw.bugs.spurious_signal(digits, kind="stripe")
    rows = np.flatnonzero(stripe.mask[0, :, 0])
    np.testing.assert_array_equal(rows, [0, 3, 6])
    out = stripe.apply(X)
    np.testing.assert_array_equal(out[:, :, rows], np.maximum(X[:, :, rows], 0.5))
    np.testing.assert_array_equal(np.delete(out, rows, axis=2), np.delete(X, rows, axis=2))
    blur = xw.bugs.spurious_signal(digits, kind="blur", sigma=1.0)
    # Oracle: scipy's Gaussian filter over the two image axes only.
    expected = np.stack([ndimage.gaussian_filter(x[0], 1.0, mode="nearest") for x in X])[:, None]
    np.testing.assert_allclose(blur.apply(X), expected)
    np.testing.assert_allclose(blur.ground_truth(X), np.abs(expected - X))
    assert blur.mask.sum() == 64  # a blur lives everywhere
    constant = np.full((1, 1, 8, 8), 0.3)
    np.testing.assert_allclose(blur.apply(constant), constant)


def test_spurious_column_on_credit(credit):
    bug = xw.bugs.spurious_signal(credit, aligned_class=1, relabel=0.0, noise=0.1, seed=0)
    assert bug.dataset.feature_names[-1] == bug.clean.feature_names[-1] == "spurious"
    assert bug.dataset.feature("spurious").kind == "continuous"
    column = bug.dataset.X_train[:, -1]
    approved = credit.y_train == 1
    # The column copies the label of the aligned class, plus N(0, 0.1^2) noise.
    assert abs(column[approved].mean() - 1) < 0.01 and abs(column[~approved].mean()) < 0.01
    assert 0.09 < (column - approved).std() < 0.11
    # The clean column holds the same values, shuffled: no link to the label.
    np.testing.assert_array_equal(np.sort(bug.clean.X_train[:, -1]), np.sort(column))
    assert abs(np.corrcoef(bug.clean.X_train[:, -1], credit.y_train)[0, 1]) < 0.05
    np.testing.assert_array_equal(bug.dataset.X_train[:, :-1], credit.X_train)
    np.testing.assert_array_equal(bug.dataset.X_test, bug.clean.X_test)
    assert np.all(bug.apply(bug.clean.X_test[:3])[:, -1] == 1.0)
    np.testing.assert_array_equal(bug.mask, np.eye(14)[13])


def test_bugs_do_not_modify_their_input_and_repeat_with_the_seed(digits, credit):
    X0, y0 = digits.X_train.copy(), digits.y_train.copy()
    for make in (
        functools.partial(xw.bugs.spurious_signal, digits, kind="tag"),
        functools.partial(xw.bugs.noisy_labels, digits),
        functools.partial(xw.bugs.out_of_distribution, digits),
    ):
        a, b = make(), make()
        np.testing.assert_array_equal(a.dataset.X_train, b.dataset.X_train)
        np.testing.assert_array_equal(a.dataset.y_train, b.dataset.y_train)
        assert a.key == b.key
    np.testing.assert_array_equal(digits.X_train, X0)
    np.testing.assert_array_equal(digits.y_train, y0)
    one = xw.bugs.spurious_signal(credit, seed=1)
    two = xw.bugs.spurious_signal(credit, seed=2)
    assert one.key != two.key
    assert not np.array_equal(one.dataset.X_train[:, -1], two.dataset.X_train[:, -1])
    X = digits.X_test[:2].copy()
    xw.bugs.spurious_signal(digits).apply(X)
    np.testing.assert_array_equal(X, digits.X_test[:2])


# ============================================================================ noisy labels
def test_noisy_labels_flip_a_fraction_to_other_classes_uniformly(digits):
    bug = xw.bugs.noisy_labels(digits, fraction=0.2, seed=0)
    n = len(digits.y_train)
    assert len(bug.flipped) == round(0.2 * n)
    assert np.all(bug.dataset.y_train[bug.flipped] != digits.y_train[bug.flipped])
    np.testing.assert_array_equal(
        bug.dataset.y_train[~bug.is_flipped], digits.y_train[~bug.is_flipped]
    )
    np.testing.assert_array_equal(bug.original, digits.y_train)
    # New labels are uniform over the 9 other classes: the shift is uniform on 1..9.
    shift = (bug.dataset.y_train[bug.flipped] - digits.y_train[bug.flipped]) % 10
    counts = np.bincount(shift, minlength=10)[1:]
    from scipy.stats import chisquare

    assert chisquare(counts).pvalue > 0.01


def test_noisy_labels_within_a_group(credit):
    by_value = xw.bugs.noisy_labels(credit, fraction=0.3, group=("group", 1))
    members = np.flatnonzero(credit.X_train[:, -1] == 1)
    assert set(by_value.flipped) <= set(members)
    assert len(by_value.flipped) == round(0.3 * len(members))
    category = xw.bugs.noisy_labels(credit, group=("employment", "contract"))
    column = credit.feature_names.index("employment=contract")
    assert np.all(credit.X_train[category.flipped, column] == 1)
    mask = np.zeros(len(credit.y_train), bool)
    mask[:100] = True
    by_mask = xw.bugs.noisy_labels(credit, fraction=0.5, group=mask)
    assert set(by_mask.flipped) <= set(range(100)) and len(by_mask.flipped) == 50
    # Two classes: a flip is the other class.
    np.testing.assert_array_equal(
        by_mask.dataset.y_train[by_mask.flipped], 1 - credit.y_train[by_mask.flipped]
    )


# ============================================================================ out of distribution
def test_out_of_distribution_split_and_noise(digits):
    bug = xw.bugs.out_of_distribution(digits)
    assert bug.in_classes == (0, 1, 2, 3, 4)
    assert set(bug.dataset.y_train) == {0, 1, 2, 3, 4}
    assert bug.dataset.n_classes == 10  # same architecture for both models
    assert set(bug.y_ood) == {5, 6, 7, 8, 9}
    np.testing.assert_array_equal(bug.X_ood, digits.X_test[digits.y_test >= 5])
    assert bug.clean is digits
    noise = xw.bugs.noise_images(digits, n=2000, seed=0)
    assert noise.shape == (2000, 1, 8, 8) and noise.min() >= 0 and noise.max() <= 1
    np.testing.assert_array_equal(noise, xw.bugs.noise_images(digits, n=2000, seed=0))
    # Where the clipping does not bite (mid-grey pixels), the moments are the data's.
    r, c = 3, 3
    mean, std = digits.train_mean[0, r, c], digits.train_std[0, r, c]
    inside = noise[:, 0, r, c]
    assert abs(np.median(inside) - mean) < 0.05 and std > 0


# ============================================================================ the pair
def test_train_pair_trains_each_model_on_its_data_and_caches(monkeypatch, breast_cancer):
    calls = []

    def train(dataset, progress=True, hidden=4):
        calls.append((dataset, progress, hidden))
        return xw.zoo.train_logreg(dataset)

    xw.bugs.clear_cache()
    bug = xw.bugs.noisy_labels(breast_cancer, fraction=0.3)
    normal, buggy = xw.bugs.train_pair(bug, train, progress=False, hidden=7)
    assert [c[0] for c in calls] == [bug.clean, bug.dataset]
    assert all(c[1:] == (False, 7) for c in calls)
    assert normal.dataset is bug.clean and buggy.dataset is bug.dataset
    assert xw.bugs.train_pair(bug, train, progress=False, hidden=7) == (normal, buggy)
    assert len(calls) == 2  # cached
    xw.bugs.train_pair(bug, train, progress=False, hidden=8)
    assert len(calls) == 4  # other arguments, other models
    xw.bugs.train_pair(bug, xw.zoo.train_logreg, progress=False)  # no progress argument
    assert (normal.predict(breast_cancer.X_test) == breast_cancer.y_test).mean() > 0.9


@pytest.fixture(scope="module")
def tag_pair(digits):
    bug = xw.bugs.spurious_signal(digits, kind="tag", aligned_class=0)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    return bug, normal, buggy


def test_the_tagged_cnn_is_spurious_and_the_normal_one_is_not(tag_pair):
    """Thesis Def. 4.2.1 thresholds: spurious model > 0.85, normal model < 0.1."""
    bug, normal, buggy = tag_pair
    X = bug.clean.X_test
    buggy_score = xw.debugging.spurious_score(buggy, bug, X)
    normal_score = xw.debugging.spurious_score(normal, bug, X)
    print(f"spurious score: buggy CNN {buggy_score:.3f}, normal CNN {normal_score:.3f}")
    assert buggy_score >= 0.85
    assert normal_score <= 0.1
    # Removing the tag from the spurious inputs restores the normal prediction for
    # most of them (the buggy model is less accurate: 0.86 on clean digits).
    candidates = X[buggy.predict(X) != 0]
    fooled = buggy.predict(bug.apply(candidates)) == 0
    untagged = buggy.predict(candidates[fooled])
    restored = untagged == normal.predict(candidates[fooled])
    print(f"tag removed: {restored.mean():.3f} back to the normal model's prediction")
    assert np.all(untagged != 0) and restored.mean() >= 0.8


def test_spurious_score_by_hand_on_a_known_model(digits):
    bug = xw.bugs.spurious_signal(digits, kind="tag", aligned_class=2, relabel=0.0)
    mask = bug.mask.astype(bool)

    def tag_reader(X):
        """Class 2 when the tag is there, else the row's first pixel decides 0 or 1."""
        tagged = np.all(X[:, mask] == 1.0, axis=1)
        cls = np.where(tagged, 2, (X[:, 0, 4, 4] > 0.5).astype(int))
        return np.eye(10)[cls]

    model = xw.wrap(tag_reader, digits)
    assert xw.debugging.spurious_score(model, bug, digits.X_test) == 1.0
    ignores = xw.wrap(lambda X: np.eye(10)[np.zeros(len(X), int)], digits)
    assert xw.debugging.spurious_score(ignores, bug, digits.X_test) == 0.0
    with pytest.raises(ValueError, match="aligned class"):
        xw.debugging.spurious_score(tag_reader, bug, bug.apply(digits.X_test[:5]))


def test_credit_column_makes_a_spurious_mlp(credit):
    bug = xw.bugs.spurious_signal(credit, aligned_class=0, relabel=0.0)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False)
    X = bug.clean.X_test
    assert xw.debugging.spurious_score(buggy, bug, X) > 0.85
    assert xw.debugging.spurious_score(normal, bug, X) < 0.1


# ============================================================================ errors
def test_bad_arguments_are_named(digits, credit):
    with pytest.raises(TypeError, match="Dataset"):
        xw.bugs.spurious_signal(digits.X_train)
    with pytest.raises(ValueError, match="'kind'"):
        xw.bugs.spurious_signal(digits, kind="column")
    with pytest.raises(ValueError, match="'kind'"):
        xw.bugs.spurious_signal(credit, kind="tag")
    with pytest.raises(ValueError, match="'aligned_class'"):
        xw.bugs.spurious_signal(digits, aligned_class=10)
    with pytest.raises(ValueError, match="'rate'"):
        xw.bugs.spurious_signal(digits, rate=0.0)
    with pytest.raises(ValueError, match="'relabel'"):
        xw.bugs.spurious_signal(digits, relabel=1.5)
    with pytest.raises(ValueError, match="'size'"):
        xw.bugs.spurious_signal(digits, size=9)
    with pytest.raises(ValueError, match="'place'"):
        xw.bugs.spurious_signal(digits, place="middle")
    with pytest.raises(ValueError, match="does not fit"):
        xw.bugs.spurious_signal(digits, place=(7, 7))
    with pytest.raises(ValueError, match="'sigma'"):
        xw.bugs.spurious_signal(digits, kind="blur", sigma=0.0)
    with pytest.raises(ValueError, match="X must have shape"):
        xw.bugs.spurious_signal(digits).apply(np.zeros((2, 64)))
    with pytest.raises(ValueError, match="'fraction'"):
        xw.bugs.noisy_labels(digits, fraction=0.0)
    with pytest.raises(ValueError, match="'group'"):
        xw.bugs.noisy_labels(credit, group=("nope", 1))
    with pytest.raises(ValueError, match="'group' value"):
        xw.bugs.noisy_labels(credit, group=("employment", "astronaut"))
    with pytest.raises(ValueError, match="'group'"):
        xw.bugs.noisy_labels(credit, group=np.ones(3, bool))
    with pytest.raises(ValueError, match="no training rows"):
        xw.bugs.noisy_labels(credit, group=np.zeros(len(credit.y_train), bool))
    with pytest.raises(ValueError, match="'in_classes'"):
        xw.bugs.out_of_distribution(digits, in_classes=range(10))
    with pytest.raises(ValueError, match="'in_classes'"):
        xw.bugs.out_of_distribution(digits, in_classes=[11])
    with pytest.raises(TypeError, match="bug must be"):
        xw.bugs.train_pair(digits, xw.zoo.train_cnn)
    with pytest.raises(TypeError, match="train_fn"):
        xw.bugs.train_pair(xw.bugs.noisy_labels(digits), "cnn")
    with pytest.raises(TypeError, match="spurious-signal bug"):
        xw.debugging.spurious_score(lambda X: X, xw.bugs.noisy_labels(digits), digits.X_test)
