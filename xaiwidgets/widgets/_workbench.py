"""``Workbench``: every widget that applies to a model, as tabs, each built when first opened.

A tab is one declarative entry of :data:`TABS`: a title, a factory
``(model, dataset) -> widget`` and a predicate ``(model, dataset) -> bool`` saying
whether it applies (with a few words on what it needs, for the note under the tabs).
A new widget joins the Workbench with one line in :data:`TABS`, or per call through
``Workbench(..., tabs=[...])``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import ipywidgets
import numpy as np
import traitlets

from ..core.dataset import Dataset
from ..core.explainer import available
from ..core.model import Model, wrap
from ..core.validation import check_int
from ..explainers.linear_region import LinearRegion
from ._attack import AttackWidget
from ._base import InputWidget, _check_dataset, css_class, error_html
from ._compare import CompareWidget
from ._debug import DebugWidget
from ._explainer import ExplainerWidget
from ._flip import FlipPointWidget
from ._regions import RegionWidget
from ._sanity import SanityCheckWidget

__all__ = [
    "TABS",
    "Tab",
    "Workbench",
    "demo",
    "everywhere",
    "explore",
    "gradients",
    "image_gradients",
    "relu_network",
    "tabular",
]


def everywhere(model: Model, dataset: Dataset) -> bool:
    """Predicate of a tab that applies to every model and data set."""
    return True


def gradients(model: Model, dataset: Dataset) -> bool:
    """Predicate of a tab that needs gradients (a torch model): False for scikit-learn."""
    return model.differentiable


def tabular(model: Model, dataset: Dataset) -> bool:
    """Predicate of a tab that works feature by feature: tabular data only."""
    return dataset.kind == "tabular"


def image_gradients(model: Model, dataset: Dataset) -> bool:
    """Predicate of the explanation attack: gradients of a model of images.

    Dombrowski et al. (2019) move saliency maps of images; on a handful of tabular
    features there is little room (the tabular attack control of Explore remains).
    """
    return gradients(model, dataset) and dataset.kind == "image"


def relu_network(model: Model, dataset: Dataset) -> bool:
    """Predicate of the exact linear regions: a piecewise-linear network, tabular data."""
    return tabular(model, dataset) and LinearRegion.applies_to(model)


@dataclass(frozen=True)
class Tab:
    """One tab of the :class:`Workbench`.

    Parameters
    ----------
    title : str
        The tab's title (unique within a Workbench).
    factory : callable
        ``factory(model, dataset)`` returns the tab's widget (a wrapped ``Model`` and
        a ``Dataset``); called the first time the tab is opened.
    applies : callable, default=everywhere
        ``applies(model, dataset) -> bool``: whether the tab is shown at all.
    needs : str, default=""
        What the tab needs when it does not apply, in a few words ("gradients (a
        torch model)"), for the note under the tabs and for error messages.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> tab = Tab("Gradients", lambda m, d: xw.ExplainerWidget(m, d, method="gradient"),
    ...           gradients, "gradients (a torch model)")
    >>> tab.title
    'Gradients'
    """

    title: str
    factory: Callable[[Model, Dataset], ipywidgets.Widget]
    applies: Callable[[Model, Dataset], bool] = everywhere
    needs: str = ""


def explore(model: Model, dataset: Dataset) -> ExplainerWidget:
    """The Explore tab: an ExplainerWidget with integrated gradients, else SHAP.

    Integrated gradients where the model has gradients, with ``steps="auto"`` (steps
    are doubled until the completeness gap is below 1 %: on the credit MLP a fixed 64
    steps from the zero baseline misses by 0.5 % in the median but by up to 47 %, where
    the path crosses many ReLU kinks); otherwise (scikit-learn, callables) SHAP;
    otherwise the first method that applies.
    """
    applicable = available(model)
    method = next((m for m in ("ig", "shap") if m in applicable), applicable[0])
    params = {"steps": "auto"} if method == "ig" else {}
    return ExplainerWidget(model, dataset, method=method, **params)


#: The Workbench's tabs, in this order; the first one opens first. One line per widget.
TABS: list[Tab] = [
    Tab("Explore", explore),
    Tab("Compare", CompareWidget),
    Tab("Sanity checks", SanityCheckWidget, gradients, "a torch model, to randomize its layers"),
    Tab("Flip points", FlipPointWidget, tabular, "tabular data (a constraint per feature)"),
    Tab("Regions", RegionWidget, relu_network, "a ReLU network on tabular data"),
    Tab("Attacks", AttackWidget, image_gradients, "a torch model on images (maps to move)"),
    Tab("Debugging lab", lambda model, dataset: DebugWidget(dataset, model)),
]

#: Widgets that work on a test row rather than a moved input: the trait holding the row.
_ROW_TRAITS: dict[type, str] = {AttackWidget: "index", DebugWidget: "test_row"}


def _check_tabs(tabs: Sequence[Tab | str] | None) -> tuple[list[Tab], set[str]]:
    """The Tab entries asked for, and the titles asked for by name (which must apply)."""
    if tabs is None:
        return list(TABS), set()
    if isinstance(tabs, str) or not isinstance(tabs, Sequence):
        raise TypeError(f"tabs must be a list of tab titles or Tab entries; got {tabs!r}.")
    known = {tab.title: tab for tab in TABS}
    entries, named = [], set()
    for tab in tabs:
        if isinstance(tab, str):
            if tab not in known:
                raise ValueError(f"tabs: unknown tab {tab!r}; the tabs are {list(known)}.")
            named.add(tab)
            tab = known[tab]
        elif not isinstance(tab, Tab):
            raise TypeError(f"tabs must hold tab titles or Tab entries; got {tab!r}.")
        entries.append(tab)
    if not entries:
        raise ValueError("tabs must name at least one tab.")
    titles = [tab.title for tab in entries]
    duplicates = sorted({t for t in titles if titles.count(t) > 1})
    if duplicates:
        raise ValueError(f"tabs must have distinct titles; {duplicates} appear more than once.")
    return entries, named


class Workbench(ipywidgets.VBox):
    """Every widget that applies to a model and its data, as tabs in one widget.

    Tabs are built when first opened, so the Workbench appears at once and computes
    only what is looked at. Tabs that do not apply are left out (those that need
    gradients for a scikit-learn model or a callable, for example), with a note
    saying why. The input travels between tabs: a tab opened after moving the input
    in another one shows the same row and the same input.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    dataset : Dataset, optional
        The data (defaults to the model's).
    tabs : list of str or Tab, optional
        Which tabs, in which order: titles of :data:`TABS` entries (each must apply to
        the model), or :class:`Tab` entries (left out where they do not apply).
        Default: every entry of :data:`TABS` that applies.
    index : int, default=0
        The test row shown first.

    Attributes
    ----------
    titles : list of str
        The tabs shown.
    selected : str
        The title of the open tab; assign to open another.
    widgets : dict
        ``{title: widget}`` of the tabs built so far.
    hidden : dict
        ``{title: what it needs}`` of the tabs left out because they do not apply.
    model : Model
    dataset : Dataset

    Raises
    ------
    ValueError
        For an unknown tab title, or a tab named explicitly that does not apply.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> wb = xw.Workbench(xw.wrap(xw.zoo.train_mlp(ds), ds), ds)
    >>> wb.titles[:2], list(wb.widgets)
    (['Explore', 'Compare'], ['Explore'])
    >>> wb.widget("Explore").set_feature("income", 80.0)
    >>> wb.selected = "Compare"  # built now, on the same input
    >>> float(wb.widget("Compare").x[0])
    80.0
    >>> wb.close()
    """

    selected = traitlets.Unicode(help="title of the open tab")

    def __init__(
        self,
        model: Any,
        dataset: Dataset | None = None,
        *,
        tabs: Sequence[Tab | str] | None = None,
        index: int = 0,
    ) -> None:
        super().__init__()
        self.add_class(css_class(type(self).__name__))
        dataset = _check_dataset(dataset, model)
        self.model: Model = wrap(model, dataset)
        self.dataset = dataset
        index = check_int(index, "index", low=0, high=len(dataset.X_test) - 1)
        entries, named = _check_tabs(tabs)
        self._tabs: dict[str, Tab] = {}
        self.hidden: dict[str, str] = {}
        for tab in entries:
            if tab.applies(self.model, dataset):
                self._tabs[tab.title] = tab
            elif tab.title in named:
                raise ValueError(
                    f"tabs: {tab.title!r} does not apply to this model; it needs "
                    f"{tab.needs or 'another kind of model'}."
                )
            else:
                self.hidden[tab.title] = tab.needs
        if not self._tabs:
            raise ValueError("None of the tabs applies to this model.")
        self._widgets: dict[str, ipywidgets.Widget] = {}
        self._boxes = {title: ipywidgets.VBox() for title in self._tabs}
        # The input carried from tab to tab: the row, and the input when it was moved.
        self._index: int = index
        self._x: np.ndarray | None = None
        self.tab = ipywidgets.Tab(children=list(self._boxes.values()), titles=self.titles)
        self.header = ipywidgets.HTML(self._header_html())
        self.note = ipywidgets.HTML(
            self._note_html(), layout=ipywidgets.Layout(display=None if self.hidden else "none")
        )
        self.children = [self.header, self.tab, self.note]
        traitlets.link(
            (self.tab, "selected_index"),
            (self, "selected"),
            transform=(
                lambda i: self.titles[i if i is not None else 0],
                lambda title: self.titles.index(title),
            ),
        )
        self.observe(self._on_selected, names="selected")
        self._open(self.selected)

    @property
    def titles(self) -> list[str]:
        """The titles of the tabs shown, in order."""
        return list(self._tabs)

    @property
    def widgets(self) -> dict[str, ipywidgets.Widget]:
        """``{title: widget}`` of the tabs built so far."""
        return dict(self._widgets)

    @traitlets.validate("selected")
    def _valid_selected(self, proposal: Any) -> str:
        if proposal.value not in self._tabs:
            raise ValueError(
                f"selected must be one of the tabs {self.titles}; got {proposal.value!r}."
            )
        return proposal.value

    def widget(self, title: str) -> ipywidgets.Widget:
        """The widget of a tab, built now if it was not yet (without opening the tab).

        Raises
        ------
        ValueError
            If there is no such tab.
        """
        if title not in self._tabs:
            hint = f" (left out: it needs {self.hidden[title]})" if title in self.hidden else ""
            raise ValueError(f"There is no tab {title!r}{hint}; the tabs are {self.titles}.")
        if title not in self._widgets:
            widget = self._tabs[title].factory(self.model, self.dataset)
            self._widgets[title] = widget
            self._boxes[title].children = [widget]
        return self._widgets[title]

    def _on_selected(self, change: Any) -> None:
        previous = self._widgets.get(change["old"])
        if isinstance(previous, InputWidget):
            self._index, self._x = previous.index, previous.x
        self._open(change["new"])

    def _open(self, title: str) -> None:
        """Build the tab's widget if needed and bring it to the carried input."""
        try:
            widget = self.widget(title)
        except Exception as exc:  # shown in the tab; opening it again retries
            self._boxes[title].children = [ipywidgets.HTML(error_html(exc))]
            return
        if isinstance(widget, InputWidget):
            if widget.index != self._index:
                widget.index = self._index
            if self._x is not None and not np.array_equal(widget.x, self._x):
                widget.x = self._x
        elif type(widget) in _ROW_TRAITS:  # a test row travels, not a moved input
            trait = _ROW_TRAITS[type(widget)]
            if getattr(widget, trait) != self._index:
                setattr(widget, trait, self._index)

    def _header_html(self) -> str:
        ds, m = self.dataset, self.model
        size = (
            f"{ds.n_features} features"
            if ds.kind == "tabular"
            else "x".join(str(n) for n in ds.input_shape)
        )
        return (
            f'<div style="font-size:1.05em;margin:2px 0 4px"><b>xaiwidgets workbench</b> · '
            f"{html.escape(ds.name)} data ({ds.kind}, {size}, {ds.n_classes} classes) · "
            f"{html.escape(type(m.predictor).__name__)} ({html.escape(m.source)})</div>"
        )

    def _note_html(self) -> str:
        if not self.hidden:
            return ""
        parts = "; ".join(
            f"{html.escape(title)} (needs {html.escape(needs or 'another kind of model')})"
            for title, needs in self.hidden.items()
        )
        return f'<div style="color:#666;font-size:0.9em">Not shown for this model: {parts}.</div>'

    def close(self) -> None:
        """Close every tab's widget (stopping their worker threads) and the Workbench."""
        for widget in self._widgets.values():
            widget.close()
        for box in self._boxes.values():
            box.close()
        self.tab.close()
        self.header.close()
        self.note.close()
        super().close()


def demo(data: str = "credit", *, index: int = 0) -> Workbench:
    """The Workbench on a bundled data set and its demo model, in one line.

    The model comes from :mod:`xaiwidgets.zoo` (trained deterministically on first use,
    in seconds, then cached): a ReLU MLP for ``"credit"`` and ``"breast_cancer"``, a
    small CNN for ``"digits"``.

    Parameters
    ----------
    data : {"credit", "digits", "breast_cancer"}, default="credit"
        The data set.
    index : int, default=0
        The test row shown first.

    Returns
    -------
    Workbench

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> wb = xw.demo()
    >>> wb.dataset.name, wb.selected
    ('credit', 'Explore')
    >>> wb.close()
    """
    from .. import datasets, zoo

    choices = {
        "credit": (datasets.load_credit, zoo.train_mlp),
        "digits": (datasets.load_digits, zoo.train_cnn),
        "breast_cancer": (datasets.load_breast_cancer, zoo.train_mlp),
    }
    if data not in choices:
        raise ValueError(f"data must be one of {list(choices)}; got {data!r}.")
    load, train = choices[data]
    dataset = load()
    return Workbench(wrap(train(dataset), dataset), dataset, index=index)
