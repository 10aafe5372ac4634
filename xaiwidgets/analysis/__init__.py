"""Analyses built on explainers: flip-point reports, audits and debugging."""

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
