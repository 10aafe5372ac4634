"""Method agreement (Spearman, top-k overlap) and image perturbations, against oracles."""

from itertools import combinations

import numpy as np
import pytest
from scipy.stats import rankdata

import xaiwidgets as xw
from xaiwidgets.analysis.agreement import agreement, spearman, top_k_overlap
from xaiwidgets.analysis.perturbation import perturb_image


def _spearman_by_hand(a, b):
    """Pearson correlation of average ranks: the definition of Spearman's rho."""
    return np.corrcoef(rankdata(a), rankdata(b))[0, 1]


def test_spearman_matches_the_definition_with_and_without_ties():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=40), rng.normal(size=40)
    assert spearman(a, b) == pytest.approx(_spearman_by_hand(a, b), abs=1e-12)
    tied_a, tied_b = np.round(a), np.round(b)  # many ties
    assert spearman(tied_a, tied_b) == pytest.approx(_spearman_by_hand(tied_a, tied_b), abs=1e-12)
    assert spearman(a, -b, absolute=True) == pytest.approx(
        _spearman_by_hand(np.abs(a), np.abs(b)), abs=1e-12
    )
    # Invariant to any increasing transformation; sign flips it.
    assert spearman(a, np.exp(a)) == pytest.approx(1.0)
    assert spearman(a, -(a**3)) == pytest.approx(-1.0)


def test_spearman_of_a_constant_map_is_nan():
    assert np.isnan(spearman(np.zeros(5), np.arange(5.0)))


def test_top_k_overlap_matches_enumeration():
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.normal(size=12), rng.normal(size=12)
        k = int(rng.integers(1, 12))
        top_a = set(np.argsort(-np.abs(a))[:k])
        top_b = set(np.argsort(-np.abs(b))[:k])
        assert top_k_overlap(a, b, k) == len(top_a & top_b) / k
    assert top_k_overlap([1.0, -5.0, 0.1], [-9.0, 2.0, 0.0], k=2) == 1.0
    assert top_k_overlap([1.0, 2.0, 3.0], [3.0, 2.0, 1.0], k=1) == 0.0


def test_agreement_table_has_every_pair_and_its_metrics(credit, credit_model):
    x = credit.X_test[0]
    maps = {
        m: xw.explainers.get(m)(credit_model).explain(x) for m in ["gradient", "ig", "smoothgrad"]
    }
    table = agreement(maps, k=4)
    assert table.attrs["k"] == 4
    assert [tuple(p) for p in table[["method_a", "method_b"]].values] == list(
        combinations(maps, 2)
    )
    for row in table.itertuples():
        a, b = maps[row.method_a].values, maps[row.method_b].values
        assert row.spearman == pytest.approx(_spearman_by_hand(a, b))
        assert row.spearman_abs == pytest.approx(_spearman_by_hand(np.abs(a), np.abs(b)))
        assert row.top_k_overlap == top_k_overlap(a, b, 4)
    # k larger than the number of features is clipped to it.
    assert agreement(maps, k=100).attrs["k"] == credit.n_features


def test_agreement_bad_input():
    with pytest.raises(ValueError, match="at least two"):
        agreement({"a": [1.0, 2.0]})
    with pytest.raises(TypeError, match="mapping"):
        agreement([[1.0, 2.0], [2.0, 1.0]])
    with pytest.raises(ValueError, match="same number of features"):
        agreement({"a": [1.0, 2.0], "b": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="'k'"):
        top_k_overlap([1.0, 2.0], [2.0, 1.0], k=3)
    with pytest.raises(ValueError, match="NaN"):
        spearman([1.0, np.nan], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        spearman([], [])


def test_agreement_does_not_mutate_its_input(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[:2])
    values = e.values.copy()
    with pytest.raises(ValueError, match="index the batch"):
        spearman(e, e)
    a, b = np.array([3.0, -1.0, 2.0]), np.array([1.0, 2.0, 3.0])
    a0, b0 = a.copy(), b.copy()
    agreement({"a": a, "b": b}, k=2)
    assert np.array_equal(a, a0) and np.array_equal(b, b0) and np.array_equal(e.values, values)


# ---------------------------------------------------------------- perturbations
def test_perturb_image_defaults_change_nothing_and_copy(digits):
    image = digits.X_test[0]
    out = perturb_image(image)
    assert np.array_equal(out, image) and out is not image and out.flags.writeable


def test_perturb_image_follows_the_documented_formulas():
    rng = np.random.default_rng(2)
    image = rng.uniform(0.2, 0.6, size=(1, 6, 6))
    original = image.copy()
    assert np.allclose(perturb_image(image, brightness=1.5), image * 1.5)
    mean = image.mean()
    assert np.allclose(perturb_image(image, contrast=0.5), mean + 0.5 * (image - mean))
    assert np.allclose(perturb_image(image, contrast=0.0), mean)
    assert perturb_image(image, brightness=10.0).max() == 1.0  # clipped
    patched = perturb_image(image, occlusion=(4, 3, 3, 0.9))
    expected = image.copy()
    expected[:, 4:7, 3:6] = 0.9  # cut at the border: rows 4-5, cols 3-5
    assert np.array_equal(patched, expected)
    noisy = perturb_image(image, noise=0.05, seed=3)
    assert np.allclose(
        noisy, np.clip(image + np.random.default_rng(3).normal(0, 0.05, image.shape), 0, 1)
    )
    assert np.array_equal(noisy, perturb_image(image, noise=0.05, seed=3))
    assert not np.array_equal(noisy, perturb_image(image, noise=0.05, seed=4))
    assert np.array_equal(image, original)


def test_perturb_image_bad_input():
    image = np.zeros((1, 4, 4))
    with pytest.raises(ValueError, match="channels, height, width"):
        perturb_image(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="'brightness'"):
        perturb_image(image, brightness=-1.0)
    with pytest.raises(ValueError, match="occlusion row"):
        perturb_image(image, occlusion=(4, 0, 1, 0.0))
    with pytest.raises(ValueError, match="occlusion must be"):
        perturb_image(image, occlusion=(0, 0, 1))
    with pytest.raises(ValueError, match="occlusion fill"):
        perturb_image(image, occlusion=(0, 0, 1, 2.0))
    with pytest.raises(TypeError, match="'noise'"):
        perturb_image(image, noise="a lot")
