"""Data sets: bundled (digits, faces, breast cancer), generated (moons, credit), and Adult online.

Every loader returns a :class:`~xaiwidgets.core.dataset.Dataset`.
"""

from ._adult import load_adult
from ._bundled import load_breast_cancer, load_digits, load_faces, load_moons
from ._credit import credit_score, in_bias_subspace, load_credit

__all__ = [
    "credit_score",
    "in_bias_subspace",
    "load_adult",
    "load_breast_cancer",
    "load_credit",
    "load_digits",
    "load_faces",
    "load_moons",
]
