"""Shared fixtures: bundled data sets and demo models, trained once per session.

Models are cached in the user's cache directory by ``xw.zoo`` (training is
deterministic), so a second test run starts fast.
"""

from __future__ import annotations

import os

import pytest

import xaiwidgets as xw


@pytest.fixture(scope="session")
def credit():
    return xw.datasets.load_credit()


@pytest.fixture(scope="session")
def credit_model(credit):
    return xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)


@pytest.fixture(scope="session")
def digits():
    return xw.datasets.load_digits()


@pytest.fixture(scope="session")
def digits_cnn(digits):
    return xw.wrap(xw.zoo.train_cnn(digits, progress=False), digits)


@pytest.fixture(scope="session")
def digits_mlp(digits):
    return xw.wrap(xw.zoo.train_mlp(digits, hidden=(64, 64), progress=False), digits)


@pytest.fixture(scope="session")
def breast_cancer():
    return xw.datasets.load_breast_cancer()


@pytest.fixture(scope="session")
def breast_cancer_model(breast_cancer):
    return xw.wrap(xw.zoo.train_mlp(breast_cancer, progress=False), breast_cancer)


@pytest.fixture(scope="session")
def pipeline_model(credit):
    """A scikit-learn pipeline (no gradients) on the credit data."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    return xw.wrap(pipe.fit(credit.X_train, credit.y_train), credit)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Compute the oracles as the widgets' worker threads do, on one torch thread.

    With two threads a matrix product or a convolution sums in another order and
    float32 results differ in the last bit. The setting is per thread for OpenMP but
    global for MKL, so it is held for a whole module (``pytestmark =
    pytest.mark.usefixtures("one_torch_thread")``) rather than toggled per call.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def widgets():
    """Create widgets through this list; they are closed (threads stopped) afterwards."""
    made = []
    yield made
    for w in made:
        w.close()


def browser_required() -> bool:
    """CI sets XAIWIDGETS_REQUIRE_BROWSER=1: browser tests must run, not skip."""
    return os.environ.get("XAIWIDGETS_REQUIRE_BROWSER", "") == "1"


# ---------------------------------------------------------------- real-browser tests
@pytest.fixture(scope="module")
def browser():
    """Headless Chromium through Playwright (tests/jupyter_browser.py), one per module.

    Skips, saying why, without Chromium, Playwright, JupyterLab or Voila; fails instead
    when XAIWIDGETS_REQUIRE_BROWSER=1.
    """
    import jupyter_browser as jb

    reason = jb.missing_requirements()
    if reason is not None:
        if browser_required():
            pytest.fail(f"XAIWIDGETS_REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(f"browser tests skipped: {reason}")
    with jb.Browser() as browser:
        yield browser


@pytest.fixture(scope="module")
def tour_server(browser, credit, digits):
    """A JupyterLab server (with Voila) holding a copy of the tour, for one module.

    The tour's models are trained here first, so the kernels find them cached and the
    tour shows its widgets rather than training progress bars. Each module has its own
    server: the kernels of one module's pages are gone before the next module starts
    (two kernels computing at once on 2 cores starve each other's widgets).
    """
    import jupyter_browser as jb

    xw.zoo.train_mlp(credit, progress=False)
    xw.zoo.train_cnn(digits, progress=False)
    with jb.JupyterServer([jb.TOUR]) as server:
        yield server


@pytest.fixture
def no_page_errors(browser):
    """The test ends without script errors, console errors or network requests."""
    browser.page_errors.clear()
    browser.console_errors.clear()
    yield
    assert browser.page_errors == [], "uncaught errors in the page"
    assert browser.console_errors == [], "errors on the browser console"
    assert browser.blocked == [], "requests to the network"
