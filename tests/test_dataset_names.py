"""Dataset names are plain str, so titles and tables show them cleanly."""

import numpy as np

import xaiwidgets as xw


def test_names_are_plain_str_even_from_numpy_strings(breast_cancer):
    assert all(type(name) is str for name in breast_cancer.class_names)
    assert all(type(name) is str for name in breast_cancer.feature_names)
    ds = xw.datasets.load_moons(n=50)
    renamed = ds.replace(class_names=list(np.array(["a", "b"])))
    assert [type(c) for c in renamed.class_names] == [str, str]
    assert repr(renamed.class_names[0]) == "'a'"
