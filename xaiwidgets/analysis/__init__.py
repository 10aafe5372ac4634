"""Analyses built on explainers: sanity checks, similarity metrics, flip-point audits.

Also ``agreement`` (how much methods agree on one input) and ``perturbation`` (the
image perturbations of the widgets); widgets call these and never compute numbers.
"""

from .believability import Believability, BelievabilityReport, believability
from .flip_audit import (
    AugmentResult,
    BiasTest,
    FlipAudit,
    FlipReport,
    audit,
    augment,
    bias_test,
    report,
)

__all__ = [
    "AugmentResult",
    "Believability",
    "BelievabilityReport",
    "BiasTest",
    "FlipAudit",
    "FlipReport",
    "audit",
    "augment",
    "believability",
    "bias_test",
    "report",
]
