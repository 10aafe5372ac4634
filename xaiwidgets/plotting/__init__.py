"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets."""

from ._explanation import plot, plot_bars, plot_image
from ._normalize import normalize_for_display

__all__ = ["normalize_for_display", "plot", "plot_bars", "plot_image"]

# Sanity-check figures (issue 6).
from ._sanity import plot_map_strip, plot_similarity_bars, plot_similarity_curve

__all__ += ["plot_map_strip", "plot_similarity_bars", "plot_similarity_curve"]
