"""Explanation.to_shap: every explanation becomes a shap.Explanation that shap can plot."""

from __future__ import annotations

import numpy as np
import shap

import xaiwidgets as xw


def test_single_and_batch_explanations_convert_and_plot(credit_model, credit):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[:3])
    single = e[0].to_shap()
    assert single.values.shape == (13,)
    assert single.output_names == [credit.class_names[e.target[0]]]
    ax = shap.plots.waterfall(single, show=False)
    assert ax is not None
    batch = e.to_shap()
    assert batch.values.shape == (3, 13)
    np.testing.assert_array_equal(batch.values, e.values)
