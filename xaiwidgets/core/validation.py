"""Input validation in one place, checked at the public edge.

Every public function validates its arguments with these helpers and passes clean
arrays inward, as scikit-learn's ``check_array`` does. The messages follow one shape:
name the argument, say what was expected, say what arrived and, where possible, how
to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = [
    "as_numpy",
    "check_batch",
    "check_finite",
    "check_int",
    "check_option",
    "check_real",
    "check_targets",
]


def as_numpy(value: Any, name: str) -> np.ndarray:
    """Convert an array-like (list, numpy array, torch tensor, DataFrame) to numpy.

    Parameters
    ----------
    value : array-like
        The value to convert. Torch tensors are detached and moved to the CPU.
    name : str
        The argument's name, used in error messages.

    Returns
    -------
    ndarray
        A numpy array (not necessarily a copy).

    Raises
    ------
    TypeError
        If the value cannot be read as a numeric array.

    Examples
    --------
    >>> as_numpy([[1, 2], [3, 4]], "X").shape
    (2, 2)
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    elif hasattr(value, "to_numpy"):  # pandas
        value = value.to_numpy()
    try:
        array = np.asarray(value)
    except Exception as exc:  # pragma: no cover - numpy raises many types here
        raise TypeError(f"{name} must be array-like; got {type(value).__name__}.") from exc
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.number) or np.issubdtype(array.dtype, np.bool_)
    ):
        raise TypeError(
            f"{name} must be a numeric array; got dtype {array.dtype}. "
            "Encode categorical features as numbers (one-hot) first."
        )
    return array


def check_finite(array: np.ndarray, name: str) -> None:
    """Raise a ``ValueError`` naming ``name`` if ``array`` holds NaN or infinity.

    Examples
    --------
    >>> check_finite(np.array([1.0, 2.0]), "x")
    """
    if array.size and not np.all(np.isfinite(array)):
        bad = np.argwhere(~np.isfinite(array))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(
            f"{name} contains NaN or infinite values (first at index {where}); "
            "explanations need finite inputs."
        )


def _shape_text(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def check_batch(
    x: Any, input_shape: tuple[int, ...], name: str = "x", dtype: Any = np.float64
) -> tuple[np.ndarray, bool]:
    """Validate one input or a batch of inputs against the model's input shape.

    Parameters
    ----------
    x : array-like
        One input of shape ``input_shape`` or a batch of shape ``(n, *input_shape)``.
    input_shape : tuple of int
        The shape of one input, as the model expects it.
    name : str, default="x"
        The argument's name, used in error messages.
    dtype : numpy dtype, default=np.float64
        The dtype of the returned array.

    Returns
    -------
    batch : ndarray of shape (n, *input_shape)
        A fresh copy; the caller's array is never modified.
    single : bool
        True when ``x`` was one input (``n == 1`` then).

    Raises
    ------
    ValueError
        If the shape does not match, the batch is empty, or values are not finite.
    TypeError
        If ``x`` is not numeric.

    Examples
    --------
    >>> batch, single = check_batch([1.0, 2.0, 3.0], (3,))
    >>> batch.shape, single
    ((1, 3), True)
    """
    array = as_numpy(x, name)
    input_shape = tuple(int(s) for s in input_shape)
    if array.shape == input_shape:
        batch, single = array.reshape((1, *input_shape)), True
    elif array.ndim == len(input_shape) + 1 and array.shape[1:] == input_shape:
        batch, single = array, False
    else:
        raise ValueError(
            f"{name} must have shape {_shape_text(input_shape)} for one input or "
            f"{_shape_text(('n', *input_shape))} for a batch; got shape "
            f"{_shape_text(array.shape)}."
        )
    if batch.shape[0] == 0:
        raise ValueError(f"{name} is empty: it holds 0 inputs; pass at least one.")
    batch = np.array(batch, dtype=dtype, copy=True)
    check_finite(batch, name)
    return batch, single


def check_targets(target: Any, n_rows: int, n_classes: int, name: str = "target") -> np.ndarray:
    """Validate a target class for each of ``n_rows`` inputs.

    Parameters
    ----------
    target : int, array-like of int
        One class for all rows, or one per row.
    n_rows : int
        The number of inputs.
    n_classes : int
        The number of classes of the model.
    name : str, default="target"
        The argument's name, used in error messages.

    Returns
    -------
    ndarray of shape (n_rows,), dtype int64

    Examples
    --------
    >>> check_targets(1, 3, 2)
    array([1, 1, 1])
    """
    array = np.asarray(target)
    if array.dtype == object or not np.issubdtype(array.dtype, np.integer):
        if np.issubdtype(array.dtype, np.floating) and np.all(array == np.round(array)):
            array = array.astype(np.int64)
        else:
            raise TypeError(f"{name} must be an int class index or None; got {target!r}.")
    if array.ndim == 0:
        array = np.full(n_rows, int(array), dtype=np.int64)
    elif array.shape != (n_rows,):
        raise ValueError(
            f"{name} must be one int or one per input ({n_rows}); got shape {array.shape}."
        )
    out_of_range = (array < 0) | (array >= n_classes)
    if np.any(out_of_range):
        bad = int(array[out_of_range][0])
        raise ValueError(
            f"{name} must be a class index in [0, {n_classes - 1}] for this model with "
            f"{n_classes} classes; got {bad}."
        )
    return array.astype(np.int64)


def check_int(value: Any, name: str, low: int | None = None, high: int | None = None) -> int:
    """Validate an integer parameter in the closed range ``[low, high]``.

    Examples
    --------
    >>> check_int(64, "steps", low=1)
    64
    """
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"The {name!r} parameter must be an int; got {value!r}.")
    _check_range(value, name, low, high, "an int")
    return int(value)


def check_real(
    value: Any,
    name: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
) -> float:
    """Validate a real parameter in the range ``[low, high]`` (or ``(low, high]``).

    Examples
    --------
    >>> check_real(0.15, "sigma", low=0.0)
    0.15
    """
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value):
        raise TypeError(f"The {name!r} parameter must be a finite real number; got {value!r}.")
    if not low_inclusive and low is not None and value <= low:
        raise ValueError(f"The {name!r} parameter must be greater than {low}; got {value!r}.")
    _check_range(value, name, low, high, "a number")
    return float(value)


def _check_range(value: Real, name: str, low: Real | None, high: Real | None, what: str) -> None:
    if (low is not None and value < low) or (high is not None and value > high):
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        raise ValueError(
            f"The {name!r} parameter must be {what} in the range [{lo}, {hi}]; got {value!r}."
        )


def check_option(value: Any, name: str, options: Iterable[str]) -> str:
    """Validate a string parameter against its allowed options.

    Examples
    --------
    >>> check_option("mean", "baseline", ["zeros", "mean"])
    'mean'
    """
    options = list(options)
    if not isinstance(value, str) or value not in options:
        choices = ", ".join(repr(o) for o in options)
        raise ValueError(f"The {name!r} parameter must be one of {choices}; got {value!r}.")
    return value
