"""Debugging tests: K-SSD, CCM, FAM, FAM-GT and the model-vs-model comparisons."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from scipy import stats
from skimage.metrics import structural_similarity

import xaiwidgets as xw

DebugMaps = xw.debugging.DebugMaps


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


# ============================================================================ by hand
def _direct_spearman_abs(a, b):
    return np.array(
        [
            stats.spearmanr(np.abs(x).ravel(), np.abs(y).ravel())[0]
            for x, y in zip(a, b, strict=True)
        ]
    )


def _direct_ssim(a, b):
    def norm(m):
        m = np.abs(m).sum(axis=0)
        return m / m.max()

    return np.array(
        [
            structural_similarity(norm(x), norm(y), data_range=1.0, win_size=5)
            for x, y in zip(a, b, strict=True)
        ]
    )


def test_measures_equal_a_direct_computation_on_hand_made_maps():
    """Each measure compares the documented pair of map sets with the shared metrics."""
    rng = np.random.default_rng(0)
    shape = (3, 1, 8, 8)
    normal_normal, buggy_normal, buggy_spurious, normal_spurious = (
        rng.normal(size=shape) for _ in range(4)
    )
    truth = np.zeros(shape)
    truth[:, 0, 6:, 6:] = 1.0
    buggy_spurious[:, 0, 6:, 6:] += 3.0  # the buggy model looks at the tag
    maps = DebugMaps(
        {
            ("m", "normal", "normal"): normal_normal,
            ("m", "buggy", "normal"): buggy_normal,
            ("m", "buggy", "spurious"): buggy_spurious,
            ("m", "normal", "spurious"): normal_spurious,
        },
        ground_truth=truth,
    )
    table = xw.debugging.measures(maps, baseline=False).set_index(["measure", "metric"])
    pairs = {
        "K-SSD": (buggy_spurious, truth),
        "CCM": (buggy_normal, normal_normal),
        "FAM": (normal_spurious, buggy_spurious),
        "FAM-GT": (normal_spurious, truth),
    }
    for measure, (a, b) in pairs.items():
        for metric, direct in (("spearman_abs", _direct_spearman_abs), ("ssim", _direct_ssim)):
            values = direct(a, b)
            row = table.loc[(measure, metric)]
            assert row["mean"] == pytest.approx(values.mean(), abs=1e-12)
            assert row["sem"] == pytest.approx(stats.sem(values), abs=1e-12)
            assert row["n"] == 3
    assert table.loc[("K-SSD", "spearman_abs"), "mean"] > 0.3  # the planted look


def test_random_baseline_rows_use_random_maps_through_the_same_measures():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(40, 13))
    maps = DebugMaps(
        {("m", "normal", "normal"): a, ("m", "buggy", "normal"): a}, kind="noisy_labels_like"
    )
    table = xw.debugging.measures(maps, seed=3)
    assert list(table["metric"].unique()) == ["spearman_abs"]  # tabular: no SSIM
    real = table[table["method"] == "m"].iloc[0]
    random = table[table["method"] == "random"].iloc[0]
    assert real["mean"] == 1.0
    assert abs(random["mean"]) < 3 * random["sem"] + 0.05
    again = xw.debugging.measures(maps, seed=3)
    assert again.equals(table)


# ============================================================================ the tag
@pytest.fixture(scope="module")
def tag_pair(digits):
    bug = xw.bugs.spurious_signal(digits, kind="tag", aligned_class=0)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    return bug, normal, buggy


IMAGE_METHODS = [
    "gradient",
    "gradient_x_input",
    "smoothgrad",
    "ig",
    "guided_backprop",
    ("lime", {"n_samples": 300}),
    ("shap", {"max_evals": 200, "background": 20}),
    "linear_region",
]


def test_every_image_method_gives_finite_measures_and_beats_random_maps_on_the_tag(
    tag_pair, digits
):
    """All registry methods that explain images (flip points: see the credit test)."""
    bug, normal, buggy = tag_pair
    before = (_state(normal.torch_module), _state(buggy.torch_module))
    X = digits.X_test[digits.y_test != 0][:4]
    table = xw.debugging.report(normal, buggy, bug, X, methods=IMAGE_METHODS, progress=False)
    print(table.pivot_table(index="method", columns=["measure", "metric"], values="mean").round(2))
    assert np.isfinite(table["mean"]).all() and np.isfinite(table["sem"]).all()
    assert set(table["measure"]) == {"K-SSD", "CCM", "FAM", "FAM-GT"}
    kssd = table[table["measure"] == "K-SSD"].set_index(["metric", "method"])["mean"]
    for metric in ("spearman_abs", "ssim"):
        real = kssd[metric].drop("random")
        assert (real > kssd[(metric, "random")]).all(), (metric, real)
    for module, state in zip((normal.torch_module, buggy.torch_module), before, strict=True):
        assert all(torch.equal(v, module.state_dict()[k]) for k, v in state.items())


def test_explain_pair_keeps_predictions_inputs_and_maps_for_the_grid(tag_pair, digits):
    bug, normal, buggy = tag_pair
    X = digits.X_test[:3]
    maps = xw.debugging.explain_pair(normal, buggy, bug, X, methods=["gradient"], progress=False)
    np.testing.assert_array_equal(maps.inputs["spurious"], bug.apply(X))
    np.testing.assert_array_equal(maps.ground_truth, bug.ground_truth(X))
    np.testing.assert_array_equal(
        maps.predictions["buggy", "spurious"], buggy.predict(bug.apply(X))
    )
    expected = xw.explainers.Gradient(buggy).explain(bug.apply(X)).values
    # float32 networks: one thread inside explain_pair, torch's default here.
    np.testing.assert_allclose(maps["gradient", "buggy", "spurious"], expected, rtol=1e-4)
    assert maps.columns[:2] == [("normal", "normal"), ("buggy", "normal")]
    fig = maps.plot_grid(2)
    assert len(fig.axes) == 5
    ax = xw.plotting.plot_debug_measures(xw.debugging.measures(maps), "ssim")
    assert len(ax.patches) == 4  # one bar per measure; random is the dashed line
    # A fixed target explains that class in every set.
    fixed = xw.debugging.explain_pair(
        normal, buggy, bug, X, methods=["gradient"], target=3, progress=False
    )
    np.testing.assert_allclose(
        fixed["gradient", "normal", "spurious"],
        xw.explainers.Gradient(normal).explain(bug.apply(X), target=3).values,
        rtol=1e-4,
    )


def test_every_tabular_method_on_the_spurious_column(credit):
    """SHAP is covered on images above (its tabular algorithms take seconds here)."""
    bug = xw.bugs.spurious_signal(credit, aligned_class=0, relabel=0.0)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_mlp, progress=False)
    methods = [
        "gradient",
        "gradient_x_input",
        "smoothgrad",
        "ig",
        "guided_backprop",
        ("lime", {"n_samples": 300}),
        "flip_point",
        "linear_region",
        # FIMAP trains a network per model; a short, quiet training suffices here.
        ("fimap", {"epochs": 10, "surrogate_epochs": 10, "width": 32, "progress": False}),
    ]
    X = bug.clean.X_test[:3]
    table = xw.debugging.report(normal, buggy, bug, X, methods=methods, progress=False)
    assert np.isfinite(table["mean"]).all()
    assert set(table["metric"]) == {"spearman_abs"}
    kssd = table[table["measure"] == "K-SSD"].set_index("method")["mean"]
    print(kssd.round(2).to_dict())
    # Every attribution method ranks the spurious column first on every input: with a
    # one-hot truth over 14 columns that is Spearman sqrt(1/5) = 0.447. FIMAP's
    # perturbations do not single it out (measured at chance, also fully trained).
    attributions = kssd.drop(["random", "fimap"])
    np.testing.assert_allclose(attributions, np.sqrt(1 / 5), atol=0.01)


# ============================================================================ other bugs
def test_noisy_labels_flipped_points_look_like_the_others(digits):
    """Thesis Sec. 4.3: a flipped point's maps under the two models are as alike as
    any other training point's, so maps do not single out mislabelled points."""
    bug = xw.bugs.noisy_labels(digits, fraction=0.2, seed=0)
    mlp = functools.partial(xw.zoo.train_mlp, hidden=(64, 64))
    normal, buggy = xw.bugs.train_pair(bug, mlp, progress=False)
    methods = list(xw.sanity.DEFAULT_METHODS)
    table = xw.debugging.report(normal, buggy, bug, 40, methods=methods, progress=False)
    pivot = table.pivot_table(index=["metric", "method"], columns="measure", values="mean")
    print(pivot.round(2))
    real = pivot.drop(index="random", level="method")
    assert (abs(real["flipped"] - real["not flipped"]) < 0.2).all()
    assert (real["flipped"] > pivot.xs("random", level="method")["flipped"].max() + 0.2).all()


def test_out_of_distribution_maps_look_alike_but_rank_differently(digits):
    """Thesis Table 4.4: visually similar (|map| ranks, SSIM), signed ranks unrelated."""
    bug = xw.bugs.out_of_distribution(digits)
    mlp = functools.partial(xw.zoo.train_mlp, hidden=(64, 64))
    normal, buggy = xw.bugs.train_pair(bug, mlp, progress=False)
    table = xw.debugging.report(
        normal,
        buggy,
        bug,
        bug.X_ood[:40],
        methods=["gradient_x_input", "ig"],
        metrics=["spearman_abs", "spearman", "ssim"],
        progress=False,
    )
    means = table.set_index(["method", "metric"])["mean"]
    print(means.round(2).to_dict())
    for method in ("gradient_x_input", "ig"):
        assert means[(method, "spearman_abs")] > 0.7
        assert means[(method, "spearman")] < 0.3


def test_parameter_randomization_reuses_the_sanity_randomization(digits):
    bug = xw.bugs.parameter_randomization(digits, layers=2, seed=4)
    normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    expected = xw.sanity.randomize(normal, xw.sanity.layers(normal)[:2], seed=4)
    for key, value in expected.torch_module.state_dict().items():
        assert torch.equal(value, buggy.torch_module.state_dict()[key])
    X = digits.X_test[:10]
    table = xw.debugging.report(normal, buggy, bug, X, methods=["gradient"], progress=False)
    assert set(table["measure"]) == {"normal vs buggy"}
    gradient = table.set_index(["method", "metric"])["mean"][("gradient", "spearman_abs")]
    assert gradient < 0.6  # Adebayo et al. 2018: gradients see the randomization


# ============================================================================ errors
def test_bad_arguments_are_named(tag_pair, digits):
    bug, normal, buggy = tag_pair
    a = np.zeros((2, 1, 8, 8))
    with pytest.raises(ValueError, match="one shape"):
        DebugMaps({("m", "normal", "normal"): a, ("m", "buggy", "normal"): a[:1]}, kind="x")
    with pytest.raises(ValueError, match="lacks"):
        DebugMaps({("m", "normal", "normal"): a}, kind="x")
    with pytest.raises(ValueError, match="ground_truth"):
        DebugMaps(
            {
                (m, i, j): a
                for m in ["m"]
                for i in ["normal", "buggy"]
                for j in ["normal", "spurious"]
            }
        )
    with pytest.raises(ValueError, match="'metric'"):
        xw.debugging.report(normal, buggy, bug, digits.X_test[:2], ["gradient"], metrics=["nope"])
    with pytest.raises(TypeError, match="DebugMaps"):
        xw.debugging.measures({"a": a})
    with pytest.raises(ValueError, match="Pass X"):
        xw.debugging.report(normal, buggy, bug, methods=["gradient"])
    with pytest.raises(TypeError, match="Bug"):
        xw.debugging.report(normal, buggy, digits, digits.X_test[:2])
    with pytest.raises(ValueError, match="X must have shape"):
        xw.debugging.report(normal, buggy, bug, digits.X_test[:2, 0], ["gradient"])
    with pytest.raises(ValueError, match="Unknown explainer"):
        xw.debugging.report(normal, buggy, bug, digits.X_test[:2], ["nope"])
    noisy = xw.bugs.noisy_labels(digits)
    with pytest.raises(TypeError, match="how many flipped"):
        xw.debugging.explain_pair(normal, normal, noisy, digits.X_test[:2], ["gradient"])
    with pytest.raises(ValueError, match="Unknown methods"):
        xw.debugging.explain_pair(
            normal, buggy, bug, digits.X_test[:2], ["gradient"], progress=False
        ).plot_grid(0, methods=["ig"])
    with pytest.raises(ValueError, match="some points, but not all"):
        xw.plotting.detection_curve([1.0, 2.0], [True, True])


def test_progress_callbacks_count_the_models_and_the_map_sets(tag_pair, digits):
    """A callable ``progress`` (a widget's own bar) hears 0 first, then every step."""
    bug, _, _ = tag_pair
    calls = []
    xw.bugs.clear_cache()  # not from the session cache, so that both models are reported
    normal, buggy = xw.bugs.train_pair(
        bug, xw.zoo.train_cnn, progress=lambda done, total: calls.append((done, total))
    )
    assert calls == [(0, 2), (1, 2), (2, 2)]
    calls.clear()
    xw.debugging.explain_pair(
        normal,
        buggy,
        bug,
        digits.X_test[:2],
        methods=["gradient", "ig"],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(k, 8) for k in range(9)]  # 2 methods x 2 models x 2 input kinds
    with pytest.raises(TypeError, match="progress"):
        xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress="yes")
