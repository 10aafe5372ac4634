"""xaiwidgets: an explanation workbench for machine-learning classifiers in Jupyter.

>>> import xaiwidgets as xw
>>> ds = xw.datasets.load_credit()
>>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
>>> e = xw.explainers.IntegratedGradients(m, baseline="mean").explain(ds.X_test[0])
>>> e.values.shape
(13,)
"""

__version__ = "0.1.0.dev0"

from . import (
    analysis,
    bugs,
    datasets,
    debugging,
    explainers,
    flip,
    influence,
    plotting,
    sanity,
    zoo,
)
from .core import Dataset, Explanation, Feature, Model, wrap
from .plotting import plot
from .widgets import (
    CompareWidget,
    DebugWidget,
    ExplainerWidget,
    FlipPointWidget,
    RegionWidget,
    SanityCheckWidget,
)

__all__ = [
    "CompareWidget",
    "Dataset",
    "DebugWidget",
    "ExplainerWidget",
    "Explanation",
    "Feature",
    "FlipPointWidget",
    "Model",
    "RegionWidget",
    "SanityCheckWidget",
    "__version__",
    "analysis",
    "bugs",
    "datasets",
    "debugging",
    "explainers",
    "flip",
    "influence",
    "plot",
    "plotting",
    "sanity",
    "wrap",
    "zoo",
]
