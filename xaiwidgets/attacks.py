"""Adversarial examples and attacks on explanations: ``xw.attacks``.

- :func:`fgsm`, :func:`pgd`: adversarial examples (Goodfellow et al. 2015; Madry et al.
  2018) within the data bounds, in the L-infinity or L2 norm, targeted or not.
- :func:`what_it_takes`: the smallest epsilon that flips a prediction, by bisection.
- :func:`manipulate_explanation`: move an input so that its explanation approaches a
  target map while the prediction stays (Dombrowski et al. 2019), with
  :func:`softplus_copy` (the smoothed network) and :func:`explanation_map`.

>>> import xaiwidgets as xw
>>> ds = xw.datasets.load_digits()
>>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
>>> x_adv = xw.attacks.pgd(m, ds.X_test[0], eps=0.2, steps=20)
>>> x_adv.shape
(1, 8, 8)
"""

from .analysis.attacks import EpsilonReport, fgsm, pgd, what_it_takes
from .analysis.explanation_attack import (
    ExplanationAttack,
    explanation_map,
    manipulate_explanation,
    softplus_copy,
)

__all__ = [
    "EpsilonReport",
    "ExplanationAttack",
    "explanation_map",
    "fgsm",
    "manipulate_explanation",
    "pgd",
    "softplus_copy",
    "what_it_takes",
]
