"""``AttackWidget``: manipulate an explanation and watch it move while the prediction stays.

The attack of Dombrowski et al. (NeurIPS 2019), run by
:func:`xaiwidgets.attacks.manipulate_explanation` on the widget's worker thread: pick an
input and a target row (whose explanation the input's should come to look like), the
method, epsilon, the softplus beta of the optimisation and, as the defence, a small beta
for the explanation itself. While it runs, a curve shows the similarity of the map to
the target; at the end the figure shows both inputs, their difference, both maps, the
target and both outputs.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..analysis.explanation_attack import (
    METHODS,
    ExplanationAttack,
    explanation_map,
    manipulate_explanation,
)
from ..core.model import Model, wrap
from ..core.validation import check_int, check_option, check_real
from ..plotting import SimilarityCurve, plot_explanation_attack
from ._base import FigureView, WidgetBase, _check_dataset
from ._explainer import method_label

__all__ = ["AttackWidget"]

#: Seconds between redraws of the progress curve.
_REDRAW_S = 0.1


class AttackWidget(WidgetBase):
    """Attack an explanation (Dombrowski et al. 2019) and see what moved.

    Parameters
    ----------
    model : Model or torch module
        A ReLU network (the optimisation uses a softplus copy; the model is unchanged).
    dataset : Dataset, optional
        Defaults to the model's. Rows come from ``dataset.X_test``.
    index : int, default=0
        The test row to manipulate.
    target_index : int, optional
        The test row whose explanation is the target; default the first row of another
        predicted class.
    method : {"gradient", "gradient_x_input", "ig"}, default="gradient"
    eps : float, default=0.1
        L-infinity radius of the change (input units).
    beta : float, default=10.0
        Softplus sharpness of the copy that the optimisation differentiates.
    defence : bool, default=False
        Explain (and attack) the softplus(``explain_beta``) model instead: the
        beta-smoothing defence.
    explain_beta : float, default=1.0
        The defence's beta.
    steps : int, default=300
        Adam steps.
    gamma : float, default=1e3
        Weight of the output term.
    debounce_s, slow_s : float
        See :class:`~xaiwidgets.widgets.WidgetBase`.

    Attributes
    ----------
    result : ExplanationAttack or None
        The latest finished attack (after :meth:`wait`).
    progress : float
        Fraction of the steps done in the running attack.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> w = xw.AttackWidget(xw.wrap(xw.zoo.train_cnn(ds), ds), steps=30)
    >>> r = w.wait()
    >>> bool(r.distance_after <= r.distance_before)
    True
    >>> w.close()
    """

    index = traitlets.Int(0, help="the test row to manipulate")
    target_index = traitlets.Int(0, help="the test row whose explanation is the target")
    method = traitlets.Unicode("gradient", help="the explanation attacked")
    eps = traitlets.Float(0.1, help="L-infinity radius of the change")
    beta = traitlets.Float(10.0, help="softplus beta of the optimisation")
    defence = traitlets.Bool(False, help="explain the softplus(explain_beta) model")
    explain_beta = traitlets.Float(1.0, help="beta of the defence")
    steps = traitlets.Int(300, help="optimisation steps")
    result = traitlets.Instance(ExplanationAttack, allow_none=True, read_only=True)
    progress = traitlets.Float(0.0, read_only=True, help="fraction of the steps done")

    def __init__(
        self,
        model: Any,
        dataset: Any = None,
        index: int = 0,
        target_index: int | None = None,
        *,
        method: str = "gradient",
        eps: float = 0.1,
        beta: float = 10.0,
        defence: bool = False,
        explain_beta: float = 1.0,
        steps: int = 300,
        gamma: float = 1e3,
        debounce_s: float = 0.15,
        slow_s: float = 0.2,
    ) -> None:
        super().__init__(debounce_s=debounce_s, slow_s=slow_s)
        self.dataset = _check_dataset(dataset, model)
        self.model: Model = wrap(model, self.dataset)
        if not self.model.differentiable:
            raise TypeError(
                "AttackWidget attacks gradient explanations and needs a torch model; this "
                f"one is {self.model.source}."
            )
        self.gamma = check_real(gamma, "gamma", low=0.0)
        self._stop = threading.Event()
        self._last_draw = 0.0
        self._predicted = self.model.predict(self.dataset.X_test)
        last = len(self.dataset.X_test) - 1
        common = {"style": {"description_width": "90px"}}
        self.index_picker = ipywidgets.BoundedIntText(
            min=0,
            max=last,
            description="input row",
            layout=ipywidgets.Layout(width="190px"),
            **common,
        )
        self.target_picker = ipywidgets.BoundedIntText(
            min=0,
            max=last,
            description="target row",
            layout=ipywidgets.Layout(width="190px"),
            **common,
        )
        self.rows_label = ipywidgets.HTML()
        self.method_picker = ipywidgets.Dropdown(
            options=[(method_label(m), m) for m in METHODS],
            description="explanation",
            layout=ipywidgets.Layout(width="290px"),
            **common,
        )
        slider = {"layout": ipywidgets.Layout(width="330px"), **common}
        self.eps_slider = ipywidgets.FloatSlider(
            min=0.0, max=0.5, step=0.01, description="ε (L∞)", **slider
        )
        self.beta_slider = ipywidgets.FloatLogSlider(
            base=10, min=0, max=2, step=0.05, description="softplus β", **slider
        )
        self.defence_box = ipywidgets.Checkbox(description="defence: explain the β-smoothed model")
        self.explain_beta_slider = ipywidgets.FloatLogSlider(
            base=10, min=-0.5, max=1.5, step=0.05, description="defence β", **slider
        )
        self.steps_picker = ipywidgets.BoundedIntText(
            min=1, max=5000, description="steps", layout=ipywidgets.Layout(width="190px"), **common
        )
        self.run_button = ipywidgets.Button(description="run", icon="play")
        self.stop_button = ipywidgets.Button(description="stop", icon="stop")
        self.progress_bar = ipywidgets.FloatProgress(
            min=0.0, max=1.0, layout=ipywidgets.Layout(width="330px")
        )
        for control, name in (
            (self.index_picker, "index"),
            (self.target_picker, "target_index"),
            (self.method_picker, "method"),
            (self.eps_slider, "eps"),
            (self.beta_slider, "beta"),
            (self.defence_box, "defence"),
            (self.explain_beta_slider, "explain_beta"),
            (self.steps_picker, "steps"),
        ):
            traitlets.link((control, "value"), (self, name))
        self.run_button.on_click(self._reporting(lambda _: self.refresh()))
        self.stop_button.on_click(self._reporting(lambda _: self.stop()))
        self.curve_view = FigureView((4.2, 2.4))
        self.curve = self.curve_view.add(
            SimilarityCurve(self.curve_view.figure.add_subplot(), steps)
        )
        self.view = FigureView((12.0, 6.0), dpi=80)  # fits beside the controls
        self.index = check_int(index, "index", low=0, high=last)
        self.target_index = (
            self._default_target()
            if target_index is None
            else check_int(target_index, "target_index", low=0, high=last)
        )
        self.method = method
        self.eps, self.beta, self.steps = eps, beta, steps
        self.defence, self.explain_beta = bool(defence), explain_beta
        self._update_rows()
        self.observe(lambda _: self._update_rows(), names=["index", "target_index"])
        self._recompute_on(
            ["index", "target_index", "method", "eps", "beta", "defence", "explain_beta", "steps"]
        )
        controls = ipywidgets.VBox(
            [
                ipywidgets.HBox([self.index_picker, self.target_picker]),
                self.rows_label,
                self.method_picker,
                self.eps_slider,
                self.beta_slider,
                self.defence_box,
                self.explain_beta_slider,
                ipywidgets.HBox([self.steps_picker, self.run_button, self.stop_button]),
                self.progress_bar,
                self.curve_view.image,
            ],
            layout=ipywidgets.Layout(min_width="400px"),
        )
        self.children = [
            ipywidgets.HBox(
                [controls, self.view.image], layout=ipywidgets.Layout(align_items="flex-start")
            ),
            self.status,
            self.error_box,
        ]
        self._request()

    # ------------------------------------------------------------------ state
    @traitlets.validate("index", "target_index")
    def _valid_row(self, proposal: Any) -> int:
        return check_int(
            proposal.value, proposal.trait.name, low=0, high=len(self.dataset.X_test) - 1
        )

    @traitlets.validate("method")
    def _valid_method(self, proposal: Any) -> str:
        return check_option(proposal.value, "method", list(METHODS))

    @traitlets.validate("eps")
    def _valid_eps(self, proposal: Any) -> float:
        return check_real(proposal.value, "eps", low=0.0)

    @traitlets.validate("beta", "explain_beta")
    def _valid_beta(self, proposal: Any) -> float:
        return check_real(proposal.value, proposal.trait.name, low=0.0, low_inclusive=False)

    @traitlets.validate("steps")
    def _valid_steps(self, proposal: Any) -> int:
        return check_int(proposal.value, "steps", low=1)

    def _default_target(self) -> int:
        """The first test row that the model puts in another class than the input's."""
        others = np.flatnonzero(self._predicted != self._predicted[self.index])
        return int(others[0]) if len(others) else (self.index + 1) % len(self._predicted)

    def _update_rows(self) -> None:
        names = self.model.class_names
        self.rows_label.value = (
            '<div style="padding-left:4px;font-size:0.92em">model: input '
            f"<b>{html.escape(names[self._predicted[self.index]])}</b>, target "
            f"<b>{html.escape(names[self._predicted[self.target_index]])}</b></div>"
        )

    def stop(self) -> None:
        """Stop the running attack; the best point so far is shown."""
        self._stop.set()

    def _request(self) -> None:
        self._stop.clear()
        super()._request()

    # ------------------------------------------------------------------ computation
    def _state(self) -> dict[str, Any]:
        return {
            "x": np.array(self.dataset.X_test[self.index]),
            "target_x": np.array(self.dataset.X_test[self.target_index]),
            "method": self.method,
            "eps": self.eps,
            "beta": self.beta,
            "explain_beta": self.explain_beta if self.defence else None,
            "steps": self.steps,
        }

    def _compute(self, state: dict[str, Any]) -> ExplanationAttack:
        target = explanation_map(
            self.model, state["target_x"], state["method"], beta=state["explain_beta"]
        )
        self._begin(state["steps"])
        history: list[tuple[int, float]] = []

        def progress(step: int, total: int, record: dict) -> None:
            history.append((step, record["similarity"]))
            self._progressed(step, total, record, history)

        return manipulate_explanation(
            self.model,
            state["x"],
            target,
            method=state["method"],
            eps=state["eps"],
            beta=state["beta"],
            explain_beta=state["explain_beta"],
            gamma=self.gamma,
            steps=state["steps"],
            progress=progress,
            should_stop=lambda: self._stop.is_set() or self._superseded(state),
        )

    def _begin(self, steps: int) -> None:
        """A new run: empty curve (called on the worker thread, as _show is)."""
        self.set_trait("progress", 0.0)
        self.progress_bar.value = 0.0
        self.curve.reset(steps, None)
        self.curve_view.render(full=True)

    def _progressed(
        self, step: int, total: int, record: dict, history: list[tuple[int, float]]
    ) -> None:
        """Progress of the running attack: the bar, the curve, a status line."""
        self.set_trait("progress", step / total)
        self.progress_bar.value = step / total
        now = time.perf_counter()
        if len(history) == 1:  # the original input's similarity: the dashed line
            self.curve.reset(total, record["similarity_before"])
            self.curve_view.live.invalidate()
        if now - self._last_draw >= _REDRAW_S or step == total or len(history) == 1:
            steps, similarity = zip(*history, strict=True)
            self.curve_view.render(self.curve.update(steps, similarity) or len(history) == 1)
            self._last_draw = now
        self._set_status(
            f"step {step} / {total} &middot; similarity to the target {record['similarity']:.2f} "
            f"&middot; distance {record['distance']:.3g} (was {record['distance_before']:.3g})"
        )

    def _show(self, state: dict[str, Any], result: ExplanationAttack) -> None:
        plot_explanation_attack(
            result,
            class_names=self.model.class_names,
            feature_names=self.dataset.feature_names if self.dataset.kind == "tabular" else None,
            fig=self.view.figure,
        )
        self.view.live.invalidate()
        self.view.render(full=True)
        self.curve.reset(int(result.params["steps"]), float(result.similarity_before))
        steps, similarity = result.history["step"], result.history["similarity"]
        self.curve.update(steps.tolist(), similarity.tolist())
        self.curve_view.render(full=True)
        self.set_trait("result", result)
        stopped = " (stopped)" if result.meta["stopped"] else ""
        self._set_status(
            f"{html.escape(result.summary())}{stopped} &middot; {result.meta['steps_run']} steps "
            f"in {result.meta['time_s']:.1f} s"
        )

    def _clear(self) -> None:
        self.set_trait("result", None)

    def _result(self) -> ExplanationAttack | None:
        return self.result
