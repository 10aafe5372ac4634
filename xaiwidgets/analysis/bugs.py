"""Planted model bugs: contaminated data sets with a known ground truth.

The taxonomy is Adebayo's (2022 thesis "Towards Effective Tools for Debugging Machine
Learning Models", ch. 2-4; Adebayo et al. 2020, "Debugging Tests for Model
Explanations", NeurIPS): a bug lives in the training data (a spurious signal, noisy
labels), in the model (re-initialized parameters) or in the test inputs (out of
distribution). Each function here returns a :class:`Bug`: the contaminated data set
(``bug.dataset``), its clean counterpart (``bug.clean``), a ground-truth mask of where
the bug lives where it has a place (``bug.mask``) and a description.
:func:`train_pair` trains a *normal* model on the clean data and a *buggy* model of
the same architecture on the contaminated data, with a progress bar, cached.

Nothing passed in is modified: data sets are read-only and every bug builds new
arrays.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from ..core.dataset import Dataset, Feature
from ..core.model import Model, wrap
from ..core.seeding import numpy_rng
from ..core.validation import as_numpy, check_batch, check_int, check_option, check_real

__all__ = [
    "Bug",
    "NoisyLabels",
    "OutOfDistribution",
    "ParameterRandomization",
    "SpuriousSignal",
    "clear_cache",
    "noise_images",
    "noisy_labels",
    "out_of_distribution",
    "parameter_randomization",
    "spurious_signal",
    "train_pair",
]

_IMAGE_SIGNALS = ("tag", "stripe", "blur")
_TABULAR_SIGNALS = ("column",)
_PLACES = ("bottom-right", "bottom-left", "top-right", "top-left")


def _check_dataset(dataset: Any, name: str = "dataset") -> Dataset:
    if not isinstance(dataset, Dataset):
        raise TypeError(
            f"{name} must be an xaiwidgets Dataset (for example xw.datasets.load_digits()); "
            f"got {type(dataset).__name__}."
        )
    return dataset


def _check_class(value: Any, name: str, dataset: Dataset) -> int:
    return check_int(value, name, low=0, high=dataset.n_classes - 1)


def _fingerprint(*parts: Any) -> str:
    """A short hash of arrays and JSON-serialisable values."""
    digest = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
            digest.update(str((part.shape, part.dtype)).encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:20]


@dataclass(frozen=True, eq=False)
class Bug:
    """A planted bug: contaminated training data and its clean counterpart.

    Create one with :func:`spurious_signal`, :func:`noisy_labels` or
    :func:`out_of_distribution` or :func:`parameter_randomization`; train the pair of
    models with :func:`train_pair`.

    Attributes
    ----------
    dataset : Dataset
        The contaminated data set the buggy model is trained on.
    clean : Dataset
        The clean data set the normal model is trained on (same inputs shape and
        classes, so the same architecture fits both).
    mask : ndarray of shape input_shape or None
        Where the bug lives in an input (1 inside, 0 outside), for bugs with a place.
    description : str
        What was planted, in words.
    params : dict
        The parameters the bug was made with.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.noisy_labels(xw.datasets.load_digits(), fraction=0.1)
    >>> bug.kind, bug.dataset.X_train.shape == bug.clean.X_train.shape
    ('noisy_labels', True)
    """

    kind: ClassVar[str] = ""

    dataset: Dataset
    clean: Dataset
    description: str
    params: dict[str, Any] = field(default_factory=dict)
    mask: np.ndarray | None = None

    @property
    def key(self) -> str:
        """A fingerprint of the bug: the same data and parameters, the same key."""
        return _fingerprint(
            self.kind,
            self.params,
            self.dataset.X_train,
            self.dataset.y_train,
            self.clean.X_train,
            self.clean.y_train,
        )

    def _buggy_from(self, normal: Model, train: Callable[[Dataset], Model]) -> Model:
        """The buggy model: by default trained on the contaminated data."""
        return train(self.dataset)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({self.dataset.name!r}, {params})"


@dataclass(frozen=True, eq=False, repr=False)
class SpuriousSignal(Bug):
    """A spurious signal aligned with one class (thesis Sec. 4.2.1).

    Made by :func:`spurious_signal`. Besides the :class:`Bug` attributes:

    Attributes
    ----------
    aligned_class : int
        The class whose training inputs carry the signal.
    signal : {"tag", "stripe", "blur", "column"}
        The contamination function.
    contaminated : ndarray of int
        Indices of the training inputs that carry the signal.
    relabeled : ndarray of int
        Indices of other-class training inputs that were given the signal and the
        aligned label (see ``relabel`` in :func:`spurious_signal`).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag")
    >>> float(bug.apply(bug.clean.X_test[:2])[:, 0, -2:, -2:].min())
    1.0
    """

    kind: ClassVar[str] = "spurious_signal"

    aligned_class: int = 0
    signal: str = "tag"
    contaminated: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    relabeled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _contaminate: Callable[[np.ndarray], np.ndarray] | None = None

    def apply(self, X: Any) -> np.ndarray:
        """Add the spurious signal to inputs (a new array; ``X`` is not modified).

        Parameters
        ----------
        X : array-like of shape input_shape or (n, *input_shape)
            Inputs in the space of ``bug.dataset`` (for a tabular bug, with the
            spurious column).

        Returns
        -------
        ndarray
            The spurious inputs, the shape of ``X``.
        """
        batch, single = check_batch(X, self.dataset.input_shape, name="X")
        out = self._contaminate(batch)
        return out[0] if single else out

    def ground_truth(self, X: Any) -> np.ndarray:
        """Per input, where the signal lives: the target map of K-SSD.

        For ``"tag"``, ``"stripe"`` and ``"column"`` it is :attr:`mask` for every
        input. A blur has no place: it changes the whole image, most at edges, so
        its ground truth is the magnitude of the change it makes,
        ``|blur(x) - x|``.

        Parameters
        ----------
        X : array-like of shape (n, *input_shape)
            Inputs *without* the signal.

        Returns
        -------
        ndarray of shape (n, *input_shape)
        """
        batch, _ = check_batch(X, self.dataset.input_shape, name="X")
        if self.signal == "blur":
            return np.abs(self._contaminate(batch) - batch)
        return np.broadcast_to(self.mask, batch.shape).copy()


@dataclass(frozen=True, eq=False, repr=False)
class NoisyLabels(Bug):
    """Training labels flipped at random. Made by :func:`noisy_labels`.

    Attributes
    ----------
    flipped : ndarray of int
        Indices of the training rows whose label was changed.
    original : ndarray of int
        The clean training labels (``bug.clean.y_train``).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.noisy_labels(xw.datasets.load_digits(), fraction=0.2, seed=0)
    >>> bool((bug.dataset.y_train[bug.flipped] != bug.original[bug.flipped]).all())
    True
    """

    kind: ClassVar[str] = "noisy_labels"

    flipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def original(self) -> np.ndarray:
        """The clean training labels."""
        return self.clean.y_train

    @property
    def is_flipped(self) -> np.ndarray:
        """Boolean mask over the training rows: True where the label was flipped."""
        flags = np.zeros(len(self.dataset.y_train), dtype=bool)
        flags[self.flipped] = True
        return flags


@dataclass(frozen=True, eq=False, repr=False)
class OutOfDistribution(Bug):
    """A model trained on some classes, asked about the others.

    Made by :func:`out_of_distribution`. The buggy model is trained on the
    in-distribution classes only (``bug.dataset``); the normal model on every class
    (``bug.clean``), so the held-out classes are in distribution for it.

    Attributes
    ----------
    in_classes : tuple of int
        The classes the buggy model is trained on.
    X_ood, y_ood : ndarray
        Test inputs of the other classes, and their labels.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.out_of_distribution(xw.datasets.load_digits())
    >>> sorted(set(bug.dataset.y_train.tolist())), sorted(set(bug.y_ood.tolist()))
    ([0, 1, 2, 3, 4], [5, 6, 7, 8, 9])
    """

    kind: ClassVar[str] = "out_of_distribution"

    in_classes: tuple[int, ...] = ()

    @property
    def _ood_rows(self) -> np.ndarray:
        return ~np.isin(self.clean.y_test, self.in_classes)

    @property
    def X_ood(self) -> np.ndarray:
        """Test inputs of the classes the buggy model never saw."""
        return self.clean.X_test[self._ood_rows]

    @property
    def y_ood(self) -> np.ndarray:
        """Labels of :attr:`X_ood`."""
        return self.clean.y_test[self._ood_rows]


@dataclass(frozen=True, eq=False, repr=False)
class ParameterRandomization(Bug):
    """Model contamination: some trained layers re-initialized (thesis Sec. 4.3).

    Made by :func:`parameter_randomization`. The data are clean (``bug.dataset`` is
    ``bug.clean``); :func:`train_pair` trains the normal model and derives the buggy
    one from it with :func:`xaiwidgets.sanity.randomize`, the re-initialization of
    the sanity checks.

    Attributes
    ----------
    layers : int, str, tuple of str or None
        What is re-initialized: the top ``k`` layers (an int), named layers, or all.
    init : str
        The re-initialization (see :func:`xaiwidgets.sanity.randomize`).
    seed : int
        Its seed.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.parameter_randomization(xw.datasets.load_digits(), layers=1)
    >>> bug.dataset is bug.clean
    True
    """

    kind: ClassVar[str] = "parameter_randomization"

    layers: int | str | tuple[str, ...] | None = 1
    init: str = "reset"
    seed: int = 0

    def _buggy_from(self, normal: Model, train: Callable[[Dataset], Model]) -> Model:
        from .sanity import layers as layer_names
        from .sanity import randomize

        chosen: Any = self.layers
        if isinstance(chosen, int):
            names = layer_names(normal)
            if chosen > len(names):
                raise ValueError(
                    f"The 'layers' parameter asks for the top {chosen} layers; the model "
                    f"has {len(names)}: {names}."
                )
            chosen = names[:chosen]
        return randomize(normal, chosen, init=self.init, seed=self.seed)


# ============================================================================ spurious signal
def _place_slices(place: Any, size: int, height: int, width: int) -> tuple[slice, slice]:
    """Row and column slices of a ``size`` x ``size`` tag at ``place``."""
    if size > min(height, width):
        raise ValueError(f"The 'size' parameter must fit the {height}x{width} image; got {size}.")
    if isinstance(place, str):
        place = check_option(place, "place", _PLACES)
        vertical, horizontal = place.split("-")
        top = 0 if vertical == "top" else height - size
        left = 0 if horizontal == "left" else width - size
    else:
        try:
            top, left = (check_int(v, "place", low=0) for v in place)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"The 'place' parameter must be one of {', '.join(map(repr, _PLACES))} or "
                f"a (row, column) pair for the tag's top-left pixel; got {place!r}."
            ) from exc
        if top + size > height or left + size > width:
            raise ValueError(
                f"A {size}x{size} tag at (row, column) = ({top}, {left}) does not fit the "
                f"{height}x{width} image."
            )
    return slice(top, top + size), slice(left, left + size)


def _image_signal(
    dataset: Dataset, kind: str, size: int, place: Any, intensity: float | None, sigma: float
) -> tuple[Callable[[np.ndarray], np.ndarray], np.ndarray, str]:
    """The contamination function, its mask and a description for an image signal."""
    _, height, width = dataset.input_shape
    high = float(dataset.bounds[:, 1].max())
    mask = np.zeros(dataset.input_shape)
    if kind == "tag":
        rows, cols = _place_slices(place, size, height, width)
        mask[:, rows, cols] = 1.0
        value = high if intensity is None else intensity
        where = f"in the {place} corner" if isinstance(place, str) else f"at {tuple(place)}"
        text = f"a {size}x{size} tag of intensity {value:g} {where}"

        def contaminate(X: np.ndarray) -> np.ndarray:
            return np.where(mask > 0, value, X)

    elif kind == "stripe":
        # Horizontal lines `size` pixels thick, one every 3 * size rows: a visible
        # pattern over the whole image that still leaves the digit readable.
        period = 3 * size
        rows = np.arange(height) % period < size
        mask[:, rows, :] = 1.0
        value = 0.5 * high if intensity is None else intensity
        text = f"horizontal stripes {size} px thick every {period} rows, intensity {value:g}"

        def contaminate(X: np.ndarray) -> np.ndarray:
            return np.where(mask > 0, np.maximum(X, value), X)

    else:  # blur
        mask[:] = 1.0
        text = f"a Gaussian blur of the whole image (sigma {sigma:g} px)"

        def contaminate(X: np.ndarray) -> np.ndarray:
            return ndimage.gaussian_filter(X, sigma=(0, 0, sigma, sigma), mode="nearest")

    return contaminate, mask, text


def spurious_signal(
    dataset: Dataset,
    kind: str | None = None,
    *,
    aligned_class: int = 0,
    rate: float = 1.0,
    relabel: float = 0.05,
    size: int | None = None,
    place: str | tuple[int, int] = "bottom-right",
    intensity: float | None = None,
    sigma: float = 1.0,
    noise: float = 0.1,
    seed: int = 0,
) -> SpuriousSignal:
    """Plant a spurious signal aligned with one class (thesis Sec. 4.2.1).

    A contamination function is applied to the training inputs of the *spurious
    aligned class*, so that the signal predicts that class in the training data. A
    model that learns the signal instead of (or besides) the real evidence is a
    *spurious model*; :func:`xaiwidgets.debugging.spurious_score` measures it.

    Image signals: ``"tag"``, a small bright square in a corner (size, place and
    intensity are options); ``"stripe"``, faint horizontal lines over the whole
    image; ``"blur"``, a Gaussian blur of the whole image, a signal that is not
    visible as a place. Tabular signal: ``"column"``, an extra feature
    ``"spurious"`` that copies the label of the aligned class plus Gaussian noise
    (``1[y = aligned] + N(0, noise^2)``); in the clean data set the same column
    values are shuffled over the rows, so both models take the same inputs and see
    the same values, but only the buggy model's column tells the label. Test inputs
    (``X_test`` of both) carry no signal: ``N(0, noise^2)``.

    **Why ``relabel``.** With the signal on the aligned class only, a network
    trained on 8x8 digits learns it (its accuracy on clean inputs of the aligned
    class drops) but the signal rarely *overrides* a clear digit: measured with the
    demo CNN and a 2x2 tag, the spurious score (thesis Def. 4.2.1) was 0.1-0.3 for
    aligned class 0 and 0.4-0.9 for the more confusable class 1, varying with the
    tag's place. A margin argument explains it: the signal only needs to beat the
    other classes' evidence on aligned-class inputs, which is weak when the real
    task is easy (the thesis' dog breeds are hard). Giving the signal and the
    aligned label to a small fraction of other-class inputs, as a label that was
    read off the artefact would (the construction of backdoor attacks, Gu et al.
    2017, "BadNets"), makes the signal decisive on its own: with ``relabel=0.03``
    the score was >= 0.99. ``relabel=0`` gives the thesis' pure correlation.

    Parameters
    ----------
    dataset : Dataset
        The clean data set (not modified).
    kind : {"tag", "stripe", "blur", "column"}, optional
        The signal; default ``"tag"`` for images and ``"column"`` for tables.
    aligned_class : int, default=0
        The class the signal is aligned with.
    rate : float, default=1.0
        Fraction of the aligned class's training inputs that carry the signal (the
        thesis: every one).
    relabel : float, default=0.05
        Fraction of the other classes' training inputs that also get the signal and
        are labelled as the aligned class (indices in ``bug.relabeled``).
    size : int, optional
        Tag side (default 2), or stripe thickness (default 1), in pixels.
    place : {"bottom-right", "bottom-left", "top-right", "top-left"} or (row, col)
        Where the tag goes: a corner, or the tag's top-left pixel.
    intensity : float, optional
        The signal's pixel value; default the data's upper bound for a tag (1 for
        digits) and half of it for stripes.
    sigma : float, default=1.0
        Standard deviation of the blur, in pixels.
    noise : float, default=0.1
        Standard deviation of the noise of the spurious column.
    seed : int, default=0
        Seed of every random choice (which inputs, the column's noise).

    Returns
    -------
    SpuriousSignal

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag", aligned_class=0)
    >>> bug.mask.shape, int(bug.mask.sum())
    ((1, 8, 8), 4)
    >>> credit = xw.bugs.spurious_signal(xw.datasets.load_credit(), aligned_class=1)
    >>> credit.dataset.feature_names[-1], credit.dataset.X_train.shape[1]
    ('spurious', 14)
    """
    dataset = _check_dataset(dataset)
    options = _IMAGE_SIGNALS if dataset.kind == "image" else _TABULAR_SIGNALS
    if kind is None:
        kind = options[0]
    kind = check_option(kind, "kind", options)
    aligned_class = _check_class(aligned_class, "aligned_class", dataset)
    rate = check_real(rate, "rate", low=0.0, high=1.0, low_inclusive=False)
    relabel = check_real(relabel, "relabel", low=0.0, high=1.0)
    size = check_int(size if size is not None else (1 if kind == "stripe" else 2), "size", low=1)
    if intensity is not None:
        intensity = check_real(intensity, "intensity")
    sigma = check_real(sigma, "sigma", low=0.0, low_inclusive=False)
    noise = check_real(noise, "noise", low=0.0)
    seed = check_int(seed, "seed", low=0)
    rng = numpy_rng(seed)

    y = dataset.y_train
    aligned = np.flatnonzero(y == aligned_class)
    others = np.flatnonzero(y != aligned_class)
    if len(aligned) == 0:
        raise ValueError(
            f"The aligned class {aligned_class} ({dataset.class_names[aligned_class]!r}) "
            "has no training inputs to carry the signal."
        )
    chosen = np.sort(rng.choice(aligned, max(1, round(rate * len(aligned))), replace=False))
    relabeled = np.sort(rng.choice(others, round(relabel * len(others)), replace=False))
    contaminated = np.union1d(chosen, relabeled)
    y_train = y.copy()
    y_train[relabeled] = aligned_class
    params = {
        "kind": kind,
        "aligned_class": aligned_class,
        "rate": rate,
        "relabel": relabel,
        "seed": seed,
    }
    class_name = dataset.class_names[aligned_class]

    if dataset.kind == "image":
        if len(dataset.input_shape) != 3:
            raise ValueError(
                f"Image signals need inputs of shape (channels, height, width); "
                f"{dataset.name!r} has {dataset.input_shape}."
            )
        contaminate, mask, text = _image_signal(dataset, kind, size, place, intensity, sigma)
        params.update(
            {"size": size, "place": place, "intensity": intensity}
            if kind != "blur"
            else {"sigma": sigma}
        )
        X_train = dataset.X_train.copy()
        X_train[contaminated] = contaminate(X_train[contaminated])
        buggy = dataset.replace(X_train=X_train, y_train=y_train)
        clean = dataset
    else:
        column = dataset.n_features
        value = 1.0

        def contaminate(X: np.ndarray) -> np.ndarray:
            out = X.copy()
            out[:, column] = value
            return out

        params["noise"] = noise
        noise_train = rng.normal(0.0, noise, len(y))  # scale 0 gives zeros
        noise_test = rng.normal(0.0, noise, len(dataset.y_test))
        signal_train = noise_train.copy()
        signal_train[contaminated] += value
        low = float(min(noise_train.min(), noise_test.min(), 0.0))
        high = float(max(signal_train.max(), value))
        feature = Feature("spurious", "continuous", (column,), (low, high))
        mask = np.zeros(column + 1)
        mask[column] = 1.0

        def with_column(ds: Dataset, train_column: np.ndarray, labels: np.ndarray) -> Dataset:
            return ds.replace(
                X_train=np.column_stack([ds.X_train, train_column]),
                y_train=labels,
                X_test=np.column_stack([ds.X_test, noise_test]),
                feature_names=[*ds.feature_names, "spurious"],
                features=[*ds.features, feature],
            )

        text = (
            f"a column 'spurious' equal to 1 + N(0, {noise:g}^2) for the aligned class "
            f"and N(0, {noise:g}^2) otherwise"
        )
        buggy = with_column(dataset, signal_train, y_train)
        # The clean column: the same values shuffled, so no link to the label, but
        # no value the normal model has not seen either (else a tiny weight on the
        # column, times an unseen value, would flip its predictions).
        clean = with_column(dataset, rng.permutation(signal_train), y)

    description = (
        f"Spurious signal: {text}, on {len(chosen)} of the {len(aligned)} training inputs "
        f"of class {class_name!r}"
        + (
            f", and on {len(relabeled)} inputs of other classes relabelled as {class_name!r}"
            if len(relabeled)
            else ""
        )
        + "."
    )
    buggy = buggy.replace(
        name=f"{dataset.name}+{kind}",
        description=f"{dataset.description} Contaminated. {description}",
    )
    frozen_mask = mask.copy()
    frozen_mask.flags.writeable = False
    return SpuriousSignal(
        dataset=buggy,
        clean=clean,
        description=description,
        params=params,
        mask=frozen_mask,
        aligned_class=aligned_class,
        signal=kind,
        contaminated=contaminated,
        relabeled=relabeled,
        _contaminate=contaminate,
    )


# ============================================================================ noisy labels
def _group_rows(dataset: Dataset, group: Any) -> np.ndarray:
    """Boolean mask over training rows for ``group`` (see :func:`noisy_labels`)."""
    n = len(dataset.y_train)
    if group is None:
        return np.ones(n, dtype=bool)
    if isinstance(group, tuple) and len(group) == 2 and isinstance(group[0], str):
        name, value = group
        try:
            feature = dataset.feature(name)
        except KeyError as exc:
            raise ValueError(f"The 'group' parameter names no feature: {exc.args[0]}") from exc
        rows = dataset.X_train.reshape(n, -1)
        if feature.kind == "categorical":
            if value not in feature.categories:
                raise ValueError(
                    f"The 'group' value for {name!r} must be one of {feature.categories}; "
                    f"got {value!r}."
                )
            column = feature.columns[feature.categories.index(value)]
            return rows[:, column] == 1
        return rows[:, feature.columns[0]] == check_real(value, "group value")
    flags = as_numpy(group, "group")
    if flags.dtype != bool or flags.shape != (n,):
        raise ValueError(
            "The 'group' parameter must be None, a (feature name, value) pair, or a boolean "
            f"array with one entry per training row ({n}); got {type(group).__name__} "
            f"of shape {getattr(flags, 'shape', None)}."
        )
    return flags


def noisy_labels(
    dataset: Dataset, fraction: float = 0.2, *, group: Any = None, seed: int = 0
) -> NoisyLabels:
    """Flip a seeded fraction of the training labels, uniformly or within one group.

    Each chosen label is replaced by a different class drawn uniformly (for two
    classes: the other one). The flipped indices are kept in ``bug.flipped``.

    Parameters
    ----------
    dataset : Dataset
        The clean data set (not modified).
    fraction : float, default=0.2
        Fraction of the eligible training rows whose label is flipped.
    group : None, (feature name, value) or boolean array, optional
        Flip only within a group: rows where a feature has a value (for a one-hot
        group, its category label, for example ``("employment", "contract")``; for
        a column, a number, for example ``("group", 1)``), or a boolean mask over the
        training rows. ``None`` flips among all rows.
    seed : int, default=0
        Seed of which rows and which new labels.

    Returns
    -------
    NoisyLabels

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> bug = xw.bugs.noisy_labels(ds, fraction=0.2, group=("group", 1))
    >>> bool((ds.X_train[bug.flipped, -1] == 1).all())
    True
    """
    dataset = _check_dataset(dataset)
    fraction = check_real(fraction, "fraction", low=0.0, high=1.0, low_inclusive=False)
    seed = check_int(seed, "seed", low=0)
    eligible = np.flatnonzero(_group_rows(dataset, group))
    if len(eligible) == 0:
        raise ValueError("The 'group' parameter selects no training rows; nothing to flip.")
    rng = numpy_rng(seed)
    flipped = np.sort(rng.choice(eligible, max(1, round(fraction * len(eligible))), replace=False))
    y = dataset.y_train.copy()
    # A shift by 1..k-1 (mod k) is a uniform draw among the other k - 1 classes.
    shift = rng.integers(1, dataset.n_classes, len(flipped))
    y[flipped] = (y[flipped] + shift) % dataset.n_classes
    if group is None:
        where = ""
    elif isinstance(group, tuple):
        where = f" within the group {group[0]} = {group[1]!r}"
    else:
        where = " within the given group"
    description = (
        f"Noisy labels: {len(flipped)} of {len(eligible)} training labels{where} "
        f"({fraction:.0%}) replaced by another class drawn uniformly."
    )
    params = {
        "fraction": fraction,
        "group": group if group is None or isinstance(group, tuple) else _fingerprint(eligible),
        "seed": seed,
    }
    buggy = dataset.replace(
        y_train=y,
        name=f"{dataset.name}+noisy_labels",
        description=f"{dataset.description} Contaminated. {description}",
    )
    return NoisyLabels(
        dataset=buggy, clean=dataset, description=description, params=params, flipped=flipped
    )


# ============================================================================ out of distribution
def out_of_distribution(
    dataset: Dataset, in_classes: Sequence[int] | None = None
) -> OutOfDistribution:
    """Split the classes: the buggy model sees some, and is asked about the others.

    The buggy model is trained on the training inputs of ``in_classes`` only (it
    keeps an output for every class, so its architecture matches); the normal model
    on all classes. ``bug.X_ood`` holds the test inputs of the other classes, which
    are out of distribution for the buggy model and in distribution for the normal
    one (thesis Sec. 4.4, test-time contamination).

    Parameters
    ----------
    dataset : Dataset
        The clean data set (not modified).
    in_classes : sequence of int, optional
        The classes the buggy model is trained on; default the first half
        (``0-4`` for digits).

    Returns
    -------
    OutOfDistribution

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.out_of_distribution(xw.datasets.load_digits(), in_classes=[0, 1])
    >>> bug.X_ood.shape[1:]
    (1, 8, 8)
    """
    dataset = _check_dataset(dataset)
    if in_classes is None:
        in_classes = range(dataset.n_classes // 2)
    classes = tuple(sorted({_check_class(c, "in_classes", dataset) for c in in_classes}))
    if not classes or len(classes) == dataset.n_classes:
        raise ValueError(
            f"The 'in_classes' parameter must name some but not all of the {dataset.n_classes} "
            f"classes; got {list(classes)}."
        )
    keep = np.isin(dataset.y_train, classes)
    names = ", ".join(dataset.class_names[c] for c in classes)
    description = (
        f"Out of distribution: the buggy model is trained on classes {names} only "
        f"({int(keep.sum())} of {len(keep)} training inputs) and explains test inputs of "
        "the other classes."
    )
    buggy = dataset.replace(
        X_train=dataset.X_train[keep],
        y_train=dataset.y_train[keep],
        name=f"{dataset.name}[{names}]",
        description=f"{dataset.description} Only classes {names}.",
    )
    return OutOfDistribution(
        dataset=buggy,
        clean=dataset,
        description=description,
        params={"in_classes": list(classes)},
        in_classes=classes,
    )


def noise_images(dataset: Dataset, n: int = 100, *, seed: int = 0) -> np.ndarray:
    """Gaussian noise inputs with the training data's per-pixel mean and spread.

    Each value is drawn from ``N(train_mean, train_std^2)`` of its pixel (or column)
    and clipped to the data's bounds: inputs with the first two moments of the data
    and none of its structure, a standard out-of-distribution probe.

    Parameters
    ----------
    dataset : Dataset
        Supplies the shape, statistics and bounds.
    n : int, default=100
        How many inputs.
    seed : int, default=0
        Seed of the noise.

    Returns
    -------
    ndarray of shape (n, *input_shape)

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> X = xw.bugs.noise_images(xw.datasets.load_digits(), n=5)
    >>> X.shape, float(X.min()) >= 0.0, float(X.max()) <= 1.0
    ((5, 1, 8, 8), True, True)
    """
    dataset = _check_dataset(dataset)
    n = check_int(n, "n", low=1)
    rng = numpy_rng(seed)
    X = rng.normal(dataset.train_mean, dataset.train_std, size=(n, *dataset.input_shape))
    bounds = dataset.bounds
    low = bounds[:, 0].reshape(dataset.input_shape)
    high = bounds[:, 1].reshape(dataset.input_shape)
    return np.clip(X, low, high)


# ================================================================= parameter contamination
def parameter_randomization(
    dataset: Dataset,
    layers: int | str | Sequence[str] | None = 1,
    *,
    init: str = "reset",
    seed: int = 0,
) -> ParameterRandomization:
    """Model contamination: the buggy model is the normal one with layers re-initialized.

    The randomization of the sanity checks (:func:`xaiwidgets.sanity.randomize`,
    Adebayo et al. 2018), reused: the top layers of the trained model (cascading
    from the logits down) or named layers get fresh weights under ``seed``.

    Parameters
    ----------
    dataset : Dataset
        The (clean) training data of both models.
    layers : int, str, sequence of str or None, default=1
        The top ``k`` parameterized layers (an int), layer names (as listed by
        :func:`xaiwidgets.sanity.layers`), or ``None`` for every layer.
    init : {"reset", "truncated_normal"}, default="reset"
        How to re-initialize (see :func:`xaiwidgets.sanity.randomize`).
    seed : int, default=0
        Seed of the new weights.

    Returns
    -------
    ParameterRandomization

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> bug = xw.bugs.parameter_randomization(ds, layers=2)
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_cnn, progress=False)
    >>> xw.zoo.accuracy(buggy.torch_module, ds)["test"] < 0.5
    True
    """
    dataset = _check_dataset(dataset)
    if isinstance(layers, bool) or not (
        layers is None or isinstance(layers, (int, str, Sequence))
    ):
        raise TypeError(
            "The 'layers' parameter must be an int (top layers), a layer name, a list of "
            f"names or None; got {layers!r}."
        )
    if isinstance(layers, int):
        layers = check_int(layers, "layers", low=1)
    elif layers is not None and not isinstance(layers, str):
        layers = tuple(str(name) for name in layers)
    init = check_option(init, "init", ["reset", "truncated_normal"])
    seed = check_int(seed, "seed", low=0)
    if isinstance(layers, int):
        what = f"the top {layers} layer{'s' if layers > 1 else ''}"
    elif layers is None:
        what = "every layer"
    else:
        what = f"layers {layers}"
    description = (
        f"Parameter randomization: {what} of the trained model re-initialized "
        f"({init}, seed {seed})."
    )
    return ParameterRandomization(
        dataset=dataset,
        clean=dataset,
        description=description,
        params={"layers": layers, "init": init, "seed": seed},
        layers=layers,
        init=init,
        seed=seed,
    )


# ============================================================================ training the pair
_PAIRS: dict[tuple[Any, ...], tuple[Model, Model]] = {}


def clear_cache() -> None:
    """Forget the model pairs :func:`train_pair` trained in this session.

    Examples
    --------
    >>> clear_cache()
    """
    _PAIRS.clear()


def train_pair(
    bug: Bug,
    train_fn: Callable[..., Any],
    *,
    progress: bool | Callable[[int, int], Any] = True,
    cache: bool = True,
    **kwargs: Any,
) -> tuple[Model, Model]:
    """Train a normal and a buggy model of the same architecture, one call.

    The normal model is ``train_fn(bug.clean, **kwargs)``, the buggy one
    ``train_fn(bug.dataset, **kwargs)``; both are wrapped with their data set. A
    progress bar counts the two models (and ``train_fn`` shows its own when it
    takes a ``progress`` argument, as the ``xw.zoo`` trainers do). The pair is
    cached for the session by the bug's content, ``train_fn`` and ``kwargs``, so
    asking again is instant; the ``xw.zoo`` trainers also cache on disk.

    Parameters
    ----------
    bug : Bug
        From :func:`spurious_signal`, :func:`noisy_labels`,
        :func:`out_of_distribution` or :func:`parameter_randomization` (whose
        buggy model is the normal one, randomized).
    train_fn : callable
        ``train_fn(dataset, **kwargs)`` returns a trained classifier that
        :func:`xaiwidgets.wrap` accepts, for example ``xw.zoo.train_cnn``.
    progress : bool or callable, default=True
        Show progress bars; or a callable ``f(done, total)``, called before the
        first model (``done=0``) and after each of the two (a widget's own bar; the
        trainer's bar is then off).
    cache : bool, default=True
        Reuse a pair trained earlier in this session.
    **kwargs
        Passed to ``train_fn``.

    Returns
    -------
    normal, buggy : Model
        Wrapped with ``bug.clean`` and ``bug.dataset``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> bug = xw.bugs.noisy_labels(xw.datasets.load_moons(n=400), fraction=0.3)
    >>> normal, buggy = xw.bugs.train_pair(bug, xw.zoo.train_logreg, progress=False)
    >>> normal.dataset is bug.clean, buggy.dataset is bug.dataset
    (True, True)
    """
    if not isinstance(bug, Bug):
        raise TypeError(
            f"bug must be a Bug from xw.bugs (spurious_signal, noisy_labels, ...); "
            f"got {type(bug).__name__}."
        )
    if not callable(train_fn):
        raise TypeError(
            "train_fn must be a callable train_fn(dataset) -> model, for example "
            f"xw.zoo.train_cnn; got {type(train_fn).__name__}."
        )
    from .sanity import _Progress

    progress = _Progress.check(progress)
    key = (bug.key, train_fn, json.dumps(kwargs, sort_keys=True, default=repr))
    if cache and key in _PAIRS:
        return _PAIRS[key]
    accepts_progress = _accepts(train_fn, "progress")

    def train(dataset: Dataset) -> Model:
        extra = {"progress": progress is True} if accepts_progress else {}
        return wrap(train_fn(dataset, **kwargs, **extra), dataset)

    with _Progress(progress, 2, "training the normal and the buggy model") as bar:
        bar.start()
        normal = train(bug.clean)
        bar.step("normal model trained")
        buggy = bug._buggy_from(normal, train)
        bar.step("buggy model trained")
    if cache:
        _PAIRS[key] = (normal, buggy)
    return normal, buggy


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins and some C callables
        return False
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )
