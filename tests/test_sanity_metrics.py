"""Similarity metrics of xw.sanity.metrics, checked against scipy and scikit-image."""

import warnings

import numpy as np
import pytest
from scipy.stats import spearmanr
from skimage.feature import hog
from skimage.metrics import structural_similarity

import xaiwidgets as xw
from xaiwidgets.analysis import metrics

RNG = np.random.default_rng(0)


def _maps_with_ties(n=6, shape=(1, 8, 8)):
    maps = RNG.normal(size=(n, *shape))
    maps[:, :, :3, :] = 0.0  # a band of exact zeros, as gradient x input has on background
    return np.round(maps, 1)  # more ties


def test_public_namespace():
    assert xw.sanity.metrics is metrics
    assert xw.sanity.metrics.ssim is metrics.ssim


@pytest.mark.parametrize("absolute", [False, True])
def test_spearman_equals_scipy_including_ties(absolute):
    a, b = _maps_with_ties(), _maps_with_ties()
    b[0] = -a[0]  # a perfect anti-ranking (signed) that is identical in magnitude
    function = metrics.spearman_abs if absolute else metrics.spearman
    got = function(a, b, batch=True)
    for i in range(len(a)):
        x, y = a[i].ravel(), b[i].ravel()
        if absolute:
            x, y = np.abs(x), np.abs(y)
        expected = spearmanr(x, y).statistic
        assert got[i] == pytest.approx(expected, abs=1e-12)
        assert function(a[i], b[i]) == pytest.approx(expected, abs=1e-12)
    assert got[0] == pytest.approx(1.0 if absolute else -1.0)


def test_constant_maps_give_zero_not_nan():
    a = RNG.normal(size=(1, 8, 8))
    zero = np.zeros_like(a)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert metrics.spearman(a, zero) == 0.0
        assert metrics.spearman_abs(zero, zero) == 0.0
        assert np.isfinite(metrics.ssim(a, zero))
        assert metrics.ssim(zero, zero) == pytest.approx(1.0)


def test_normalize_abs_is_the_papers_grayscale_rule():
    maps = RNG.normal(size=(3, 2, 8, 8))
    out = metrics.normalize_abs(maps, batch=True)
    summed = np.abs(maps).sum(axis=1)
    np.testing.assert_allclose(out, summed / summed.max(axis=(1, 2), keepdims=True))
    assert out.shape == (3, 8, 8)
    np.testing.assert_array_equal(metrics.normalize_abs(np.zeros((8, 8))), np.zeros((8, 8)))


def test_ssim_equals_skimage_on_normalized_maps():
    a, b = RNG.normal(size=(4, 1, 8, 8)), RNG.normal(size=(4, 1, 8, 8))
    got = metrics.ssim(a, b, batch=True)
    for i in range(4):
        x = np.abs(a[i, 0]) / np.abs(a[i, 0]).max()
        y = np.abs(b[i, 0]) / np.abs(b[i, 0]).max()
        expected = structural_similarity(x, y, data_range=1.0, win_size=5)
        assert got[i] == pytest.approx(expected, abs=1e-12)
    # The one normalization removes scale and sign.
    assert metrics.ssim(a[0], -7 * a[0]) == pytest.approx(1.0)
    assert metrics.ssim(a[0], b[0], win_size=3) == pytest.approx(
        structural_similarity(
            np.abs(a[0, 0]) / np.abs(a[0, 0]).max(),
            np.abs(b[0, 0]) / np.abs(b[0, 0]).max(),
            data_range=1.0,
            win_size=3,
        )
    )


def test_ssim_window_fits_small_images():
    assert metrics.ssim_window(8, 8) == 5
    assert metrics.ssim_window(6, 6) == 3
    assert metrics.ssim_window(9, 9) == 5
    assert metrics.ssim_window(10, 10) == 7
    assert metrics.ssim_window(224, 224) == 7
    with pytest.raises(ValueError, match="at least 6x6"):
        metrics.ssim_window(5, 8)


def test_hog_pearson_equals_direct_computation_and_needs_large_images():
    a, b = RNG.random((16, 16)), RNG.random((16, 16))
    fa = hog(a / a.max(), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    fb = hog(b / b.max(), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2))
    assert metrics.hog_pearson(a, b) == pytest.approx(np.corrcoef(fa, fb)[0, 1], abs=1e-12)
    with pytest.raises(ValueError, match="too small for HOG"):
        metrics.hog_pearson(np.ones((1, 8, 8)), np.ones((1, 8, 8)))
    small = metrics.hog_pearson(
        RNG.random((8, 8)), RNG.random((8, 8)), pixels_per_cell=(2, 2), cells_per_block=(2, 2)
    )
    assert -1 <= small <= 1


def test_applicable_and_compare():
    assert metrics.applicable((13,)) == ["spearman_abs", "spearman"]
    assert metrics.applicable((1, 8, 8)) == ["spearman_abs", "spearman", "ssim"]
    assert metrics.applicable((3, 32, 32)) == ["spearman_abs", "spearman", "ssim", "hog"]
    a = RNG.normal(size=(3, 1, 8, 8))
    both = metrics.compare(a, a, batch=True)
    assert set(both) == {"spearman_abs", "spearman", "ssim"}
    for values in both.values():
        np.testing.assert_allclose(values, 1.0)
    with pytest.raises(ValueError, match="'metric'"):
        metrics.compare(a, a, ["pearson"], batch=True)


def test_permutation_baseline_is_chance_level_and_seeded():
    maps = RNG.normal(size=(8, 1, 8, 8))
    base = metrics.permutation_baseline(maps, maps, "spearman", n_draws=200, seed=3)
    assert base.shape == (8, 200)
    # A random permutation's Spearman correlation: mean 0, sd 1/sqrt(n - 1) for 64 pixels.
    assert abs(base.mean()) < 0.02
    assert base.std() == pytest.approx(1 / np.sqrt(63), rel=0.1)
    again = metrics.permutation_baseline(maps, maps, "spearman", n_draws=200, seed=3)
    np.testing.assert_array_equal(base, again)
    other = metrics.permutation_baseline(maps, maps, "spearman", n_draws=200, seed=4)
    assert not np.array_equal(base, other)
    # Each draw is a permutation of the same map: the values are kept.
    identity = metrics.permutation_baseline(
        maps,
        maps,
        lambda a, b, batch: (
            np.sort(a.reshape(len(a), -1), 1)[:, 0] - np.sort(b.reshape(len(b), -1), 1)[:, 0]
        ),
        n_draws=3,
    )
    np.testing.assert_array_equal(identity, 0.0)


def test_inputs_are_not_modified():
    a, b = RNG.normal(size=(2, 1, 8, 8)), RNG.normal(size=(2, 1, 8, 8))
    a0, b0 = a.copy(), b.copy()
    metrics.compare(a, b, batch=True)
    metrics.permutation_baseline(a, b, "ssim", n_draws=2)
    np.testing.assert_array_equal(a, a0)
    np.testing.assert_array_equal(b, b0)


@pytest.mark.parametrize(
    "a, b, kwargs, error, match",
    [
        (np.ones((8, 8)), np.ones((7, 8)), {}, ValueError, "same shape"),
        (np.full((8, 8), np.nan), np.ones((8, 8)), {}, ValueError, "NaN"),
        (np.ones(5), np.ones(5), {"batch": True}, ValueError, "batch=True"),
        (np.array([]), np.array([]), {}, ValueError, "empty"),
        (np.array(["a"]), np.array(["b"]), {}, TypeError, "numeric"),
    ],
)
def test_bad_inputs_raise(a, b, kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.spearman(a, b, **kwargs)


def test_image_metrics_reject_tabular_maps_and_bad_windows():
    with pytest.raises(ValueError, match="image maps"):
        metrics.ssim(np.ones(13), np.ones(13))
    with pytest.raises(ValueError, match="odd"):
        metrics.ssim(np.ones((8, 8)), np.ones((8, 8)), win_size=4)
    with pytest.raises(ValueError, match="win_size"):
        metrics.ssim(np.ones((8, 8)), np.ones((8, 8)), win_size=9)
