"""Data sets: bundled (digits, faces, breast cancer), generated (moons, credit), and Adult online.

Every loader returns a :class:`~xaiwidgets.core.dataset.Dataset`.
"""

from ._adult import load_adult
from ._bundled import load_breast_cancer, load_digits, load_faces, load_moons
from ._credit import credit_score, in_bias_subspace, load_credit
from ._scaffold import Scaffold, make_scaffold

__all__ = [
    "Scaffold",
    "credit_score",
    "in_bias_subspace",
    "load_adult",
    "load_breast_cancer",
    "load_credit",
    "load_digits",
    "load_faces",
    "load_moons",
    "make_scaffold",
]
