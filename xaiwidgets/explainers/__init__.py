"""Explainers, one module per method family, all returning an ``Explanation``.

Look methods up by short name with :func:`get` (``"gradient"``, ``"gradient_x_input"``,
``"smoothgrad"``, ``"ig"``, ``"guided_backprop"``, ...) and list those that apply to a
model with :func:`available`.
"""

from ..core.explainer import Explainer, available, get, register
from .flip_points import FlipPointExplainer
from .gradients import Gradient, GradientXInput, GuidedBackprop, IntegratedGradients, SmoothGrad

__all__ = [
    "Explainer",
    "FlipPointExplainer",
    "Gradient",
    "GradientXInput",
    "GuidedBackprop",
    "IntegratedGradients",
    "SmoothGrad",
    "available",
    "get",
    "register",
]
