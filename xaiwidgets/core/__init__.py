"""Core layer: the model adapter, data set container, explanation result and validation."""

from .dataset import Dataset, Feature
from .explainer import Explainer, available, get, register
from .explanation import Explanation
from .model import Model, wrap

__all__ = [
    "Dataset",
    "Explainer",
    "Explanation",
    "Feature",
    "Model",
    "available",
    "get",
    "register",
    "wrap",
]
