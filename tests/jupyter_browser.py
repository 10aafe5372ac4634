"""JupyterLab and Voila in a real headless Chromium: a local server and page helpers.

Shared by ``tests/test_browser.py``, ``tests/test_voila.py`` and
``benchmarks/bench_browser.py``. The server
runs on a free localhost port with a token, its configuration, runtime, data and
settings in a temporary directory (nothing of the user's Jupyter set-up is read or
written), and its kernels import this checkout (``PYTHONPATH``). Nothing goes to the
network: JupyterLab's news, update check and extension manager are off, Chromium runs
without background networking, and the page's requests to anything but the local
server are refused (and recorded in ``blocked``).

Chromium comes from the system (Debian's ``chromium``): ``playwright install`` needs
the network.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: The notebook the browser tests and the browser benchmark open.
TOUR = ROOT / "notebooks" / "00_tour.ipynb"
#: Widget outputs of the tour: the Workbench, then one cell per widget.
TOUR_WIDGETS = 5

#: Flags for a quiet, offline, headless Chromium (also in a container as root).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

#: Text that ipywidgets leaves in an output area whose widget did not render.
WIDGET_FAILURES = ("Error displaying widget", "Loading widget...")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def find_chromium() -> str | None:
    """The path of a Chromium executable (Debian's ``/usr/bin/chromium`` first), or None."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def missing_requirements() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    for module in ("playwright", "jupyterlab", "voila"):
        try:
            __import__(module)
        except ImportError:
            return f"the Python package {module!r} is not installed (pip install -e '.[test]')"
    if find_chromium() is None:
        return (
            "no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser on "
            "PATH); install it with 'apt-get install chromium' (playwright install needs "
            "the network)"
        )
    return None


def free_port() -> int:
    """A TCP port free on localhost right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (Linux /proc; empty elsewhere)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class JupyterServer:
    """A JupyterLab server (with Voila's extension) for one notebook directory.

    Use as a context manager: the server, its kernels and its temporary directory
    are gone afterwards, also when the body failed.

    Parameters
    ----------
    notebooks : list of Path
        Notebooks copied into the server's (temporary) root directory, so that
        running them in the browser never writes into the repository.
    startup_s : float, default=120
        How long to wait for the server to answer.
    """

    def __init__(self, notebooks: list[Path], *, startup_s: float = 120.0) -> None:
        self.notebooks = [Path(p) for p in notebooks]
        self.startup_s = startup_s
        self.token = os.urandom(16).hex()
        self.port = 0
        self.process: subprocess.Popen | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._log: Any = None
        self.base = Path()

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> JupyterServer:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="xw-jupyter-")
        self.base = Path(self._tmp.name)
        root = self.base / "root"
        root.mkdir()
        for notebook in self.notebooks:
            shutil.copy(notebook, root / notebook.name)
        settings = self.base / "settings"
        self._write_settings(settings)
        env = {
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(self.base / "config"),
            "JUPYTER_RUNTIME_DIR": str(self.base / "runtime"),
            "JUPYTER_DATA_DIR": str(self.base / "data"),
            "IPYTHONDIR": str(self.base / "ipython"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p
            ),
            "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        }
        for attempt in range(3):  # a free port can be taken before the server binds it
            self.port = free_port()
            if self._launch(root, settings, env):
                return
            if "already in use" not in self.log() or attempt == 2:
                raise RuntimeError(f"JupyterLab exited at start:\n{self.log()}")

    def _launch(self, root: Path, settings: Path, env: dict[str, str]) -> bool:
        """Start the server on ``self.port``; False if it exited before answering."""
        command = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
            "--LabApp.expose_app_in_browser=True",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={self.base / 'workspaces'}",
        ]
        if self._log is not None:
            self._log.close()
        self._log = open(self.base / "server.log", "w")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command,
            env=env,
            cwd=root,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.startup_s
        while True:
            if self.process.poll() is not None:
                self.process = None
                return False
            try:
                with urllib.request.urlopen(self.url("/api/status"), timeout=5):
                    return True
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"JupyterLab did not answer within {self.startup_s} s:\n{self.log()}"
                    ) from None
                time.sleep(0.25)

    @staticmethod
    def _write_settings(settings: Path) -> None:
        """User settings: no news toast; every cell attached (none virtualized away)."""
        for plugin, values in {
            "@jupyterlab/apputils-extension/notification": {
                "fetchNews": "false",
                "checkForUpdates": False,
            },
            "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
        }.items():
            path = settings / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    def stop(self) -> None:
        """Shut the kernels and the server down, kill what is left, remove the files."""
        process = self.process
        if process is not None and process.poll() is None:
            leftovers = _descendants(process.pid)
            try:  # the polite way: the server shuts its kernels down
                request = urllib.request.Request(self.url("/api/shutdown"), method="POST")
                urllib.request.urlopen(request, timeout=5).close()
                process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                for sig in (signal.SIGTERM, signal.SIGKILL):
                    try:
                        os.killpg(process.pid, sig)
                        process.wait(timeout=10)
                        break
                    except (ProcessLookupError, subprocess.TimeoutExpired):
                        continue
            for pid in leftovers:  # kernels run in sessions of their own
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # ------------------------------------------------------------------ addresses
    def url(self, path: str) -> str:
        """The URL of a server path, with the token."""
        separator = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}{path}{separator}token={self.token}"

    def lab_url(self, notebook: str) -> str:
        return self.url(f"/lab/tree/{notebook}")

    def voila_url(self, notebook: str) -> str:
        return self.url(f"/voila/render/{notebook}")

    def log(self) -> str:
        """The server's log so far (the last 6000 characters)."""
        path = self.base / "server.log"
        return path.read_text(errors="replace")[-6000:] if path.exists() else ""


#: Assets that Voila's page template takes from CDNs (icons and MathJax). Offline they
#: are refused like every other outside request, but not counted in ``blocked``; the
#: page works without them (on Binder they load).
OFFLINE_ASSETS = (
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@",
    "https://cdnjs.cloudflare.com/ajax/libs/mathjax/",
)


class Browser:
    """Headless Chromium through Playwright, with an offline guard and an error log.

    ``page()`` opens a page on which uncaught script errors are collected in
    ``page_errors`` and console errors in ``console_errors``; requests to anything but
    the local server are aborted and listed in ``blocked``, except the known assets of
    ``allowed_offline`` (aborted too, and their console messages dropped).
    """

    def __init__(self, allowed_offline: tuple[str, ...] = OFFLINE_ASSETS) -> None:
        from playwright.sync_api import sync_playwright

        executable = find_chromium()
        if executable is None:
            raise RuntimeError(missing_requirements() or "no Chromium")
        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=executable, args=CHROMIUM_ARGS, headless=True
            )
        except BaseException:
            self._playwright.stop()
            raise
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.blocked: list[str] = []
        self.allowed_offline = allowed_offline

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.browser.close()
        finally:
            self._playwright.stop()

    def page(self, width: int = 1400, height: int = 1000) -> Any:
        """A new page (own context) with the error log and the offline guard."""
        context = self.browser.new_context(viewport={"width": width, "height": height})

        def route(route: Any) -> None:
            url = route.request.url
            if url.startswith(("http://127.0.0.1:", "data:", "blob:")):
                route.continue_()
                return
            if not url.startswith(self.allowed_offline):
                self.blocked.append(url)
            route.abort()

        def console(message: Any) -> None:
            source = (message.location or {}).get("url", "")
            if message.type == "error" and not source.startswith(self.allowed_offline):
                self.console_errors.append(f"{message.text} ({source})")

        context.route("**/*", route)
        page = context.new_page()
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", console)
        return page


# ---------------------------------------------------------------------- JupyterLab pages
def open_notebook(page: Any, server: JupyterServer, notebook: str, timeout_s: float = 120):
    """Open a notebook in JupyterLab and wait until its kernel is idle."""
    page.goto(server.lab_url(notebook))
    page.wait_for_function(
        """() => {
            const app = window.jupyterapp;
            const panel = app && app.shell.currentWidget;
            const kernel = panel && panel.sessionContext && panel.sessionContext.session
                && panel.sessionContext.session.kernel;
            return kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
        }""",
        timeout=timeout_s * 1000,
        polling=250,
    )


def open_and_run(page: Any, server: JupyterServer, notebook: str) -> None:
    """Open a notebook with the side bar folded away (its width to the notebook), run it."""
    open_notebook(page, server, notebook)
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
    run_all_cells(page)


def run_all_cells(page: Any, timeout_s: float = 240) -> None:
    """Run every cell (Run > Run All Cells) and wait until all ran; raise on an error."""
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    state = page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const cells = panel.content.widgets.filter(c => c.model.type === 'code');
            for (const cell of cells) {
                const outputs = cell.model.outputs.toJSON();
                const error = outputs.find(o => o.output_type === 'error');
                if (error) {
                    return {error: error.ename + ': ' + error.evalue + '\\n'
                            + cell.model.sharedModel.getSource()};
                }
            }
            const kernel = panel.sessionContext.session.kernel;
            const done = cells.every(c => c.model.executionCount !== null);
            return done && kernel.status === 'idle' ? {error: null} : false;
        }""",
        timeout=timeout_s * 1000,
        polling=250,
    ).json_value()
    if state["error"]:
        raise AssertionError(f"A cell failed:\n{state['error']}")


def widget_outputs(page: Any, scope: str) -> dict[str, Any]:
    """What the widget outputs under ``scope`` (a CSS selector) show, for assertions.

    Returns ``expected`` (outputs that hold a widget view, from the notebook model in
    JupyterLab; None elsewhere), ``views`` (how many of them rendered a widget),
    ``failures`` (texts of outputs still showing WIDGET_FAILURES), ``figures`` and
    ``blank_figures`` (figure images shown, and those of them without decoded pixels),
    ``blank_where`` (the owning widget's classes and source length of each blank one) and
    ``errors`` (texts of error boxes shown inside xaiwidgets widgets).
    """
    return page.evaluate(
        """([scope, failures, mime]) => {
            const root = document.querySelector(scope) || document.body;
            const app = window.jupyterapp;
            let expected = null;
            if (app && app.shell.currentWidget && app.shell.currentWidget.content) {
                expected = 0;
                for (const cell of app.shell.currentWidget.content.widgets) {
                    if (cell.model.type !== 'code') continue;
                    for (const o of cell.model.outputs.toJSON()) {
                        if (o.data && o.data[mime]) expected += 1;
                    }
                }
            }
            const outputs = Array.from(root.querySelectorAll('.jp-OutputArea-output'));
            const views = outputs.filter(o => o.querySelector('.jupyter-widgets')).length;
            const failed = outputs
                .filter(o => failures.some(f => o.textContent.includes(f)))
                .map(o => o.textContent.slice(0, 300));
            // Figures on screen (not those in a closed tab or a folded panel).
            const figures = Array.from(root.querySelectorAll('img.xw-figure'))
                .filter(i => i.getClientRects().length > 0);
            const blankImages = figures.filter(i => !(i.complete && i.naturalWidth > 0));
            const blank = blankImages.length;
            // Which widget each blank figure belongs to, and its source size (diagnosis).
            const blankWhere = blankImages.map(i => {
                const owner = i.closest('.xw-widget');
                return [owner ? owner.className : 'outside a widget',
                        (i.getAttribute('src') || '').length];
            });
            const errors = Array.from(root.querySelectorAll('.xw-error'))
                .filter(e => e.offsetParent !== null && e.textContent.trim())
                .map(e => e.textContent.slice(0, 500));
            return {expected, views, failures: failed, figures: figures.length,
                    blank_figures: blank, blank_where: blankWhere, errors};
        }""",
        [scope, list(WIDGET_FAILURES), WIDGET_MIME],
    )


def wait_rendered(
    page: Any, scope: str, minimum_views: int = 0, *, all_outputs: bool = False, timeout_s=120
) -> dict:
    """Wait until widgets under ``scope`` rendered, every figure decoded; return the state.

    Waits for at least ``minimum_views`` rendered widget outputs (with ``all_outputs``:
    for every widget output of the notebook model, in JupyterLab), none showing a
    failure text, and at least one figure, all decoded. Returns the last
    :func:`widget_outputs` state, also after the time ran out (for the assertion).
    """
    deadline = time.monotonic() + timeout_s
    while True:
        state = widget_outputs(page, scope)
        ready = (
            state["views"] >= minimum_views
            and (not all_outputs or state["views"] >= (state["expected"] or 0))
            and not state["failures"]
            and state["figures"] > 0
            and state["blank_figures"] == 0
        )
        if ready or time.monotonic() > deadline:
            return state
        page.wait_for_timeout(250)


def image_digest(page: Any, image: Any) -> str:
    """SHA-256 of the PNG bytes an ``<img>`` shows (fetched from its blob URL)."""
    return page.evaluate(
        """async (img) => {
            const bytes = await (await fetch(img.src)).arrayBuffer();
            const digest = await crypto.subtle.digest('SHA-256', bytes);
            return Array.from(new Uint8Array(digest))
                .map(b => b.toString(16).padStart(2, '0')).join('');
        }""",
        image.element_handle(),
    )


def slider(widget: Any, feature: str) -> Any:
    """The slider of a feature (by its label) inside a widget's locator.

    Its ``.noUi-handle`` takes the keyboard focus, its ``.widget-readout`` shows the value.
    """
    label = widget.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(feature)}$"))
    return widget.locator(".widget-slider").filter(has=label).first


# ---------------------------------------------------------------------- latency
_WATCH = """([root, name]) => {
    // Time from a key press inside root to the next new image under root, decoded
    // and painted: a changed src, or a new <img> (an output area redrawn).
    const state = {key: null, records: []};
    window.__xwLatency = window.__xwLatency || {};
    window.__xwLatency[name] = state;
    document.addEventListener('keydown', (event) => {
        if (root.contains(event.target)) state.key = event.timeStamp;
    }, true);
    const shown = async (img) => {
        const start = state.key;
        if (start === null) return;
        state.key = null;
        try { await img.decode(); } catch (error) { /* replaced before decoding */ }
        // The frame that paints it, then the task after that paint.
        requestAnimationFrame(() => setTimeout(() => {
            state.records.push(performance.now() - start);
        }, 0));
    };
    new MutationObserver((mutations) => {
        for (const m of mutations) {
            if (m.type === 'attributes' && m.target.tagName === 'IMG') {
                shown(m.target);
                return;
            }
            for (const node of m.addedNodes) {
                const img = node.tagName === 'IMG' ? node
                    : (node.querySelector && node.querySelector('img'));
                if (img) { shown(img); return; }
            }
        }
    }).observe(root, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['src']});
}"""


class KeyToImage:
    """Milliseconds from a key press on a control to the new image under a root element.

    A press is timed in the page, from its ``keydown`` event to the moment the next
    image under ``root`` (a changed ``src``, or a new ``<img>``) is decoded and
    painted. :meth:`press` waits for that image and returns the time.

    Parameters
    ----------
    page : playwright Page
    root : Locator
        The widget whose image is watched (only key presses inside it count).
    handle : Locator
        The focusable control that gets the key presses (a slider's handle).
    name : str
        A name for this watcher (several can watch one page).
    """

    def __init__(self, page: Any, root: Any, handle: Any, name: str) -> None:
        self.page, self.handle, self.name = page, handle, name
        page.evaluate(_WATCH, [root.element_handle(), name])

    def press(self, key: str, timeout_s: float = 30.0) -> float:
        """Press ``key`` on the control; return the milliseconds until the new image."""
        records = f"window.__xwLatency[{json.dumps(self.name)}].records"
        count = self.page.evaluate(f"() => {records}.length")
        self.handle.press(key)
        self.page.wait_for_function(
            f"() => {records}.length > {count}", timeout=timeout_s * 1000, polling="raf"
        )
        return self.page.evaluate(f"() => {records}.at(-1)")


def workbench_tabs(credit: Any) -> list[str]:
    """The tab titles of the tour's Workbench (the demo model), as Python computes them."""
    import xaiwidgets as xw

    model = xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)
    return [tab.title for tab in xw.widgets.TABS if tab.applies(model, credit)]
