"""The flip-point report (Algorithm 1), group audit (Algorithm 2), paired bias test and
debugging by augmentation, checked against brute force, a linear model whose flip
directions are known, and the planted bias of load_credit."""

from __future__ import annotations

import copy
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon

import xaiwidgets as xw


@pytest.fixture(scope="module")
def planted(credit, credit_model):
    """An audit of 120 test rows inside load_credit's bias subspace and 120 outside."""
    inside = credit.ground_truth["in_bias_subspace"](credit.X_test)
    rows = np.concatenate([np.flatnonzero(inside)[:120], np.flatnonzero(~inside)[:120]])
    X, y = credit.X_test[rows], credit.y_test[rows]
    audit = xw.flip.audit(credit_model, X, y, progress=False)
    paired = xw.flip.bias_test(credit_model, X, "group", distances=False, progress=False)
    return audit, inside[rows], paired


@pytest.fixture(scope="module")
def linear_audit(credit):
    """A logistic regression with unbounded features: every flip direction is +-S^2 w."""
    model = xw.wrap(xw.zoo.train_logreg(credit), credit)
    audit = xw.flip.audit(
        model,
        credit.X_test[:40],
        credit.y_test[:40],
        bounds=None,
        fixed=["employment"],
        progress=False,
    )
    linear = model.torch_module[1]
    w = (linear.weight[1] - linear.weight[0]).detach().double().numpy()
    w[8:12] = 0.0
    return audit, w * credit.train_std


# ---------------------------------------------------------------------- the planted bias
def test_audit_finds_the_planted_group_effect(planted):
    """The rule of load_credit uses `group` only where age < 30 and years_employed < 3.

    Inside that subgroup the flip directions move `group` a lot: it is among the top
    three features both by pivoted QR and by the size of its component. Outside, its
    component is small (rms rank 7 or lower, under 0.7 of the subgroup's), and flipping
    `group` barely moves the score. Pivoted QR alone still ranks `group` high outside
    (3rd with this model): the demo MLP uses `group` there too (|effect| about 1 logit,
    sign varying from row to row), and a component that varies independently of the
    other features keeps its residual norm in QR -- see FlipAudit.ranking.
    """
    audit, inside, paired = planted
    sub, out = audit.subset(inside), audit.subset(~inside)
    assert sub.rank_of("group") <= 3
    assert sub.rank_of("group", method="rms") <= 3
    assert out.rank_of("group", method="rms") >= 7
    rms = {
        name: part.ranking().set_index("feature").loc["group", "rms change"]
        for name, part in (("in", sub), ("out", out))
    }
    assert rms["out"] < 0.7 * rms["in"]
    inside_effect = paired.subset(inside).summary.iloc[-1]
    outside_effect = paired.subset(~inside).summary.iloc[-1]
    assert inside_effect["mean effect"] < -2.5 and abs(outside_effect["mean effect"]) < 1.0
    assert inside_effect["fraction changed"] > 0.3 and outside_effect["fraction changed"] < 0.1
    assert inside_effect["wilcoxon p"] < 1e-6


def test_audit_table_splits_and_plots(planted):
    audit, _, paired = planted
    assert audit.complete and len(audit.table) == 240 and audit.table["feasible"].all()
    assert set(audit.table["direction"]) == {"approved → denied", "denied → approved"}
    assert set(audit.ranking(by="correct")["group"]) == {"correct", "incorrect"}
    by_direction = audit.change_frequency(by="direction")
    assert set(by_direction["group"]) == set(audit.table["direction"])
    summary = audit.summary()
    assert summary["n"].sum() == 240
    for plot in (
        xw.flip.plot_ranking,
        xw.flip.plot_directions,
        xw.flip.plot_change_frequency,
    ):
        ax = plot(audit)
        assert ax.get_title()
    ax = xw.flip.plot_bias_test(paired)
    assert len(ax.patches) > 0
    _, axes = plt.subplots(1, 2)
    assert xw.flip.plot_ranking(audit, ax=axes[0], top=4) is axes[0]
    assert len(axes[0].patches) == 4
    assert "<table" in audit._repr_html_()


# ---------------------------------------------------------------------- known directions
def test_ranking_pca_and_frequency_of_a_linear_model(linear_audit):
    """All unit scaled directions are +-u with u = s w / |s w|: the rms change of each
    feature is |u_f|, QR pivots first on the largest |u_f|, PC1 explains everything and
    its loadings are +-u, and a feature changes exactly where |u_f| > 0.1 max |u|."""
    audit, sw = linear_audit
    u = sw / np.linalg.norm(sw)
    ranking = audit.ranking().set_index("feature")
    names = audit.feature_names
    np.testing.assert_allclose(ranking.loc[names, "rms change"], np.abs(u), atol=1e-9)
    by_size = audit.ranking(method="rms")
    assert by_size["feature"].iloc[0] == names[int(np.argmax(np.abs(u)))]
    assert audit.ranking()["feature"].iloc[0] == names[int(np.argmax(np.abs(u)))]
    pca = audit.pca(2)
    assert pca.explained_variance_ratio[0] > 1 - 1e-9
    loadings = pca.loadings["PC1"].to_numpy()
    assert min(np.abs(loadings - u).max(), np.abs(loadings + u).max()) < 1e-8
    frequency = audit.change_frequency().set_index("feature").loc[names, "frequency"]
    np.testing.assert_array_equal(frequency, (np.abs(u) > 0.1 * np.abs(u).max()).astype(float))


def test_parallel_run_equals_sequential(credit, credit_model):
    X = credit.X_test[:6]
    serial = xw.flip.audit(credit_model, X, progress=False)
    parallel = xw.flip.audit(credit_model, X, progress=False, n_jobs=2)
    np.testing.assert_allclose(parallel.table["distance"], serial.table["distance"], rtol=1e-12)
    np.testing.assert_allclose(parallel.directions, serial.directions, atol=1e-12)
    assert parallel.flip_points[0].model is not None  # points come back with their model


def test_audit_can_be_stopped_and_interrupted(credit, credit_model):
    seen = []
    stopped = xw.flip.audit(
        credit_model,
        credit.X_test[:10],
        progress=lambda done, total: seen.append((done, total)),
        should_stop=lambda: len(seen) >= 3,
    )
    assert not stopped.complete and seen[-1] == (3, 10)
    assert stopped.table["feasible"].sum() == 3 and stopped.flip_points[5] is None
    assert "incomplete" in repr(stopped)

    def interrupt(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.warns(UserWarning, match="Interrupted after 2 of 10"):
        partial = xw.flip.audit(credit_model, credit.X_test[:10], progress=interrupt)
    assert not partial.complete and partial.table["feasible"].sum() == 2
    assert partial.ranking()["rank"].min() == 1  # what was finished is usable


# ---------------------------------------------------------------------- report
def test_report_says_no_flip_where_the_model_provably_ignores_a_feature(credit, credit_model):
    net = copy.deepcopy(credit_model.torch_module)
    with torch.no_grad():
        net[0].weight[:, [6, 7]] = 0.0  # loan_amount and dependents no longer reach the output
    blind = xw.wrap(net, credit)
    report = xw.flip.report(blind, credit.X_test[0])
    assert {"loan_amount", "dependents"} <= set(report.cannot_flip)
    assert "never changes the class" in report.flip_points["loan_amount"].reason
    assert "exhaustive enumeration" in report.flip_points["dependents"].reason
    assert report.closest.feasible
    table = report.table.set_index("subspace")
    assert not table.loc["loan_amount", "can flip"] and table.loc["loan_amount", "changes"] == ""


def test_report_single_features_agree_with_brute_force(credit, credit_model):
    x = credit.X_test[3]
    report = xw.flip.report(credit_model, x)
    own = credit_model.predict(x)[0]
    for f in credit.features:
        if f.kind == "categorical":
            values = list(np.eye(len(f.columns)))
        elif f.kind == "integer":
            values = np.arange(f.bounds[0], f.bounds[1] + 1)
        else:
            values = np.linspace(*f.bounds, 4001)
        rows = np.repeat(x[None], len(values), axis=0)
        rows[:, list(f.columns)] = np.reshape(values, (len(values), -1))
        flips = credit_model.predict(rows) != own
        fp = report.flip_points[f.name]
        assert fp.feasible == bool(flips.any()), (f.name, fp.reason)
        if flips.any():
            best = fp.constraints.distance(x, rows[flips]).min()
            if f.kind == "continuous":  # a tie lies before the first grid point past it
                assert fp.distance <= best + 1e-9
                assert (
                    fp.distance
                    >= best - (f.bounds[1] - f.bounds[0]) / 4000 / credit.train_std[f.columns[0]]
                )
            else:  # enumeration is exact
                assert fp.distance == pytest.approx(best)


def test_report_groups_pairs_tables_and_html(credit, credit_model):
    x = credit.X_test[0]
    report = xw.flip.report(
        credit_model,
        x,
        features=["income", "debt_ratio", "savings"],
        groups={"money": ["income", "savings", "loan_amount"]},
        pairs=True,
        fixed=["group"],
    )
    assert list(report.flip_points) == [
        "all features", "income", "debt_ratio", "savings", "money",
        "income + debt_ratio", "income + savings", "debt_ratio + savings",
    ]  # fmt: skip
    assert report.kinds["money"] == "group" and report.kinds["income + savings"] == "pair"
    for name, fp in report.flip_points.items():
        if fp.feasible:
            changes = report.changes(name)
            assert set(changes["feature"]) <= set(fp.constraints.free_features)
            low, high = fp.constraints.data_range.T
            for row in changes.to_dict("records"):
                column = credit.feature_names.index(row["feature"])
                outside = not low[column] - 1e-9 <= row["flip value"] <= high[column] + 1e-9
                assert row["implausible"] == outside
    assert report.closest.distance == min(fp.distance for fp in report.flip_points.values())
    html = report.to_html()
    assert "<table" in html and "Flip-point report" in html
    assert report.to_frame().shape[0] == 8


# ---------------------------------------------------------------------- paired test
def test_bias_test_pairs_match_direct_model_evaluation(credit, credit_model):
    X = credit.X_test[:25]
    test = xw.flip.bias_test(credit_model, X, "group", progress=False)
    table = test.table
    np.testing.assert_array_equal(table["counterfactual value"], 1 - X[:, 12])
    high, low = X.copy(), X.copy()
    high[:, 12], low[:, 12] = 1.0, 0.0
    gap = lambda rows: np.diff(credit_model.logits(rows), axis=1)[:, 0]  # noqa: E731
    np.testing.assert_allclose(table["effect"], gap(high) - gap(low), atol=1e-5)
    assert test.summary.iloc[-1]["wilcoxon p"] == pytest.approx(wilcoxon(table["effect"]).pvalue)
    # Signed distances: positive exactly where the input is approved (class 1).
    approved = table["prediction"] == "approved"
    assert ((table["signed distance"] > 0) == approved).all()
    assert len(test.flip_points) == 25 and test.flip_points[0].point[12] == X[0, 12]


# ---------------------------------------------------------------------- augmentation
def test_augmentation_removes_most_of_the_group_effect(credit, credit_model):
    young = credit.ground_truth["in_bias_subspace"]
    result = xw.flip.augment(
        credit_model,
        credit,
        "group",
        rows=young(credit.X_train),
        subgroup=young,
        max_eval=100,
        progress=False,
    )
    assert len(result.added) > 100
    source = credit.X_train[young(credit.X_train)]
    changed = [
        np.flatnonzero(np.all(np.delete(source, 12, 1) == np.delete(p, 12), axis=1))
        for p in result.added[:20]
    ]
    assert all(len(c) >= 1 for c in changed)  # each added row is a training row with group flipped
    summary = result.summary.set_index(["metric", "where"])
    flips = summary.loc[("predictions changed when group flips", "subgroup")]
    effect = summary.loc[("mean effect of group (high - low value)", "subgroup")]
    assert flips["after"] < 0.5 * flips["before"]
    assert abs(effect["after"]) < 0.5 * abs(effect["before"])
    accuracy = summary.loc[("accuracy", "outside")]
    assert accuracy["after"] >= accuracy["before"] - 0.03
    assert len(result.dataset.X_train) == len(credit.X_train) + len(result.added)


# ---------------------------------------------------------------------- bad input
def test_bad_input_raises_clear_errors(credit, credit_model):
    X = credit.X_test[:4]
    with pytest.raises(ValueError, match="y must hold one label per row"):
        xw.flip.audit(credit_model, X, credit.y_test[:3], progress=False)
    with pytest.raises(TypeError, match="progress must be"):
        xw.flip.audit(credit_model, X, progress="yes")
    with pytest.raises(ValueError, match="'change_threshold' parameter"):
        xw.flip.audit(credit_model, X, change_threshold=2.0, progress=False)
    with pytest.raises(TypeError, match="Unknown option"):
        xw.flip.audit(credit_model, X, steps=5, progress=False)
    audit = xw.flip.audit(credit_model, X[:2], progress=False)
    with pytest.raises(ValueError, match="by='correct' needs labels"):
        audit.ranking(by="correct")
    with pytest.raises(ValueError, match="mask must be a boolean array of 2 rows"):
        audit.subset(np.ones(3, dtype=bool))
    with pytest.raises(ValueError, match="'method' parameter"):
        audit.ranking(method="svd")
    with pytest.raises(ValueError, match="cannot change in this domain"):
        xw.flip.report(credit_model, X[0], features=["group"], fixed=["group"])
    with pytest.raises(ValueError, match="clashes"):
        xw.flip.report(credit_model, X[0], groups={"income": ["income", "savings"]})
    with pytest.raises(ValueError, match="4 categories"):
        xw.flip.bias_test(credit_model, X, "employment", progress=False)
    with pytest.raises(ValueError, match="not a feature"):
        xw.flip.bias_test(credit_model, X, "gender", progress=False)
    with pytest.raises(TypeError, match="dataset must be an xaiwidgets Dataset"):
        xw.flip.augment(credit_model, credit.X_train, "group", progress=False)
    with pytest.raises(ValueError, match="cannot change in this domain"):
        xw.flip.augment(credit_model, credit, "group", fixed=["group"], progress=False)


def test_audit_leaves_inputs_unchanged(credit, credit_model):
    X = credit.X_test[:3].copy()
    before = X.copy()
    weights = [p.detach().clone() for p in credit_model.torch_module.parameters()]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        audit = xw.flip.audit(credit_model, X, attribute="group", progress=False)
    assert audit.bias.attribute == "group" and len(audit.bias.table) == 3
    assert len(audit.subset([0, 2]).bias.table) == 2
    np.testing.assert_array_equal(X, before)
    for p, q in zip(credit_model.torch_module.parameters(), weights, strict=True):
        assert torch.equal(p, q)
