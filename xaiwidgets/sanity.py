"""Randomization sanity checks (Adebayo et al. 2018), as ``xw.sanity``.

>>> import xaiwidgets as xw
>>> sorted(xw.sanity.metrics.METRICS)
['hog', 'spearman', 'spearman_abs', 'ssim']
"""

from .analysis import metrics
from .analysis.sanity import (
    DEFAULT_METHODS,
    SanityResult,
    clear_cache,
    data_randomization,
    layers,
    model_randomization,
    randomize,
)

__all__ = [
    "DEFAULT_METHODS",
    "SanityResult",
    "clear_cache",
    "data_randomization",
    "layers",
    "metrics",
    "model_randomization",
    "randomize",
]
