"""Debugging tests for explanations (Adebayo 2022), as ``xw.debugging``.

>>> import xaiwidgets as xw
>>> callable(xw.debugging.spurious_score)
True
"""

from .analysis.debugging import spurious_score

__all__ = ["spurious_score"]
