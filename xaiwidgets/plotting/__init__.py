"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets."""

from ._explanation import plot, plot_bars, plot_image
from ._normalize import normalize_for_display

__all__ = ["normalize_for_display", "plot", "plot_bars", "plot_image"]
