"""Data sets that ship with scikit-learn or are generated: no network needed."""

from __future__ import annotations

import numpy as np
import sklearn.datasets
from sklearn.model_selection import train_test_split

from ..core.dataset import Dataset, Feature, continuous_features
from ..core.validation import check_int, check_real

__all__ = ["load_breast_cancer", "load_digits", "load_faces", "load_moons"]


def _split(X: np.ndarray, y: np.ndarray, seed: int, test_size: float = 0.25):
    """Stratified, seeded train/test split shared by every bundled data set."""
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)


def _grey_images(
    name: str,
    images: np.ndarray,
    y: np.ndarray,
    seed: int,
    *,
    class_names: list[str],
    description: str,
) -> Dataset:
    """An image data set from grey images ``(n, height, width)`` in [0, 1], split."""
    X_train, X_test, y_train, y_test = _split(images[:, None], y, seed)
    height, width = images.shape[1:]
    names = [f"pixel[{r},{c}]" for r in range(height) for c in range(width)]
    features = [Feature(name, "continuous", (i,), (0.0, 1.0)) for i, name in enumerate(names)]
    return Dataset(
        name=name,
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=names,
        class_names=class_names,
        kind="image",
        features=features,
        description=description,
    )


def load_digits(seed: int = 0) -> Dataset:
    """Handwritten digits, 8x8 grey images in [0, 1], ten classes.

    scikit-learn's bundled copy of the UCI optical digits test set (1797 images),
    split 75/25, stratified.

    Parameters
    ----------
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Dataset
        ``kind="image"``; inputs of shape ``(1, 8, 8)``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> ds.X_train.shape[1:], float(ds.X_train.max())
    ((1, 8, 8), 1.0)
    """
    seed = check_int(seed, "seed", low=0)
    raw = sklearn.datasets.load_digits()
    return _grey_images(
        "digits",
        raw.images / 16.0,
        raw.target,
        seed,
        class_names=[str(d) for d in range(10)],
        description=(
            "UCI optical recognition of handwritten digits as bundled with scikit-learn: "
            "1797 images of 8x8 pixels, grey levels 0-16 scaled to [0, 1]."
        ),
    )


def load_faces(seed: int = 0) -> Dataset:
    """Faces and non-faces, 25x25 grey images in [0, 1], two classes (offline).

    scikit-image's bundled ``lfw_subset``: 100 faces from Labeled Faces in the Wild
    (Huang et al. 2007) and 100 patches of other images, split 75/25, stratified. Larger
    than the 8x8 digits, so explanations have room for structure (the explanation
    attack of ``xw.attacks`` shows its effect better here).

    Parameters
    ----------
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Dataset
        ``kind="image"``; inputs of shape ``(1, 25, 25)``; classes ``["other", "face"]``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_faces()
    >>> ds.X_train.shape, ds.class_names
    ((150, 1, 25, 25), ['other', 'face'])
    """
    import skimage.data

    seed = check_int(seed, "seed", low=0)
    images = skimage.data.lfw_subset().astype(np.float64)
    return _grey_images(
        "faces",
        images,
        np.r_[np.ones(100, dtype=int), np.zeros(100, dtype=int)],  # faces first
        seed,
        class_names=["other", "face"],
        description=(
            "scikit-image's lfw_subset: 100 faces (Labeled Faces in the Wild) and 100 "
            "non-face patches, 25x25 grey levels in [0, 1]."
        ),
    )


def load_breast_cancer(seed: int = 0) -> Dataset:
    """Breast cancer Wisconsin (diagnostic): 30 continuous features, two classes.

    scikit-learn's bundled copy (569 tumours); bounds are the observed range.

    Parameters
    ----------
    seed : int, default=0
        Seed of the train/test split.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_breast_cancer()
    >>> ds.n_features, ds.class_names
    (30, ['malignant', 'benign'])
    """
    seed = check_int(seed, "seed", low=0)
    raw = sklearn.datasets.load_breast_cancer()
    X_train, X_test, y_train, y_test = _split(raw.data, raw.target, seed)
    names = list(raw.feature_names)
    return Dataset(
        name="breast_cancer",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=names,
        class_names=list(raw.target_names),
        kind="tabular",
        features=continuous_features(names, raw.data),
        description=(
            "Breast Cancer Wisconsin (Diagnostic), as bundled with scikit-learn: 569 "
            "tumours, 30 features of cell nuclei from digitized images."
        ),
    )


def load_moons(n: int = 2000, noise: float = 0.2, seed: int = 0) -> Dataset:
    """Two interleaving half circles in 2-D, a classic toy problem.

    Parameters
    ----------
    n : int, default=2000
        Total number of points (train and test).
    noise : float, default=0.2
        Standard deviation of Gaussian noise added to the points.
    seed : int, default=0
        Seed of generation and split.

    Returns
    -------
    Dataset

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> xw.datasets.load_moons(n=100).X_train.shape
    (75, 2)
    """
    n = check_int(n, "n", low=8)
    noise = check_real(noise, "noise", low=0.0)
    seed = check_int(seed, "seed", low=0)
    X, y = sklearn.datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    X_train, X_test, y_train, y_test = _split(X, y, seed)
    names = ["x1", "x2"]
    low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    features = [
        Feature(name, "continuous", (i,), (float(low[i]), float(high[i])))
        for i, name in enumerate(names)
    ]
    return Dataset(
        name="moons",
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        feature_names=names,
        class_names=["upper moon", "lower moon"],
        kind="tabular",
        features=features,
        description=(
            f"scikit-learn's make_moons: {n} points on two interleaving half circles with "
            f"Gaussian noise of standard deviation {noise}."
        ),
    )
