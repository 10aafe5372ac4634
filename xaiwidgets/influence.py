"""Training-point ranking: influence functions and TracIn, as ``xw.influence``.

>>> import xaiwidgets as xw
>>> sorted(xw.influence.__all__)
['IdenticalClassMetric', 'InfluenceFunction', 'TracIn']
"""

from .analysis.influence import IdenticalClassMetric, InfluenceFunction, TracIn

__all__ = ["IdenticalClassMetric", "InfluenceFunction", "TracIn"]
