"""Analyses built on explainers: sanity checks, similarity metrics, flip-point audits."""

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
    "BiasTest",
    "FlipAudit",
    "FlipReport",
    "audit",
    "augment",
    "bias_test",
    "report",
]
