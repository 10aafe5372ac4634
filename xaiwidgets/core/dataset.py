"""The ``Dataset`` container shared by every data set, explainer and widget."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .validation import as_numpy, check_finite

__all__ = ["Dataset", "Feature"]

FeatureKind = Literal["continuous", "integer", "categorical"]
_KINDS = ("continuous", "integer", "categorical")


@dataclass(frozen=True)
class Feature:
    """One logical feature of a tabular data set: one column, or one one-hot group.

    Parameters
    ----------
    name : str
        The feature's name; for a categorical feature the group's name (for example
        ``"employment"``), whose columns are named ``"employment=salaried"`` and so on.
    kind : {"continuous", "integer", "categorical"}
        Continuous values, whole numbers, or a one-hot group of which exactly one
        column is 1.
    columns : tuple of int
        The column indices in ``X`` that hold this feature.
    bounds : tuple of float
        The plausible range ``(low, high)`` of the feature's value; ``(0, 1)`` for the
        columns of a one-hot group.
    categories : tuple of str, optional
        The category labels of a categorical feature, in column order.

    Examples
    --------
    >>> Feature("age", "integer", (2,), (18.0, 80.0))
    Feature(name='age', kind='integer', columns=(2,), bounds=(18.0, 80.0), categories=None)
    """

    name: str
    kind: FeatureKind
    columns: tuple[int, ...]
    bounds: tuple[float, float]
    categories: tuple[str, ...] | None = None

    def value_of(self, row: np.ndarray) -> float | str:
        """Read this feature's value from a flat row (a category label if categorical).

        Examples
        --------
        >>> f = Feature("colour", "categorical", (0, 1), (0.0, 1.0), ("red", "blue"))
        >>> f.value_of(np.array([0.0, 1.0]))
        'blue'
        """
        if self.kind == "categorical":
            return self.categories[int(np.argmax(row[list(self.columns)]))]
        return float(row[self.columns[0]])


@dataclass(frozen=True, eq=False)
class Dataset:
    """A classification data set with the metadata that explanations need.

    Arrays are stored read-only, so that nothing downstream can change a data set by
    accident; derive a new data set with :meth:`replace` instead.

    Parameters
    ----------
    name : str
        A short identifier, for example ``"credit"``.
    X_train, X_test : ndarray of shape (n, n_features) or (n, channels, height, width)
        Inputs as floats; images in ``[0, 1]``.
    y_train, y_test : ndarray of shape (n,)
        Integer class labels in ``[0, n_classes)``.
    feature_names : list of str
        One name per column (per pixel for images, as ``"pixel[c,r,c]"``).
    class_names : list of str
        One name per class.
    kind : {"tabular", "image"}
        How inputs are shown and perturbed.
    features : list of Feature
        The logical features (one per column, or one per one-hot group).
    description : str
        What the data are and where they come from.
    ground_truth : dict, optional
        For generated data: the rule that produced the labels and the true effects.

    Attributes
    ----------
    feature_kinds : list of str
        Per column: ``"continuous"``, ``"integer"`` or ``"categorical"``.
    bounds : ndarray of shape (n_features, 2)
        Per column: the plausible ``(low, high)`` range.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons(n=200)
    >>> ds.X_train.shape[1], ds.kind, ds.class_names
    (2, 'tabular', ['upper moon', 'lower moon'])
    """

    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    kind: Literal["tabular", "image"]
    features: list[Feature]
    description: str = ""
    ground_truth: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        arrays = {}
        for name in ("X_train", "y_train", "X_test", "y_test"):
            array = as_numpy(getattr(self, name), name)
            arrays[name] = array
        X_train, X_test = arrays["X_train"], arrays["X_test"]
        if X_train.shape[0] == 0:
            raise ValueError("X_train is empty: a data set needs at least one training row.")
        if X_train.ndim < 2:
            raise ValueError(
                f"X_train must have shape (n, n_features) or (n, channels, height, width); "
                f"got shape {X_train.shape}."
            )
        if X_test.shape[1:] != X_train.shape[1:]:
            raise ValueError(
                f"X_test rows must have the shape of X_train rows {X_train.shape[1:]}; "
                f"got {X_test.shape[1:]}."
            )
        for X_name, y_name in (("X_train", "y_train"), ("X_test", "y_test")):
            if arrays[y_name].shape != (arrays[X_name].shape[0],):
                raise ValueError(
                    f"{y_name} must have shape ({arrays[X_name].shape[0]},), one label per row "
                    f"of {X_name}; got {arrays[y_name].shape}."
                )
        check_finite(X_train, "X_train")
        check_finite(X_test, "X_test")
        n_classes = len(self.class_names)
        for y_name in ("y_train", "y_test"):
            y = arrays[y_name]
            if y.size and (not np.all(y == np.round(y)) or y.min() < 0 or y.max() >= n_classes):
                raise ValueError(
                    f"{y_name} must hold class indices in [0, {n_classes - 1}] (one per "
                    f"class name); got values from {y.min()} to {y.max()}."
                )
        n_columns = int(np.prod(X_train.shape[1:]))
        if len(self.feature_names) != n_columns:
            raise ValueError(
                f"feature_names must have one name per column ({n_columns}); "
                f"got {len(self.feature_names)}."
            )
        if self.kind not in ("tabular", "image"):
            raise ValueError(f"kind must be 'tabular' or 'image'; got {self.kind!r}.")
        covered = sorted(c for f in self.features for c in f.columns)
        if covered != list(range(n_columns)):
            raise ValueError("features must cover every column exactly once.")
        for f in self.features:
            if f.kind not in _KINDS:
                raise ValueError(f"Feature {f.name!r} has kind {f.kind!r}; expected {_KINDS}.")
        for name, array in arrays.items():
            dtype = np.int64 if name.startswith("y") else np.float64
            frozen = np.array(array, dtype=dtype, copy=True)
            frozen.flags.writeable = False
            object.__setattr__(self, name, frozen)
        object.__setattr__(self, "feature_names", [str(n) for n in self.feature_names])
        object.__setattr__(self, "class_names", [str(n) for n in self.class_names])

    # ------------------------------------------------------------------ shape facts
    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, for example ``(10,)`` or ``(1, 8, 8)``."""
        return tuple(self.X_train.shape[1:])

    @property
    def n_features(self) -> int:
        """The number of columns (pixels for images)."""
        return int(np.prod(self.input_shape))

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return len(self.class_names)

    @property
    def feature_kinds(self) -> list[str]:
        """Per column: ``"continuous"``, ``"integer"`` or ``"categorical"``."""
        kinds = [""] * self.n_features
        for f in self.features:
            for c in f.columns:
                kinds[c] = f.kind
        return kinds

    @property
    def bounds(self) -> np.ndarray:
        """Per column: the plausible ``(low, high)`` range, shape ``(n_features, 2)``."""
        bounds = np.empty((self.n_features, 2))
        for f in self.features:
            bounds[list(f.columns)] = f.bounds
        return bounds

    @property
    def categorical_groups(self) -> dict[str, list[int]]:
        """One-hot groups: ``{feature name: [column indices]}``."""
        return {f.name: list(f.columns) for f in self.features if f.kind == "categorical"}

    # ------------------------------------------------------------------ statistics
    @property
    def train_mean(self) -> np.ndarray:
        """Mean of the training inputs, the shape of one input."""
        return self.X_train.mean(axis=0)

    @property
    def train_std(self) -> np.ndarray:
        """Standard deviation of the training inputs (1 where a column is constant)."""
        std = self.X_train.std(axis=0)
        return np.where(std > 0, std, 1.0)

    # ------------------------------------------------------------------ lookups
    def feature(self, name: str) -> Feature:
        """Return the logical feature called ``name`` (a column or a one-hot group).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> xw.datasets.load_credit().feature("age").kind
        'integer'
        """
        for f in self.features:
            if f.name == name:
                return f
        names = ", ".join(f.name for f in self.features)
        raise KeyError(f"No feature named {name!r}; the features are: {names}.")

    def replace(self, **changes: Any) -> Dataset:
        """Return a new data set with some fields replaced; this one is unchanged.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_moons(n=200)
        >>> small = ds.replace(X_train=ds.X_train[:10], y_train=ds.y_train[:10])
        >>> small.X_train.shape
        (10, 2)
        """
        return dataclasses.replace(self, **changes)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, kind={self.kind!r}, train={self.X_train.shape}, "
            f"test={self.X_test.shape}, classes={self.class_names})"
        )


def continuous_features(
    names: Sequence[str], X: np.ndarray, integer: Sequence[str] = ()
) -> list[Feature]:
    """Describe each column of ``X`` as one feature bounded by its observed range.

    Parameters
    ----------
    names : sequence of str
        Column names.
    X : ndarray of shape (n, n_features)
        The data whose range gives the bounds.
    integer : sequence of str, default=()
        Names of the columns that hold whole numbers.

    Returns
    -------
    list of Feature

    Examples
    --------
    >>> continuous_features(["a"], np.array([[0.0], [2.0]]))[0].bounds
    (0.0, 2.0)
    """
    low, high = X.min(axis=0), X.max(axis=0)
    return [
        Feature(
            name,
            "integer" if name in integer else "continuous",
            (i,),
            (float(low[i]), float(high[i])),
        )
        for i, name in enumerate(names)
    ]
