"""Flip points: ``xw.flip.closest``, the individual report, the group audit, debugging.

Yousefzadeh & O'Leary, "Auditing and Debugging Deep Learning Models via Flip Points:
Individual-Level and Group-Level Analysis", La Matematica (2022).

>>> import xaiwidgets as xw
>>> ds = xw.datasets.load_credit()
>>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
>>> fp = xw.flip.closest(m, ds.X_test[0])
>>> fp.feasible
True
"""

from .analysis.believability import Believability, BelievabilityReport, believability
from .analysis.flip_audit import (
    AugmentResult,
    BiasTest,
    FlipAudit,
    FlipReport,
    audit,
    augment,
    bias_test,
    report,
)
from .explainers.exact_counterfactuals import Certificate, certify, milp_applies
from .explainers.flip_points import (
    FlipConstraints,
    FlipPoint,
    FlipPointExplainer,
    closest,
    register_solver,
)
from .plotting._flip import (
    plot_bias_test,
    plot_change_frequency,
    plot_directions,
    plot_flip_changes,
    plot_flip_path,
    plot_loadings,
    plot_ranking,
)

__all__ = [
    "AugmentResult",
    "Believability",
    "BelievabilityReport",
    "BiasTest",
    "Certificate",
    "FlipAudit",
    "FlipConstraints",
    "FlipPoint",
    "FlipPointExplainer",
    "FlipReport",
    "audit",
    "augment",
    "believability",
    "bias_test",
    "certify",
    "closest",
    "milp_applies",
    "plot_bias_test",
    "plot_change_frequency",
    "plot_directions",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_loadings",
    "plot_ranking",
    "register_solver",
    "report",
]
