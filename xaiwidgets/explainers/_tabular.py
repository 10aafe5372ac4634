"""The logical features of a tabular input, shared by the perturbation explainers.

LIME and SHAP switch features on and off. A one-hot group (``employment=salaried``,
``employment=contract``, ...) is one feature to a person and must be switched as a
whole: turning off one column of it alone gives an input with no category, or two,
that the model never saw. :class:`TabularFeatures` maps between the columns of the
input and one value per logical feature (a number for a continuous or integer
column, the index of the active category for a one-hot group), and spreads one
attribution per logical feature back onto the columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.model import Model

__all__ = ["TabularFeatures"]


@dataclass(frozen=True)
class TabularFeatures:
    """Columns grouped into logical features: single columns and one-hot groups.

    Parameters
    ----------
    n_columns : int
        Number of columns of one (flattened) input.
    groups : tuple of tuple of int
        The columns of each logical feature, ordered by their first column.
    categorical : tuple of bool
        Per logical feature: whether it is a one-hot group.
    names : tuple of str
        Per logical feature: its name.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> space = TabularFeatures.of(xw.wrap(xw.zoo.train_mlp(ds, progress=False), ds))
    >>> space.n_features, space.n_columns
    (10, 13)
    """

    n_columns: int
    groups: tuple[tuple[int, ...], ...]
    categorical: tuple[bool, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, model: Model) -> TabularFeatures:
        """The logical features of ``model``'s input: from its data set, else one per column."""
        n_columns = int(np.prod(model.input_shape))
        dataset = model.dataset
        if dataset is None or dataset.kind != "tabular":
            return cls(
                n_columns,
                tuple((c,) for c in range(n_columns)),
                (False,) * n_columns,
                tuple(model.feature_names),
            )
        features = sorted(dataset.features, key=lambda f: min(f.columns))
        return cls(
            n_columns,
            tuple(tuple(f.columns) for f in features),
            tuple(f.kind == "categorical" and len(f.columns) > 1 for f in features),
            tuple(f.name for f in features),
        )

    @property
    def n_features(self) -> int:
        """Number of logical features."""
        return len(self.groups)

    @property
    def has_groups(self) -> bool:
        """Whether any logical feature spans several columns."""
        return any(self.categorical)

    @property
    def continuous(self) -> np.ndarray:
        """Indices of the single-column (not one-hot) logical features."""
        return np.flatnonzero(~np.asarray(self.categorical, dtype=bool))

    @property
    def continuous_columns(self) -> np.ndarray:
        """The column of each single-column logical feature, in the order of ``continuous``."""
        return np.array([self.groups[i][0] for i in self.continuous], dtype=int)

    @property
    def categorical_features(self) -> list[tuple[int, np.ndarray]]:
        """``(logical index, columns)`` of each one-hot group."""
        return [
            (i, np.array(cols, dtype=int))
            for i, (cols, cat) in enumerate(zip(self.groups, self.categorical, strict=True))
            if cat
        ]

    def encode(self, X: np.ndarray) -> np.ndarray:
        """Columns ``(n, n_columns)`` to logical values ``(n, n_features)``.

        A one-hot group becomes the index of its active column (the largest one).
        """
        if not self.has_groups:
            return X
        Z = np.empty((len(X), self.n_features))
        Z[:, self.continuous] = X[:, self.continuous_columns]
        for i, cols in self.categorical_features:
            Z[:, i] = np.argmax(X[:, cols], axis=1)
        return Z

    def decode(self, Z: np.ndarray) -> np.ndarray:
        """Logical values ``(n, n_features)`` back to columns ``(n, n_columns)``."""
        if not self.has_groups:
            return Z
        X = np.zeros((len(Z), self.n_columns))
        X[:, self.continuous_columns] = Z[:, self.continuous]
        rows = np.arange(len(Z))
        for i, cols in self.categorical_features:
            X[rows, cols[Z[:, i].astype(int)]] = 1.0
        return X

    def spread(self, values: np.ndarray, X: np.ndarray) -> np.ndarray:
        """One value per logical feature ``(n, n_features)`` onto the columns of ``X``.

        A group's value goes to the column of the category the input has; its other
        columns get 0, so sums over columns equal sums over logical features.
        """
        if not self.has_groups:
            return values
        out = np.zeros((len(values), self.n_columns))
        out[:, self.continuous_columns] = values[:, self.continuous]
        rows = np.arange(len(values))
        for i, cols in self.categorical_features:
            out[rows, cols[np.argmax(X[:, cols], axis=1)]] = values[:, i]
        return out

    def category_frequencies(self, X: np.ndarray) -> list[np.ndarray]:
        """Per one-hot group: the relative frequency of each category in ``X``."""
        return [
            np.bincount(np.argmax(X[:, cols], axis=1), minlength=len(cols)) / len(X)
            for _, cols in self.categorical_features
        ]
