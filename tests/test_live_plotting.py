"""In-place displays and blitting: an update shows the same picture as a fresh figure."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

import xaiwidgets as xw
from xaiwidgets.plotting import AttributionBars, AttributionImage, LiveFigure, ProbabilityBars


def _tabular_figure(ds, rows=None):
    figure = Figure(figsize=(6, 5), dpi=80)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, height_ratios=[1, 4])
    probabilities = ProbabilityBars(top, ds.class_names)
    bars = AttributionBars(bottom, ds.feature_names, rows)
    return figure, probabilities, bars


def _draw(ds, *updates):
    """A fresh figure drawn fully after the same updates (they set the scale): the
    oracle for what a blitted update must show."""
    figure, probabilities, bars = _tabular_figure(ds)
    for explanation, reference in updates:
        probabilities.update(explanation.prediction, reference.prediction)
        bars.update(explanation, reference)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba()).copy()


def _differing(a, b):
    return np.mean(np.any(a != b, axis=-1))


def test_blitted_update_looks_like_a_fresh_figure(credit, credit_model):
    ig = xw.explainers.IntegratedGradients(credit_model, baseline="mean")
    x = credit.X_test[0].copy()
    reference = ig.explain(x)
    figure, probabilities, bars = _tabular_figure(credit)
    live = LiveFigure(figure, [probabilities, bars])
    assert not probabilities.update(reference.prediction, reference.prediction)
    assert bars.update(reference, reference)  # first draw sets the scale
    live.render(full=True)
    history = [(reference, reference)]
    # Small moves: same scale, only the artists change; the moved feature's value text
    # is erased and redrawn, longer or shorter than before.
    for debt_ratio, income in [(0.215, 42.0), (0.2, 41.5), (0.2, 4.0), (0.25, 40.0)]:
        x[1], x[0] = debt_ratio, income
        moved = ig.explain(x)
        full = bars.update(moved, reference)
        full |= probabilities.update(moved.prediction, reference.prediction)
        blitted = live.render(full=full).copy()
        history.append((moved, reference))
        fresh = _draw(credit, *history)
        # Same pixels except where blitted artists now lie above the zero line and
        # grid (drawn last instead of in z-order): about 0.1 % of the image.
        assert _differing(blitted, fresh) < 0.005
        # Left of the axes (names and the redrawn value texts) they are identical.
        left = int(bars.ax.bbox.x0) - 2
        np.testing.assert_array_equal(blitted[:, :left], fresh[:, :left])
    assert not full  # the moves were small enough to keep the scale
    # And the updates changed the picture.
    assert _differing(blitted, _draw(credit, (reference, reference))) > 0.001


def test_attribution_bars_rows_other_row_and_rescaling(credit, credit_model):
    e = xw.explainers.Gradient(credit_model).explain(credit.X_test[0])
    _, _, bars = _tabular_figure(credit, rows=[2, 0, 5])
    assert bars.update(e)
    widths = [b.get_width() for b in bars.bars]
    expected = [e.values[2], e.values[0], e.values[5], np.delete(e.values, [0, 2, 5]).sum()]
    np.testing.assert_allclose(widths, expected)
    assert bars.ax.get_yticklabels()[-1].get_text() == "10 other features"
    data = credit.X_test[0]
    assert [t.get_text() for t in bars.values] == [f"{data[c]:.3g}" for c in (2, 0, 5)]
    # Values that fit keep the scale; values that outgrow it rescale.
    limit = bars.ax.get_xlim()
    small = e.__class__(**{**e.__dict__, "values": e.values * 0.9})
    assert not bars.update(small) and bars.ax.get_xlim() == limit
    large = e.__class__(**{**e.__dict__, "values": e.values * 5})
    assert bars.update(large) and bars.ax.get_xlim()[1] > limit[1]
    with pytest.raises(ValueError, match="distinct column indices"):
        AttributionBars(Figure().add_subplot(), credit.feature_names, rows=[0, 0])


def test_reference_ticks_and_changed_values(credit, credit_model):
    gradient = xw.explainers.Gradient(credit_model)
    reference = gradient.explain(credit.X_test[0])
    x = credit.X_test[0].copy()
    x[0] = 99.0
    moved = gradient.explain(x)
    _, probabilities, bars = _tabular_figure(credit)
    bars.update(moved, reference)
    xs, _ = bars.marker.get_data()
    np.testing.assert_allclose(np.asarray(xs)[0::3], reference.values)
    assert (
        bars.values[0].get_fontweight() == "bold" and bars.values[1].get_fontweight() == "normal"
    )
    probabilities.update(moved.prediction, reference.prediction)
    xs, _ = probabilities.marker.get_data()
    np.testing.assert_allclose(np.asarray(xs)[0::3], reference.prediction)
    with pytest.raises(ValueError, match="one probability per class"):
        probabilities.update([0.2, 0.3, 0.5])


def test_attribution_image_overlay_is_transparent_where_attribution_is_small(digits, digits_cnn):
    e = xw.explainers.Gradient(digits_cnn).explain(digits.X_test[0])
    display = AttributionImage(Figure().add_subplot(), style="overlay", alpha=0.8)
    assert display.update(e)
    normalized, _ = xw.plotting.normalize_for_display(e.values[0], "absolute", 99.0)
    heat = display.artists[1]
    np.testing.assert_allclose(heat.get_alpha(), 0.8 * normalized)
    np.testing.assert_allclose(heat.get_array(), normalized)


def test_png_bytes_decode_exactly(credit, credit_model):
    import io

    import PIL.Image

    from xaiwidgets.widgets import png_bytes

    figure, _, bars = _tabular_figure(credit)
    bars.update(xw.explainers.Gradient(credit_model).explain(credit.X_test[0]))
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    decoded = np.asarray(PIL.Image.open(io.BytesIO(png_bytes(rgba))))
    np.testing.assert_array_equal(decoded, rgba)
    with pytest.raises(ValueError, match="height, width, 4"):
        png_bytes(rgba[..., :3])
