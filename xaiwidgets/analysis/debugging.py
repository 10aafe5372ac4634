"""Debugging tests for explanations: whether the maps reveal a planted bug.

The measures are those of Adebayo's 2022 thesis ("Towards Effective Tools for
Debugging Machine Learning Models", ch. 4) and of Adebayo et al. 2022, "Post hoc
Explanations may be Ineffective for Detecting Unknown Spurious Correlation" (ICLR).
"""

from __future__ import annotations

from typing import Any

from ..core.model import wrap
from .bugs import SpuriousSignal

__all__ = ["spurious_score"]


def _check_spurious(bug: Any) -> SpuriousSignal:
    if not isinstance(bug, SpuriousSignal):
        raise TypeError(
            "bug must be a spurious-signal bug from xw.bugs.spurious_signal(...); "
            f"got {type(bug).__name__}."
        )
    return bug


def spurious_score(model: Any, bug: SpuriousSignal, X: Any) -> float:
    """How often adding the signal makes the model say the aligned class (Def. 4.2.1).

    Among the inputs that the model does *not* assign to the spurious aligned class,
    the fraction that it assigns to that class once the spurious signal is added.
    The thesis calls a model with a score above 0.85 a *spurious model* and one
    below 0.1 a *normal model*.

    Parameters
    ----------
    model : Model or anything :func:`xaiwidgets.wrap` accepts
        The classifier (for example the buggy or the normal model of
        :func:`xaiwidgets.bugs.train_pair`).
    bug : SpuriousSignal
        The planted signal.
    X : array-like of shape (n, *input_shape)
        Inputs without the signal, in the space of ``bug.dataset`` (for example
        ``bug.clean.X_test``).

    Returns
    -------
    float
        In ``[0, 1]``.

    Raises
    ------
    ValueError
        If the model assigns every input to the aligned class (the score is then
        undefined).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag")
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    >>> xw.debugging.spurious_score(buggy, bug, bug.clean.X_test) > 0.85
    True
    >>> xw.debugging.spurious_score(normal, bug, bug.clean.X_test) < 0.1
    True
    """
    bug = _check_spurious(bug)
    model = wrap(model, input_shape=bug.dataset.input_shape)
    batch, _ = model.check_input(X, name="X")
    keep = model.predict(batch) != bug.aligned_class
    if not keep.any():
        raise ValueError(
            f"The model assigns every one of the {len(batch)} inputs in X to the aligned "
            f"class {bug.aligned_class}, so the spurious score is undefined; pass inputs "
            "of other classes."
        )
    flipped = model.predict(bug.apply(batch[keep])) == bug.aligned_class
    return float(flipped.mean())
