r"""Adversarial examples: FGSM and PGD, and what it takes to flip a prediction.

- FGSM, Goodfellow, Shlens & Szegedy, "Explaining and Harnessing Adversarial Examples"
  (ICLR 2015): one step :math:`x' = x + \epsilon\, \mathrm{sign}(\nabla_x L(x, y))`
  (untargeted: away from the label :math:`y`; targeted: :math:`x - \epsilon\,
  \mathrm{sign}(\nabla_x L(x, t))` towards the target :math:`t`). In the L2 norm the
  step is the normalised gradient (the "fast gradient method").
- PGD, Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks"
  (ICLR 2018): repeated steps of size :math:`\alpha`, each projected back onto the
  :math:`\epsilon`-ball around :math:`x` and into the data bounds, from :math:`x` or a
  uniform random point of the ball. L-infinity steps are signs of the gradient; L2
  steps the normalised gradient (Madry et al.'s L2 attack), or signs with
  ``step="sign"`` as Captum's ``PGD(norm="L2")`` does.

:math:`L` is the cross-entropy of the logits (of the log-probabilities for models that
give probabilities only). With sign steps, a zero random start and the same bounds
these equal Captum's ``captum.robust.FGSM`` and ``PGD`` (tested to 1e-6; Captum's L2
PGD takes sign steps, ``step="sign"``). Tabular data are attacked in feature scales:
the perturbation is ``scale * u`` with ``||u|| <= eps`` (scale: the training standard
deviation), so that one epsilon means the same for income and for a ratio; images use
pixel units. Torch runs on one thread during PGD: small models are faster so.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from ..core.model import Model, wrap
from ..core.seeding import torch_generator
from ..core.threads import torch_threads
from ..core.validation import as_numpy, check_int, check_option, check_real, check_targets

__all__ = ["EpsilonReport", "fgsm", "pgd", "what_it_takes"]

NORMS = ("linf", "l2")


# ====================================================================== shared
@dataclass
class _Setup:
    model: Model
    batch: torch.Tensor  # (n, *shape) in the model's dtype
    original: np.ndarray  # the same in float64
    single: bool
    labels: torch.Tensor  # the class to move away from (untargeted) or towards (targeted)
    targeted: bool
    scale: torch.Tensor  # (1, *shape)
    low: torch.Tensor | None
    high: torch.Tensor | None
    mask: torch.Tensor | float
    bounds64: tuple[np.ndarray, np.ndarray] | None = None


def _setup(
    model: Any,
    x: Any,
    *,
    target: Any,
    y: Any,
    bounds: Any,
    scale: Any,
    mask: Any,
) -> _Setup:
    model = wrap(model)
    if not model.differentiable:
        raise TypeError(
            "Gradient attacks need a torch model; this one wraps a "
            f"{model.source} predictor ({type(model.predictor).__name__})."
        )
    batch, single = model.check_input(x)
    n = len(batch)
    if target is not None and y is not None:
        raise ValueError("Pass target= (a targeted attack) or y= (untargeted), not both.")
    targeted = target is not None
    if targeted:
        labels = check_targets(target, n, model.n_classes, name="target")
    elif y is not None:
        labels = check_targets(y, n, model.n_classes, name="y")
    else:
        labels = model.predict(batch)
    dtype = model.torch_dtype
    shape = model.input_shape
    scale_array = resolve_scale(model, scale)
    low, high = resolve_bounds(model, bounds)
    if mask is None:
        mask_value: torch.Tensor | float = 1.0
    else:
        mask_array = as_numpy(mask, "mask").astype(np.float64)
        if mask_array.size != int(np.prod(shape)):
            raise ValueError(
                f"mask must have one entry per input element ({int(np.prod(shape))}); got "
                f"shape {mask_array.shape}."
            )
        mask_value = torch.as_tensor(mask_array.reshape(1, *shape), dtype=dtype)

    def tensor(array: np.ndarray | None) -> torch.Tensor | None:
        return None if array is None else torch.as_tensor(array.reshape(1, *shape), dtype=dtype)

    return _Setup(
        model=model,
        batch=torch.as_tensor(batch, dtype=dtype),
        original=batch,
        single=single,
        labels=torch.as_tensor(labels, dtype=torch.long),
        targeted=targeted,
        scale=tensor(scale_array),
        low=tensor(low),
        high=tensor(high),
        mask=mask_value,
        bounds64=None if low is None else (low.reshape(1, *shape), high.reshape(1, *shape)),
    )


def resolve_scale(model: Model, scale: Any) -> np.ndarray:
    """Per-element scales: ``"auto"`` (training std for tabular data, 1 for images).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> float(resolve_scale(xw.wrap(xw.zoo.train_cnn(ds), ds), "auto").max())
    1.0
    """
    n = int(np.prod(model.input_shape))
    dataset = model.dataset
    if isinstance(scale, str):
        scale = check_option(scale, "scale", ["auto", "std", "unit"])
        if scale == "auto":
            scale = "std" if dataset is not None and dataset.kind == "tabular" else "unit"
        if scale == "unit":
            return np.ones(n)
        if dataset is None:
            raise ValueError("scale='std' needs the model's data set; pass scale='unit'.")
        return np.asarray(dataset.train_std, dtype=np.float64).reshape(-1)
    array = as_numpy(scale, "scale").astype(np.float64).reshape(-1)
    if array.shape == (1,):
        array = np.full(n, array[0])
    if array.shape != (n,) or np.any(array <= 0) or not np.all(np.isfinite(array)):
        raise ValueError(
            f"scale must be 'auto', 'std', 'unit', a positive number or {n} positive numbers."
        )
    return array


def resolve_bounds(model: Model, bounds: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Per-element ``(low, high)``: ``"data"`` (the data set's), None, a pair or an array.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> low, high = resolve_bounds(xw.wrap(xw.zoo.train_cnn(ds), ds), "data")
    >>> float(low.min()), float(high.max())
    (0.0, 1.0)
    """
    n = int(np.prod(model.input_shape))
    if bounds is None:
        return None, None
    if isinstance(bounds, str):
        check_option(bounds, "bounds", ["data"])
        if model.dataset is None:
            return None, None
        data = model.dataset.bounds
        return data[:, 0].astype(np.float64), data[:, 1].astype(np.float64)
    array = as_numpy(bounds, "bounds").astype(np.float64)
    if array.shape == (2,):
        array = np.tile(array, (n, 1))
    if array.shape != (n, 2) or np.any(array[:, 0] > array[:, 1]):
        raise ValueError(
            f"bounds must be 'data', None, a pair (low, high) or an array of shape ({n}, 2) "
            f"with low <= high; got shape {array.shape}."
        )
    return array[:, 0], array[:, 1]


def _clamp(s: _Setup, X: torch.Tensor) -> torch.Tensor:
    if s.low is None:
        return X
    return torch.clamp(X, min=s.low, max=s.high)


def _gradient(s: _Setup, X: torch.Tensor) -> torch.Tensor:
    """Gradient of the loss to ascend: CE away from the label, or towards the target."""
    X = X.detach().requires_grad_(True)
    with torch.enable_grad():
        if s.model.has_logits:
            out = s.model.torch_outputs(X, "logit")
            loss = torch.nn.functional.cross_entropy(out, s.labels, reduction="none")
        else:
            out = s.model.torch_outputs(X, "probability")
            loss = torch.nn.functional.nll_loss(
                torch.log(out.clamp_min(1e-30)), s.labels, reduction="none"
            )
        # One gradient per row, summed by autograd as Captum does (the same rounding).
        (gradient,) = torch.autograd.grad(torch.unbind(-loss if s.targeted else loss), X)
    return gradient


def _per_row_norm(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(len(t), -1).norm(dim=1).reshape(-1, *([1] * (t.ndim - 1)))


def _step(s: _Setup, gradient: torch.Tensor, size: float, norm: str, step: str) -> torch.Tensor:
    """The move of one step: ``scale * u`` with ``u`` the steepest ascent of size ``size``."""
    if step == "sign":
        return size * s.scale * torch.sign(gradient) * s.mask
    scaled = gradient * s.scale * s.mask  # gradient with respect to u
    length = _per_row_norm(scaled)
    direction = torch.where(length > 0, scaled / length.clamp_min(1e-30), torch.zeros_like(scaled))
    return size * s.scale * direction


def _project(s: _Setup, X: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Back onto ``||(X - x) / scale|| <= eps`` (Captum's clamp and renorm)."""
    u = (X - s.batch) / s.scale
    u = torch.clamp(u, -eps, eps) if norm == "linf" else torch.renorm(u, 2, 0, eps)
    return s.batch + u * s.scale


def _check_step(step: str, norm: str) -> str:
    step = check_option(step, "step", ["auto", "sign", "gradient"])
    if step == "auto":
        return "sign" if norm == "linf" else "gradient"
    return step


def _finish(s: _Setup, X: torch.Tensor) -> np.ndarray:
    """``x`` plus the move, in float64: what did not move keeps its exact value."""
    X = X.detach()
    out = s.original + (X - s.batch).double().numpy()
    if s.low is not None:  # a value clamped to a bound is the bound, exactly
        low, high = s.bounds64
        at_low, at_high = torch.eq(X, s.low).numpy(), torch.eq(X, s.high).numpy()
        out = np.where(at_low, low, np.where(at_high, high, out))
        out = np.clip(out, low, high)
    return out[0] if s.single else out


# ====================================================================== attacks
def fgsm(
    model: Any,
    x: Any,
    eps: float,
    *,
    norm: str = "linf",
    target: Any = None,
    y: Any = None,
    bounds: Any = "data",
    scale: Any = "auto",
    mask: Any = None,
) -> np.ndarray:
    """The fast gradient sign method: one step of size ``eps`` up the loss.

    Parameters
    ----------
    model : Model or torch module
        A differentiable (torch) classifier.
    x : array-like of shape input_shape or (n, *input_shape)
        The input(s). Not modified.
    eps : float
        The step: in scale units per feature for L-infinity, the scaled L2 length for L2.
    norm : {"linf", "l2"}, default="linf"
        Sign step (Goodfellow et al. 2015) or normalised-gradient step.
    target : int or array-like of int, optional
        A targeted attack: move towards this class.
    y : int or array-like of int, optional
        Untargeted: the class to move away from (default: the model's prediction).
    bounds : "data", None, (low, high) or array of shape (n_features, 2), default="data"
        The result is clipped into these (the data set's plausible ranges by default).
    scale : "auto", "std", "unit", float or array, default="auto"
        Per-feature units of ``eps``: the training std for tabular data, 1 for images.
    mask : array-like, optional
        1 where the input may change, 0 where it may not.

    Returns
    -------
    ndarray
        The adversarial input(s), the shape of ``x``.

    Examples
    --------
    >>> import numpy as np, xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> x_adv = xw.attacks.fgsm(m, ds.X_test[0], eps=0.1)
    >>> float(np.abs(x_adv - ds.X_test[0]).max()) <= 0.1 + 1e-6
    True
    """
    norm = check_option(norm, "norm", list(NORMS))
    eps = check_real(eps, "eps", low=0.0)
    s = _setup(model, x, target=target, y=y, bounds=bounds, scale=scale, mask=mask)
    with s.model.inference():
        gradient = _gradient(s, s.batch)
        X = _clamp(s, s.batch + _step(s, gradient, eps, norm, _check_step("auto", norm)))
    return _finish(s, X)


def pgd(
    model: Any,
    x: Any,
    eps: float,
    *,
    norm: str = "linf",
    steps: int = 40,
    step_size: float | None = None,
    random_start: bool = False,
    seed: int | None = 0,
    target: Any = None,
    y: Any = None,
    bounds: Any = "data",
    scale: Any = "auto",
    mask: Any = None,
    step: str = "auto",
) -> np.ndarray:
    """Projected gradient descent (Madry et al. 2018) within ``eps`` of ``x``.

    Parameters
    ----------
    model, x, target, y, bounds, scale, mask
        As in :func:`fgsm`.
    eps : float
        Radius of the ball (scale units).
    norm : {"linf", "l2"}, default="linf"
        The ball.
    steps : int, default=40
        Number of steps.
    step_size : float, optional
        Size of each step (scale units); default ``2.5 * eps / steps`` (Madry et al.).
    random_start : bool, default=False
        Start from a uniform random point of the ball instead of ``x``.
    seed : int or None, default=0
        Seed of the random start.
    step : {"auto", "sign", "gradient"}, default="auto"
        The step direction: "auto" is the sign for L-infinity and the normalised
        gradient for L2; "sign" for L2 is Captum's variant.

    Returns
    -------
    ndarray
        The adversarial input(s), the shape of ``x``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> x_adv = xw.attacks.pgd(m, ds.X_test[0], eps=0.3, steps=20)
    >>> int(m.predict(x_adv)[0]) != int(m.predict(ds.X_test[0])[0])
    True
    """
    norm = check_option(norm, "norm", list(NORMS))
    eps = check_real(eps, "eps", low=0.0)
    steps = check_int(steps, "steps", low=0)
    size = (
        2.5 * eps / max(steps, 1)
        if step_size is None
        else check_real(step_size, "step_size", low=0.0)
    )
    step = _check_step(step, norm)
    s = _setup(model, x, target=target, y=y, bounds=bounds, scale=scale, mask=mask)
    X = s.batch
    if random_start:
        X = _clamp(s, s.batch + s.scale * _random_point(s, eps, norm, seed) * s.mask)
    with s.model.inference(), torch_threads(1):
        for _ in range(steps):
            gradient = _gradient(s, X)
            # Step, back onto the ball, into the bounds (Captum's order; within the ball
            # clamping only shortens the move, so the result stays in both).
            X = _clamp(s, _project(s, X + _step(s, gradient, size, norm, step), eps, norm))
            X = X.detach()
    return _finish(s, X)


def _random_point(s: _Setup, eps: float, norm: str, seed: int | None) -> torch.Tensor:
    """A uniform point of the eps-ball (in scale units), as Captum draws it."""
    generator = torch_generator(seed)
    shape, dtype = s.batch.shape, s.batch.dtype
    if norm == "linf":
        return (torch.rand(shape, generator=generator, dtype=dtype) * 2 - 1) * eps
    direction = torch.randn(shape, generator=generator, dtype=dtype)
    direction = direction / _per_row_norm(direction).clamp_min(1e-30)
    d = direction[0].numel()
    radius = torch.rand(len(direction), generator=generator, dtype=dtype) ** (1.0 / d) * eps
    return direction * radius.reshape(-1, *([1] * (direction.ndim - 1)))


# ====================================================================== what it takes
@dataclass(frozen=True)
class EpsilonReport:
    """What it takes to flip one prediction: the smallest epsilon an attack needs.

    Attributes
    ----------
    eps : float
        The smallest epsilon (within ``tol``) at which the attack changed the class
        (reached the target); ``inf`` when even ``eps_max`` did not.
    x, x_adv : ndarray
        The input and the adversarial example at ``eps`` (None when none flipped).
    classes : tuple of (int, int or None)
        The input's class and the adversarial example's.
    probabilities : tuple of ndarray
        The class probabilities at ``x`` and at ``x_adv``.
    method, norm : str
        The attack and its ball.
    history : DataFrame
        Every epsilon tried and whether it flipped.
    model : Model
    meta : dict
        ``eps_max``, ``tol``, ``time_s``, the attack's options.
    """

    eps: float
    x: np.ndarray
    x_adv: np.ndarray | None
    classes: tuple[int, int | None]
    probabilities: tuple[np.ndarray, np.ndarray | None]
    method: str
    norm: str
    history: pd.DataFrame
    model: Model
    meta: dict

    @property
    def flipped(self) -> bool:
        """Whether the attack changed the class within ``eps_max``."""
        return self.x_adv is not None

    @property
    def changes(self) -> pd.DataFrame:
        """Tabular data: the features that changed, with scaled changes (largest first)."""
        if self.x_adv is None:
            return pd.DataFrame(columns=["feature", "original", "adversarial", "change"])
        scale = self.meta["scale"]
        x, adv = self.x.reshape(-1), self.x_adv.reshape(-1)
        changed = np.flatnonzero(np.abs(adv - x) > 1e-9 * (1 + np.abs(x)))
        frame = pd.DataFrame(
            {
                "feature": [self.model.feature_names[c] for c in changed],
                "original": x[changed],
                "adversarial": adv[changed],
                "change": adv[changed] - x[changed],
                "scaled change": (adv[changed] - x[changed]) / scale[changed],
            }
        )
        return frame.reindex(frame["scaled change"].abs().sort_values(ascending=False).index)

    def believability(self) -> Any:
        """Whether the adversarial example is like the data of its new class.

        See :func:`xaiwidgets.flip.believability`.
        """
        from .believability import believability

        if self.x_adv is None:
            raise ValueError("The attack never flipped the prediction: nothing to judge.")
        return believability(self.x_adv, self.model, classes=[self.classes[1]])

    def summary(self) -> str:
        """One sentence."""
        names = self.model.class_names
        i, j = self.classes
        if j is None:
            return (
                f"{self.method.upper()} ({self.norm}) does not change {names[i]!r} up to "
                f"eps = {self.meta['eps_max']:.4g}."
            )
        return (
            f"{self.method.upper()} ({self.norm}) flips {names[i]!r} "
            f"({self.probabilities[0][i]:.0%}) to {names[j]!r} "
            f"({self.probabilities[1][j]:.0%}) at eps = {self.eps:.4g}"
        )

    def __repr__(self) -> str:
        return f"EpsilonReport({self.summary()})"

    def _repr_html_(self) -> str:
        from html import escape

        table = ""
        if self.model.dataset is not None and self.model.dataset.kind == "tabular":
            table = self.changes.to_html(index=False, float_format=lambda v: f"{v:.4g}")
        return f"<p><b>What it takes</b>: {escape(self.summary())}</p>{table}"


def what_it_takes(
    model: Any,
    x: Any,
    *,
    method: str = "pgd",
    norm: str = "linf",
    eps_max: float | None = None,
    tol: float = 1e-3,
    target: Any = None,
    **options: Any,
) -> EpsilonReport:
    """The smallest epsilon at which an attack flips one prediction, by bisection.

    Success is assumed monotone in epsilon (a larger ball contains the smaller one; for
    PGD with a step size proportional to epsilon it is so in practice, not in theory).
    The bisection keeps the smallest epsilon that was seen to flip.

    Parameters
    ----------
    model : Model or torch module
    x : array-like of shape input_shape
        One input.
    method : {"pgd", "fgsm"}, default="pgd"
    norm : {"linf", "l2"}, default="linf"
    eps_max : float, optional
        The largest epsilon tried; default the width of the widest feature's bounds in
        scale units (L-infinity) or the diagonal of the bounds (L2), 10 without bounds.
    tol : float, default=1e-3
        Stop when the bracket is narrower than ``tol * eps_max``.
    target : int, optional
        A targeted attack: the smallest epsilon that reaches this class.
    **options
        Passed to the attack (``steps``, ``bounds``, ``scale``, ``mask``, ...).

    Returns
    -------
    EpsilonReport

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> r = xw.attacks.what_it_takes(m, ds.X_test[0], steps=10)
    >>> r.flipped, 0 < r.eps < 0.5
    (True, True)
    """
    start = time.perf_counter()
    method = check_option(method, "method", ["pgd", "fgsm"])
    norm = check_option(norm, "norm", list(NORMS))
    model = wrap(model)
    batch, single = model.check_input(x)
    if not single:
        raise ValueError(f"x must be one input of shape {model.input_shape}; got a batch.")
    scale = resolve_scale(model, options.get("scale", "auto"))
    low, high = resolve_bounds(model, options.get("bounds", "data"))
    if eps_max is None:
        if low is None:
            eps_max = 10.0
        else:
            span = (high - low) / scale
            eps_max = float(span.max() if norm == "linf" else np.linalg.norm(span))
    eps_max = check_real(eps_max, "eps_max", low=0.0, low_inclusive=False)
    tol = check_real(tol, "tol", low=0.0, low_inclusive=False)
    attack = pgd if method == "pgd" else fgsm
    probabilities = model.predict_proba(batch)[0]
    i = int(np.argmax(probabilities))
    goal = None if target is None else int(check_targets(target, 1, model.n_classes)[0])
    if goal == i:
        raise ValueError(f"target={goal} is the input's own class; name another class.")
    history = []
    # Untargeted: away from class i, found once here rather than by every attack call.
    away = {"y": i} if goal is None and "y" not in options else {}

    def flips(eps: float) -> tuple[np.ndarray | None, int]:
        """The attack at ``eps`` (None unless it succeeds) and the class it reaches."""
        adv = attack(model, batch[0], eps, norm=norm, target=target, **away, **options)
        k = int(model.predict(adv)[0])
        ok = k != i if goal is None else k == goal
        history.append({"eps": eps, "class": k, "flipped": ok})
        return (adv if ok else None), k

    best, best_class = flips(eps_max)
    lo, hi = 0.0, eps_max
    if best is not None:
        while hi - lo > tol * eps_max:
            middle = 0.5 * (lo + hi)
            adv, k = flips(middle)
            if adv is None:
                lo = middle
            else:
                hi, best, best_class = middle, adv, k
    shape = model.input_shape
    return EpsilonReport(
        eps=hi if best is not None else float("inf"),
        x=batch[0].reshape(shape),
        x_adv=None if best is None else best.reshape(shape),
        classes=(i, None if best is None else best_class),
        probabilities=(probabilities, None if best is None else model.predict_proba(best)[0]),
        method=method,
        norm=norm,
        history=pd.DataFrame(history),
        model=model,
        meta={
            "eps_max": eps_max,
            "tol": tol,
            "time_s": time.perf_counter() - start,
            "scale": scale,
            "options": dict(options),
        },
    )
