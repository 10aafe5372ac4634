"""Explainers, one module per method family, all returning an ``Explanation``.

Look methods up by short name with :func:`get` (``"gradient"``, ``"gradient_x_input"``,
``"smoothgrad"``, ``"ig"``, ``"guided_backprop"``, ...) and list those that apply to a
model with :func:`available`.
"""

from ..core.explainer import Explainer, available, get, register
from . import exact_counterfactuals
from ._shap import Shap
from .fimap import Fimap
from .flip_points import FlipPointExplainer
from .gradients import Gradient, GradientXInput, GuidedBackprop, IntegratedGradients, SmoothGrad
from .lime import Lime
from .linear_region import BoxQuery, Curve, LinearRegion, Region, RegionMap

__all__ = [
    "BoxQuery",
    "Curve",
    "Explainer",
    "Fimap",
    "FlipPointExplainer",
    "Gradient",
    "GradientXInput",
    "GuidedBackprop",
    "IntegratedGradients",
    "Lime",
    "LinearRegion",
    "Region",
    "RegionMap",
    "Shap",
    "SmoothGrad",
    "available",
    "exact_counterfactuals",
    "get",
    "register",
]
