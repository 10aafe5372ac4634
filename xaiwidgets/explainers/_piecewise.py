"""A ReLU network read as what it is: a stack of affine maps and piecewise-linear kinks.

:class:`PiecewiseLinearNet` turns an ``nn.Sequential`` of supported layers into dense
float64 stages ``h_k = act_k(W_k h_{k-1} + b_k)``. Every affine layer (Linear, a
convolution, an evaluation-mode batch norm, flatten, dropout) is folded into the
stage's matrix; the activations are ReLU or LeakyReLU, so within one activation
pattern the whole network is one affine map (Dethise & Canini, Eqs. 1-4). The exact
methods of :mod:`xaiwidgets.explainers.linear_region` (regions, exact lines, the 2-D
map, MILP queries) all work on this representation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from ..core.model import Model

__all__ = ["PiecewiseLinearNet", "Stage"]

# Affine layers read by probing: b = f(0), W = f(e_i) - b. Exactly linear in eval mode.
_PROBED = (
    torch.nn.Conv1d,
    torch.nn.Conv2d,
    torch.nn.Conv3d,
    torch.nn.BatchNorm1d,
    torch.nn.BatchNorm2d,
    torch.nn.BatchNorm3d,
    torch.nn.AvgPool1d,
    torch.nn.AvgPool2d,
    torch.nn.ZeroPad2d,
)
# Layers that only reshape, or are the identity in eval mode.
_RESHAPING = (
    torch.nn.Flatten,
    torch.nn.Unflatten,
    torch.nn.Identity,
    torch.nn.Dropout,
    torch.nn.Dropout1d,
    torch.nn.Dropout2d,
    torch.nn.Dropout3d,
    torch.nn.AlphaDropout,
)
_SUPPORTED = (
    "Linear, Conv1d/2d/3d, BatchNorm1d/2d/3d (with running statistics), AvgPool1d/2d, "
    "ZeroPad2d, Flatten, Unflatten, Identity, Dropout, ReLU and LeakyReLU, in nn.Sequential"
)
# Largest dense matrix (entries) a convolution may unfold into.
_MAX_DENSE_ENTRIES = 50_000_000


@dataclass(frozen=True)
class Stage:
    """One stage ``act(W h + b)``: ``slope`` is the activation's negative slope.

    ``slope`` is 0 for ReLU, the negative slope for LeakyReLU, and ``None`` for the
    output stage (no activation).
    """

    weight: np.ndarray
    bias: np.ndarray
    slope: float | None
    name: str


class PiecewiseLinearNet:
    """Dense float64 view of a ReLU network (see module docstring).

    Build one with :meth:`from_model`. Inputs are flattened rows ``(n, d)``.

    Examples
    --------
    >>> import torch, xaiwidgets as xw
    >>> net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    >>> pl = PiecewiseLinearNet.from_model(xw.wrap(net, input_shape=(3,)))
    >>> [s.weight.shape for s in pl.stages]
    [(4, 3), (2, 4)]
    """

    def __init__(self, stages: list[Stage], n_inputs: int) -> None:
        self.stages = stages
        self.n_inputs = n_inputs

    # ------------------------------------------------------------------ reading a model
    @classmethod
    def from_model(cls, model: Model) -> PiecewiseLinearNet:
        """Read the layers of a wrapped torch model; raise for anything not supported.

        Raises
        ------
        TypeError
            If the model is not a torch module, or has a layer that is not affine or
            piecewise linear, or a custom ``forward`` that the layers do not describe.
        ValueError
            If the model explains probabilities only (no logits).
        """
        if model.source != "torch":
            raise TypeError(
                "Exact linear regions need a torch ReLU network; this model wraps a "
                f"{model.source} predictor ({type(model.predictor).__name__})."
            )
        if not model.has_logits:
            raise ValueError(
                "Exact linear regions describe the logits of a ReLU network; this model was "
                "wrapped with output='probs' (a softmax is not piecewise linear). Wrap the "
                "module that returns logits."
            )
        module = model.torch_module
        shape = tuple(model.input_shape)
        n_inputs = int(np.prod(shape))
        stages: list[Stage] = []
        pending: tuple[np.ndarray, np.ndarray] | None = None
        width = n_inputs
        with model.inference(), torch.no_grad():
            for index, layer in _flatten_sequential(module):
                label = f"layer {index} ({type(layer).__name__})"
                if isinstance(layer, torch.nn.ReLU | torch.nn.LeakyReLU):
                    slope = (
                        float(layer.negative_slope)
                        if isinstance(layer, torch.nn.LeakyReLU)
                        else 0.0
                    )
                    weight, bias = pending if pending is not None else _identity(width)
                    stages.append(Stage(weight, bias, slope, label))
                    pending = None
                    continue
                affine, shape = _affine_of(layer, shape, label)
                width = int(np.prod(shape))
                if affine is not None:
                    pending = affine if pending is None else _compose(affine, pending)
        weight, bias = pending if pending is not None else _identity(width)
        if weight.shape[0] == 1 and model.n_classes == 2:
            # One score z for a binary problem: the adapter reads it as logits (-z/2, z/2).
            weight = np.vstack([-weight / 2, weight / 2])
            bias = np.concatenate([-bias / 2, bias / 2])
        stages.append(Stage(weight, bias, None, "output"))
        net = cls(stages, n_inputs)
        net._check_against(model)
        return net

    @staticmethod
    def readable(model: Model) -> bool:
        """Whether :meth:`from_model` can read ``model``, judged from its layer types only.

        Cheap (no dense matrices are built), for listing the methods that apply.
        """
        if model.source != "torch" or not model.has_logits:
            return False
        try:
            layers = _flatten_sequential(model.torch_module)
        except TypeError:
            return False
        supported = (torch.nn.ReLU, torch.nn.LeakyReLU, torch.nn.Linear, *_PROBED, *_RESHAPING)
        return all(
            isinstance(layer, supported)
            and not (
                isinstance(layer, torch.nn.modules.batchnorm._BatchNorm)
                and layer.running_mean is None
            )
            for _, layer in layers
        )

    def _check_against(self, model: Model) -> None:
        """Compare with the module's own forward pass: a custom ``forward`` is caught here."""
        rng = np.random.default_rng(0)
        if model.dataset is not None:
            rows = np.asarray(model.dataset.X_train[:8], dtype=np.float64)
        else:
            rows = rng.normal(size=(8, *model.input_shape))
        expected = model._outputs_unchecked(rows, "logit")
        got = self.logits(rows.reshape(len(rows), -1))
        scale = 1.0 + np.abs(expected).max()
        if got.shape != expected.shape or np.abs(got - expected).max() > 1e-4 * scale:
            raise TypeError(
                "The module's forward() does not compute what its layers describe (a custom "
                "forward, a residual connection or a functional activation?). Exact linear "
                f"regions need a plain stack of {_SUPPORTED}."
            )

    # ------------------------------------------------------------------ evaluation
    @property
    def hidden_sizes(self) -> list[int]:
        """Width of each activation layer."""
        return [s.weight.shape[0] for s in self.stages[:-1]]

    @property
    def n_outputs(self) -> int:
        """Number of logits."""
        return self.stages[-1].weight.shape[0]

    def forward(self, X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
        """Pre-activations of every hidden stage and the logits, for rows ``X (n, d)``."""
        pre_activations = []
        h = X
        for stage in self.stages[:-1]:
            z = h @ stage.weight.T + stage.bias
            pre_activations.append(z)
            h = _activate(z, stage.slope)
        last = self.stages[-1]
        return pre_activations, h @ last.weight.T + last.bias

    def logits(self, X: np.ndarray) -> np.ndarray:
        """Logits of rows ``X (n, d)`` in float64."""
        return self.forward(X)[1]

    def patterns(self, X: np.ndarray) -> list[np.ndarray]:
        """Activation pattern (pre-activation > 0) of every hidden stage, ``(n, m_k)`` each."""
        return [z > 0 for z in self.forward(X)[0]]

    def slopes(self, patterns: list[np.ndarray]) -> list[np.ndarray]:
        """The activation's derivative for a pattern: 1 where active, the slope elsewhere."""
        return [
            np.where(p, 1.0, stage.slope) for p, stage in zip(patterns, self.stages, strict=False)
        ]

    def jacobians(
        self, patterns: list[np.ndarray], n_rows: int, classes: np.ndarray | None = None
    ) -> np.ndarray:
        """Input weights of the logits for each row's activation pattern.

        Back-propagates through the pattern's diagonal slopes: ``W_L D_{L-1} W_{L-1}
        ... D_1 W_1`` (Dethise & Canini, Eq. 3). Returns ``(n_rows, n_classes, d)``, or
        ``(n_rows, d)`` for one class per row when ``classes`` (shape ``(n_rows,)``) is
        given.
        """
        last = self.stages[-1].weight
        per_row = classes is not None
        G = last[classes] if per_row else np.broadcast_to(last, (n_rows, *last.shape))
        for stage, slope in zip(self.stages[-2::-1], self.slopes(patterns)[::-1], strict=True):
            G = (G * (slope if per_row else slope[:, None, :])) @ stage.weight
        return np.array(G)

    def affine_on(
        self, patterns: list[np.ndarray], origin: np.ndarray, basis: np.ndarray
    ) -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
        """The network restricted to ``y = origin + basis @ u``, for a batch of patterns.

        Parameters
        ----------
        patterns : list of ndarray of bool, shape (n, m_k) each
            ``n`` activation patterns.
        origin : ndarray of shape (d,) or (n, d)
        basis : ndarray of shape (d, k)

        Returns
        -------
        pre_activations : list of (P, q)
            Each hidden stage's pre-activations as ``P[r] @ u + q[r]`` under pattern
            ``r`` (``P`` of shape ``(n, m_k, k)``, ``q`` of shape ``(n, m_k)``).
        logits : (P, q)
            The logits in the same form (``P`` of shape ``(n, n_classes, k)``).
        """
        n = len(patterns[0]) if patterns else np.atleast_2d(origin).shape[0]
        d, k = basis.shape
        M = np.broadcast_to(basis, (n, d, k))
        c = np.broadcast_to(origin, (n, d))
        maps = []
        for stage, slope in zip(self.stages, [*self.slopes(patterns), None], strict=True):
            # One matrix product for all patterns: W @ [M_1 ... M_n].
            stacked = M.transpose(1, 0, 2).reshape(M.shape[1], n * k)
            P = (stage.weight @ stacked).reshape(-1, n, k).transpose(1, 0, 2)
            q = c @ stage.weight.T + stage.bias
            if slope is None:
                return maps, (P, q)
            maps.append((P, q))
            M, c = slope[:, :, None] * P, slope * q
        raise AssertionError("unreachable: the last stage has no activation")


def _flatten_sequential(module: torch.nn.Module, prefix: str = "") -> list:
    """The leaf layers of (nested) ``nn.Sequential`` containers, with dotted indices."""
    if type(module) is torch.nn.Sequential or (
        isinstance(module, torch.nn.Sequential)
        and type(module).forward is torch.nn.Sequential.forward
    ):
        leaves = []
        for name, child in module.named_children():
            leaves += _flatten_sequential(child, f"{prefix}{name}.")
        return leaves
    if isinstance(module, torch.nn.Sequential | torch.nn.ModuleList):
        raise TypeError(
            f"{type(module).__name__} overrides forward(); exact linear regions read the "
            f"layers of a plain stack: {_SUPPORTED}."
        )
    return [(prefix.rstrip(".") or "0", module)]


def _identity(width: int) -> tuple[np.ndarray, np.ndarray]:
    return np.eye(width), np.zeros(width)


def _compose(
    outer: tuple[np.ndarray, np.ndarray], inner: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """``outer(inner(h))`` for two affine maps ``(W, b)``."""
    return outer[0] @ inner[0], outer[0] @ inner[1] + outer[1]


def _activate(z: np.ndarray, slope: float) -> np.ndarray:
    return np.where(z > 0, z, slope * z)


def _affine_of(
    layer: torch.nn.Module, shape: tuple[int, ...], label: str
) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[int, ...]]:
    """The dense affine map of one layer on inputs of ``shape``, and its output shape.

    Returns ``None`` for the map of a layer that only reshapes (row-major flattening
    keeps the order of the elements, so the flat map is the identity).
    """
    zero = torch.zeros((1, *shape), dtype=torch.float64)
    if isinstance(layer, _RESHAPING):
        return None, tuple(_run(layer, zero, label).shape[1:])
    if isinstance(layer, torch.nn.Linear) and len(shape) == 1:
        weight = layer.weight.detach().double().numpy().copy()
        bias = (
            layer.bias.detach().double().numpy().copy()
            if layer.bias is not None
            else np.zeros(layer.out_features)
        )
        return (weight, bias), (layer.out_features,)
    if isinstance(layer, (*_PROBED, torch.nn.Linear)):
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.running_mean is None:
            raise TypeError(
                f"{label}: a batch norm without running statistics (track_running_stats="
                "False) normalizes by the batch, so it is not one affine map per input."
            )
        probe = copy.deepcopy(layer).double().eval()
        bias = _run(probe, zero, label)
        n_in, n_out = zero.numel(), bias.numel()
        if n_in * n_out > _MAX_DENSE_ENTRIES:
            raise ValueError(
                f"{label} unfolds into a dense {n_out} x {n_in} matrix, more than "
                f"{_MAX_DENSE_ENTRIES} entries; exact linear regions are meant for small "
                "networks (tabular MLPs, small CNNs)."
            )
        basis = torch.eye(n_in, dtype=torch.float64).reshape((n_in, *shape))
        columns = _run(probe, basis, label) - bias
        weight = columns.reshape(n_in, n_out).T.numpy().copy()
        return (weight, bias.reshape(-1).numpy().copy()), tuple(bias.shape[1:])
    raise TypeError(
        f"{label} is not supported by exact linear regions: a ReLU network must be built "
        f"from {_SUPPORTED}. Layers such as Tanh, Sigmoid, Softmax or MaxPool are not "
        "(all) piecewise linear in a way this method reads."
    )


def _run(layer: torch.nn.Module, inputs: torch.Tensor, label: str) -> torch.Tensor:
    try:
        return layer(inputs)
    except RuntimeError as exc:
        raise TypeError(
            f"{label} does not accept inputs of shape {tuple(inputs.shape[1:])}: {exc}"
        ) from exc
