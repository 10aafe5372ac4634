"""One adapter, :class:`Model`, for torch modules, scikit-learn estimators and callables.

Explainers talk only to :class:`Model`. It answers the questions they ask (how many
classes, what one input looks like, are there logits, are there gradients), evaluates
inputs in batches, and guarantees that the caller's torch module comes back exactly as
it was: its train/eval flags and the global grad mode are restored after every use.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np
import torch

from .validation import check_batch, check_option

if TYPE_CHECKING:
    from .dataset import Dataset

__all__ = ["Model", "wrap"]

Output = Literal["logit", "probability"]

# Rows evaluated per forward pass: at most this many input elements at once.
_MAX_BATCH_ELEMENTS = 2**22


class _EvalModeGuard:
    """Put a module in eval mode while any caller is inside; restore its flags after.

    Re-entrant and thread-safe: a widget may explain in a worker thread while the
    notebook predicts in the main thread. The first caller in records every
    submodule's ``training`` flag and switches to eval; the last caller out restores
    the flags exactly as recorded (a module may mix train and eval submodules).

    There is one guard per module (:meth:`of`), shared by every :class:`Model` that
    wraps it: two widgets given the same network wrap it separately, and with a guard
    each, the first to finish would switch a training-mode network back to training
    (dropout on) while the other is still computing.
    """

    # Guards by id of their module; a guard holds its module, so the id stays unique
    # for as long as the entry lives.
    _by_module: ClassVar[weakref.WeakValueDictionary[int, _EvalModeGuard]] = (
        weakref.WeakValueDictionary()
    )
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, module: torch.nn.Module) -> None:
        self._module = module
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: list[torch.nn.Module] = []

    @classmethod
    def of(cls, module: torch.nn.Module) -> _EvalModeGuard:
        """The guard of ``module``, created on first use."""
        with cls._registry_lock:
            guard = cls._by_module.get(id(module))
            if guard is None:
                guard = cls._by_module[id(module)] = cls(module)
            return guard

    def __reduce__(self) -> tuple:
        # Pickled (for a worker process) only between uses: the copy joins the
        # guard of the module it arrives with.
        return (_EvalModeGuard.of, (self._module,))

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._depth == 0:
                # Only modules in training mode need switching (usually none).
                self._saved = [m for m in self._module.modules() if m.training]
                for submodule in self._saved:
                    submodule.training = False
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for submodule in self._saved:
                        submodule.training = True
                    self._saved = []


class Model:
    """A classifier seen through one interface, whatever it was built with.

    Create one with :func:`wrap`. Every method takes a single input or a batch and
    returns numpy arrays; gradient explainers use :meth:`torch_outputs`.

    Attributes
    ----------
    source : {"torch", "sklearn", "callable"}
        What was wrapped.
    n_classes : int
        Number of classes.
    input_shape : tuple of int
        Shape of one input.
    differentiable : bool
        Whether gradients with respect to the input exist (torch modules).
    has_logits : bool
        Whether pre-softmax scores exist (torch modules with ``output="logits"``).
    dataset : Dataset or None
        The data set the model was wrapped with, if any.
    class_names, feature_names : list of str
        From the data set, or generic names.

    Examples
    --------
    >>> import torch, xaiwidgets as xw
    >>> m = xw.wrap(torch.nn.Linear(3, 2), input_shape=(3,))
    >>> m.predict_proba([0.0, 1.0, 2.0]).shape
    (1, 2)
    """

    def __init__(
        self,
        predictor: Any,
        *,
        source: Literal["torch", "sklearn", "callable"],
        input_shape: tuple[int, ...],
        n_classes: int,
        has_logits: bool,
        dataset: Dataset | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        self.predictor = predictor
        self.source = source
        self.input_shape = tuple(int(s) for s in input_shape)
        self.n_classes = int(n_classes)
        self.has_logits = bool(has_logits)
        self.dataset = dataset
        if class_names is None:
            class_names = (
                list(dataset.class_names)
                if dataset is not None
                else [f"class {k}" for k in range(self.n_classes)]
            )
        if len(class_names) != self.n_classes:
            raise ValueError(
                f"class_names must name each of the model's {self.n_classes} classes; "
                f"got {len(class_names)} names."
            )
        self.class_names = list(class_names)
        self._eval_mode = _EvalModeGuard.of(predictor) if source == "torch" else None

    # ------------------------------------------------------------------ capabilities
    @property
    def differentiable(self) -> bool:
        """Whether gradients of the outputs with respect to the input exist."""
        return self.source == "torch"

    @property
    def default_output(self) -> Output:
        """The output explained by default: ``"logit"`` where it exists, else probability."""
        return "logit" if self.has_logits else "probability"

    @property
    def feature_names(self) -> list[str]:
        """Column names from the data set, or ``x0, x1, ...``."""
        if self.dataset is not None:
            return list(self.dataset.feature_names)
        return [f"x{i}" for i in range(int(np.prod(self.input_shape)))]

    @property
    def torch_module(self) -> torch.nn.Module:
        """The wrapped ``torch.nn.Module`` (raises ``TypeError`` for other models)."""
        if self.source != "torch":
            raise TypeError(f"This model wraps a {self.source} predictor, not a torch.nn.Module.")
        return self.predictor

    @property
    def torch_dtype(self) -> torch.dtype:
        """The floating dtype of the module's parameters (float32 if it has none)."""
        for parameter in self.torch_module.parameters():
            if parameter.is_floating_point():
                return parameter.dtype
        return torch.float32

    def resolve_output(self, output: str) -> Output:
        """Turn ``"auto"`` into the default output and check the choice applies.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,)).resolve_output("auto")
        'logit'
        """
        output = check_option(output, "output", ["auto", "logit", "probability"])
        if output == "auto":
            return self.default_output
        if output == "logit" and not self.has_logits:
            raise ValueError(
                "output='logit' needs a model with pre-softmax scores; this "
                f"{self.source} model gives probabilities only. Use output='probability'."
            )
        return output  # type: ignore[return-value]

    # ------------------------------------------------------------------ evaluation
    def check_input(self, x: Any, name: str = "x") -> tuple[np.ndarray, bool]:
        """Validate one input or a batch for this model (see ``check_batch``).

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,))
        >>> m.check_input([1.0, 2.0])[0].shape
        (1, 2)
        """
        return check_batch(x, self.input_shape, name=name)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, for one input or a batch.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 3), input_shape=(2,))
        >>> round(float(m.predict_proba([[1.0, 2.0]]).sum()), 12)
        1.0
        """
        return self.outputs(X, "probability")

    def logits(self, X: Any) -> np.ndarray:
        """Pre-softmax scores, shape ``(n, n_classes)``; ``TypeError`` where undefined.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 3), input_shape=(2,))
        >>> m.logits([1.0, 2.0]).shape
        (1, 3)
        """
        if not self.has_logits:
            raise TypeError(
                f"This {self.source} model gives class probabilities only, so logits() is "
                "undefined; use predict_proba()."
            )
        return self.outputs(X, "logit")

    def predict(self, X: Any) -> np.ndarray:
        """Predicted class index for each input, shape ``(n,)``.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 3), input_shape=(2,))
        >>> m.predict([1.0, 2.0]).shape
        (1,)
        """
        return np.argmax(self.outputs(X, self.default_output), axis=1)

    def outputs(self, X: Any, output: Output) -> np.ndarray:
        """Logits or probabilities (``output``) for one input or a batch, as numpy.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 3), input_shape=(2,))
        >>> m.outputs([1.0, 2.0], "probability").shape
        (1, 3)
        """
        batch, _ = self.check_input(X, name="X")
        return self._outputs_unchecked(batch, output)

    def _outputs_unchecked(self, batch: np.ndarray, output: Output) -> np.ndarray:
        output = self.resolve_output(output)
        if self.source == "torch":
            chunks = []
            with self.inference(), torch.no_grad():
                for rows in self._row_chunks(len(batch)):
                    tensor = torch.tensor(batch[rows], dtype=self.torch_dtype)
                    chunks.append(self.torch_outputs(tensor, self.default_output).double().numpy())
            scores = np.concatenate(chunks)
        else:
            scores = self._call_predictor(batch)
        # Probabilities from logits by a float64 softmax, the same everywhere.
        if output == "probability" and self.has_logits:
            return _softmax(scores)
        return scores

    def _row_chunks(self, n_rows: int) -> Iterator[slice]:
        per_row = max(1, int(np.prod(self.input_shape)))
        step = max(1, _MAX_BATCH_ELEMENTS // per_row)
        for start in range(0, n_rows, step):
            yield slice(start, min(start + step, n_rows))

    def _call_predictor(self, batch: np.ndarray) -> np.ndarray:
        if self.source == "sklearn":
            flat = batch.reshape(len(batch), -1)
            result = self.predictor.predict_proba(flat)
        else:
            result = self.predictor(batch)
        result = np.asarray(result, dtype=np.float64)
        if result.shape != (len(batch), self.n_classes):
            raise ValueError(
                f"The wrapped {self.source} model returned shape {result.shape} for "
                f"{len(batch)} inputs; expected ({len(batch)}, {self.n_classes})."
            )
        return result

    # ------------------------------------------------------------------ torch view
    @contextmanager
    def inference(self) -> Iterator[None]:
        """Context in which the torch module is in eval mode; flags restored on exit.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Dropout()).train()
        >>> m = xw.wrap(net, input_shape=(2,))
        >>> with m.inference():
        ...     net.training
        False
        >>> net.training
        True
        """
        if self._eval_mode is None:
            yield
        else:
            with self._eval_mode():
                yield

    def torch_outputs(self, X: torch.Tensor, output: Output) -> torch.Tensor:
        """Differentiable logits or probabilities, shape ``(n, n_classes)``.

        Call inside :meth:`inference`; gradient explainers do so.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 3), input_shape=(2,))
        >>> with m.inference():
        ...     m.torch_outputs(torch.zeros(4, 2), "logit").shape
        torch.Size([4, 3])
        """
        raw = self.torch_module(X)
        if raw.ndim == 1:
            raw = raw[:, None]
        if raw.shape[1] == 1 and self.n_classes == 2:
            # One score for a binary problem: a logit z for class 1, spread as
            # (-z/2, z/2) so that the softmax gives (1 - sigmoid(z), sigmoid(z)) and
            # both classes have a gradient.
            raw = (
                torch.cat([-raw / 2, raw / 2], dim=1)
                if self.has_logits
                else torch.cat([1 - raw, raw], dim=1)
            )
        if output == "probability" and self.has_logits:
            return torch.softmax(raw, dim=1)
        if output == "logit" and not self.has_logits:
            raise ValueError("This model gives probabilities only; there are no logits.")
        return raw

    def with_module(self, module: torch.nn.Module) -> Model:
        """A new :class:`Model` with the same metadata around another torch module.

        Used for randomized copies in sanity checks and for float64 copies.

        Examples
        --------
        >>> import copy, torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,))
        >>> m.with_module(copy.deepcopy(m.torch_module)).n_classes
        2
        """
        if self.source != "torch":
            raise TypeError(f"with_module needs a torch model; this one is {self.source}.")
        return Model(
            module,
            source="torch",
            input_shape=self.input_shape,
            n_classes=self.n_classes,
            has_logits=self.has_logits,
            dataset=self.dataset,
            class_names=self.class_names,
        )

    def to_dtype(self, dtype: torch.dtype) -> Model:
        """A copy evaluated in ``dtype`` (for example ``torch.float64`` for solvers).

        The caller's module is not changed: a deep copy is converted.

        Examples
        --------
        >>> import torch, xaiwidgets as xw
        >>> m = xw.wrap(torch.nn.Linear(2, 2), input_shape=(2,))
        >>> m.to_dtype(torch.float64).torch_dtype
        torch.float64
        """
        return self.with_module(copy.deepcopy(self.torch_module).to(dtype))

    def __repr__(self) -> str:
        kind = type(self.predictor).__name__
        return (
            f"Model({kind}, source={self.source!r}, input_shape={self.input_shape}, "
            f"n_classes={self.n_classes}, outputs={self.default_output!r})"
        )


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _is_sklearn_estimator(obj: Any) -> bool:
    return hasattr(obj, "predict_proba") and hasattr(obj, "get_params")


def wrap(
    model: Any,
    dataset: Dataset | None = None,
    *,
    output: Literal["logits", "probs"] = "logits",
    input_shape: tuple[int, ...] | None = None,
    n_classes: int | None = None,
    class_names: list[str] | None = None,
) -> Model:
    """Wrap a classifier so that every explainer and widget can use it.

    Parameters
    ----------
    model : torch.nn.Module, scikit-learn classifier, or callable
        - A ``torch.nn.Module`` mapping a batch ``(n, *input_shape)`` to class scores
          ``(n, n_classes)`` (one score column is read as a binary logit).
        - A fitted scikit-learn classifier or ``Pipeline`` with ``predict_proba``.
        - A callable mapping a numpy batch ``(n, *input_shape)`` to probabilities.
    dataset : Dataset, optional
        Supplies the input shape, class names, feature names, training statistics
        (IG "mean" baselines, SmoothGrad noise scale) and bounds.
    output : {"logits", "probs"}, default="logits"
        What a torch module returns. Callables and scikit-learn models always
        return probabilities.
    input_shape : tuple of int, optional
        Shape of one input; needed when there is no ``dataset`` and the model cannot
        tell (torch modules, callables).
    n_classes : int, optional
        Number of classes; inferred by evaluating one input when omitted.
    class_names : list of str, optional
        Overrides the data set's class names.

    Returns
    -------
    Model

    Raises
    ------
    TypeError
        If ``model`` is none of the supported kinds.
    ValueError
        If the input shape cannot be determined or the outputs do not fit.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> from sklearn.linear_model import LogisticRegression
    >>> ds = xw.datasets.load_moons(n=200)
    >>> m = xw.wrap(LogisticRegression().fit(ds.X_train, ds.y_train), ds)
    >>> m.source, m.differentiable, m.n_classes
    ('sklearn', False, 2)
    """
    if isinstance(model, Model):
        return model
    output = check_option(output, "output", ["logits", "probs"])
    if input_shape is None and dataset is not None:
        input_shape = dataset.input_shape
    if isinstance(model, torch.nn.Module):
        source, has_logits = "torch", output == "logits"
    elif _is_sklearn_estimator(model):
        source, has_logits = "sklearn", False
        if input_shape is None and hasattr(model, "n_features_in_"):
            input_shape = (int(model.n_features_in_),)
        if n_classes is None and hasattr(model, "classes_"):
            n_classes = len(model.classes_)
    elif callable(model):
        source, has_logits = "callable", False
    else:
        raise TypeError(
            "model must be a torch.nn.Module, a fitted scikit-learn classifier with "
            f"predict_proba, or a callable returning probabilities; got {type(model).__name__}."
        )
    if input_shape is None:
        raise ValueError(
            f"Cannot tell the input shape of this {source} model: pass dataset= or "
            "input_shape= (the shape of one input, for example (10,) or (1, 8, 8))."
        )
    if n_classes is None:
        probe = (
            np.asarray(dataset.X_train[:1], dtype=np.float64)
            if dataset is not None
            else np.zeros((1, *input_shape))
        )
        n_classes = _infer_n_classes(model, source, probe)
    if dataset is not None and dataset.n_classes != n_classes:
        raise ValueError(
            f"The model has {n_classes} classes but the data set "
            f"{dataset.name!r} has {dataset.n_classes}."
        )
    wrapped = Model(
        model,
        source=source,
        input_shape=tuple(input_shape),
        n_classes=n_classes,
        has_logits=has_logits,
        dataset=dataset,
        class_names=class_names,
    )
    if source != "torch":
        _check_probabilities(wrapped, probe_rows(dataset, input_shape))
    return wrapped


def probe_rows(dataset: Dataset | None, input_shape: tuple[int, ...]) -> np.ndarray:
    """A few valid inputs to test a model on: training rows, or zeros."""
    if dataset is not None:
        return np.asarray(dataset.X_train[:2], dtype=np.float64)
    return np.zeros((2, *input_shape))


def _infer_n_classes(model: Any, source: str, probe: np.ndarray) -> int:
    if source == "torch":
        with torch.no_grad():
            dtype = next((p.dtype for p in model.parameters()), torch.float32)
            was_training = [(m, m.training) for m in model.modules()]
            model.eval()
            try:
                raw = model(torch.tensor(probe, dtype=dtype))
            finally:
                for submodule, training in was_training:
                    submodule.training = training
        width = 1 if raw.ndim == 1 else int(raw.shape[1])
        return 2 if width == 1 else width
    result = np.asarray(model(probe) if source == "callable" else model.predict_proba(probe))
    if result.ndim != 2:
        raise ValueError(
            f"The model must return an array of shape (n, n_classes); got shape {result.shape}."
        )
    return int(result.shape[1])


def _check_probabilities(model: Model, rows: np.ndarray) -> None:
    proba = model._call_predictor(rows)
    if np.any(proba < -1e-6) or np.any(np.abs(proba.sum(axis=1) - 1) > 1e-3):
        raise ValueError(
            f"The wrapped {model.source} model must return class probabilities (rows in "
            "[0, 1] summing to 1); its rows sum to "
            f"{np.round(proba.sum(axis=1), 4).tolist()}. Wrap a torch module to explain logits."
        )
