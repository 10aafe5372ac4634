"""Training-point ranking: which training examples a prediction leans on.

- :class:`InfluenceFunction` (Koh & Liang 2017, "Understanding Black-box Predictions
  via Influence Functions", ICML; Adebayo's 2022 thesis eq. 3.1): the effect of
  up-weighting a training point on the loss at a test point,
  ``I_up,loss(z, z_test) = -grad L(z_test)^T H^-1 grad L(z)``, with ``H`` the
  Hessian of the mean training loss.
- :class:`TracIn` (Pruthi et al. 2020, "Estimating Training Data Influence by
  Tracing Gradient Descent", NeurIPS): ``sum_c lr_c grad L(z_test; w_c) . grad
  L(z; w_c)`` over checkpoints ``w_c`` saved during training.
- :class:`IdenticalClassMetric` (Hanawa et al. 2021, "Evaluation of Similarity-based
  Explanations", ICLR): how often the top-ranked training points share the test
  point's class.

Every computation runs on a float64 copy of the model: the caller's module is not
touched. Gradients are with respect to the parameters of the chosen ``layers`` only
(all trainable parameters by default); for a ``torch.nn.Sequential`` whose chosen
layers sit at the top, the layers below are evaluated once and cached, so the
usual "last layer" influence costs almost nothing beyond a linear model's.
"""

from __future__ import annotations

import copy
import math
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.linalg
import torch
from threadpoolctl import threadpool_limits
from torch.func import functional_call, grad, jvp, vmap

from ..core.model import Model, wrap
from ..core.threads import torch_threads
from ..core.validation import as_numpy, check_int, check_option, check_real, check_targets

__all__ = ["IdenticalClassMetric", "InfluenceFunction", "TracIn"]

# Exact Hessian (and an eigendecomposition) up to this many parameters; CG above.
_MAX_EXACT_PARAMS = 2000
# Largest number of activation values held by one Hessian-vector-product pass.
_MAX_ELEMENTS_PER_PASS = 2**23
# Keep the matrix of per-example training gradients in memory up to this many values.
_MAX_CACHED_GRADIENTS = 2**25


# ============================================================================ the loss
class _Scores(torch.nn.Module):
    """The model's class scores through :meth:`Model.torch_outputs` (binary spread etc.)."""

    def __init__(self, model: Model, net: torch.nn.Module, output: str) -> None:
        super().__init__()
        self.net = net
        self._view = model.with_module(net)
        self._output = output

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self._view.torch_outputs(h, self._output)


def _module_layers(module: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """Modules that own trainable parameters directly, by name, in forward order."""
    return {
        name: sub
        for name, sub in module.named_modules()
        if any(p.requires_grad for p in sub.parameters(recurse=False))
    }


def _resolve_layers(module: torch.nn.Module, layers: Any) -> list[str]:
    owners = _module_layers(module)
    if not owners:
        raise ValueError("The model has no trainable parameters to compute influence for.")
    if layers is None:
        return list(owners)
    if isinstance(layers, str):
        layers = [layers]
    if not isinstance(layers, Sequence) or not all(isinstance(n, str) for n in layers):
        raise TypeError(
            "The 'layers' parameter must be None, a layer name or a list of names; "
            f"got {layers!r}."
        )
    named = dict(module.named_modules())
    chosen: list[str] = []
    for name in layers:
        if name == "last":
            name = list(owners)[-1]
        if name not in named:
            raise ValueError(
                f"The 'layers' parameter names no layer {name!r}; layers with parameters: "
                f"{', '.join(owners)} (or 'last')."
            )
        inside = [n for n in owners if name == "" or n == name or n.startswith(f"{name}.")]
        if not inside:
            raise ValueError(f"Layer {name!r} has no trainable parameters.")
        chosen += [n for n in inside if n not in chosen]
    return chosen


# Forward-mode AD keeps its dual levels in process-wide state, and catch_warnings swaps
# a module global: one Hessian-vector product at a time, from any thread (a widget's
# worker and a notebook cell may both compute influence).
_FORWARD_MODE = threading.Lock()


class _Loss:
    """Per-example cross-entropy as a function of the chosen parameters, flattened.

    Holds a float64 copy of the network split in two where possible: a fixed
    ``prefix`` (below every chosen layer) evaluated once, and the ``suffix`` that
    :func:`torch.func.functional_call` evaluates with the parameter vector ``theta``.
    """

    def __init__(self, model: Model, layers: Any, state: dict | None = None) -> None:
        module = copy.deepcopy(model.torch_module)
        if state is not None:
            module.load_state_dict(state)
        module = module.double().eval()
        chosen = _resolve_layers(module, layers)
        self.layers = chosen
        prefix_end = 0
        if isinstance(module, torch.nn.Sequential):
            children = [name for name, _ in module.named_children()]
            tops = {name.split(".")[0] for name in chosen}
            prefix_end = min(children.index(t) for t in tops) if "" not in tops else 0
        self.prefix = module[:prefix_end] if prefix_end else None
        suffix = module[prefix_end:] if prefix_end else module
        self.scores = _Scores(model, suffix, "logit" if model.has_logits else "probability")
        self.logits = model.has_logits
        self.n_classes = model.n_classes
        names = {f"net.{n}" if n else "net" for n in chosen}
        self.names: list[str] = []
        self.frozen: dict[str, torch.Tensor] = {}
        theta = []
        for name, parameter in self.scores.named_parameters():
            owner = name.rsplit(".", 1)[0]
            if owner in names and parameter.requires_grad:
                self.names.append(name)
                theta.append(parameter.detach().reshape(-1))
            else:
                self.frozen[name] = parameter.detach()
        for name, buffer in self.scores.named_buffers():
            self.frozen[name] = buffer
        if not self.names:
            raise ValueError(f"The layers {chosen} hold no trainable parameters.")
        self.shapes = [dict(self.scores.named_parameters())[n].shape for n in self.names]
        self.theta = torch.cat(theta)
        self.parameter_names = [n.removeprefix("net.") for n in self.names]

    @property
    def n_params(self) -> int:
        return int(self.theta.numel())

    def features(self, X: np.ndarray) -> torch.Tensor:
        """Inputs to the suffix: the prefix's outputs (computed once), float64."""
        tensor = torch.as_tensor(X, dtype=torch.float64)
        if self.prefix is None:
            return tensor
        with torch.no_grad():
            step = max(1, _MAX_ELEMENTS_PER_PASS // max(1, tensor[0].numel() * 16))
            return torch.cat(
                [self.prefix(tensor[i : i + step]) for i in range(0, len(tensor), step)]
            )

    def targets(self, y: np.ndarray) -> torch.Tensor:
        """One-hot targets (float64), so that the loss is a dot product under vmap."""
        return torch.nn.functional.one_hot(torch.as_tensor(y), self.n_classes).double()

    def _params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        params, start = {}, 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            size = math.prod(shape)
            params[name] = theta[start : start + size].reshape(shape)
            start += size
        return params

    def _loss_sum(self, theta: torch.Tensor, h: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Summed cross-entropy of a batch ``h`` with one-hot targets ``Y``."""
        scores = functional_call(self.scores, (self._params(theta), self.frozen), (h,))
        if self.logits:
            log_p = torch.log_softmax(scores, dim=1)
        else:
            log_p = torch.log(scores.clamp_min(torch.finfo(scores.dtype).tiny))
        return -(log_p * Y).sum()

    def _example_loss(self, theta: torch.Tensor, h: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        return self._loss_sum(theta, h.unsqueeze(0), Y.unsqueeze(0))

    def gradients(self, h: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """Per-example gradients of the loss, shape ``(len(h), n_params)``."""
        per_example = vmap(grad(self._example_loss), in_dims=(None, 0, 0))
        return per_example(self.theta, h, Y)

    def hvp(self, h: torch.Tensor, Y: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """``V @ H_sum`` for the summed loss of the batch, ``V`` of shape (k, n_params).

        Forward-over-reverse differentiation (Pearlmutter 1994), vectorized over the
        rows of ``V`` with :func:`torch.func.vmap`.
        """

        def gradient(theta: torch.Tensor) -> torch.Tensor:
            return grad(self._loss_sum)(theta, h, Y)

        def product(v: torch.Tensor) -> torch.Tensor:
            return jvp(gradient, (self.theta,), (v,))[1]

        with _FORWARD_MODE, warnings.catch_warnings():
            # Forward-mode AD loads torch's own decompositions on first use, which
            # calls the deprecated torch.jit.script internally: not ours to fix.
            warnings.filterwarnings("ignore", "`torch.jit.script` is deprecated")
            return vmap(product)(V)

    def activation_size(self, h: torch.Tensor) -> int:
        """Activation values the suffix produces for one example (a memory estimate)."""
        total = 0

        def count(_module: Any, _inputs: Any, output: Any) -> None:
            nonlocal total
            if isinstance(output, torch.Tensor):
                total += output.numel()

        leaves = [m for m in self.scores.modules() if not list(m.children())]
        handles = [m.register_forward_hook(count) for m in leaves]
        try:
            with torch.no_grad():
                self.scores(h[:1])
        finally:
            for handle in handles:
                handle.remove()
        return max(total, int(h[0].numel()), 1)


# ============================================================================ shared machinery
def _batches(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def _run(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    *,
    n_jobs: int,
    progress: bool,
    description: str,
) -> list[Any]:
    """``[fn(item) for item in items]``, in joblib workers if ``n_jobs != 1``, with a bar."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc=description, disable=not progress, leave=False)
    try:
        if n_jobs == 1 or len(items) <= 1:
            results = []
            for item in items:
                results.append(fn(item))
                bar.update()
            return results
        from joblib import Parallel, delayed

        results = []
        # Processes, not threads: torch's forward-mode AD (the Hessian-vector
        # products) keeps global state that threads would share.
        parallel = Parallel(n_jobs=n_jobs, backend="loky", return_as="generator")
        for result in parallel(delayed(_in_worker)(fn, item) for item in items):
            results.append(result)
            bar.update()
        return results
    finally:
        bar.close()


def _in_worker(fn: Callable[[Any], Any], item: Any) -> Any:
    """Run ``fn(item)`` in a worker process on one torch thread (the workers share cores)."""
    torch.set_num_threads(1)
    return fn(item)


class _TrainingRanking:
    """Shared validation and ranking for methods that score training points.

    ``helpful_sign`` is the sign of a score whose training point *lowers* the test
    loss (a proponent): -1 for Koh & Liang's ``I_up,loss``, +1 for TracIn.
    """

    helpful_sign: ClassVar[int] = 1

    def __init__(
        self,
        model: Any,
        X_train: Any,
        y_train: Any,
        *,
        layers: Any,
        batch_size: int,
        n_jobs: int,
        progress: bool,
        threads: int | None,
    ) -> None:
        self.model: Model = wrap(model)
        if not self.model.differentiable:
            raise TypeError(
                f"{type(self).__name__} needs parameter gradients: wrap a torch.nn.Module; "
                f"got a {self.model.source} model ({type(self.model.predictor).__name__})."
            )
        X, _ = self.model.check_input(X_train, name="X_train")
        y = as_numpy(y_train, "y_train")
        if y.shape != (len(X),):
            raise ValueError(
                f"y_train must have shape ({len(X)},), one label per row of X_train; "
                f"got {y.shape}."
            )
        self._X = X
        self._y = check_targets(y, len(X), self.model.n_classes, name="y_train")
        self._layers = layers
        self.batch_size = check_int(batch_size, "batch_size", low=1)
        self.n_jobs = check_int(n_jobs, "n_jobs")
        if self.n_jobs == 0 or self.n_jobs < -1:
            raise ValueError(f"The 'n_jobs' parameter must be -1 or a positive int; got {n_jobs}.")
        self.progress = bool(progress)
        self.threads = None if threads is None else check_int(threads, "threads", low=1)

    @property
    def n_train(self) -> int:
        """The number of training points."""
        return len(self._y)

    @property
    def y_train(self) -> np.ndarray:
        """The training labels (a copy)."""
        return self._y.copy()

    def _test_points(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray, bool]:
        batch, single = self.model.check_input(x)
        if y is None:
            labels = self.model.predict(batch)
        else:
            labels = check_targets(y, len(batch), self.model.n_classes, name="y")
        return batch, labels, single

    def influence(self, x: Any, y: Any = None) -> np.ndarray:
        """Scores of every training point for the loss at ``(x, y)``.

        Parameters
        ----------
        x : array-like of shape input_shape or (m, *input_shape)
            One test input or several.
        y : int or array-like of int, optional
            Their labels; default the model's predictions.

        Returns
        -------
        ndarray of shape (n_train,) or (m, n_train)
            See the class for the sign (:attr:`helpful_sign`).
        """
        batch, labels, single = self._test_points(x, y)
        with torch_threads(self.threads):
            scores = self._influence(batch, labels).numpy()
        return scores[0] if single else scores

    def self_influence(self) -> np.ndarray:
        """Each training point's score for its own loss (large: suspicious).

        Returns
        -------
        ndarray of shape (n_train,)
        """
        with torch_threads(self.threads):
            return self._self_influence().numpy()

    def _influence(self, batch: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def _self_influence(self) -> torch.Tensor:
        raise NotImplementedError

    def top(self, x: Any, y: Any = None, k: int = 5) -> pd.DataFrame:
        """The ``k`` most helpful and ``k`` most harmful training points for one input.

        Parameters
        ----------
        x : array-like of shape input_shape
            One test input.
        y : int, optional
            Its label; default the model's prediction.
        k : int, default=5
            How many of each.

        Returns
        -------
        DataFrame
            Columns ``role`` ("helpful": lowers the test loss; "harmful": raises it),
            ``rank``, ``index`` (row of the training data), ``label`` and ``score``
            (this method's value; see :attr:`helpful_sign`).
        """
        k = check_int(k, "k", low=1)
        batch, _ = self.model.check_input(x)
        if len(batch) != 1:
            raise ValueError("top() ranks training points for one input; pass a single x.")
        scores = self.influence(batch[0], y)
        order = np.argsort(-self.helpful_sign * scores, kind="stable")
        frames = []
        for role, rows in (("helpful", order[:k]), ("harmful", order[::-1][:k])):
            frames.append(
                pd.DataFrame(
                    {
                        "role": role,
                        "rank": np.arange(1, len(rows) + 1),
                        "index": rows,
                        "label": self._y[rows],
                        "score": scores[rows],
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)


# ============================================================================ influence functions
def _block_cg(
    matmat: Callable[[torch.Tensor], torch.Tensor],
    B: torch.Tensor,
    tol: float,
    max_iter: int,
) -> tuple[torch.Tensor, int, torch.Tensor]:
    """Solve ``A x = b`` for every row ``b`` of ``B`` by conjugate gradients at once.

    Hestenes & Stiefel (1952), run independently per right-hand side but with one
    batched ``matmat`` per iteration (SciPy's ``cg`` takes one right-hand side at a
    time). ``A`` must be symmetric positive definite. A row stops updating once its
    residual is below ``tol`` times the norm of its ``b``.

    Returns
    -------
    X : Tensor of the shape of ``B``
    iterations : int
    converged : bool Tensor, one per row
    """
    X = torch.zeros_like(B)
    R = B.clone()
    P = R.clone()
    rr = (R * R).sum(1)
    limit = (tol * B.norm(dim=1)) ** 2
    active = rr > limit
    iterations = 0
    while active.any() and iterations < max_iter:
        AP = matmat(P[active])
        curvature = (P[active] * AP).sum(1)
        if (curvature <= 0).any():
            raise ValueError(
                "Conjugate gradients met a direction of non-positive curvature: the "
                "damped Hessian H + damping * I is not positive definite here (the loss "
                "is not convex in these parameters). Increase 'damping' (Koh & Liang use "
                "0.01 for networks) or choose fewer layers."
            )
        alpha = rr[active] / curvature
        X[active] += alpha[:, None] * P[active]
        R_active = R[active] - alpha[:, None] * AP
        rr_new = (R_active * R_active).sum(1)
        beta = rr_new / rr[active]
        R[active] = R_active
        P[active] = R_active + beta[:, None] * P[active]
        rr[active] = rr_new
        active = rr > limit
        iterations += 1
    return X, iterations, ~active


class InfluenceFunction(_TrainingRanking):
    """Influence of each training point on the loss at a test point (Koh & Liang 2017).

    ``I_up,loss(z, z_test) = -grad L(z_test)^T (H + damping I)^-1 grad L(z)``
    (Koh & Liang eq. 2; Adebayo's thesis eq. 3.1), where ``L`` is the cross-entropy
    at the model's parameters and ``H`` the Hessian of the *mean* training loss, both
    with respect to the parameters of ``layers``. It is the derivative of the test
    loss with respect to up-weighting ``z``: removing ``z`` from ``n`` training
    points changes the test loss by about ``-I_up,loss / n``. Negative values mark
    *helpful* training points (they lower the test loss), positive ones *harmful*.

    For a model trained with an L2 penalty ``(lambda / 2) ||theta||^2`` added to the
    mean loss, ``damping=lambda`` makes ``H + damping I`` the exact Hessian of the
    training objective; for a non-convex loss, damping also makes the matrix
    positive definite (Koh & Liang use 0.01 for networks).

    Two solvers: with at most 2000 parameters the Hessian is formed exactly from
    Hessian-vector products and decomposed with :func:`scipy.linalg.eigh` (then
    every influence is a dot product of "influence embeddings"); above that,
    conjugate gradients with Hessian-vector products from :mod:`torch.func` solve
    ``(H + damping I) s = grad L(z_test)`` without forming ``H``.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A torch classifier (any :func:`xaiwidgets.wrap` input with gradients).
    X_train : array-like of shape (n, *input_shape)
        The training inputs the model was fitted on.
    y_train : array-like of shape (n,)
        Their labels (as used in training, noisy ones included).
    damping : float, default=0.0
        Added to the diagonal of ``H``.
    layers : None, str or list of str, default=None
        Names of the layers (``model.named_modules()``) whose parameters count;
        ``"last"`` is the last layer with parameters; ``None`` means all.
    method : {"auto", "exact", "cg"}, default="auto"
        ``"auto"``: exact up to 2000 parameters, conjugate gradients above.
    tol : float, default=1e-8
        Relative residual at which conjugate gradients stop.
    max_iter : int, default=500
        Iteration limit of conjugate gradients (a warning says if it is reached).
    batch_size : int, default=256
        Training points per vectorized pass.
    n_jobs : int, default=1
        joblib worker processes over batches of training points (``-1``: all
        cores). A fresh worker first imports torch (seconds), so this pays off for
        long jobs only (the conjugate-gradient self-influence of a large model).
    progress : bool, default=False
        Show progress bars.
    threads : int or None, default=1
        Torch threads while computing (restored after); small models run fastest on
        one (see :func:`~xaiwidgets.core.threads.torch_threads`). ``None`` keeps
        torch's setting.

    Attributes
    ----------
    method_ : {"exact", "cg"}
        The solver used.
    n_params_ : int
        Number of parameters the influence is computed for.
    parameter_names_ : list of str
        Their names.
    eigenvalues_ : ndarray or None
        Exact solver: eigenvalues of ``H + damping I``, ascending (after the first
        computation).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_breast_cancer()
    >>> m = xw.wrap(xw.zoo.train_logreg(ds), ds)
    >>> inf = xw.influence.InfluenceFunction(m, ds.X_train, ds.y_train, damping=1e-3)
    >>> inf.method_, inf.n_params_
    ('exact', 62)
    >>> inf.influence(ds.X_test[0], ds.y_test[0]).shape
    (426,)
    >>> bool((inf.self_influence() > 0).all())
    True
    """

    helpful_sign: ClassVar[int] = -1

    def __init__(
        self,
        model: Any,
        X_train: Any,
        y_train: Any,
        damping: float = 0.0,
        layers: Any = None,
        *,
        method: str = "auto",
        tol: float = 1e-8,
        max_iter: int = 500,
        batch_size: int = 256,
        n_jobs: int = 1,
        progress: bool = False,
        threads: int | None = 1,
    ) -> None:
        super().__init__(
            model,
            X_train,
            y_train,
            layers=layers,
            batch_size=batch_size,
            n_jobs=n_jobs,
            progress=progress,
            threads=threads,
        )
        self.damping = check_real(damping, "damping", low=0.0)
        method = check_option(method, "method", ["auto", "exact", "cg"])
        self.tol = check_real(tol, "tol", low=0.0, low_inclusive=False)
        self.max_iter = check_int(max_iter, "max_iter", low=1)
        self._loss = _Loss(self.model, layers)
        self.n_params_ = self._loss.n_params
        self.parameter_names_ = self._loss.parameter_names
        if method == "auto":
            method = "exact" if self.n_params_ <= _MAX_EXACT_PARAMS else "cg"
        self.method_ = method
        self.eigenvalues_: np.ndarray | None = None
        self._h: torch.Tensor | None = None
        self._Y: torch.Tensor | None = None
        self._rows_per_pass: int | None = None
        self._projection: torch.Tensor | None = None
        self._embeddings: torch.Tensor | None = None
        self._gradients: torch.Tensor | None = None
        self.cg_iterations_: int | None = None

    # ---------------------------------------------------------------- training data
    def _training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self._h is None:
            self._h = self._loss.features(self._X)
            self._Y = self._loss.targets(self._y)
        return self._h, self._Y

    def _vectors_per_pass(self) -> int:
        if self._rows_per_pass is None:
            h, _ = self._training_data()
            per_example = self._loss.activation_size(h)
            rows = min(self.batch_size, self.n_train)
            self._rows_per_pass = max(1, _MAX_ELEMENTS_PER_PASS // (per_example * rows))
        return self._rows_per_pass

    def _damped_hvp(self, V: torch.Tensor) -> torch.Tensor:
        """``V @ (H + damping I)`` with ``H`` the Hessian of the mean training loss."""
        h, Y = self._training_data()
        step = self._vectors_per_pass()
        out = torch.zeros_like(V)
        for rows in _batches(len(h), self.batch_size):
            for vectors in _batches(len(V), step):
                out[vectors] += self._loss.hvp(h[rows], Y[rows], V[vectors])
        return out / self.n_train + self.damping * V

    def _training_gradients(self, rows: slice) -> torch.Tensor:
        h, Y = self._training_data()
        return self._loss.gradients(h[rows], Y[rows])

    def _all_training_gradients(self) -> Iterable[tuple[slice, torch.Tensor]]:
        """Per-example training gradients batch by batch (kept if they fit in memory)."""
        batches = _batches(self.n_train, self.batch_size)
        if self._gradients is not None:
            return ((rows, self._gradients[rows]) for rows in batches)
        results = _run(
            self._training_gradients,
            batches,
            n_jobs=self.n_jobs,
            progress=self.progress,
            description="training gradients",
        )
        if self.n_train * self.n_params_ <= _MAX_CACHED_GRADIENTS:
            self._gradients = torch.cat(results)
        return zip(batches, results, strict=True)

    # ---------------------------------------------------------------- exact solver
    def _exact(self) -> torch.Tensor:
        """``M`` with ``M M^T = (H + damping I)^-1`` (on its positive eigenspace)."""
        if self._projection is None:
            p = self.n_params_
            identity = torch.eye(p, dtype=torch.float64)
            columns = _run(
                self._damped_hvp,
                [
                    identity[rows]
                    for rows in _batches(p, max(1, min(p, 4 * self._vectors_per_pass())))
                ],
                n_jobs=1,
                progress=self.progress,
                description="Hessian",
            )
            hessian = torch.cat(columns).numpy()
            hessian = (hessian + hessian.T) / 2
            # BLAS threads, like torch's, wait for each other on busy cores: a 650 x 650
            # eigh took 4.4 s on two busy threads and 0.2 s on one.
            with threadpool_limits(limits=self.threads):
                values, vectors = scipy.linalg.eigh(hessian)
            self.eigenvalues_ = values
            cutoff = max(values.max(), 0.0) * p * np.finfo(np.float64).eps
            keep = values > cutoff
            if not keep.all():
                warnings.warn(
                    f"H + damping * I has {int((~keep).sum())} of {p} eigenvalues <= "
                    f"{cutoff:.2g} (smallest {values.min():.3g}): it is not positive "
                    "definite, so its inverse is taken on the positive eigenspace only. "
                    "Increase 'damping' for a non-convex loss (Koh & Liang use 0.01).",
                    UserWarning,
                    stacklevel=3,
                )
            self._projection = torch.as_tensor(vectors[:, keep] / np.sqrt(values[keep]))
        return self._projection

    def _training_embeddings(self) -> torch.Tensor:
        """Rows ``grad L(z_i)^T M``: influence is a dot product of these."""
        if self._embeddings is None:
            M = self._exact()
            self._embeddings = torch.cat([G @ M for _, G in self._all_training_gradients()])
        return self._embeddings

    # ---------------------------------------------------------------- CG solver
    def _solve(self, G: torch.Tensor) -> torch.Tensor:
        """Rows ``(H + damping I)^-1 g`` for the rows ``g`` of ``G``, by block CG."""
        S, iterations, converged = _block_cg(self._damped_hvp, G, self.tol, self.max_iter)
        self.cg_iterations_ = iterations
        if not converged.all():
            warnings.warn(
                f"Conjugate gradients did not reach tol={self.tol:g} in {self.max_iter} "
                f"iterations for {int((~converged).sum())} of {len(G)} right-hand sides; "
                "increase 'damping' (a better-conditioned system) or 'max_iter'.",
                UserWarning,
                stacklevel=3,
            )
        return S

    def _self_influence_batch(self, rows: slice) -> torch.Tensor:
        G = self._training_gradients(rows)
        return (self._solve(G) * G).sum(1)

    # ---------------------------------------------------------------- public
    def influence(self, x: Any, y: Any = None) -> np.ndarray:
        """``I_up,loss`` of every training point on the loss at ``(x, y)``.

        Parameters
        ----------
        x : array-like of shape input_shape or (m, *input_shape)
            One test input or several.
        y : int or array-like of int, optional
            Their labels; default the model's predictions.

        Returns
        -------
        ndarray of shape (n_train,) or (m, n_train)
            Negative: helpful (up-weighting lowers the test loss); positive: harmful.
        """
        return super().influence(x, y)

    def self_influence(self) -> np.ndarray:
        """``grad L(z_i)^T (H + damping I)^-1 grad L(z_i)`` for every training point.

        The influence of a point on its own loss, with the sign flipped so that
        larger means "the model would change more to fit this point": high values
        flag mislabelled or atypical training points (Koh & Liang Sec. 5.4).

        Returns
        -------
        ndarray of shape (n_train,)
            Non-negative where ``H + damping I`` is positive definite.
        """
        return super().self_influence()

    def _influence(self, batch: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        g_test = self._loss.gradients(self._loss.features(batch), self._loss.targets(labels))
        if self.method_ == "exact":
            return -(g_test @ self._exact()) @ self._training_embeddings().T
        s_test = self._solve(g_test)
        return torch.cat([-(s_test @ G.T) for _, G in self._all_training_gradients()], dim=1)

    def _self_influence(self) -> torch.Tensor:
        if self.method_ == "exact":
            return (self._training_embeddings() ** 2).sum(1)
        results = _run(
            self._self_influence_batch,
            _batches(self.n_train, self.batch_size),
            n_jobs=self.n_jobs,
            progress=self.progress,
            description="self-influence",
        )
        return torch.cat(results)

    def __repr__(self) -> str:
        return (
            f"InfluenceFunction(n_train={self.n_train}, n_params={self.n_params_}, "
            f"damping={self.damping:g}, method={self.method_!r})"
        )


# ============================================================================ TracIn
class TracIn(_TrainingRanking):
    """TracIn with checkpoints (Pruthi et al. 2020), "TracInCP".

    ``TracIn(z, z_test) = sum_c lr_c grad L(z; w_c) . grad L(z_test; w_c)`` over
    checkpoints ``w_c`` saved during training, with the step size ``lr_c`` used
    after each: the first-order estimate of how much the training steps on ``z``
    lowered the test loss. Positive values mark *proponents* (helpful points),
    negative ones *opponents*. Self-influence ``sum_c lr_c ||grad L(z; w_c)||^2``
    flags mislabelled points.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A torch classifier; its checkpoints share its architecture.
    X_train, y_train : array-like
        The training data.
    checkpoints : sequence of state dicts, modules or ``xw.zoo.Checkpoint``, optional
        Default: ``model.checkpoints_``, which ``xw.zoo.train_mlp(...,
        checkpoints=k)`` and ``train_cnn`` keep.
    learning_rates : float or sequence of float, optional
        One step size per checkpoint (or one for all); default the checkpoints' own
        (``Checkpoint.learning_rate``).
    layers : None, str or list of str, default=None
        As in :class:`InfluenceFunction`.
    batch_size, n_jobs, progress, threads
        As in :class:`InfluenceFunction`.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_moons(n=400)
    >>> net = xw.zoo.train_mlp(ds, hidden=(16,), checkpoints=3, progress=False)
    >>> tracin = xw.influence.TracIn(xw.wrap(net, ds), ds.X_train, ds.y_train)
    >>> tracin.influence(ds.X_test[0]).shape
    (300,)
    """

    helpful_sign: ClassVar[int] = 1

    def __init__(
        self,
        model: Any,
        X_train: Any,
        y_train: Any,
        *,
        checkpoints: Sequence[Any] | None = None,
        learning_rates: float | Sequence[float] | None = None,
        layers: Any = None,
        batch_size: int = 256,
        n_jobs: int = 1,
        progress: bool = False,
        threads: int | None = 1,
    ) -> None:
        super().__init__(
            model,
            X_train,
            y_train,
            layers=layers,
            batch_size=batch_size,
            n_jobs=n_jobs,
            progress=progress,
            threads=threads,
        )
        if checkpoints is None:
            checkpoints = getattr(self.model.torch_module, "checkpoints_", None)
            if checkpoints is None:
                raise ValueError(
                    "TracIn needs checkpoints: pass checkpoints=[state dicts], or train "
                    "with xw.zoo.train_mlp(dataset, checkpoints=5) (or train_cnn), which "
                    "keeps them as model.checkpoints_."
                )
        checkpoints = list(checkpoints)
        if not checkpoints:
            raise ValueError("The 'checkpoints' parameter is empty; pass at least one.")
        states, rates = [], []
        for checkpoint in checkpoints:
            if isinstance(checkpoint, torch.nn.Module):
                states.append(checkpoint.state_dict())
                rates.append(None)
            elif isinstance(checkpoint, dict):
                states.append(checkpoint)
                rates.append(None)
            elif hasattr(checkpoint, "state") and hasattr(checkpoint, "learning_rate"):
                states.append(checkpoint.state)
                rates.append(float(checkpoint.learning_rate))
            else:
                raise TypeError(
                    "Each checkpoint must be a state dict, a torch.nn.Module or an "
                    f"xw.zoo.Checkpoint; got {type(checkpoint).__name__}."
                )
        if learning_rates is not None:
            if np.ndim(learning_rates) == 0:
                rates = [check_real(learning_rates, "learning_rates", low=0.0)] * len(states)
            else:
                rates = [check_real(r, "learning_rates", low=0.0) for r in learning_rates]
                if len(rates) != len(states):
                    raise ValueError(
                        f"The 'learning_rates' parameter needs one value per checkpoint "
                        f"({len(states)}); got {len(rates)}."
                    )
        elif any(r is None for r in rates):
            raise ValueError(
                "Pass learning_rates= (one per checkpoint, or one for all): these "
                "checkpoints do not record their step size."
            )
        try:
            self._losses = [_Loss(self.model, layers, state) for state in states]
        except RuntimeError as exc:  # load_state_dict: wrong architecture
            raise ValueError(f"A checkpoint does not fit the model: {exc}") from exc
        self.learning_rates = np.asarray(rates, dtype=float)
        self.n_params_ = self._losses[0].n_params
        self.parameter_names_ = self._losses[0].parameter_names
        self._gradients: list[torch.Tensor] | None = None

    def _checkpoint_gradients(self, index: int) -> torch.Tensor:
        loss = self._losses[index]
        h, Y = loss.features(self._X), loss.targets(self._y)
        return torch.cat(
            [loss.gradients(h[rows], Y[rows]) for rows in _batches(self.n_train, self.batch_size)]
        )

    def _training_gradients(self) -> list[torch.Tensor]:
        """Per checkpoint, the per-example training gradients (n_train, n_params)."""
        if self._gradients is None:
            self._gradients = _run(
                self._checkpoint_gradients,
                list(range(len(self._losses))),
                n_jobs=self.n_jobs,
                progress=self.progress,
                description="training gradients per checkpoint",
            )
        return self._gradients

    def influence(self, x: Any, y: Any = None) -> np.ndarray:
        """TracIn of every training point on the loss at ``(x, y)``.

        Parameters
        ----------
        x : array-like of shape input_shape or (m, *input_shape)
            One test input or several.
        y : int or array-like of int, optional
            Their labels; default the model's predictions.

        Returns
        -------
        ndarray of shape (n_train,) or (m, n_train)
            Positive: proponents (helpful); negative: opponents (harmful).
        """
        return super().influence(x, y)

    def self_influence(self) -> np.ndarray:
        """``sum_c lr_c ||grad L(z_i; w_c)||^2`` for every training point.

        Returns
        -------
        ndarray of shape (n_train,)
        """
        return super().self_influence()

    def _influence(self, batch: np.ndarray, labels: np.ndarray) -> torch.Tensor:
        total = torch.zeros(len(batch), self.n_train, dtype=torch.float64)
        for rate, loss, G in zip(
            self.learning_rates, self._losses, self._training_gradients(), strict=True
        ):
            g_test = loss.gradients(loss.features(batch), loss.targets(labels))
            total += rate * (g_test @ G.T)
        return total

    def _self_influence(self) -> torch.Tensor:
        total = torch.zeros(self.n_train, dtype=torch.float64)
        for rate, G in zip(self.learning_rates, self._training_gradients(), strict=True):
            total += rate * (G * G).sum(1)
        return total

    def __repr__(self) -> str:
        return (
            f"TracIn(n_train={self.n_train}, n_params={self.n_params_}, "
            f"checkpoints={len(self._losses)})"
        )


# ============================================================================ evaluation
class IdenticalClassMetric:
    """Identical class test (Hanawa et al. 2021): do top-ranked points share the class.

    For each test input, the fraction of its ``k`` most helpful training points whose
    label is the test input's class (by default the class the model predicts, as in
    the paper). A training-point ranking that explains by similar examples should
    score near 1.

    Parameters
    ----------
    k : int, default=1
        How many top-ranked training points to look at.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_breast_cancer()
    >>> m = xw.wrap(xw.zoo.train_logreg(ds), ds)
    >>> inf = xw.influence.InfluenceFunction(m, ds.X_train, ds.y_train, damping=1e-3)
    >>> metric = xw.influence.IdenticalClassMetric(k=5)
    >>> round(metric(inf, ds.X_test[:20]), 2)
    0.81

    As Hanawa et al. found, plain gradient products (TracIn at the final weights)
    pass the test better than influence functions:

    >>> grad_dot = xw.influence.TracIn(
    ...     m, ds.X_train, ds.y_train, checkpoints=[m.torch_module], learning_rates=1.0
    ... )
    >>> metric(grad_dot, ds.X_test[:20])
    1.0
    """

    def __init__(self, k: int = 1) -> None:
        self.k = check_int(k, "k", low=1)

    def per_input(self, ranking: _TrainingRanking, X: Any, classes: Any = None) -> np.ndarray:
        """The fraction for each test input, shape ``(m,)``.

        Parameters
        ----------
        ranking : InfluenceFunction or TracIn
            The training-point ranking to evaluate.
        X : array-like of shape (m, *input_shape)
            Test inputs.
        classes : array-like of int, optional
            Their classes; default the model's predictions. The test loss is taken
            at these classes.
        """
        if not isinstance(ranking, _TrainingRanking):
            raise TypeError(
                "ranking must be an xw.influence.InfluenceFunction or TracIn; "
                f"got {type(ranking).__name__}."
            )
        batch, _ = ranking.model.check_input(X, name="X")
        if classes is None:
            classes = ranking.model.predict(batch)
        classes = check_targets(classes, len(batch), ranking.model.n_classes, name="classes")
        if self.k > ranking.n_train:
            raise ValueError(
                f"The 'k' parameter ({self.k}) exceeds the number of training points "
                f"({ranking.n_train})."
            )
        helpfulness = ranking.helpful_sign * ranking.influence(batch, classes).reshape(
            len(batch), -1
        )
        top = np.argsort(-helpfulness, axis=1, kind="stable")[:, : self.k]
        return (ranking.y_train[top] == classes[:, None]).mean(axis=1)

    def __call__(self, ranking: _TrainingRanking, X: Any, classes: Any = None) -> float:
        """The mean fraction over the test inputs (see :meth:`per_input`)."""
        return float(self.per_input(ranking, X, classes).mean())

    def __repr__(self) -> str:
        return f"IdenticalClassMetric(k={self.k})"
