"""Shared base of the sampling explainers (LIME, SHAP): seeds and repeats.

A sampling explainer gives a different answer for a different seed, and how much it
moves is something a student must see. Every such explainer takes ``seed`` (the same
seed gives the same result) and ``repeats``: with ``repeats=k`` it also runs seeds
``seed + 1, ..., seed + k - 1`` and reports the spread of each attribution over the
``k`` runs. The values returned are always those of ``seed`` itself, so asking for the
spread never changes the explanation.

What a seed draws does not depend on the input (the input only shifts and scales
it), so the draws are kept per seed and reused for the next input: explaining many
inputs with one explainer, as a widget does, draws the random numbers once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..core.explainer import Explainer
from ..core.validation import check_int

__all__ = ["SampledExplainer"]

# Draws kept per explainer (repeats use consecutive seeds).
_KEPT_DRAWS = 16


class SampledExplainer(Explainer):
    """An explainer whose result depends on a random seed.

    Subclasses implement ``_attribute_seeded(batch, targets, outputs, seed)``; this
    class runs it once per seed and adds to ``meta``:

    - ``seed``: the seed of the returned values (drawn afresh when ``seed=None``);
    - with ``repeats > 1``: ``repeats``, ``spread`` (the standard deviation of each
      attribution over the runs, with ``ddof=1``, the shape of the values) and
      ``repeat_values`` (every run, shape ``(n, repeats, *input_shape)``).

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier to explain.
    seed : int or None
        The seed; ``None`` draws a fresh one for each call.
    repeats : int
        Number of seeds to run; ``1`` runs only ``seed``.
    output : {"auto", "logit", "probability"}
        The explained output of the target class.
    """

    def __init__(
        self, model: Any, *, seed: int | None, repeats: int, output: str = "auto"
    ) -> None:
        super().__init__(model, output=output)
        self.params.update(
            seed=None if seed is None else check_int(seed, "seed", low=0),
            repeats=check_int(repeats, "repeats", low=1),
        )

    def _attribute(self, batch, targets, outputs):
        seed = self.params["seed"]
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        repeats = self.params["repeats"]
        values, meta = self._attribute_seeded(batch, targets, outputs, seed)
        meta["seed"] = seed
        if repeats > 1:
            runs = [values] + [
                self._attribute_seeded(batch, targets, outputs, seed + k)[0]
                for k in range(1, repeats)
            ]
            stacked = np.stack(runs, axis=1)
            meta.update(repeats=repeats, spread=stacked.std(axis=1, ddof=1), repeat_values=stacked)
        return values, meta

    def _draws(self, key: tuple, make: Callable[[], np.ndarray]) -> np.ndarray:
        """The input-independent draws for ``key`` (a seed and a shape), made once.

        The array is read-only; a few keys are kept.
        """
        kept = self.__dict__.setdefault("_kept_draws", {})
        if key not in kept:
            if len(kept) >= _KEPT_DRAWS:
                kept.clear()
            array = make()
            array.flags.writeable = False
            kept[key] = array
        return kept[key]

    def _attribute_seeded(
        self, batch: np.ndarray, targets: np.ndarray, outputs: np.ndarray, seed: int
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Attributions for a validated batch with one seed; returns ``(values, meta)``."""
        raise NotImplementedError
