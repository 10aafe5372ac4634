"""xaiwidgets: an explanation workbench for machine-learning classifiers in Jupyter.

>>> import xaiwidgets as xw
>>> ds = xw.datasets.load_credit()
>>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
>>> e = xw.explainers.IntegratedGradients(m, baseline="mean").explain(ds.X_test[0])
>>> e.values.shape
(13,)
"""

__version__ = "0.1.0.dev0"

from . import datasets, explainers, plotting, zoo  # noqa: E402
from .core import Dataset, Explanation, Feature, Model, wrap  # noqa: E402
from .plotting import plot  # noqa: E402

__all__ = [
    "Dataset",
    "Explanation",
    "Feature",
    "Model",
    "__version__",
    "datasets",
    "explainers",
    "plot",
    "plotting",
    "wrap",
    "zoo",
]
