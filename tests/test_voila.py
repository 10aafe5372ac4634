"""The tour as a Voila app in headless Chromium: the Workbench and every widget render.

Its own module, so its own JupyterLab server: the JupyterLab tests' kernel is shut down
before Voila's starts (on 2 cores two kernels computing at once starve each other).
Skips without Chromium like ``test_browser.py``; ``XAIWIDGETS_REQUIRE_BROWSER=1`` makes
it fail instead.
"""

from __future__ import annotations

import jupyter_browser as jb
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("no_page_errors")]


def test_voila_renders_the_workbench(browser, tour_server, credit):
    page = browser.page(width=1300, height=1000)
    try:
        page.goto(tour_server.voila_url(jb.TOUR.name), timeout=180_000)
        workbench = page.locator(".xw-workbench").first
        workbench.wait_for(state="visible", timeout=180_000)
        state = jb.wait_rendered(page, "body", jb.TOUR_WIDGETS, timeout_s=240)
        assert state["views"] >= jb.TOUR_WIDGETS, f"some widgets did not render: {state}"
        assert state["failures"] == [], state["failures"]
        assert state["blank_figures"] == 0, f"blank figures in {state['blank_where']}"
        assert state["errors"] == []
        assert workbench.locator(".lm-TabBar-tab").all_inner_texts() == jb.workbench_tabs(credit)
        assert workbench.locator(".xw-explainer-widget img.xw-figure").count() == 1
        assert "Traceback" not in page.inner_text("body")
        assert "Traceback" not in tour_server.log()
    finally:
        page.context.close()
