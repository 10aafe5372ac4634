"""The tour in a real browser: JupyterLab in headless Chromium (Playwright).

A local JupyterLab server (free port, token, temporary configuration) opens a copy of
``notebooks/00_tour.ipynb``; the page runs all cells as a user would, every widget
must render, and a feature slider moved with the keyboard must change the prediction
text (checked against the model called directly) and the explanation image; every
Workbench tab must render when opened (``test_voila.py`` does Voila). Screenshots for
the README go to
``docs/images/`` (or ``$XAIWIDGETS_SCREENSHOT_DIR``).

Without Chromium (or Playwright, JupyterLab, Voila) the tests skip, saying why; with
``XAIWIDGETS_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import jupyter_browser as jb
import numpy as np
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_page_errors")]

TOUR = jb.TOUR
TOUR_WIDGETS = jb.TOUR_WIDGETS
SCREENSHOTS = Path(os.environ.get("XAIWIDGETS_SCREENSHOT_DIR", jb.ROOT / "docs" / "images"))
EXPLORE = ".xw-workbench .xw-explainer-widget"
_tabs = jb.workbench_tabs


def _plain(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


@pytest.fixture(scope="module")
def lab(browser, tour_server):
    """The tour open in JupyterLab with every cell run."""
    # Tall enough that the widgets fit on screen whole (JupyterLab scrolls inside the
    # notebook panel, so an element screenshot cannot show what is scrolled away).
    page = browser.page(width=1600, height=2600)
    jb.open_and_run(page, tour_server, TOUR.name)
    yield page
    page.context.close()


def _eventually(condition, page, timeout_s=20.0):
    """Whether ``condition()`` becomes true within the time (checked every 100 ms)."""
    for _ in range(int(timeout_s * 10)):
        if condition():
            return True
        page.wait_for_timeout(100)
    return condition()


def _screenshot(locator, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / name), animations="disabled")


def test_the_tour_runs_in_jupyterlab_and_every_widget_renders(lab, tour_server, credit):
    state = jb.wait_rendered(lab, ".jp-Notebook", TOUR_WIDGETS, all_outputs=True)
    assert state["expected"] == TOUR_WIDGETS, "the tour shows the Workbench and 4 widgets"
    assert state["views"] == TOUR_WIDGETS, f"some widgets did not render: {state}"
    assert state["failures"] == []
    assert state["figures"] >= TOUR_WIDGETS and state["blank_figures"] == 0
    assert state["errors"] == []
    text = lab.locator(".jp-Notebook").inner_text()
    assert not any(failure in text for failure in jb.WIDGET_FAILURES)
    workbench = lab.locator(".xw-workbench").first
    assert workbench.locator(".lm-TabBar-tab").all_inner_texts() == _tabs(credit)
    assert "credit data" in workbench.inner_text()
    assert "Traceback" not in tour_server.log()
    _screenshot(workbench, "workbench.png")


def test_a_slider_moved_with_the_keyboard_updates_prediction_and_explanation(lab, credit):
    import xaiwidgets as xw
    from xaiwidgets.widgets._explainer import prediction_html

    explore = lab.locator(EXPLORE).first
    prediction = explore.locator(".xw-prediction")
    figure = explore.locator("img.xw-figure")
    slider = jb.slider(explore, "late_payments")
    before_text = prediction.inner_text()
    before_image = jb.image_digest(lab, figure)
    assert slider.locator(".widget-readout").inner_text() == "0"

    slider.locator(".noUi-handle").press("ArrowRight")
    expect_value = "1"
    lab.wait_for_function(
        "([el, text]) => el.textContent.trim() === text",
        arg=[slider.locator(".widget-readout").element_handle(), expect_value],
        timeout=10_000,
    )
    lab.wait_for_function(
        "([el, text]) => el.innerText !== text && el.innerText.includes('original input')",
        arg=[prediction.element_handle(), before_text],
        timeout=20_000,
    )
    # The oracle: the demo model called directly on the moved input.
    model = xw.wrap(xw.zoo.train_mlp(credit, progress=False), credit)
    x = credit.X_test[0].copy()
    x[credit.feature_names.index("late_payments")] += 1
    expected = prediction_html(
        model.predict_proba(x)[0], model.predict_proba(credit.X_test[0])[0], credit.class_names
    )
    assert _plain(prediction.inner_text()) == _plain(expected)
    assert _eventually(lambda: jb.image_digest(lab, figure) != before_image, lab)
    assert "was 0" in explore.inner_text()  # the original value stays beside the slider
    assert np.isclose(float(slider.locator(".widget-readout").inner_text()), 1)


def readouts(widget):
    """The values shown beside the sliders of a widget."""
    return widget.locator(".xw-inputs .widget-slider .widget-readout").all_inner_texts()


def test_every_tab_renders_when_first_opened_on_the_same_input(lab, credit):
    workbench = lab.locator(".xw-workbench").first
    explore = workbench.locator(".xw-explainer-widget")
    age = jb.slider(explore, "age")
    start = int(age.locator(".widget-readout").inner_text())
    age.locator(".noUi-handle").press("ArrowLeft")
    lab.wait_for_function(
        "([el, text]) => el.textContent.trim() === text",
        arg=[age.locator(".widget-readout").element_handle(), str(start - 1)],
        timeout=10_000,
    )
    moved = readouts(explore)
    titles = _tabs(credit)
    for opened, title in enumerate(titles[1:], start=1):
        # Built on first opening: until then the Workbench holds one widget per opened tab.
        assert workbench.locator(".xw-widget").count() == opened
        workbench.locator(".lm-TabBar-tab", has_text=title).click()
        shown = workbench.locator(".xw-widget:visible")
        shown.first.wait_for(timeout=60_000)
        assert shown.count() == 1
        state = jb.wait_rendered(lab, ".xw-workbench", timeout_s=180)
        assert state["figures"] >= 1 and state["blank_figures"] == 0, (title, state)
        assert state["errors"] == [], title
        if shown.locator(".xw-inputs").count():  # a tab with an input shows the moved one
            assert readouts(shown) == moved, title
        _screenshot(workbench, f"workbench_{title.lower().replace(' ', '_')}.png")
    compare = workbench.locator(".xw-compare-widget")
    assert jb.slider(compare, "age").locator(".widget-readout").inner_text() == str(start - 1)
    assert "Agreement" in compare.inner_text()
    workbench.locator(".lm-TabBar-tab", has_text=titles[0]).click()
    explore.wait_for(state="visible")
