"""Randomization sanity checks (Adebayo et al. 2018) on the digits CNN and a digits MLP.

The qualitative findings of the paper must reproduce: gradient-type maps decorrelate
as layers are randomized, gradient x input and IG stay visually similar while their
signed ranking collapses, guided backprop barely reacts to the top layers.
"""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression

import xaiwidgets as xw
from xaiwidgets.analysis import sanity

N_INPUTS = 24


@pytest.fixture(scope="module")
def X(digits):
    return digits.X_test[:N_INPUTS]


@pytest.fixture(scope="module", params=["cnn", "mlp"])
def cascading(request, digits_cnn, digits_mlp, X):
    model = digits_cnn if request.param == "cnn" else digits_mlp
    return xw.sanity.model_randomization(model, X, progress=False, cache=False)


def _mean(result, method, metric, stage):
    table = result.table
    rows = table[(table.method == method) & (table.metric == metric) & (table.stage == stage)]
    assert len(rows) == len(result.X)
    return rows["value"].mean()


def _state(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


# ---------------------------------------------------------------------------- the paper's findings
def test_gradient_and_smoothgrad_decorrelate(cascading):
    last = cascading.stages[-1]
    for method in ("gradient", "smoothgrad"):
        assert _mean(cascading, method, "spearman_abs", 0) == pytest.approx(1.0)
        assert _mean(cascading, method, "spearman_abs", last) < 0.2
        assert _mean(cascading, method, "ssim", last) < 0.2


def test_gradient_x_input_and_ig_stay_visually_similar_but_ranks_collapse(cascading):
    last = cascading.stages[-1]
    band = cascading.baseline_band().set_index(["method", "metric"])
    gradient_ssim = _mean(cascading, "gradient", "ssim", last)
    for method in ("gradient_x_input", "ig"):
        assert _mean(cascading, method, "spearman_abs", last) > 0.85
        ssim = _mean(cascading, method, "ssim", last)
        assert ssim > band.loc[(method, "ssim"), "high"]
        assert ssim > gradient_ssim + 0.25
        # The visual-vs-ranking split: the signed ranking is at chance level.
        signed = _mean(cascading, method, "spearman", last)
        assert abs(signed) < 0.2
        assert (
            band.loc[(method, "spearman"), "low"] < signed < band.loc[(method, "spearman"), "high"]
        )


def test_guided_backprop_changes_far_less_than_gradient_on_top_layers(cascading):
    for metric in ("spearman_abs", "spearman", "ssim"):
        assert _mean(cascading, "guided_backprop", metric, 1) > _mean(
            cascading, "gradient", metric, 1
        )
    assert (
        _mean(cascading, "guided_backprop", "spearman", 1)
        > _mean(cascading, "gradient", "spearman", 1) + 0.3
    )


# ---------------------------------------------------------------------------- guarantees
def test_caller_model_rng_and_inputs_unchanged(digits_cnn, X):
    module = digits_cnn.torch_module
    module.train()  # a caller's module in train mode comes back in train mode
    before, rng, X0 = _state(module), torch.get_rng_state(), X.copy()
    try:
        xw.sanity.model_randomization(digits_cnn, X, order="independent", progress=False)
        xw.sanity.model_randomization(digits_cnn, X[:3], progress=False, cache=False)
        after = _state(module)
        assert before.keys() == after.keys()
        for key in before:
            assert torch.equal(before[key], after[key]), key
        assert all(m.training for m in module.modules())
        assert not any(m._backward_hooks for m in module.modules())
        assert torch.equal(rng, torch.get_rng_state())
        np.testing.assert_array_equal(X, X0)
    finally:
        module.eval()


def test_no_nan_anywhere(cascading):
    assert cascading.table["value"].notna().all()
    assert cascading.baseline["value"].notna().all()
    for maps in cascading.maps.values():
        assert np.all(np.isfinite(maps))
    assert set(cascading.predictions) == set(cascading.stages)


def test_same_seed_same_result_other_seed_other_result(digits_cnn, X):
    kwargs = {"methods": ["gradient", "smoothgrad"], "progress": False, "cache": False}
    a = xw.sanity.model_randomization(digits_cnn, X[:6], seed=3, **kwargs)
    b = xw.sanity.model_randomization(digits_cnn, X[:6], seed=3, **kwargs)
    c = xw.sanity.model_randomization(digits_cnn, X[:6], seed=4, **kwargs)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.baseline, b.baseline)
    for key in a.maps:
        np.testing.assert_array_equal(a.maps[key], b.maps[key])
    assert not np.array_equal(a.maps[("gradient", 1)], c.maps[("gradient", 1)])


def test_stages_are_the_randomized_models(digits_cnn, X):
    """Each stage's maps are those of randomize() with the same layers and seed."""
    layers = xw.sanity.layers(digits_cnn)
    assert layers == ["7", "5", "2", "0"]
    cascading = xw.sanity.model_randomization(
        digits_cnn, X[:5], ["gradient"], seed=1, progress=False
    )
    independent = xw.sanity.model_randomization(
        digits_cnn, X[:5], ["gradient"], order="independent", seed=1, progress=False
    )
    target = digits_cnn.predict(X[:5])
    for k, name in enumerate(layers, start=1):
        alone = xw.sanity.randomize(digits_cnn, [name], seed=1)
        top = xw.sanity.randomize(digits_cnn, layers[:k], seed=1)
        for result, model in ((independent, alone), (cascading, top)):
            expected = xw.explainers.Gradient(model).explain(X[:5], target=target).values
            np.testing.assert_allclose(
                result.maps[("gradient", k)], expected, rtol=1e-5, atol=1e-6
            )
        # A layer gets the same weights whichever other layers are randomized with it.
        torch.testing.assert_close(
            dict(alone.torch_module.named_modules())[name].weight,
            dict(top.torch_module.named_modules())[name].weight,
        )
    assert independent.stage_labels == ["original", "Linear 7", "Linear 5", "Conv2d 2", "Conv2d 0"]
    assert list(independent.targets[4]) == list(target)


def test_randomized_layers_really_change_and_others_do_not(digits_mlp):
    copy = xw.sanity.randomize(digits_mlp, ["3"], seed=0)
    original = dict(digits_mlp.torch_module.named_modules())
    changed = dict(copy.torch_module.named_modules())
    assert not torch.equal(original["3"].weight, changed["3"].weight)
    for name in ("1", "5"):
        assert torch.equal(original[name].weight, changed[name].weight)
    truncated = xw.sanity.randomize(digits_mlp, "5", init="truncated_normal")
    weight = dict(truncated.torch_module.named_modules())["5"].weight
    assert weight.abs().max() <= 0.02 + 1e-7
    assert torch.all(dict(truncated.torch_module.named_modules())["5"].bias == 0)


def test_target_follows_each_model_when_asked(digits_cnn, X):
    r = xw.sanity.model_randomization(
        digits_cnn, X[:6], ["gradient"], target="predicted", progress=False
    )
    for stage in r.stages:
        np.testing.assert_array_equal(r.targets[stage], r.predictions[stage])
    fixed = xw.sanity.model_randomization(
        digits_cnn, X[:6], ["gradient"], target=3, progress=False
    )
    assert all((t == 3).all() for t in fixed.targets.values())
    default = xw.sanity.model_randomization(digits_cnn, X[:6], ["gradient"], progress=False)
    for stage in default.stages:
        np.testing.assert_array_equal(default.targets[stage], default.predictions[0])


def test_cache_returns_the_same_result_until_the_weights_change(digits_mlp, X):
    model = digits_mlp.to_dtype(torch.float32)  # a private copy we may change
    first = xw.sanity.model_randomization(model, X[:4], ["gradient"], progress=False)
    assert xw.sanity.model_randomization(model, X[:4], ["gradient"], progress=False) is first
    with torch.no_grad():
        model.torch_module[1].bias += 1.0
    changed = xw.sanity.model_randomization(model, X[:4], ["gradient"], progress=False)
    assert changed is not first
    table = first.table
    table.loc[0, "value"] = 99.0  # the table is a copy: the cache is safe
    assert first.table.loc[0, "value"] != 99.0
    with pytest.raises(ValueError, match="read-only"):
        first.maps[("gradient", 0)][0, 0, 0, 0] = 1.0


def test_progress_callback_and_cancel(digits_mlp, X):
    calls = []
    r = xw.sanity.model_randomization(
        digits_mlp,
        X[:3],
        ["gradient", "gradient_x_input"],
        progress=lambda done, total: calls.append((done, total)),
        cache=True,
        seed=7,
    )
    assert calls == [(i, 8) for i in range(1, 9)]

    def cancel(done, total):
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        xw.sanity.model_randomization(digits_mlp, X[:3], ["gradient"], progress=cancel, seed=8)
    # Nothing half-finished was cached: the same call now runs to the end.
    done = xw.sanity.model_randomization(digits_mlp, X[:3], ["gradient"], progress=False, seed=8)
    assert len(done.stage_labels) == 4
    assert r.params["seed"] == 7


def test_method_parameters_custom_metrics_and_layer_subsets(digits_cnn, X):
    def pearson(a, b, batch=True):
        a, b = a.reshape(len(a), -1), b.reshape(len(b), -1)
        return np.array([np.corrcoef(x, y)[0, 1] for x, y in zip(a, b, strict=True)])

    r = xw.sanity.model_randomization(
        digits_cnn,
        X[:4],
        [("smoothgrad", {"n_samples": 8, "sigma": 0.1}), "ig"],
        similarity={"pearson": pearson},
        layers=["7", "0"],
        progress=False,
    )
    assert r.params["methods"]["smoothgrad"]["n_samples"] == 8
    assert r.metrics == ["pearson"]
    assert r.layers == ["none", "7", "0"]
    assert set(r.table["metric"]) == {"pearson"}
    np.testing.assert_allclose(r.table.query("stage == 0")["value"], 1.0)


def test_tabular_model_and_summary(credit, credit_model):
    r = xw.sanity.model_randomization(credit_model, credit.X_test[:5], progress=False)
    assert r.metrics == ["spearman_abs", "spearman"]
    summary = r.summary()
    assert list(summary.columns) == [
        "method",
        "stage",
        "layer",
        "metric",
        "mean",
        "std",
        "sem",
        "n",
    ]
    assert (summary["n"] == 5).all()
    fig = r.plot_strip(2)
    assert len(fig.axes) == len(r.methods)
    assert r.summary(inputs=[0])["n"].eq(1).all()


def test_plots_return_what_they_drew(digits_cnn, X):
    import matplotlib.figure

    r = xw.sanity.model_randomization(digits_cnn, X[:4], ["gradient", "ig"], progress=False)
    fig = r.plot_strip(1, mode="diverging")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) == 2 * (1 + len(r.stages))
    assert fig.axes[1].get_title() == "original"
    again = r.plot_strip(0, methods=["ig"], stages=[0, 4], fig=fig)
    assert again is fig and len(fig.axes) == 3
    axes = r.plot_curves()
    assert [ax.get_title() for ax in axes] == [xw.sanity.metrics.get(m).label for m in r.metrics]
    assert len(axes[0].lines) == 1 + len(r.methods)  # the dashed start line and one per method
    ax = r.plot_bars(metrics=["ssim", "spearman"], methods=["ig"])
    assert len(ax.patches) == 2


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"order": "bottom_up"}, ValueError, "'order'"),
        ({"methods": ["nope"]}, ValueError, "Unknown explainer"),
        ({"methods": ["gradient", "gradient"]}, ValueError, "more than once"),
        ({"methods": [("smoothgrad", 3)]}, TypeError, "methods"),
        ({"methods": [("smoothgrad", {"n_samples": 0})]}, ValueError, "n_samples"),
        ({"similarity": ["hog"]}, ValueError, "does not apply"),
        ({"similarity": ["pearson"]}, ValueError, "'metric'"),
        ({"layers": ["99"]}, ValueError, "layers must name"),
        ({"target": 10}, ValueError, "class index"),
        ({"target": "best"}, ValueError, "'target'"),
        ({"init": "xavier"}, ValueError, "'init'"),
        ({"batchnorm": "freeze"}, ValueError, "'batchnorm'"),
        ({"seed": -1}, ValueError, "'seed'"),
        ({"n_baseline": 0}, ValueError, "'n_baseline'"),
        ({"threads": 0}, ValueError, "'threads'"),
        ({"progress": "yes"}, TypeError, "progress"),
    ],
)
def test_bad_arguments_raise(digits_cnn, X, kwargs, error, match):
    args = {"methods": ["gradient"], "progress": False, **kwargs}
    with pytest.raises(error, match=match):
        xw.sanity.model_randomization(digits_cnn, X[:2], **args)


def test_bad_models_and_inputs_raise(digits, X, digits_cnn):
    flat = digits.X_train.reshape(len(digits.X_train), -1)
    logreg = LogisticRegression(max_iter=200).fit(flat[:300], digits.y_train[:300])
    with pytest.raises(TypeError, match="torch model"):
        xw.sanity.model_randomization(xw.wrap(logreg, input_shape=(64,)), flat[:2], progress=False)
    with pytest.raises(ValueError, match="X must have shape"):
        xw.sanity.model_randomization(digits_cnn, np.zeros((2, 8, 8)), progress=False)
    with pytest.raises(ValueError, match="NaN"):
        bad = X[:2].copy()
        bad[0, 0, 0, 0] = np.nan
        xw.sanity.model_randomization(digits_cnn, bad, progress=False)

    class Scale(torch.nn.Module):  # owns a parameter but cannot reset it
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.w * x

    odd = xw.wrap(
        torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10), Scale()), digits
    )
    with pytest.raises(TypeError, match="reset_parameters"):
        xw.sanity.model_randomization(odd, X[:2], ["gradient"], progress=False)
    r = xw.sanity.model_randomization(
        odd, X[:2], ["gradient"], init="truncated_normal", progress=False
    )
    assert r.layers == ["none", "2", "1"]


# ---------------------------------------------------------------------------- batch normalization
@pytest.fixture(scope="module")
def bn_model(digits):
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(1, 4, 3, padding=1),
        torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(256, 10),
    )
    net.train()
    with torch.no_grad():  # give the running statistics trained-looking values
        for _ in range(3):
            net(torch.tensor(digits.X_train[:256], dtype=torch.float32))
    return xw.wrap(net.eval(), digits)


@pytest.mark.parametrize("batchnorm", ["keep", "recompute"])
def test_batchnorm_models_stay_finite(bn_model, X, batchnorm):
    r = xw.sanity.model_randomization(
        bn_model, X[:4], ["gradient"], batchnorm=batchnorm, progress=False, cache=False
    )
    assert r.layers == ["none", "4", "1", "0"]
    assert r.table["value"].notna().all()


def test_batchnorm_recompute_matches_the_calibration_statistics(bn_model, digits):
    module = sanity.randomize(bn_model, ["0"], seed=0).torch_module
    calibration = digits.X_train[:512]
    sanity._recompute_batchnorm(module, calibration)
    with torch.no_grad():
        conv = module[0](torch.tensor(calibration, dtype=torch.float32))
    torch.testing.assert_close(module[1].running_mean, conv.mean(dim=(0, 2, 3)))
    torch.testing.assert_close(
        module[1].running_var, conv.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-6
    )
    assert module[1].momentum == 0.1 and not module.training


def test_non_finite_randomized_model_raises(digits_mlp, X):
    def huge(module):
        torch.nn.init.constant_(module.weight, 1e30)

    with pytest.raises(ValueError, match="non-finite outputs"):
        xw.sanity.model_randomization(digits_mlp, X[:2], ["gradient"], init=huge, progress=False)


# ---------------------------------------------------------------------------- data randomization
MEMORIZING_MLP = functools.partial(
    xw.zoo.train_mlp, hidden=(256, 256), epochs=80, weight_decay=0.0, progress=False
)


@pytest.fixture(scope="module")
def data_result(digits):
    return xw.sanity.data_randomization(
        digits, MEMORIZING_MLP, X=digits.X_test[:16], progress=False
    )


def test_data_randomization_fits_random_labels(data_result):
    accuracy = data_result.accuracy.set_index("model")
    assert accuracy.loc["random labels", "train"] >= 0.95
    assert accuracy.loc["random labels", "test"] < 0.2  # ten classes: chance is 0.1
    assert accuracy.loc["true labels", "test"] > 0.9
    assert data_result.stage_labels == ["true labels", "random labels"]
    assert set(data_result.models) == {"true labels", "random labels"}


def test_data_randomization_findings(data_result):
    r = data_result
    assert r.table["value"].notna().all()
    for method in ("gradient", "smoothgrad"):
        assert _mean(r, method, "spearman_abs", 1) < 0.5
        assert _mean(r, method, "spearman", 1) < 0.3
    for method in ("gradient_x_input", "ig"):
        assert _mean(r, method, "spearman_abs", 1) > 0.8  # the input dominates
        assert abs(_mean(r, method, "spearman", 1)) < 0.3
    ax = r.plot_bars()
    assert ax.get_title() == "random labels vs true labels"


def test_data_randomization_leaves_the_dataset_alone_and_warns_when_unfitted(digits):
    y_before = digits.y_train.copy()
    for _ in range(2):  # the cached result warns again
        with pytest.warns(UserWarning, match="fits only"):
            xw.sanity.data_randomization(
                digits,
                MEMORIZING_MLP,
                ["gradient"],
                X=digits.X_test[:2],
                min_train_accuracy=1.0,
                progress=False,
            )
    np.testing.assert_array_equal(digits.y_train, y_before)


def test_data_randomization_bad_arguments(digits):
    with pytest.raises(TypeError, match="Dataset"):
        xw.sanity.data_randomization(digits.X_train, MEMORIZING_MLP, progress=False)
    with pytest.raises(TypeError, match="train_fn"):
        xw.sanity.data_randomization(digits, "mlp", progress=False)
    with pytest.raises(ValueError, match="'min_train_accuracy'"):
        xw.sanity.data_randomization(digits, MEMORIZING_MLP, min_train_accuracy=2.0)
    calls = []

    def never(data):  # bad inputs are caught before any training
        calls.append(data)
        raise AssertionError("trained")

    with pytest.raises(ValueError, match="X must have shape"):
        xw.sanity.data_randomization(digits, never, X=np.zeros((2, 8, 8)), progress=False)
    with pytest.raises(ValueError, match="does not apply"):
        xw.sanity.data_randomization(digits, never, similarity=["hog"], progress=False)
    assert not calls


def test_data_randomization_same_seed_same_result(digits, data_result):
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        again = xw.sanity.data_randomization(
            digits, MEMORIZING_MLP, X=digits.X_test[:16], progress=False, cache=False
        )
    pd.testing.assert_frame_equal(again.table, data_result.table)
