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
    attacks,
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
    AttackWidget,
    CompareWidget,
    DebugWidget,
    ExplainerWidget,
    FlipPointWidget,
    RegionWidget,
    SanityCheckWidget,
    Workbench,
    demo,
)

__all__ = [
    "AttackWidget",
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
    "Workbench",
    "__version__",
    "analysis",
    "attacks",
    "bugs",
    "datasets",
    "debugging",
    "demo",
    "explainers",
    "flip",
    "influence",
    "plot",
    "plotting",
    "sanity",
    "wrap",
    "zoo",
]
