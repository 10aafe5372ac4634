"""Gradient-family explainers for differentiable (torch) models.

Every method here needs gradients of one output with respect to the input; all of
them evaluate every input, noise sample and path step in one batched
forward/backward pass (split only when it would exceed a memory cap), because for the
small models of a course the per-call overhead, not the arithmetic, dominates.
"""

from __future__ import annotations

import copy
import functools
import itertools
from typing import Any

import numpy as np
import torch

from ..core.explainer import Explainer, register
from ..core.model import Model
from ..core.seeding import torch_generator
from ..core.validation import as_numpy, check_finite, check_int, check_option, check_real

__all__ = [
    "Gradient",
    "GradientXInput",
    "GuidedBackprop",
    "IntegratedGradients",
    "SmoothGrad",
]

# Largest number of input elements sent through one forward/backward pass.
_MAX_ELEMENTS_PER_PASS = 2**23


class _GradientMethod(Explainer):
    """Shared machinery: gradients of the target output with respect to the input.

    A method names the rows it needs gradients at besides the inputs themselves
    (:meth:`_extra_rows`: noisy copies, path points) and how to combine the
    gradients (:meth:`_combine`). :meth:`_explain_batch` evaluates inputs and extra
    rows in one forward pass, reads the targets off the inputs' outputs, and runs
    one backward pass; above a memory cap it falls back to chunks.
    """

    requires_gradients = True

    def _extra_rows(self, batch: np.ndarray, x: torch.Tensor) -> tuple[torch.Tensor, np.ndarray]:
        """Rows to differentiate at besides ``x``, and the input each belongs to."""
        return x[:0], np.zeros(0, dtype=np.int64)

    def _combine(
        self,
        batch: np.ndarray,
        targets: np.ndarray,
        gradients: torch.Tensor,
        selected: torch.Tensor,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Attributions and meta from the gradients and target outputs of every row.

        The first ``len(batch)`` rows are the inputs, the rest the extra rows.
        """
        raise NotImplementedError

    def _explain_batch(self, batch, requested):
        n = len(batch)
        x = self._tensor(batch)
        rows, owners = self._extra_rows(batch, x)
        inputs = torch.cat([x, rows])
        if inputs.numel() <= _MAX_ELEMENTS_PER_PASS:
            differentiated = self._differentiated
            with differentiated.inference(), torch.enable_grad():
                inputs.requires_grad_(True)
                scores = differentiated.torch_outputs(inputs, self.output)
                outputs = scores[:n].detach().double().numpy()
                targets = np.argmax(outputs, axis=1) if requested is None else requested
                row_targets = torch.as_tensor(np.concatenate([targets, targets[owners]]))
                selected = scores.gather(1, row_targets[:, None])
                (gradients,) = torch.autograd.grad(selected.sum(), inputs)
            selected = selected.detach()[:, 0]
        else:
            outputs = self.model._outputs_unchecked(batch, self.output)
            targets = np.argmax(outputs, axis=1) if requested is None else requested
            row_targets = torch.as_tensor(np.concatenate([targets, targets[owners]]))
            gradients, selected = self._target_gradients(inputs, row_targets)
        values, meta = self._combine(batch, targets, gradients, selected)
        return outputs, targets, values, meta

    def _target_gradients(
        self, inputs: torch.Tensor, targets: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gradient of ``output[row, targets[row]]`` w.r.t. each row, and the outputs.

        Rows are independent, so one backward pass of the summed selected outputs
        gives every row's gradient at once. Splits into chunks above a size cap.
        """
        per_row = max(1, inputs[0].numel())
        rows_per_pass = max(1, _MAX_ELEMENTS_PER_PASS // per_row)
        gradients, selected_outputs = [], []
        differentiated = self._differentiated
        with differentiated.inference(), torch.enable_grad():
            for start in range(0, len(inputs), rows_per_pass):
                chunk = inputs[start : start + rows_per_pass].detach().requires_grad_(True)
                outputs = differentiated.torch_outputs(chunk, self.output)
                selected = outputs.gather(1, targets[start : start + rows_per_pass, None])
                (gradient,) = torch.autograd.grad(selected.sum(), chunk)
                gradients.append(gradient)
                selected_outputs.append(selected.detach()[:, 0])
        return torch.cat(gradients), torch.cat(selected_outputs)

    @property
    def _differentiated(self) -> Model:
        """The model whose gradients are taken.

        The wrapped one, unless a method changes how gradients flow backward.
        """
        return self.model

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        return torch.tensor(array, dtype=self.model.torch_dtype)

    @staticmethod
    def _numpy(tensor: torch.Tensor) -> np.ndarray:
        return tensor.detach().double().numpy()


@register
class Gradient(_GradientMethod):
    r"""Vanilla gradient (saliency): the gradient of the explained output at ``x``.

    Simonyan et al. 2014, "Deep Inside Convolutional Networks". The attribution of
    feature *i* is :math:`\partial f_c / \partial x_i` at the input, signed by
    default (Captum's ``Saliency`` takes the absolute value; use ``absolute=True``).

    Parameters
    ----------
    model : Model or torch.nn.Module
        A differentiable model.
    absolute : bool, default=False
        Return :math:`|\partial f_c / \partial x_i|`, as in the original saliency maps.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class (the logit where there is one).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> e = xw.explainers.Gradient(m).explain(ds.X_test[:5])
    >>> e.values.shape
    (5, 13)
    """

    name = "gradient"
    label = "Gradient"

    def __init__(self, model: Any, *, absolute: bool = False, output: str = "auto") -> None:
        super().__init__(model, output=output)
        self.params["absolute"] = bool(absolute)

    def _combine(self, batch, targets, gradients, selected):
        at_inputs = self._numpy(gradients[: len(batch)])
        return (np.abs(at_inputs) if self.params["absolute"] else at_inputs), {}


@register
class GradientXInput(_GradientMethod):
    r"""Gradient times input: :math:`x_i \, \partial f_c / \partial x_i`.

    Shrikumar et al. 2016; for a ReLU network without biases it equals
    integrated gradients from a zero baseline. Captum's ``InputXGradient``.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A differentiable model.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> xw.explainers.GradientXInput(m).explain(ds.X_test[0]).values.shape
    (1, 8, 8)
    """

    name = "gradient_x_input"
    label = "Gradient × Input"

    def _combine(self, batch, targets, gradients, selected):
        return self._numpy(gradients[: len(batch)]) * batch, {}


def _feature_range(explainer: Explainer, batch: np.ndarray) -> np.ndarray:
    """Per-feature input range that scales the noise.

    The data set's bounds where the model knows them, else each input's own
    ``max - min`` (as in the SmoothGrad paper).
    """
    dataset = explainer.model.dataset
    if dataset is not None:
        low, high = dataset.bounds.T
        span = (high - low).reshape(dataset.input_shape)
        return np.broadcast_to(np.where(span > 0, span, 1.0), batch.shape)
    flat = batch.reshape(len(batch), -1)
    span = flat.max(axis=1) - flat.min(axis=1)
    span = np.where(span > 0, span, 1.0)
    return np.broadcast_to(span.reshape((-1,) + (1,) * (batch.ndim - 1)), batch.shape)


@register
class SmoothGrad(_GradientMethod):
    r"""SmoothGrad: the gradient averaged over noisy copies of the input.

    Smilkov et al. 2017. With :math:`n` samples
    :math:`\epsilon_k \sim \mathcal N(0, \sigma^2)`, the attribution is
    :math:`\frac1n \sum_k \nabla f_c(x + \epsilon_k)` (or the mean of squares with
    ``magnitude=True``, "SmoothGrad squared"). The noise level is a fraction of the
    input range, as in the paper: :math:`\sigma = \text{sigma} \cdot (x_{max} - x_{min})`,
    per feature from the data set's bounds when the model was wrapped with one.

    Noise is drawn as Captum's ``NoiseTunnel`` draws it (each input repeated
    ``n_samples`` times, one normal draw of that shape), from a generator seeded with
    ``seed``, so ``torch.manual_seed(seed)`` before Captum reproduces the same draws.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A differentiable model.
    sigma : float, default=0.15
        Noise standard deviation as a fraction of the input range.
    n_samples : int, default=50
        Noisy copies per input.
    magnitude : bool, default=False
        Average squared gradients (SmoothGrad squared) instead of gradients.
    seed : int or None, default=0
        Seed of the noise; the same seed gives the same result.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> sg = xw.explainers.SmoothGrad(xw.wrap(xw.zoo.train_mlp(ds), ds), n_samples=20)
    >>> sg.explain(ds.X_test[0]).meta["n_samples"]
    20
    """

    name = "smoothgrad"
    label = "SmoothGrad"

    def __init__(
        self,
        model: Any,
        *,
        sigma: float = 0.15,
        n_samples: int = 50,
        magnitude: bool = False,
        seed: int | None = 0,
        output: str = "auto",
    ) -> None:
        super().__init__(model, output=output)
        self.params.update(
            sigma=check_real(sigma, "sigma", low=0.0),
            n_samples=check_int(n_samples, "n_samples", low=1),
            magnitude=bool(magnitude),
            seed=None if seed is None else check_int(seed, "seed", low=0),
        )

    def _extra_rows(self, batch, x):
        n_samples = self.params["n_samples"]
        std = self._tensor(self.params["sigma"] * _feature_range(self, batch))
        noise = torch.normal(
            0.0,
            std.repeat_interleave(n_samples, dim=0),
            generator=torch_generator(self.params["seed"]),
        )
        owners = np.repeat(np.arange(len(batch)), n_samples)
        return x.repeat_interleave(n_samples, dim=0) + noise, owners

    def _combine(self, batch, targets, gradients, selected):
        n_samples = self.params["n_samples"]
        at_noisy = gradients[len(batch) :]
        if self.params["magnitude"]:
            at_noisy = at_noisy**2
        values = at_noisy.reshape(len(batch), n_samples, *batch.shape[1:]).mean(dim=1)
        noise_std = self.params["sigma"] * _feature_range(self, batch[:1])[0]
        return self._numpy(values), {"n_samples": n_samples, "noise_std": noise_std}


@functools.lru_cache(maxsize=64)
def _quadrature(rule: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes in [0, 1] and weights summing to 1 for the path integral of IG.

    ``"riemann_middle"``: midpoints (k + 1/2)/m with weights 1/m. ``"gausslegendre"``:
    numpy's Gauss-Legendre nodes mapped from [-1, 1] to [0, 1]. Both as in Captum.
    """
    if rule == "gausslegendre":
        nodes, weights = np.polynomial.legendre.leggauss(steps)
        return 0.5 * (nodes + 1), 0.5 * weights
    return (np.arange(steps) + 0.5) / steps, np.full(steps, 1.0 / steps)


@register
class IntegratedGradients(_GradientMethod):
    r"""Integrated gradients along the straight path from a baseline to the input.

    Sundararajan et al. 2017, "Axiomatic Attribution for Deep Networks", Eq. 1:
    :math:`\mathrm{IG}_i(x) = (x_i - x'_i) \int_0^1 \partial f_c(x' + \alpha (x - x'))
    / \partial x_i \, d\alpha`, approximated with a quadrature rule. Completeness says
    :math:`\sum_i \mathrm{IG}_i = f_c(x) - f_c(x')`; the gap of the approximation is
    always reported in ``meta["convergence_delta"]`` (absolute) and
    ``meta["relative_gap"]`` (divided by :math:`|f_c(x) - f_c(x')|`).

    Parameters
    ----------
    model : Model or torch.nn.Module
        A differentiable model.
    steps : int or "auto", default=64
        Number of path points. ``"auto"`` doubles the steps, from 32, until the
        relative gap is below ``tolerance`` (or ``max_steps`` is reached) and reports
        the steps it took in ``meta["steps"]``.
    baseline : {"zeros", "mean"}, float or array-like, default="zeros"
        The reference input :math:`x'`: all zeros, the training mean (needs a model
        wrapped with a data set), a constant, or an array of the input's shape.
    method : {"gausslegendre", "riemann_middle"}, default="gausslegendre"
        Quadrature rule (Captum's default is Gauss-Legendre too).
    tolerance : float, default=0.01
        Target relative completeness gap for ``steps="auto"``.
    max_steps : int, default=4096
        Upper limit for ``steps="auto"``.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> ig = xw.explainers.IntegratedGradients(xw.wrap(xw.zoo.train_mlp(ds), ds), baseline="mean")
    >>> e = ig.explain(ds.X_test[0])
    >>> abs(e.meta["relative_gap"]) < 0.05
    True
    """

    name = "ig"
    label = "Integrated Gradients"

    def __init__(
        self,
        model: Any,
        *,
        steps: int | str = 64,
        baseline: str | float | Any = "zeros",
        method: str = "gausslegendre",
        tolerance: float = 0.01,
        max_steps: int = 4096,
        output: str = "auto",
    ) -> None:
        super().__init__(model, output=output)
        if isinstance(steps, str):
            check_option(steps, "steps", ["auto"])
        else:
            check_int(steps, "steps", low=1)
        self.params.update(
            steps=steps,
            baseline=baseline if isinstance(baseline, str) else "array",
            method=check_option(method, "method", ["gausslegendre", "riemann_middle"]),
            tolerance=check_real(tolerance, "tolerance", low=0.0, low_inclusive=False),
            max_steps=check_int(max_steps, "max_steps", low=1),
        )
        self.baseline = self._resolve_baseline(baseline)

    def _resolve_baseline(self, baseline: Any) -> np.ndarray:
        shape = self.model.input_shape
        if isinstance(baseline, str):
            check_option(baseline, "baseline", ["zeros", "mean"])
            if baseline == "zeros":
                return np.zeros(shape)
            if self.model.dataset is None:
                raise ValueError(
                    "baseline='mean' needs the training data: wrap the model with its data "
                    "set (xw.wrap(model, dataset)) or pass an array."
                )
            return np.asarray(self.model.dataset.train_mean, dtype=np.float64)
        array = as_numpy(baseline, "baseline").astype(np.float64)
        try:
            array = np.broadcast_to(array, shape).copy()
        except ValueError:
            raise ValueError(
                f"baseline must be 'zeros', 'mean', a number or an array that broadcasts to "
                f"the input shape {shape}; got shape {array.shape}."
            ) from None
        check_finite(array, "baseline")
        return array

    @property
    def _first_steps(self) -> int:
        """Steps of the first pass: ``steps``, or 32 for ``steps="auto"``."""
        steps = self.params["steps"]
        return min(32, self.params["max_steps"]) if steps == "auto" else steps

    def _extra_rows(self, batch, x):
        return self._path_rows(batch, x, self._first_steps)

    def _path_rows(
        self, batch: np.ndarray, x: torch.Tensor, steps: int
    ) -> tuple[torch.Tensor, np.ndarray]:
        """All path points of all inputs, then the baselines (whose outputs give f(x'))."""
        n, shape = len(batch), batch.shape[1:]
        alphas, _ = _quadrature(self.params["method"], steps)
        x0 = self._tensor(np.broadcast_to(self.baseline, batch.shape))
        alpha = self._tensor(alphas).reshape((1, steps) + (1,) * len(shape))
        path = (x0[:, None] + alpha * (x - x0)[:, None]).reshape((n * steps, *shape))
        owners = np.concatenate([np.repeat(np.arange(n), steps), np.arange(n)])
        return torch.cat([path, x0]), owners

    def _integral(
        self, batch: np.ndarray, steps: int, at_rows: torch.Tensor, row_outputs: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray]:
        """IG from the gradients at the path rows; also f(x') from the baseline rows."""
        n, shape = len(batch), batch.shape[1:]
        _, weights = _quadrature(self.params["method"], steps)
        weighted = (
            at_rows[: n * steps].reshape((n, steps, *shape))
            * self._tensor(weights).reshape((1, steps) + (1,) * len(shape))
        ).sum(dim=1)
        values = self._numpy(weighted) * (batch - self.baseline)
        return values, self._numpy(row_outputs[n * steps :])

    def _combine(self, batch, targets, gradients, selected):
        n, steps = len(batch), self._first_steps
        values, f_baseline = self._integral(batch, steps, gradients[n:], selected[n:])
        f_x = self._numpy(selected[:n])
        used = np.full(n, steps)
        if self.params["steps"] == "auto":
            self._refine(batch, targets, f_x, values, f_baseline, used)
        gap = values.reshape(n, -1).sum(axis=1) - (f_x - f_baseline)
        meta = {
            "convergence_delta": gap,
            "relative_gap": np.abs(gap) / np.maximum(np.abs(f_x - f_baseline), 1e-12),
            "steps": used,
            "base_value": f_baseline,
            "output_at_input": f_x,
            "baseline": self.baseline.copy(),
        }
        return values, meta

    def _refine(self, batch, targets, f_x, values, f_baseline, used) -> None:
        """Double the steps of inputs whose gap is above tolerance (``steps="auto"``).

        Stops when every relative gap is below tolerance or at ``max_steps``; updates
        ``values``, ``f_baseline`` and ``used`` in place.
        """
        tolerance, max_steps = self.params["tolerance"], self.params["max_steps"]
        steps = used[0]
        while True:
            change = f_x - f_baseline
            gap = values.reshape(len(batch), -1).sum(axis=1) - change
            pending = np.flatnonzero(
                np.abs(gap) > tolerance * np.abs(change) + 1e-6 * (1 + np.abs(f_x))
            )
            if not len(pending) or steps >= max_steps:
                return
            steps = min(2 * steps, max_steps)
            part = batch[pending]
            rows, owners = self._path_rows(part, self._tensor(part), steps)
            gradients, selected = self._target_gradients(
                rows, torch.as_tensor(targets[pending][owners])
            )
            values[pending], f_baseline[pending] = self._integral(part, steps, gradients, selected)
            used[pending] = steps


@register
class GuidedBackprop(_GradientMethod):
    r"""Guided backpropagation for ReLU networks.

    Springenberg et al. 2015: on the way back through each ReLU, pass only positive
    gradients (zero where the forward input or the incoming gradient is negative).
    Implemented, as in Captum, by a backward hook on each ``nn.ReLU`` module that
    clamps the gradient at zero. ReLUs applied as functions (``torch.relu``) cannot be
    hooked, so such models raise an error.

    Unlike Captum, the hooks never touch the caller's network: they sit on a copy of
    its module tree that shares every parameter and buffer with it (so it follows the
    caller's training), made once per explainer. Hooks registered for the length of a
    call would change the gradients of any other thread using the same network
    meanwhile, such as another widget explaining it with integrated gradients.

    Parameters
    ----------
    model : Model or torch.nn.Module
        A differentiable model with ``torch.nn.ReLU`` modules.
    output : {"auto", "logit", "probability"}, default="auto"
        The explained output of the target class.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> m = xw.wrap(xw.zoo.train_cnn(ds), ds)
    >>> xw.explainers.GuidedBackprop(m).explain(ds.X_test[0]).values.shape
    (1, 8, 8)
    """

    name = "guided_backprop"
    label = "Guided Backprop"

    def __init__(self, model: Any, *, output: str = "auto") -> None:
        super().__init__(model, output=output)
        self._guided = self.model.with_module(_guided_copy(self.model.torch_module))

    @property
    def _differentiated(self) -> Model:
        return self._guided

    def _combine(self, batch, targets, gradients, selected):
        return self._numpy(gradients[: len(batch)]), {}


def _guided_copy(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module``'s tree whose ReLUs pass only positive gradients back.

    The copy shares every parameter and buffer with ``module``; only the module
    objects (and their hook tables) are new.
    """
    shared = {id(t): t for t in itertools.chain(module.parameters(), module.buffers())}
    try:
        guided = copy.deepcopy(module, memo=shared)
    except Exception as error:
        raise TypeError(
            "GuidedBackprop puts its backward rule on a copy of the model's module tree "
            f"(sharing the parameters), and this model cannot be copied: {error}"
        ) from error
    relus = [m for m in guided.modules() if isinstance(m, torch.nn.ReLU)]
    if not relus:
        raise ValueError(
            "GuidedBackprop needs torch.nn.ReLU modules in the model to change the "
            "backward rule; this model has none (ReLU applied as a function cannot be "
            "hooked). Use Gradient instead, or build the model with nn.ReLU()."
        )
    for relu in relus:
        relu.register_full_backward_hook(_positive_gradient)
    return guided


def _positive_gradient(module, grad_input, grad_output):
    """Guided backprop's rule at a ReLU: keep only positive gradients."""
    return tuple(None if g is None else torch.relu(g) for g in grad_input)
