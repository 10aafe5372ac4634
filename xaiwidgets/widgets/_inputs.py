"""Input panels: pick a test row and move it, feature by feature or by perturbing an image.

:func:`input_controls` builds the right panel for a data set. Every panel holds the
current input ``x`` and the row ``index`` as traitlets, and has ``reset()``; the tabular
panel adds ``set_feature``, the image panel perturbation traits. Widgets link their own
``x`` and ``index`` to the panel's (see :class:`~xaiwidgets.widgets.InputWidget`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..analysis.attacks import fgsm, pgd, resolve_scale, what_it_takes
from ..analysis.perturbation import perturb_image
from ..core.dataset import Dataset, Feature
from ..core.model import Model
from ..core.validation import check_batch, check_int, check_real
from ._base import Array, frozen, is_echo, readout_format

__all__ = [
    "ATTACKS",
    "AttackControls",
    "ImageInput",
    "InputControls",
    "TabularInput",
    "input_controls",
]

#: The attacks of the input panels: name -> (label, attack, norm).
ATTACKS = {
    "none": ("no attack", None, None),
    "fgsm": ("FGSM", "fgsm", "linf"),
    "pgd_linf": ("PGD L∞", "pgd", "linf"),
    "pgd_l2": ("PGD L2", "pgd", "l2"),
}
#: PGD steps of the panels' attack.
ATTACK_STEPS = 20

_LABEL_WIDTH = "140px"
_CHANGED = "#e07000"


class InputControls(ipywidgets.VBox):
    """Base of the input panels: a test-row picker with its classes, and reset.

    With a torch model the panel also offers an adversarial attack as one more
    perturbation (:class:`AttackControls`: FGSM or PGD and an epsilon slider), applied
    after the panel's own changes; the prediction flips while the input barely moves.

    Parameters
    ----------
    dataset : Dataset
        Rows come from ``dataset.X_test``.
    model : Model, optional
        Used to show the model's prediction for the picked row (and to attack it).
    index : int, default=0
        The first row shown.

    Attributes
    ----------
    x : ndarray
        The current input (reading gives a copy), attacked if an attack is on.
    index : int
        The test row.
    attack : {"none", "fgsm", "pgd_linf", "pgd_l2"}
        The adversarial attack (torch models only).
    attack_eps : float
        Its epsilon: pixel units for images, training standard deviations for tabular
        data (where only continuous features move).
    clean : ndarray
        The input before the attack.
    """

    x = Array(help="the current input")
    index = traitlets.Any(0, help="the test row (an int)")
    attack = traitlets.Unicode(
        "none", help="adversarial attack: 'none', 'fgsm', 'pgd_linf', 'pgd_l2'"
    )
    attack_eps = traitlets.Float(
        0.0, help="the attack's epsilon (feature scales for tabular data)"
    )

    def __init__(self, dataset: Dataset, model: Model | None = None, *, index: int = 0) -> None:
        self.dataset = dataset
        self.model = model
        self.X, self.y = dataset.X_test, dataset.y_test
        self._syncing = False
        self._clean: np.ndarray | None = None  # the input before the attack
        self._attacking = False
        self._probabilities: np.ndarray | None = None
        self.row_picker = ipywidgets.BoundedIntText(
            value=0,
            min=0,
            max=len(self.X) - 1,
            description="test row",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="160px"),
        )
        self.row_label = ipywidgets.HTML()
        self.reset_button = ipywidgets.Button(
            description="reset to original", icon="undo", layout=ipywidgets.Layout(width="auto")
        )
        self.reset_button.on_click(lambda _: self.reset())
        self.attack_controls: AttackControls | None = None
        super().__init__(
            children=[self.row_picker, self.row_label, *self._controls()],
            layout=ipywidgets.Layout(min_width="360px"),
        )
        self.add_class("xw-inputs")
        if model is not None and model.differentiable:
            self.attack_controls = AttackControls(self)
            self.children = (*self.children, self.attack_controls)
        self.observe(self._load_row, names="index")
        self.observe(self._on_x, names="x")
        self.observe(self._on_attack, names=["attack", "attack_eps"])
        traitlets.link((self.row_picker, "value"), (self, "index"))
        self.index = index
        if self.x is None:  # index 0 set twice does not notify
            self._load_row(None)

    # ------------------------------------------------------------------ subclass hooks
    def _controls(self) -> list[ipywidgets.Widget]:
        """The panel's own controls, below the row picker."""
        return [self.reset_button]

    def _sync_controls(self, x: np.ndarray) -> None:
        """Move the controls to show ``x`` (called with control callbacks muted)."""

    def check_x(self, x: Any) -> np.ndarray:
        """Validate an input for this data set; returns it as a float64 array.

        Raises
        ------
        ValueError
            If the shape is wrong or values are not finite.
        """
        batch, single = check_batch(x, self.dataset.input_shape, name="x")
        if not single:
            raise ValueError(
                f"x must be one input of shape {self.dataset.input_shape}; got a batch of "
                f"{len(batch)}."
            )
        return batch[0]

    # ------------------------------------------------------------------ state
    @traitlets.validate("x")
    def _valid_x(self, proposal: Any) -> np.ndarray:
        return frozen(self.check_x(proposal.value))

    @traitlets.validate("index")
    def _valid_index(self, proposal: Any) -> int:
        return self.check_index(proposal.value)

    def check_index(self, index: Any) -> int:
        """Validate a test-row index."""
        return check_int(index, "index", low=0, high=len(self.X) - 1)

    @property
    def original(self) -> np.ndarray:
        """The current row's original input (a copy)."""
        return np.array(self.X[self.index])

    def reset(self) -> None:
        """Go back to the current row's original input (and switch any attack off)."""
        self.x = self.original

    # ------------------------------------------------------------------ attack
    @traitlets.validate("attack")
    def _valid_attack(self, proposal: Any) -> str:
        if proposal.value not in ATTACKS:
            raise ValueError(f"attack must be one of {list(ATTACKS)}; got {proposal.value!r}.")
        if proposal.value != "none" and self.attack_controls is None:
            raise TypeError("Attacks need a torch model (gradients); this panel has none.")
        return proposal.value

    @traitlets.validate("attack_eps")
    def _valid_attack_eps(self, proposal: Any) -> float:
        return check_real(proposal.value, "attack_eps", low=0.0)

    @property
    def clean(self) -> np.ndarray:
        """The current input without the adversarial attack (a copy)."""
        return np.array(self._clean if self._clean is not None else self.x)

    @property
    def attack_mask(self) -> np.ndarray | None:
        """Where the attack may change the input: continuous features of tabular data."""
        return None

    def adversarial(self, clean: np.ndarray) -> np.ndarray:
        """``clean`` under the current attack (itself when there is none).

        Untargeted, away from the model's prediction at ``clean``, within the data
        bounds (:mod:`xaiwidgets.analysis.attacks`).
        """
        _, method, norm = ATTACKS[self.attack]
        if method is None or self.attack_eps <= 0:
            return clean
        if method == "fgsm":
            return fgsm(self.model, clean, self.attack_eps, mask=self.attack_mask)
        return pgd(
            self.model,
            clean,
            self.attack_eps,
            norm=norm,
            steps=ATTACK_STEPS,
            mask=self.attack_mask,
        )

    def smallest_flipping_eps(self) -> float:
        """Set ``attack_eps`` to the smallest epsilon that flips the prediction.

        Uses :func:`~xaiwidgets.attacks.what_it_takes` with the current attack (PGD L∞
        when none is chosen); returns the epsilon (``inf`` if none up to the maximum).
        """
        if self.attack == "none":
            self.attack = "pgd_linf"
        _, method, norm = ATTACKS[self.attack]
        report = what_it_takes(
            self.model,
            self.clean,
            method=method,
            norm=norm,
            mask=self.attack_mask,
            **({"steps": ATTACK_STEPS} if method == "pgd" else {}),
        )
        if report.flipped:
            self.attack_eps = report.eps
        return report.eps

    def _on_attack(self, change: Any) -> None:
        if self._syncing:
            return
        self._show_attacked(self.clean)

    def _show_attacked(self, clean: np.ndarray) -> None:
        """Show the attacked ``clean`` input (``clean`` itself without an attack)."""
        active = self.attack != "none" and self.attack_eps > 0
        self._attacking = True
        try:
            self.x = self.adversarial(clean) if active else clean
        finally:
            self._attacking = False
        self._clean = np.array(clean) if active else None
        if self.attack_controls is not None:
            self.attack_controls.update(clean, self.x if active else None)

    def _attack_off(self) -> None:
        """Forget the attack (x was set from outside or the row changed)."""
        self._clean = None
        if self.attack_controls is not None and self.attack != "none":
            with self._muted():
                self.attack = "none"
            self.attack_controls.update(None, None)

    @contextmanager
    def _muted(self) -> Iterator[None]:
        """Move controls without their callbacks changing ``x`` again."""
        self._syncing = True
        try:
            yield
        finally:
            self._syncing = False

    def _load_row(self, change: Any) -> None:
        self.row_label.value = self._row_text()
        self.reset()

    def _on_x(self, change: Any) -> None:
        if not self._attacking:
            self._attack_off()
        with self._muted():
            self._sync_controls(np.asarray(change["new"] if change else self.x))

    def _row_text(self) -> str:
        names = self.dataset.class_names
        true = names[int(self.y[self.index])]
        text = f"true: <b>{html.escape(true)}</b>"
        if self.model is not None:
            if self._probabilities is None:
                self._probabilities = self.model.predict_proba(self.X)
            p = self._probabilities[self.index]
            k = int(np.argmax(p))
            mark = (
                ""
                if k == int(self.y[self.index])
                else ' <span style="color:#d62728">(wrong)</span>'
            )
            text += f" &middot; model: <b>{html.escape(names[k])}</b> ({100 * p[k]:.0f} %){mark}"
        return f'<div style="padding-left:4px">{text}</div>'


def _nice_step(low: float, high: float) -> float:
    """A round slider step giving 1000-10000 positions over ``[low, high]``."""
    span = high - low
    if span <= 0:
        return 1.0
    return 10.0 ** math.floor(math.log10(span / 1000))


class TabularInput(InputControls):
    """One control per feature of a tabular input, each showing the row's original value.

    A slider over the plausible range for a continuous feature, an integer slider for
    an integer one, a dropdown for each one-hot group. The original value beside each
    control turns orange when the current value differs.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> panel = TabularInput(ds, index=3)
    >>> panel.set_feature("employment", "contract")
    >>> panel.feature_value("employment")
    'contract'
    >>> panel.reset()
    >>> bool((panel.x == ds.X_test[3]).all())
    True
    """

    def __init__(self, dataset: Dataset, model: Model | None = None, *, index: int = 0) -> None:
        self.feature_controls: dict[str, ipywidgets.ValueWidget] = {}
        self._was: dict[str, ipywidgets.HTML] = {}
        for feature in dataset.features:
            control = self._make_control(feature)
            control.observe(self._on_control(feature.name), names="value")
            self.feature_controls[feature.name] = control
            self._was[feature.name] = ipywidgets.HTML(layout=ipywidgets.Layout(width="90px"))
        super().__init__(dataset, model, index=index)

    @staticmethod
    def _make_control(feature: Feature) -> ipywidgets.ValueWidget:
        common = {
            "description": feature.name,
            "style": {"description_width": _LABEL_WIDTH},
            "layout": ipywidgets.Layout(width="360px"),
        }
        low, high = feature.bounds
        if feature.kind == "categorical":
            return ipywidgets.Dropdown(options=list(feature.categories), **common)
        if feature.kind == "integer":
            return ipywidgets.IntSlider(min=math.floor(low), max=math.ceil(high), **common)
        step = _nice_step(low, high)
        return ipywidgets.FloatSlider(
            min=low, max=high, step=step, readout_format=readout_format(step), **common
        )

    def _controls(self) -> list[ipywidgets.Widget]:
        rows = [
            ipywidgets.HBox([self.feature_controls[f.name], self._was[f.name]])
            for f in self.dataset.features
        ]
        return [*rows, self.reset_button]

    def _on_control(self, name: str) -> Any:
        def changed(change: Any) -> None:
            if self._syncing or is_echo(change["owner"], change["new"], self.feature_value(name)):
                return
            self.set_feature(name, change["new"])

        return changed

    def check_x(self, x: Any) -> np.ndarray:
        """Validate a tabular input: shape, finite, whole integer features, one-hot groups."""
        x = super().check_x(x)
        for feature in self.dataset.features:
            cells = x[list(feature.columns)]
            if feature.kind == "integer" and not np.all(cells == np.round(cells)):
                raise ValueError(
                    f"Feature {feature.name!r} is an integer feature; got {cells[0]!r}."
                )
            if feature.kind == "categorical" and not (
                np.all((cells == 0) | (cells == 1)) and cells.sum() == 1
            ):
                raise ValueError(
                    f"The one-hot columns of categorical feature {feature.name!r} must hold "
                    f"exactly one 1 and zeros otherwise; got {cells.tolist()}."
                )
        return x

    def _feature(self, name: str) -> Feature:
        try:
            return self.dataset.feature(name)
        except KeyError:
            names = ", ".join(f.name for f in self.dataset.features)
            raise ValueError(f"Unknown feature {name!r}; the features are: {names}.") from None

    def set_feature(self, name: str, value: float | str) -> None:
        """Set one feature by name; a categorical feature takes a category label.

        Raises
        ------
        ValueError
            For an unknown feature or category, or a non-integer integer value.
        TypeError
            For a non-numeric value of a numeric feature.
        """
        feature = self._feature(name)
        x = self.clean
        if feature.kind == "categorical":
            if value not in feature.categories:
                raise ValueError(
                    f"Feature {name!r} takes one of the categories {list(feature.categories)}; "
                    f"got {value!r}."
                )
            x[list(feature.columns)] = 0.0
            x[feature.columns[feature.categories.index(value)]] = 1.0
        else:
            if isinstance(value, bool | str) or not np.isscalar(value):
                raise TypeError(f"Feature {name!r} takes a number; got {value!r}.")
            x[feature.columns[0]] = float(value)
        if self._clean is not None:  # under attack: attack the moved input again
            self._show_attacked(x)
        else:
            self.x = x

    @property
    def attack_mask(self) -> np.ndarray:
        """Continuous features only: integers stay whole and categories one-hot."""
        mask = np.zeros(self.dataset.n_features)
        for feature in self.dataset.features:
            if feature.kind == "continuous":
                mask[list(feature.columns)] = 1.0
        return mask

    def feature_value(self, name: str) -> float | str:
        """The current value of a feature (a category label for categorical ones)."""
        return self._feature(name).value_of(np.asarray(self.x))

    def _sync_controls(self, x: np.ndarray) -> None:
        original = self.X[self.index]
        for feature in self.dataset.features:
            control = self.feature_controls[feature.name]
            value = feature.value_of(x)
            if feature.kind != "categorical":
                value = round(value) if feature.kind == "integer" else value
                # A value outside the plausible range widens the slider rather than
                # being clipped by it.
                control.min = min(control.min, value)
                control.max = max(control.max, value)
            control.value = value
            was = feature.value_of(original)
            changed = was != feature.value_of(x)
            text = was if isinstance(was, str) else f"{was:.4g}"
            style = f"color:{_CHANGED};font-weight:bold" if changed else "color:#888"
            self._was[
                feature.name
            ].value = f'<span style="{style}" title="original value of this row">was {text}</span>'


class ImageInput(InputControls):
    """Perturbation controls for an image: brightness, contrast, occlusion, noise.

    Gaussian noise has a seed; see :func:`~xaiwidgets.analysis.perturbation.perturb_image`
    for the order in which the perturbations apply.

    The current input is the perturbed base image; the base is the test row, or the
    array last assigned to ``x`` (assigning ``x`` resets the perturbations).

    Attributes
    ----------
    brightness, contrast : float
        Factors, 1 leaves the image unchanged.
    noise : float
        Standard deviation of the Gaussian noise.
    seed : int
        Seed of the noise.
    occlusion : tuple (row, col, size, fill) or None
        The covered patch.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_digits()
    >>> panel = ImageInput(ds)
    >>> panel.occlusion = (0, 0, 8, 0.0)
    >>> float(panel.x.max())
    0.0
    """

    brightness = traitlets.Float(1.0, help="brightness factor")
    contrast = traitlets.Float(1.0, help="contrast factor")
    noise = traitlets.Float(0.0, help="Gaussian noise standard deviation")
    seed = traitlets.Int(0, help="seed of the noise")
    occlusion = traitlets.Tuple(
        default_value=None, allow_none=True, help="(row, col, size, fill) or None"
    )

    def __init__(self, dataset: Dataset, model: Model | None = None, *, index: int = 0) -> None:
        _, height, width = dataset.input_shape
        slider = {
            "style": {"description_width": "90px"},
            "layout": ipywidgets.Layout(width="330px"),
        }
        self.brightness_slider = ipywidgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.05, description="brightness", **slider
        )
        self.contrast_slider = ipywidgets.FloatSlider(
            value=1.0, min=0.0, max=2.0, step=0.05, description="contrast", **slider
        )
        self.noise_slider = ipywidgets.FloatSlider(
            value=0.0, min=0.0, max=0.5, step=0.01, description="noise σ", **slider
        )
        self.seed_picker = ipywidgets.BoundedIntText(
            value=0,
            min=0,
            max=2**31 - 1,
            description="noise seed",
            style={"description_width": "90px"},
            layout=ipywidgets.Layout(width="200px"),
        )
        self.occlude_box = ipywidgets.Checkbox(value=False, description="occlude a patch")
        self.patch_row = ipywidgets.IntSlider(
            value=height // 3, min=0, max=height - 1, description="patch row", **slider
        )
        self.patch_col = ipywidgets.IntSlider(
            value=width // 3, min=0, max=width - 1, description="patch col", **slider
        )
        self.patch_size = ipywidgets.IntSlider(
            value=max(1, min(height, width) // 4),
            min=1,
            max=max(height, width),
            description="patch size",
            **slider,
        )
        self.patch_fill = ipywidgets.FloatSlider(
            value=0.0, min=0.0, max=1.0, step=0.05, description="fill value", **slider
        )
        self._base: np.ndarray | None = None
        self._perturbing = False
        super().__init__(dataset, model, index=index)
        traitlets.link((self.brightness_slider, "value"), (self, "brightness"))
        traitlets.link((self.contrast_slider, "value"), (self, "contrast"))
        traitlets.link((self.noise_slider, "value"), (self, "noise"))
        traitlets.link((self.seed_picker, "value"), (self, "seed"))
        patch = [
            self.occlude_box,
            self.patch_row,
            self.patch_col,
            self.patch_size,
            self.patch_fill,
        ]
        for control in patch:
            control.observe(self._patch_controls_changed, names="value")
        self.observe(
            self._perturbation_changed,
            names=["brightness", "contrast", "noise", "seed", "occlusion"],
        )

    @traitlets.validate("brightness", "contrast", "noise")
    def _valid_factor(self, proposal: Any) -> float:
        return check_real(proposal.value, proposal.trait.name, low=0.0)

    @traitlets.validate("occlusion")
    def _valid_occlusion(self, proposal: Any) -> tuple[int, int, int, float] | None:
        value = proposal.value
        if value is None:
            return None
        if len(value) != 4:
            raise ValueError(f"occlusion must be (row, col, size, fill) or None; got {value!r}.")
        _, height, width = self.dataset.input_shape
        low, high = self._value_range
        return (
            check_int(value[0], "occlusion row", low=0, high=height - 1),
            check_int(value[1], "occlusion col", low=0, high=width - 1),
            check_int(value[2], "occlusion size", low=1, high=max(height, width)),
            check_real(value[3], "occlusion fill", low=low, high=high),
        )

    @property
    def _value_range(self) -> tuple[float, float]:
        bounds = self.dataset.bounds
        return float(bounds[:, 0].min()), float(bounds[:, 1].max())

    def _controls(self) -> list[ipywidgets.Widget]:
        return [
            self.brightness_slider,
            self.contrast_slider,
            self.noise_slider,
            self.seed_picker,
            self.occlude_box,
            self.patch_row,
            self.patch_col,
            self.patch_size,
            self.patch_fill,
            self.reset_button,
        ]

    @property
    def perturbation(self) -> dict[str, Any]:
        """The perturbation as keyword arguments of ``perturb_image``."""
        return {
            "brightness": self.brightness,
            "contrast": self.contrast,
            "occlusion": self.occlusion,
            "noise": self.noise,
            "seed": self.seed,
        }

    def _patch_controls_changed(self, change: Any) -> None:
        if self._syncing:
            return
        self.occlusion = (
            (
                self.patch_row.value,
                self.patch_col.value,
                self.patch_size.value,
                self.patch_fill.value,
            )
            if self.occlude_box.value
            else None
        )

    def _perturbation_changed(self, change: Any) -> None:
        if self._syncing or self._base is None:
            return
        if change["name"] == "occlusion" and change["new"] is not None:
            with self._muted():
                row, col, size, fill = change["new"]
                self.occlude_box.value = True
                self.patch_row.value, self.patch_col.value = row, col
                self.patch_size.value, self.patch_fill.value = size, fill
        elif change["name"] == "occlusion":
            with self._muted():
                self.occlude_box.value = False
        self._perturbing = True
        try:
            perturbed = perturb_image(
                self._base, **self.perturbation, value_range=self._value_range
            )
            self._show_attacked(perturbed)
        finally:
            self._perturbing = False

    def _on_x(self, change: Any) -> None:
        if self._perturbing or self._attacking:
            return
        # x assigned from outside (or a new row): it becomes the unperturbed base.
        self._base = np.asarray(change["new"] if change else self.x)
        self._attack_off()
        with self._muted():
            self.brightness = self.contrast = 1.0
            self.noise = 0.0
            self.occlusion = None
            self.occlude_box.value = False


class AttackControls(ipywidgets.VBox):
    """The attack row of an input panel: method, epsilon slider, "smallest ε", readout.

    Linked to the panel's ``attack`` and ``attack_eps`` traits; the attack itself runs
    in the panel (:meth:`InputControls.adversarial`). Epsilon is in pixel units for
    images and in training standard deviations for tabular data (where only
    continuous features move).

    Parameters
    ----------
    panel : InputControls
    """

    def __init__(self, panel: InputControls) -> None:
        self.panel = panel
        image = panel.dataset.kind == "image"
        self.linf_max = 0.5 if image else 3.0
        self.method_picker = ipywidgets.Dropdown(
            options=[(label, name) for name, (label, _, _) in ATTACKS.items()],
            value="none",
            description="attack",
            style={"description_width": "90px"},
            layout=ipywidgets.Layout(width="230px"),
        )
        self.eps_slider = ipywidgets.FloatSlider(
            value=0.0,
            min=0.0,
            max=self.linf_max,
            step=0.005 if image else 0.01,
            readout_format=".3f" if image else ".2f",
            description="ε" if image else "ε (std)",
            style={"description_width": "90px"},
            layout=ipywidgets.Layout(width="330px"),
        )
        self.smallest_button = ipywidgets.Button(
            description="smallest ε that flips",
            icon="search",
            layout=ipywidgets.Layout(width="auto"),
        )
        self.readout = ipywidgets.HTML()
        traitlets.link((self.method_picker, "value"), (panel, "attack"))
        traitlets.link((self.eps_slider, "value"), (panel, "attack_eps"))
        self.method_picker.observe(self._on_method, names="value")
        self.smallest_button.on_click(lambda _: self._smallest())
        super().__init__(
            children=[
                ipywidgets.HBox([self.method_picker, self.smallest_button]),
                self.eps_slider,
                self.readout,
            ]
        )

    def _on_method(self, change: Any) -> None:
        """L2 balls are wider: a larger slider range for the same per-feature change."""
        n = self.panel.dataset.n_features
        top = self.linf_max * (np.sqrt(n) / 2 if change["new"] == "pgd_l2" else 1.0)
        self.eps_slider.max = max(top, self.eps_slider.value)

    def _smallest(self) -> None:
        try:
            eps = self.panel.smallest_flipping_eps()
        except Exception as exc:  # shown here: the panel has no error box of its own
            self.readout.value = f'<span style="color:#d62728">{html.escape(str(exc))}</span>'
            return
        if not np.isfinite(eps):
            self.readout.value = "no ε up to the bounds flips the prediction"
            return
        self.eps_slider.max = max(self.eps_slider.max, eps)

    def update(self, clean: np.ndarray | None, attacked: np.ndarray | None) -> None:
        """Say what the attack did: the prediction before and after, and the change."""
        if clean is None or attacked is None:
            self.readout.value = ""
            return
        model, names = self.panel.model, self.panel.dataset.class_names
        before, after = model.predict(np.stack([clean, attacked]))
        scale = resolve_scale(model, "auto").reshape(np.shape(clean))
        moved = float(np.abs((attacked - clean) / scale).max())
        verdict = (
            f'<b style="color:#d62728">flips {html.escape(names[before])} &rarr; '
            f"{html.escape(names[after])}</b>"
            if before != after
            else f"prediction stays {html.escape(names[before])}"
        )
        self.readout.value = (
            f'<div style="padding-left:4px;font-size:0.92em">{verdict} &middot; '
            f"largest change {moved:.3g}{'' if self.panel.dataset.kind == 'image' else ' std'}"
            "</div>"
        )


def input_controls(
    dataset: Dataset, model: Model | None = None, *, index: int = 0
) -> InputControls:
    """The input panel for a data set: :class:`TabularInput` or :class:`ImageInput`.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> type(input_controls(xw.datasets.load_digits())).__name__
    'ImageInput'
    """
    if dataset.kind == "image":
        return ImageInput(dataset, model, index=index)
    return TabularInput(dataset, model, index=index)
