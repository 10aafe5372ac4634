"""Debugging tests for explanations (Adebayo 2022), as ``xw.debugging``.

>>> import xaiwidgets as xw
>>> list(xw.debugging.MEASURES)[:4]
['K-SSD', 'CCM', 'FAM', 'FAM-GT']
"""

from .analysis.debugging import (
    KIND_MEASURES,
    MEASURES,
    DebugMaps,
    explain_pair,
    measures,
    report,
    spurious_score,
)

__all__ = [
    "KIND_MEASURES",
    "MEASURES",
    "DebugMaps",
    "explain_pair",
    "measures",
    "report",
    "spurious_score",
]
