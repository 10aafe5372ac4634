"""The shared base of every xaiwidgets widget: state, background computation, drawing.

How to build a widget on this base
----------------------------------
A widget that explores one input (move it, explain it, show the result) subclasses
:class:`InputWidget`; a widget without an input panel subclasses :class:`WidgetBase`.

1. In ``__init__``, call ``super().__init__(model, dataset, index=...)``. The base wraps
   the model, builds the input panel ``self.inputs``
   (:func:`~xaiwidgets.widgets.input_controls`: the test-row picker with true and
   predicted class, a control per feature for tabular data or the perturbation
   controls for images, and reset), a target dropdown ``self.target_picker``, the
   status line ``self.status`` and ``self.error_box``, and exposes the public state
   ``x``, ``index`` and ``target`` as traitlets, with ``set_feature``, ``reset``,
   ``wait``, ``busy``, ``error`` and ``timings``.
2. Declare your own state as traitlets and list the traits whose change needs a new
   result with ``self._recompute_on([...])``; ``x`` and ``target`` (and ``index``,
   through ``x``) are listed already.
3. Implement the hooks:

   - ``_state() -> dict``: a snapshot of what the computation needs, taken on the
     caller's thread (``self.x`` is already a copy).
   - ``_compute(state) -> result``: the work, on the widget's worker thread. Call
     explainers and ``xaiwidgets.analysis`` here (widgets never compute numbers
     themselves; :class:`~xaiwidgets.widgets.ExplanationCache` builds explainers once
     and remembers explanations); do not touch widget controls. An exception is
     shown inside the widget, which keeps working.
   - ``_show(state, result)``: update the displays (the in-place displays of
     :mod:`xaiwidgets.plotting`, drawn by a :class:`FigureView`) and the result
     traits (``self.set_trait`` for read-only ones). It runs only while ``state`` is
     the newest request, so a stale result is never shown.
   - optionally ``_result()`` (what ``wait()`` returns) and ``_clear()`` (called when
     a computation failed).
4. Lay out ``self.children``, and call ``self._request()`` at the end of
   ``__init__`` for the first result. Wrap button and control callbacks with
   ``self._reporting(callback)`` so that an exception becomes a message in the
   widget instead of a log line. Method parameters come from
   :class:`~xaiwidgets.widgets.ParamControls` and its declarative table.

The worker thread runs the newest request only: while it computes, further changes
collapse into one pending request (a natural debounce), and after a computation that
took longer than ``slow_s`` it also waits ``debounce_s`` of quiet before starting.
Every request gets a generation number; a result whose generation is no longer the
newest is dropped. ``wait()`` blocks until the newest request has been handled.
A widget's first computation and drawing wait for any other widget's first one to
finish: cold-start code in other libraries is not always thread-safe.

Examples
--------
A widget that shows only the prediction of the input being moved:

>>> import xaiwidgets as xw
>>> from xaiwidgets.plotting import ProbabilityBars
>>> class PredictionWidget(InputWidget):
...     def __init__(self, model, dataset=None, index=0):
...         super().__init__(model, dataset, index=index)
...         self.view = FigureView((4, 1.5))
...         axes = self.view.figure.add_subplot()
...         self.bars = self.view.add(ProbabilityBars(axes, self.model.class_names))
...         self.children = [ipywidgets.HBox([self.inputs, self.view.image]), self.status]
...         self._request()
...
...     def _state(self):
...         return {"x": self.x}
...
...     def _compute(self, state):
...         return self.model.predict_proba(state["x"])[0]
...
...     def _show(self, state, probabilities):
...         self.view.render(full=self.bars.update(probabilities))
...         self.probabilities = probabilities
...         self._set_status(f"{self.model.class_names[probabilities.argmax()]}")
...
...     def _result(self):
...         return self.probabilities
>>> ds = xw.datasets.load_credit()
>>> w = PredictionWidget(xw.wrap(xw.zoo.train_mlp(ds), ds), index=3)
>>> w.set_feature("debt_ratio", 1.4)
>>> w.wait().round(2).tolist()
[1.0, 0.0]
>>> w.close()
"""

from __future__ import annotations

import contextlib
import html
import math
import os
import re
import struct
import threading
import time
import traceback
import zlib
from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, ClassVar

import ipywidgets
import numpy as np
import torch
import traitlets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..core.dataset import Dataset
from ..core.model import Model, wrap
from ..core.validation import as_numpy, check_int
from ..plotting import LiveFigure

__all__ = [
    "Array",
    "FigureView",
    "InputWidget",
    "WidgetBase",
    "css_class",
    "error_html",
    "frozen",
    "is_echo",
    "link_array",
    "png_bytes",
    "readout_format",
]


def frozen(array: np.ndarray) -> np.ndarray:
    """Mark an array read-only (in place) and return it."""
    array.flags.writeable = False
    return array


class Array(traitlets.TraitType):
    """A traitlet holding a float64 numpy array: stored read-only, read as a copy.

    Reading the attribute returns a fresh writable copy, so changing it never changes
    the widget; assign a new array to change the state. Change notifications carry
    the stored (read-only) array.
    """

    default_value = None
    allow_none = True
    info_text = "a numeric array"

    def validate(self, obj: Any, value: Any) -> np.ndarray | None:
        if value is None:
            return None
        return frozen(np.array(as_numpy(value, self.name), dtype=np.float64, copy=True))

    def get(self, obj: Any, cls: Any = None) -> Any:
        value = super().get(obj, cls)
        return value.copy() if isinstance(value, np.ndarray) else value


def link_array(source: tuple[Any, str], target: tuple[Any, str]) -> None:
    """Keep an :class:`Array` trait equal on two objects; ``target`` starts from ``source``.

    ``traitlets.link`` compares values with ``!=``, which is ambiguous for arrays.
    """
    updating = False

    def copy_to(other: tuple[Any, str]) -> Callable[[Any], None]:
        def update(change: Any) -> None:
            nonlocal updating
            if updating:
                return
            updating = True
            try:
                setattr(other[0], other[1], change["new"])
            finally:
                updating = False

        return update

    setattr(target[0], target[1], getattr(*source))
    source[0].observe(copy_to(target), names=source[1])
    target[0].observe(copy_to(source), names=target[1])


def is_echo(control: ipywidgets.Widget, new: Any, current: Any) -> bool:
    """Whether a float slider's new value is the browser's snapped echo of ``current``.

    The browser's slider rounds a value set from Python to its grid
    ``min + k * step`` and sends the rounded value back. That echo is within half a
    step of the exact value, a move by the user at least a step away (from an exact
    value half-way between two grid points, the first step down is taken for an echo:
    steps are fine enough that this is rare), so the exact value is kept.

    Examples
    --------
    >>> slider = ipywidgets.FloatSlider(min=0.0, max=1.5, step=0.01)
    >>> is_echo(slider, 0.16, 0.1649), is_echo(slider, 0.17, 0.1649)
    (True, False)
    """
    if not isinstance(control, ipywidgets.FloatSlider) or current is None:
        return False
    return abs(new - current) <= 0.5 * control.step * (1 + 1e-9)


def readout_format(step: float) -> str:
    """A slider readout with as many decimals as the step has (d3-format, for ipywidgets).

    Examples
    --------
    >>> readout_format(0.001), readout_format(0.05), readout_format(10.0)
    ('.3f', '.2f', '.0f')
    """
    return f".{max(0, -math.floor(math.log10(step) + 1e-9))}f"


#: How attribution maps are coloured: their magnitude, or their sign (diverging).
COLOUR_MODES = ["absolute", "diverging"]


def colour_mode_picker(
    image: bool = True, description: str = "colours"
) -> ipywidgets.ToggleButtons:
    """The colour-mode toggle of a widget that shows maps (hidden for tabular bars).

    Examples
    --------
    >>> colour_mode_picker(image=True).options
    ('absolute', 'diverging')
    """
    return ipywidgets.ToggleButtons(
        options=COLOUR_MODES,
        description=description,
        style={"button_width": "90px"},
        tooltips=["colour the magnitude |map|", "colour the sign (blue < 0 < red)"],
        layout=ipywidgets.Layout(display="flex" if image else "none"),
    )


def css_class(name: str) -> str:
    """The CSS class of a widget class: ``"xw-"`` and its name in kebab case.

    Examples
    --------
    >>> css_class("ExplainerWidget")
    'xw-explainer-widget'
    """
    return "xw-" + re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def error_html(error: BaseException) -> str:
    """An exception as the HTML block widgets show: type, message, folded traceback.

    Examples
    --------
    >>> "<b>ValueError</b>: bad" in error_html(ValueError("bad"))
    True
    """
    details = html.escape("".join(traceback.format_exception(error)))
    return (
        '<div style="border-left:4px solid #d62728;background:#fdecea;'
        'padding:6px 10px;margin:4px 0;white-space:pre-wrap">'
        f"<b>{html.escape(type(error).__name__)}</b>: {html.escape(str(error))}"
        '<details><summary style="cursor:pointer;color:#666">traceback</summary>'
        f'<pre style="font-size:0.8em;white-space:pre-wrap">{details}</pre></details></div>'
    )


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png_bytes(rgba: np.ndarray) -> bytes:
    """Encode an RGBA pixel array of shape (height, width, 4) as PNG, fast.

    A minimal PNG (ISO/IEC 15948: one IHDR, one IDAT, IEND) with filter type 0 on every
    row and zlib at level 1. Pillow tries every row filter ("adaptive" filtering),
    which for a 660x640 figure takes 3x longer (10 ms against 3 ms on the course
    machine) for files only 15 % smaller; in a widget redrawn on every slider step the
    time matters more than the bytes. Pillow decodes the result exactly (tested).

    Examples
    --------
    >>> png_bytes(np.zeros((2, 3, 4), dtype=np.uint8))[1:4]
    b'PNG'
    """
    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(
            f"rgba must be a uint8 array of shape (height, width, 4); got {rgba.dtype} "
            f"{rgba.shape}."
        )
    height, width, _ = rgba.shape
    rows = np.zeros((height, 1 + 4 * width), dtype=np.uint8)  # byte 0 of a row: filter 0
    rows[:, 1:] = rgba.reshape(height, -1)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(rows.tobytes(), 1))
        + _png_chunk(b"IEND", b"")
    )


class FigureView:
    """A matplotlib figure shown in an ``ipywidgets.Image`` as PNG, redrawn in place.

    The figure is a plain :class:`matplotlib.figure.Figure` with an Agg canvas (no
    pyplot, so nothing leaks into the notebook's figure list). Add the in-place
    displays of :mod:`xaiwidgets.plotting` with :meth:`add`; after updating them call
    :meth:`render` with whether any reported a layout change.

    Parameters
    ----------
    figsize : tuple of float
        Width and height in inches.
    dpi : float, default=100
        Pixels per inch of the PNG.
    image : ipywidgets.Image, optional
        Show the renders in this image (several views can take turns in one place,
        each keeping its own figure); a new one by default.

    Attributes
    ----------
    figure : matplotlib Figure
    image : ipywidgets.Image
        The widget showing the latest render.
    full_renders : int
        How many renders drew everything (the others blitted).

    Examples
    --------
    >>> from xaiwidgets.plotting import ProbabilityBars
    >>> view = FigureView((4, 2))
    >>> bars = view.add(ProbabilityBars(view.figure.add_subplot(), ["no", "yes"]))
    >>> len(view.render(full=bars.update([0.3, 0.7]))) == len(view.image.value)
    True
    """

    def __init__(
        self, figsize: tuple[float, float], dpi: float = 100, image: ipywidgets.Image | None = None
    ) -> None:
        self.figure = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        FigureCanvasAgg(self.figure)
        self.live = LiveFigure(self.figure)
        self.image = ipywidgets.Image(format="png") if image is None else image
        self.image.add_class("xw-figure")
        self.full_renders = 0

    def add(self, display: Any) -> Any:
        """Register an in-place display so that its artists are redrawn; returns it."""
        self.live.displays.append(display)
        self.live.invalidate()
        return display

    def clear(self) -> None:
        """Remove every axes and display (to build a new layout)."""
        self.figure.clear()
        self.live.displays.clear()
        self.live.invalidate()

    def render(self, full: bool = False) -> bytes:
        """Draw (fully, or only the moving artists), show the PNG and return its bytes."""
        self.full_renders += full or self.live._background is None
        rgba = self.live.render(full)
        width = f"{rgba.shape[1]}px"
        if self.image.layout.width != width:
            # Shown at its pixel size: a flex container would otherwise stretch it.
            self.image.layout.width = width
        png = png_bytes(rgba)
        self.image.value = png
        return png


def in_voila() -> bool:
    """Whether this kernel was started by Voila (it sets ``VOILA_BASE_URL``).

    Voila builds the page's widgets from their state after the notebook ran; an update
    sent from a background thread while the page fetches that state can be lost
    (voila-dashboards/voila#1101, ipycanvas#56), leaving a figure never drawn. Widgets
    therefore compute their first result before their cell returns under Voila.

    Examples
    --------
    >>> in_voila()
    False
    """
    return "VOILA_BASE_URL" in os.environ


# Third-party code running for the first time in a process is not always safe to run
# in several threads at once: numba compiles shap's kernels on the first SHAP call
# (6-20 s), libraries import submodules lazily, and the first deepcopy of an instance
# writes ``__slotnames__`` into its class. When a notebook runs top to bottom, every
# widget starts its first computation at the same moment, so all of this overlaps; in
# CI a SHAP column once failed there with "dictionary changed size during iteration".
# First computations (and the first drawing, which loads fonts) therefore run one at
# a time, across all widgets; the updates after them run concurrently.
_FIRST_COMPUTATIONS = threading.Lock()
# Marks the worker threads (see _Worker.on_a_worker_thread).
_WORKER_THREAD = threading.local()


class _Worker:
    """One daemon thread that runs the newest request of one widget.

    ``submit`` records a request under a new generation number; the thread takes the
    newest pending one, computes it and hands the result to ``deliver`` only if no
    newer request arrived in the meantime. ``wait`` blocks until every request so far
    has been handled. The first computation of every worker holds a lock shared by
    all workers, so no two widgets compute their first result at the same time.
    """

    def __init__(
        self,
        compute: Callable[[Any], Any],
        deliver: Callable[[Any, Any, BaseException | None], None],
        on_busy: Callable[[bool], None],
        *,
        debounce_s: float,
        slow_s: float,
        torch_threads: int | None,
    ) -> None:
        self._compute, self._deliver, self._on_busy = compute, deliver, on_busy
        self.debounce_s, self.slow_s, self.torch_threads = debounce_s, slow_s, torch_threads
        self._cond = threading.Condition(threading.RLock())
        self._generation = 0
        self._completed = 0
        self._pending: tuple[int, Any] | None = None
        self._requested_at = 0.0
        self.last_duration = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, state: Any) -> int:
        with self._cond:
            if self._closed:
                raise RuntimeError("This widget was closed; create a new one.")
            self._generation += 1
            self._pending = (self._generation, state)
            self._requested_at = time.monotonic()
            self._on_busy(True)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="xaiwidgets-worker", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
            return self._generation

    def pending(self) -> Any:
        """The state of the request waiting behind the running one, or None."""
        with self._cond:
            return None if self._pending is None else self._pending[1]

    @staticmethod
    def on_a_worker_thread() -> bool:
        """Whether the caller runs on any widget's worker thread.

        Such a caller must never wait on a worker: not on its own, and not on another
        one's first computation, which waits for the caller's to finish.
        """
        return getattr(_WORKER_THREAD, "active", False)

    def is_current(self, generation: int) -> bool:
        with self._cond:
            return generation == self._generation

    def wait(self, timeout: float | None) -> bool:
        with self._cond:
            return self._cond.wait_for(
                lambda: self._completed >= self._generation or self._closed, timeout
            )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _take(self) -> tuple[int, Any] | None:
        with self._cond:
            while self._pending is None and not self._closed:
                self._cond.wait()
            if self.last_duration > self.slow_s:
                # Slow work: wait for a pause in the changes before starting.
                while not self._closed:
                    quiet = self._requested_at + self.debounce_s - time.monotonic()
                    if quiet <= 0:
                        break
                    self._cond.wait(quiet)
            if self._closed:
                return None
            request, self._pending = self._pending, None
            return request

    def _run(self) -> None:
        _WORKER_THREAD.active = True
        if self.torch_threads is not None:
            # Per thread with OpenMP: the notebook's own torch threads are unaffected.
            torch.set_num_threads(self.torch_threads)
        first = True
        while (request := self._take()) is not None:
            generation, state = request
            result, error = None, None
            with _FIRST_COMPUTATIONS if first else contextlib.nullcontext():
                start = time.perf_counter()
                try:
                    result = self._compute(state)
                except Exception as exc:
                    error = exc
                self.last_duration = time.perf_counter() - start
                if self.is_current(generation):
                    self._deliver(state, result, error)
            first = False
            with self._cond:
                self._completed = max(self._completed, generation)
                if self._pending is None:
                    self._on_busy(False)
                self._cond.notify_all()


class _Superseded(Exception):
    """A newer request needs a different computation: abandon this one."""


class WidgetBase(ipywidgets.VBox):
    """Base of the xaiwidgets widgets: background computation, status and errors.

    Subclasses implement ``_state``, ``_compute`` and ``_show`` (see the module
    docstring) and call :meth:`_request` whenever their state changes.

    Parameters
    ----------
    debounce_s : float, default=0.15
        After a computation that took longer than ``slow_s``, wait for this long
        without changes before starting the next one.
    slow_s : float, default=0.2
        What counts as slow.

    Attributes
    ----------
    busy : bool
        True while a computation for the current state is pending or running.
    error : str
        The message of the last failed computation or callback; empty when the
        current result is fine.
    status : ipywidgets.HTML
        One line: busy indicator, timings.
    timings : dict
        Of the last result shown: ``compute_s`` (explaining, on the worker thread) and
        ``show_s`` (updating the displays and encoding the PNG).
    error_box : ipywidgets.HTML
        The error message, shown only while there is one.
    """

    busy = traitlets.Bool(False, read_only=True, help="a computation is pending or running")
    error = traitlets.Unicode("", read_only=True, help="message of the last failure")

    #: Torch threads of the worker thread. One is fastest for the small models of a
    #: course (their cost is per-call overhead, and other threads only add wake-ups);
    #: set to None on the class or instance to keep torch's default for big models.
    torch_threads: ClassVar[int | None] = 1

    def __init__(self, *, debounce_s: float = 0.15, slow_s: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # CSS hooks for pages and browser tests: "xw-widget" and, say, "xw-explainer-widget";
        # inside, "xw-inputs" (the input panel), "xw-figure", "xw-status", "xw-error".
        self.add_class("xw-widget")
        self.add_class(css_class(type(self).__name__))
        self.status = ipywidgets.HTML(layout=ipywidgets.Layout(min_height="1.6em"))
        self.status.add_class("xw-status")
        self.error_box = ipywidgets.HTML(layout=ipywidgets.Layout(display="none"))
        self.error_box.add_class("xw-error")
        self._status_text = ""
        self.timings: dict[str, float] = {}
        self._worker = _Worker(
            self._compute_timed,
            self._deliver,
            self._set_busy,
            debounce_s=debounce_s,
            slow_s=slow_s,
            torch_threads=self.torch_threads,
        )

    # ------------------------------------------------------------------ hooks
    def _state(self) -> Any:
        """Snapshot of the state a computation needs (called on the caller's thread)."""
        raise NotImplementedError

    def _compute(self, state: Any) -> Any:
        """The work for ``state`` (worker thread; no widget access)."""
        raise NotImplementedError

    def _show(self, state: Any, result: Any) -> None:
        """Display ``result``; called only while ``state`` is the newest."""
        raise NotImplementedError

    def _result(self) -> Any:
        """What :meth:`wait` returns."""
        return None

    def _clear(self) -> None:
        """Forget the shown result after a failure (default: keep the last figure)."""

    # ------------------------------------------------------------------ machinery
    def _recompute_on(self, names: Iterable[str]) -> None:
        """Recompute whenever one of these traits changes."""
        self.observe(lambda change: self._request(), names=list(names))

    def _request(self) -> None:
        """Queue a computation of the current state (the newest request wins).

        Under Voila the first request is waited for (see :func:`in_voila`).
        """
        first = self._worker.submit(self._state()) == 1
        if first and in_voila() and not self._worker.on_a_worker_thread():
            self._worker.wait(timeout=None)

    def _superseded(self, state: Any, key: Callable[[Any], Any] | None = None) -> bool:
        """Whether work on ``state`` is stale: a newer request waits behind it.

        With ``key``, only a waiting request with another ``key`` makes it stale.
        """
        pending = self._worker.pending()
        return pending is not None and (key is None or key(pending) != key(state))

    def _abandoning(
        self, state: Any, key: Callable[[Any], Any], report: Callable[[int, int], None]
    ) -> Callable[[int, int], None]:
        """A progress callback for long work on ``state`` that stops when it goes stale.

        It calls ``report(done, total)``, or raises :class:`_Superseded` once a request
        with another ``key`` waits (the worker drops the stale outcome).
        """

        def progress(done: int, total: int) -> None:
            if self._superseded(state, key):
                raise _Superseded
            report(done, total)

        return progress

    def _compute_timed(self, state: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        result = self._compute(state)
        return result, time.perf_counter() - start

    def _deliver(self, state: Any, timed: Any, error: BaseException | None) -> None:
        if error is None:
            try:
                result, compute_s = timed
                start = time.perf_counter()
                self._show(state, result)
                self.timings = {"compute_s": compute_s, "show_s": time.perf_counter() - start}
                self._set_error(None)
                return
            except Exception as exc:
                error = exc
        self._clear()
        self._set_error(error)

    def _set_busy(self, busy: bool) -> None:
        self.set_trait("busy", busy)
        self._render_status()

    def _set_status(self, text: str) -> None:
        """Set the status line (timings, diagnostics); HTML allowed."""
        self._status_text = text
        self._render_status()

    def _render_status(self) -> None:
        busy = '<span style="color:#e07000">&#9203; computing&hellip;</span> ' if self.busy else ""
        self.status.value = f'<div style="font-size:0.92em">{busy}{self._status_text}</div>'

    def _set_error(self, error: BaseException | None) -> None:
        if error is None:
            message = ""
            self.error_box.layout.display = "none"
            self.error_box.value = ""
        else:
            message = f"{type(error).__name__}: {error}"
            self.error_box.value = error_html(error)
            self.error_box.layout.display = None
        self.set_trait("error", message)

    def _reporting(self, callback: Callable[..., Any]) -> Callable[..., Any]:
        """Wrap a control callback so that an exception is shown in the widget."""

        @wraps(callback)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return callback(*args, **kwargs)
            except Exception as exc:
                self._set_error(exc)
                return None

        return guarded

    # ------------------------------------------------------------------ public API
    def wait(self, timeout: float | None = 60.0) -> Any:
        """Block until the current state's result is shown, and return it.

        Parameters
        ----------
        timeout : float or None, default=60.0
            Seconds to wait at most (None: no limit).

        Returns
        -------
        The widget's result: ``ExplainerWidget`` the Explanation (None when the
        computation failed; the message is then in :attr:`error`), ``CompareWidget``
        the ``{method: Explanation}`` of the methods that succeeded.

        Raises
        ------
        TimeoutError
            If the computation did not finish in time.
        """
        if not self._worker.wait(timeout):
            raise TimeoutError(
                f"{type(self).__name__}: the computation did not finish within {timeout} s."
            )
        return self._result()

    def refresh(self) -> None:
        """Recompute the current state (for example after retraining the model)."""
        self._request()

    def close(self) -> None:
        """Stop the worker thread and close the widget and every widget inside it."""
        self._worker.close()
        for child in _descendants(self):
            child.close()
        super().close()


class InputWidget(WidgetBase):
    """Base of widgets that explore one input of a data set with controls.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    dataset : Dataset, optional
        The data; defaults to the one the model was wrapped with.
    index : int, default=0
        The test row shown first.
    **kwargs
        ``debounce_s`` and ``slow_s`` of :class:`WidgetBase`.

    Attributes
    ----------
    x : ndarray
        The current input (reading gives a copy; assigning moves the controls).
    index : int
        The test row; assigning loads it.
    target : int or None
        The explained class; None explains the predicted class. Accepts a class
        name or ``"predicted"`` too.
    inputs : InputControls
        The input panel.
    model : Model
    dataset : Dataset
    """

    x = Array(help="the current input")
    index = traitlets.Any(0, help="the test row shown (an int)")
    target = traitlets.Any(None, help="explained class index; None: the predicted class")

    def __init__(
        self, model: Any, dataset: Dataset | None = None, *, index: int = 0, **kwargs: Any
    ) -> None:
        from ._inputs import input_controls

        super().__init__(**kwargs)
        dataset = _check_dataset(dataset, model)
        self.model: Model = wrap(model, dataset)
        self.dataset = dataset
        self.inputs = input_controls(dataset, self.model, index=index)
        traitlets.link((self.inputs, "index"), (self, "index"))
        link_array((self.inputs, "x"), (self, "x"))
        # "predicted" rather than None as the option's value: a dropdown whose value is
        # None shows no selection in the browser.
        self.target_picker = ipywidgets.Dropdown(
            options=[("predicted class", "predicted")]
            + [(name, k) for k, name in enumerate(self.model.class_names)],
            value="predicted",
            description="explain",
            style={"description_width": "initial"},
            layout=ipywidgets.Layout(width="auto"),
        )
        traitlets.link(
            (self.target_picker, "value"),
            (self, "target"),
            transform=(
                lambda value: None if value == "predicted" else value,
                lambda target: "predicted" if target is None else target,
            ),
        )
        self._recompute_on(["x", "target"])

    @traitlets.validate("x")
    def _valid_x(self, proposal: Any) -> np.ndarray:
        return frozen(self.inputs.check_x(proposal.value))

    @traitlets.validate("index")
    def _valid_index(self, proposal: Any) -> int:
        return self.inputs.check_index(proposal.value)

    @traitlets.validate("target")
    def _valid_target(self, proposal: Any) -> int | None:
        value = proposal.value
        if value is None or (isinstance(value, str) and value == "predicted"):
            return None
        if isinstance(value, str) and value in self.model.class_names:
            return self.model.class_names.index(value)
        if isinstance(value, str):
            raise ValueError(
                f"target must be None or 'predicted', a class name in "
                f"{self.model.class_names} or a class index; got {value!r}."
            )
        return check_int(value, "target", low=0, high=self.model.n_classes - 1)

    @property
    def original(self) -> np.ndarray:
        """The current row's original input (a copy)."""
        return self.inputs.original

    def set_feature(self, name: str, value: float | str) -> None:
        """Set one feature of a tabular input by name (a category label for categorical).

        Raises
        ------
        TypeError
            For image data (use ``x``, or the perturbation controls in ``inputs``).
        ValueError
            For an unknown feature, a category that does not exist, or a non-integer
            value of an integer feature.
        """
        if not hasattr(self.inputs, "set_feature"):
            raise TypeError(
                "set_feature applies to tabular data; for images assign w.x or set the "
                "perturbations on w.inputs (noise, brightness, contrast, occlusion)."
            )
        self.inputs.set_feature(name, value)

    def reset(self) -> None:
        """Go back to the current row's original input (and undo perturbations)."""
        self.inputs.reset()


def _descendants(widget: ipywidgets.Widget) -> list[ipywidgets.Widget]:
    """Every widget inside ``widget`` (children of boxes and accordions, recursively)."""
    found = []
    for child in getattr(widget, "children", ()):
        found += [child, *_descendants(child)]
    return found


def _check_dataset(dataset: Dataset | None, model: Any) -> Dataset:
    if dataset is None:
        dataset = getattr(model, "dataset", None)
    if not isinstance(dataset, Dataset):
        raise TypeError(
            "dataset must be an xaiwidgets Dataset (for example "
            "xw.datasets.load_credit()), or the model must be wrapped with one; got "
            f"{type(dataset).__name__}."
        )
    return dataset
