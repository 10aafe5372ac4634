"""Believability of counterfactuals: is the new point like the data of its new class.

A counterfactual that flips the model but lies where no data lie is "an adversarial
example rather than a counterfactual": the model was never trained there, and no
applicant looks like it. Two measures, both in the scaled norm of the flip point
(features divided by their scales, so that no unit dominates):

- the mean distance to the ``k`` nearest training points of the new class, compared
  with the same distance of that class's own training points (Van Looveren & Klaise,
  "Interpretable Counterfactual Explanations Guided by Prototypes", 2021, use such
  nearest-neighbour terms; "far" when above the ``quantile`` of the training points');
- scikit-learn's ``LocalOutlierFactor(novelty=True)`` fitted on the training data
  (Breunig et al., "LOF: Identifying Density-Based Local Outliers", SIGMOD 2000): a
  score near 1 is as dense as its neighbours, above 1.5 (scikit-learn's "auto" offset)
  an outlier.

A point is flagged ``off_manifold`` when either measure says so.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors

from ..core.dataset import Dataset
from ..core.model import wrap
from ..core.validation import as_numpy, check_int, check_option, check_real

__all__ = ["Believability", "BelievabilityReport", "believability"]

_METRICS = {"l1": "manhattan", "l2": "euclidean", "linf": "chebyshev"}


class Believability:
    """The training data of a data set as the reference for believable points.

    Fit once per data set and norm (cheap: a few hundred milliseconds on 6000 rows),
    then :meth:`score` any points.

    Parameters
    ----------
    dataset : Dataset
        The training rows (``X_train``) and their labels.
    scale : "auto", "std", "unit" or array, default="auto"
        Per-column scales: the training standard deviation for tabular data ("auto"),
        ones for images.
    norm : {"l2", "l1", "linf"}, default="l2"
        The norm of the scaled difference.
    k : int, default=5
        Nearest training points of the new class.
    n_neighbors : int, default=20
        Neighbours of the local outlier factor.
    labels : array-like of int, optional
        The class of each training row (default ``dataset.y_train``; pass the model's
        predictions to compare with the points the model puts in a class).
    quantile : float, default=0.99
        A point is "far" when its k-NN distance exceeds this quantile of the same
        distance among the class's training points (each without itself).
    lof_threshold : float, default=1.5
        Local outlier factors above this are outliers (scikit-learn's "auto").

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> ref = Believability(ds)
    >>> report = ref.score(ds.X_test[:3], classes=ds.y_test[:3])
    >>> report.table.columns[:3].tolist()
    ['class', 'knn_distance', 'typical_knn_distance']
    """

    def __init__(
        self,
        dataset: Dataset,
        *,
        scale: Any = "auto",
        norm: str = "l2",
        k: int = 5,
        n_neighbors: int = 20,
        labels: Any = None,
        quantile: float = 0.99,
        lof_threshold: float = 1.5,
    ) -> None:
        if not isinstance(dataset, Dataset):
            raise TypeError(
                f"dataset must be an xaiwidgets Dataset; got {type(dataset).__name__}."
            )
        self.dataset = dataset
        self.norm = check_option(norm, "norm", list(_METRICS))
        self.k = check_int(k, "k", low=1)
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", low=1)
        self.quantile = check_real(quantile, "quantile", low=0.0, high=1.0)
        self.lof_threshold = check_real(lof_threshold, "lof_threshold", low=1.0)
        X = dataset.X_train.reshape(len(dataset.X_train), -1).astype(np.float64)
        self.scale = _scale(scale, dataset)
        y = dataset.y_train if labels is None else as_numpy(labels, "labels").astype(int)
        if y.shape != (len(X),):
            raise ValueError(
                f"labels must hold one class per training row ({len(X)}); got {y.shape}."
            )
        self.labels = y
        Z = X / self.scale
        metric = _METRICS[self.norm]
        self._lof = LocalOutlierFactor(
            n_neighbors=min(self.n_neighbors, len(Z) - 1), novelty=True, metric=metric
        ).fit(Z)
        self._classes: dict[int, tuple[NearestNeighbors, np.ndarray, float, float]] = {}
        for c in np.unique(y):
            rows = np.flatnonzero(y == c)
            if len(rows) < 2:
                continue
            kk = min(self.k, len(rows) - 1)
            index = NearestNeighbors(n_neighbors=kk + 1, metric=metric).fit(Z[rows])
            own, _ = index.kneighbors(Z[rows])
            reference = own[:, 1:].mean(axis=1)  # without the point itself
            self._classes[int(c)] = (
                index,
                rows,
                float(np.median(reference)),
                float(np.quantile(reference, self.quantile)),
            )

    def score(self, points: Any, classes: Any) -> BelievabilityReport:
        """How believable each point is as a member of its (new) class.

        Parameters
        ----------
        points : array-like of shape (n, *input_shape) or input_shape
        classes : int or array-like of int
            The class each point is meant to belong to (the counterfactual's class).

        Returns
        -------
        BelievabilityReport
        """
        shape = self.dataset.input_shape
        P = as_numpy(points, "points").astype(np.float64)
        if P.shape == shape:
            P = P[None]
        if P.shape[1:] != shape:
            raise ValueError(f"points must have shape {shape} or (n, *{shape}); got {P.shape}.")
        P = P.reshape(len(P), -1)
        cls = np.broadcast_to(np.asarray(classes), (len(P),)).astype(int)
        Z = P / self.scale
        lof = -self._lof.score_samples(Z)
        rows = []
        neighbours = []
        for z, c, factor in zip(Z, cls, lof, strict=True):
            if int(c) not in self._classes:
                raise ValueError(
                    f"classes holds {int(c)}, a class without training points to compare with."
                )
            index, members, typical, far = self._classes[int(c)]
            kk = index.n_neighbors - 1
            distances, found = index.kneighbors(z[None], n_neighbors=kk)
            knn = float(distances[0].mean())
            is_far, outlier = knn > far, bool(factor > self.lof_threshold)
            rows.append(
                {
                    "class": self.dataset.class_names[int(c)],
                    "knn_distance": knn,
                    "typical_knn_distance": typical,
                    "knn_ratio": knn / typical if typical > 0 else np.inf,
                    "nearest_distance": float(distances[0, 0]),
                    "lof": float(factor),
                    "far": bool(is_far),
                    "lof_outlier": outlier,
                    "off_manifold": bool(is_far or outlier),
                }
            )
            neighbours.append(members[found[0]])
        return BelievabilityReport(pd.DataFrame(rows), neighbours, self)


def _scale(scale: Any, dataset: Dataset) -> np.ndarray:
    n = dataset.n_features
    if isinstance(scale, str):
        scale = check_option(scale, "scale", ["auto", "std", "unit"])
        if scale == "auto":
            scale = "std" if dataset.kind == "tabular" else "unit"
        return (
            np.asarray(dataset.train_std, dtype=np.float64).reshape(-1)
            if scale == "std"
            else np.ones(n)
        )
    array = as_numpy(scale, "scale").astype(np.float64).reshape(-1)
    if array.shape != (n,) or np.any(array <= 0) or not np.all(np.isfinite(array)):
        raise ValueError(f"scale must hold {n} positive finite numbers; got shape {array.shape}.")
    return array


@dataclass(frozen=True)
class BelievabilityReport:
    """Believability of some points: a table, their nearest training rows, a verdict.

    Attributes
    ----------
    table : DataFrame
        One row per point: ``class`` (the new class), ``knn_distance`` (mean scaled
        distance to the k nearest training points of that class),
        ``typical_knn_distance`` (the median of the same for the class's own training
        points), ``knn_ratio``, ``nearest_distance``, ``lof`` (local outlier factor),
        ``far``, ``lof_outlier`` and ``off_manifold``.
    neighbours : list of ndarray
        Per point, the indices (into ``X_train``) of its nearest training points of
        the new class.
    reference : Believability
    changes : list of DataFrame or None
        For flip points: each one's changed features (``FlipPoint.changed``), shown
        next to the verdict.
    """

    table: pd.DataFrame
    neighbours: list[np.ndarray]
    reference: Believability
    changes: list[pd.DataFrame] | None = None

    @property
    def off_manifold(self) -> np.ndarray:
        """Per point: flagged as off the data manifold."""
        return self.table["off_manifold"].to_numpy()

    def nearest(self, i: int = 0) -> pd.DataFrame:
        """The nearest training rows of the new class of point ``i``, as a table.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> report = Believability(ds).score(ds.X_test[0], classes=1)
        >>> report.nearest().shape
        (5, 13)
        """
        ds = self.reference.dataset
        rows = ds.X_train[self.neighbours[i]].reshape(len(self.neighbours[i]), -1)
        return pd.DataFrame(rows, columns=ds.feature_names, index=self.neighbours[i])

    def summary(self, i: int = 0) -> str:
        """One sentence about point ``i``."""
        row = self.table.iloc[i]
        verdict = (
            "OFF the data manifold: an adversarial example rather than a counterfactual"
            if row["off_manifold"]
            else "on the data manifold: believable"
        )
        return (
            f"{verdict} (k-NN distance to {row['class']!r} training points "
            f"{row['knn_distance']:.3g}, {row['knn_ratio']:.2g}x the typical "
            f"{row['typical_knn_distance']:.3g}; local outlier factor {row['lof']:.2f})"
        )

    def _repr_html_(self) -> str:
        parts = []
        for i in range(len(self.table)):
            colour = "#d62728" if self.table.iloc[i]["off_manifold"] else "#2ca02c"
            verdict = f'<p style="color:{colour}">{escape(self.summary(i))}</p>'
            changes = ""
            if self.changes is not None:
                changes = self.changes[i].to_html(index=False, float_format=lambda v: f"{v:.4g}")
            parts.append(
                '<div style="display:flex;gap:1.5em;align-items:flex-start">'
                f"<div>{changes}</div><div>{verdict}</div></div>"
            )
        return "<p><b>Believability</b></p>" + "".join(parts)

    def __repr__(self) -> str:
        flagged = int(self.off_manifold.sum())
        return f"BelievabilityReport({len(self.table)} points, {flagged} off the manifold)"


# A fitted reference per data set and options, reused between calls.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def _reference(dataset: Dataset, k: int, norm: str, scale: Any) -> Believability:
    scale_key = scale.tobytes() if isinstance(scale, np.ndarray) else scale
    key = (k, norm, scale_key)
    with _CACHE_LOCK:
        per_dataset = _CACHE.setdefault(dataset, {})
        if key not in per_dataset:
            per_dataset[key] = Believability(dataset, k=k, norm=norm, scale=scale)
        return per_dataset[key]


def believability(
    counterfactuals: Any,
    model: Any = None,
    *,
    classes: Any = None,
    k: int = 5,
    norm: str | None = None,
    scale: Any = None,
) -> BelievabilityReport:
    """Believability of flip points, counterfactuals or adversarial examples.

    Parameters
    ----------
    counterfactuals : FlipPoint, sequence of FlipPoint, or array-like of points
        Flip points from any solver (their ``point``, new class, norm and scales are
        used), or points of shape ``(n, *input_shape)``.
    model : Model, optional
        For points: the model (with its data set) whose predictions give the new
        classes; not needed for flip points.
    classes : int or array-like of int, optional
        For points: their new classes (default: the model's predictions).
    k : int, default=5
        Nearest training points of the new class.
    norm, scale : optional
        The scaled norm (default: the flip point's, else L2 with "auto" scales).

    Returns
    -------
    BelievabilityReport

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> report = xw.flip.believability(xw.flip.closest(m, ds.X_test[0]))
    >>> bool(report.off_manifold[0])
    False
    """
    flips = _flip_points(counterfactuals)
    if flips is not None:
        usable = [fp for fp in flips if fp.feasible]
        if not usable:
            raise ValueError("None of the flip points is feasible: there is no point to judge.")
        owner = usable[0].model
        if owner is None or owner.dataset is None:
            raise ValueError(
                "The flip point's model has no data set to compare with; wrap the model "
                "with its data set (xw.wrap(model, dataset))."
            )
        c = usable[0].constraints
        reference = _reference(
            owner.dataset,
            k=check_int(k, "k", low=1),
            norm=norm or c.norm,
            scale=np.asarray(c.scale) if scale is None else scale,
        )
        points = np.stack([fp.point for fp in usable])
        report = reference.score(points, [fp.classes[1] for fp in usable])
        return BelievabilityReport(
            report.table, report.neighbours, reference, [fp.changed for fp in usable]
        )
    if model is None:
        raise TypeError("model is required for points (its data set is the reference).")
    model = wrap(model)
    if model.dataset is None:
        raise ValueError("model must be wrapped with its data set: xw.wrap(model, dataset).")
    batch, _ = model.check_input(counterfactuals, name="counterfactuals")
    if classes is None:
        classes = model.predict(batch)
    reference = _reference(
        model.dataset,
        k=check_int(k, "k", low=1),
        norm=norm or "l2",
        scale="auto" if scale is None else scale,
    )
    return reference.score(batch, classes)


def _flip_points(value: Any) -> Sequence[Any] | None:
    from ..explainers.flip_points import FlipPoint

    if isinstance(value, FlipPoint):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, FlipPoint) for v in value):
        return list(value)
    return None
