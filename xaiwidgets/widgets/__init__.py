"""Interactive widgets (ipywidgets): they own controls and layout, never numerics.

``ExplainerWidget`` perturbs one input and shows its explanation live;
``CompareWidget`` explains the same input with several methods side by side;
``AttackWidget`` manipulates an explanation (Dombrowski et al. 2019) while the
prediction stays.
``SanityCheckWidget`` runs the randomization sanity checks of Adebayo et al. (2018).
``RegionWidget`` shows the exact linear model of a ReLU network and its regions.
``FlipPointWidget`` finds the closest flip point, its report and a group audit.
``Workbench`` puts every widget that applies to a model in tabs (``demo()`` opens it
on the credit data and its demo model).
``DebugWidget`` is the debugging lab: planted bugs, their maps and influence.

To build a new widget, subclass :class:`InputWidget` (one input explored with
controls) or :class:`WidgetBase`: the module docstring of ``xaiwidgets.widgets._base``
walks through it. The reusable parts are

- :func:`input_controls` (:class:`TabularInput`, :class:`ImageInput`): the test-row
  picker with true and predicted class, a control per feature or the image
  perturbations, and reset;
- :class:`ParamControls` with the declarative table :data:`PARAMETERS`, and
  :class:`ExplanationCache` (explainers built once, explanations remembered);
- :class:`FigureView`: an Agg figure in an ``ipywidgets.Image``, redrawn in place with
  the displays of :mod:`xaiwidgets.plotting`;
- the worker thread of :class:`WidgetBase`: newest request wins, stale results dropped,
  busy indicator, ``wait()``, errors shown inside the widget.
"""

from ._attack import AttackWidget
from ._base import Array, FigureView, InputWidget, WidgetBase, png_bytes
from ._compare import CompareWidget
from ._debug import DebugWidget
from ._explainer import ExplainerWidget, describe, method_label
from ._flip import FlipPointWidget
from ._inputs import AttackControls, ImageInput, InputControls, TabularInput, input_controls
from ._params import PARAMETERS, ExplanationCache, Param, ParamControls, method_params
from ._regions import RegionWidget
from ._sanity import SanityCheckWidget
from ._workbench import TABS, Tab, Workbench, demo

__all__ = [
    "PARAMETERS",
    "TABS",
    "Array",
    "AttackControls",
    "AttackWidget",
    "CompareWidget",
    "DebugWidget",
    "ExplainerWidget",
    "ExplanationCache",
    "FigureView",
    "FlipPointWidget",
    "ImageInput",
    "InputControls",
    "InputWidget",
    "Param",
    "ParamControls",
    "RegionWidget",
    "SanityCheckWidget",
    "Tab",
    "TabularInput",
    "WidgetBase",
    "Workbench",
    "demo",
    "describe",
    "input_controls",
    "method_label",
    "method_params",
    "png_bytes",
]
