"""Settings for every test item, the doctests in ``xaiwidgets/`` included."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close matplotlib figures after each test and doctest so they do not pile up."""
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
