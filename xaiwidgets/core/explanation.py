"""The one result type of every explainer: :class:`Explanation`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

__all__ = ["Explanation"]


@dataclass(frozen=True, eq=False)
class Explanation:
    """Attributions for one input or a batch, with everything needed to show them.

    Every explainer returns this object and every plot accepts it, as SHAP's
    ``Explanation`` does. Slicing a batch (``e[i]``) gives the explanation of one input.

    Parameters
    ----------
    values : ndarray
        Attributions, the shape of the explained input (``(n, *input_shape)`` for a
        batch).
    data : ndarray
        The explained input(s), the same shape as ``values``.
    method : str
        Registry name of the method, for example ``"ig"``.
    target : int or ndarray of shape (n,)
        The explained class.
    prediction : ndarray of shape (n_classes,) or (n, n_classes)
        The model's class probabilities at the input.
    output : {"logit", "probability"}
        Which output of the target class is explained.
    feature_names, class_names : list of str
        Names for display.
    kind : {"tabular", "image"}
        How to show it.
    params : dict
        The method's parameters, as used.
    meta : dict
        Diagnostics: ``time_s`` always; method-specific entries such as
        ``convergence_delta`` (IG), ``base_value`` (SHAP, IG), ``r2`` (LIME).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> e = xw.explainers.Gradient(m).explain(ds.X_test[0])
    >>> e.values.shape == ds.X_test[0].shape, e.output
    (True, 'logit')
    >>> e.to_frame().columns.tolist()
    ['feature', 'value', 'attribution']
    """

    values: np.ndarray
    data: np.ndarray
    method: str
    target: int | np.ndarray
    prediction: np.ndarray
    output: Literal["logit", "probability"]
    feature_names: list[str]
    class_names: list[str]
    kind: Literal["tabular", "image"] = "tabular"
    params: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def is_batch(self) -> bool:
        """True when this holds several inputs (``target`` is then an array)."""
        return isinstance(self.target, np.ndarray)

    def __len__(self) -> int:
        return len(self.values) if self.is_batch else 1

    def __getitem__(self, index: int) -> Explanation:
        """The explanation of input ``index`` of a batch.

        Per-input entries of ``meta`` (arrays with one value per input) are sliced too.
        """
        if not self.is_batch:
            raise TypeError("This explanation holds one input; there is nothing to index.")
        n = len(self.values)
        meta = {
            key: (value[index] if isinstance(value, np.ndarray) and len(value) == n else value)
            for key, value in self.meta.items()
        }
        return Explanation(
            values=self.values[index],
            data=self.data[index],
            method=self.method,
            target=int(self.target[index]),
            prediction=self.prediction[index],
            output=self.output,
            feature_names=self.feature_names,
            class_names=self.class_names,
            kind=self.kind,
            params=self.params,
            meta=meta,
        )

    @property
    def target_name(self) -> str | list[str]:
        """The explained class by name."""
        if self.is_batch:
            return [self.class_names[t] for t in self.target]
        return self.class_names[self.target]

    @property
    def base_value(self) -> float | np.ndarray:
        """The reference output that attributions are measured from.

        ``meta["base_value"]`` where the method defines one (SHAP's expected value,
        IG's output at the baseline, LIME's intercept), otherwise 0.
        """
        return self.meta.get("base_value", np.zeros(len(self)) if self.is_batch else 0.0)

    def to_frame(self) -> pd.DataFrame:
        """Attributions as a tidy table.

        Returns
        -------
        DataFrame
            Tabular: one row per feature with columns ``feature``, ``value`` (the
            input's value) and ``attribution``; a batch adds a leading ``sample``
            column. Images: one row per pixel with ``channel``, ``row``, ``col``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_moons(n=200)
        >>> m = xw.wrap(xw.zoo.train_logreg(ds), ds)
        >>> xw.explainers.Gradient(m).explain(ds.X_test[:3]).to_frame().shape
        (6, 4)
        """
        values = self.values if self.is_batch else self.values[None]
        data = self.data if self.is_batch else self.data[None]
        frames = []
        for sample, (row_values, row_data) in enumerate(zip(values, data, strict=True)):
            if self.kind == "image":
                channel, row, col = np.indices(row_values.shape).reshape(3, -1)
                frame = pd.DataFrame({"channel": channel, "row": row, "col": col})
            else:
                frame = pd.DataFrame({"feature": self.feature_names})
            frame["value"] = row_data.reshape(-1)
            frame["attribution"] = row_values.reshape(-1)
            if self.is_batch:
                frame.insert(0, "sample", sample)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def to_shap(self) -> Any:
        """Convert to a ``shap.Explanation`` so that every SHAP plot works on every method.

        ``base_values`` come from :attr:`base_value`; for methods without one (plain
        gradients) it is 0 and a waterfall plot then does not end at ``f(x)``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_moons(n=200)
        >>> m = xw.wrap(xw.zoo.train_logreg(ds), ds)
        >>> s = xw.explainers.Gradient(m).explain(ds.X_test[0]).to_shap()
        >>> s.values.shape
        (2,)
        """
        import shap

        base = np.asarray(self.base_value, dtype=float)
        return shap.Explanation(
            values=np.asarray(self.values, dtype=float),
            base_values=base if self.is_batch else float(base),
            data=np.asarray(self.data, dtype=float),
            feature_names=list(self.feature_names),
            # shap 0.51 takes a list of names; a bare string breaks its shape logic.
            output_names=self.target_name if self.is_batch else [self.target_name],
        )

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.values.shape)
        target = self.target_name if not self.is_batch else f"{len(self)} targets"
        took = self.meta.get("time_s")
        took_text = f", {1000 * took:.1f} ms" if took is not None else ""
        return (
            f"Explanation(method={self.method!r}, values {shape}, {self.output} of "
            f"{target!r}{took_text})"
        )
