"""UCI Adult, through OpenML, for users with a network. Never used by defaults or tests."""

from __future__ import annotations

import numpy as np

from ..core.cache import cache_dir
from ..core.dataset import Dataset, Feature
from ..core.validation import check_int

__all__ = ["load_adult"]

_NUMERIC = ("age", "education-num", "capital-gain", "capital-loss", "hours-per-week")
_CATEGORICAL = ("workclass", "marital-status", "occupation", "relationship", "race", "sex")


def load_adult(seed: int = 0, max_rows: int | None = 20000) -> Dataset:
    """UCI Adult census income (">50K" or not), downloaded once from OpenML and cached.

    Needs a network connection the first time; afterwards scikit-learn's OpenML cache
    in the xaiwidgets cache directory is used. Categorical columns become one-hot
    groups; rows with missing values are dropped.

    Parameters
    ----------
    seed : int, default=0
        Seed of the subsample and the train/test split.
    max_rows : int or None, default=20000
        Keep at most this many rows (a seeded sample) so that demos stay fast.

    Returns
    -------
    Dataset

    Raises
    ------
    ConnectionError
        When the data are not cached and OpenML cannot be reached.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_adult()  # doctest: +SKIP
    """
    from sklearn.datasets import fetch_openml

    seed = check_int(seed, "seed", low=0)
    try:
        frame = fetch_openml(
            "adult", version=2, as_frame=True, data_home=str(cache_dir() / "openml")
        ).frame
    except Exception as exc:
        raise ConnectionError(
            "load_adult needs a network connection to download UCI Adult from OpenML the "
            "first time (it is cached afterwards), and the download failed: "
            f"{exc}. Use load_credit() for an offline tabular data set."
        ) from exc
    frame = frame.dropna()
    if max_rows is not None and len(frame) > max_rows:
        frame = frame.sample(n=max_rows, random_state=seed)
    y = (frame["class"].astype(str).str.strip() == ">50K").to_numpy().astype(int)
    columns, features, names = [], [], []
    for name in _NUMERIC:
        values = frame[name].to_numpy(dtype=float)
        kind = "continuous" if name.startswith("capital") else "integer"
        features.append(Feature(name, kind, (len(names),), (values.min(), values.max())))
        columns.append(values)
        names.append(name)
    for name in _CATEGORICAL:
        categories = tuple(str(c) for c in frame[name].astype(str).unique())
        start = len(names)
        for category in categories:
            columns.append((frame[name].astype(str) == category).to_numpy(dtype=float))
            names.append(f"{name}={category}")
        features.append(
            Feature(name, "categorical", tuple(range(start, len(names))), (0.0, 1.0), categories)
        )
    X = np.column_stack(columns)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_train = int(0.75 * len(X))
    train, test = order[:n_train], order[n_train:]
    return Dataset(
        name="adult",
        X_train=X[train],
        y_train=y[train],
        X_test=X[test],
        y_test=y[test],
        feature_names=names,
        class_names=["<=50K", ">50K"],
        kind="tabular",
        features=features,
        description="UCI Adult (1994 US census) from OpenML: does income exceed $50K a year?",
    )
