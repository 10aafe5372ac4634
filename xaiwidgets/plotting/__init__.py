"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets."""

from ._explanation import plot, plot_bars, plot_image
from ._normalize import normalize_for_display
from ._regions import plot_curve, plot_region_map

__all__ = [
    "normalize_for_display",
    "plot",
    "plot_bars",
    "plot_curve",
    "plot_image",
    "plot_region_map",
]
