"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets."""

from ._explanation import plot, plot_bars, plot_image
from ._flip import (
    plot_bias_test,
    plot_change_frequency,
    plot_directions,
    plot_flip_changes,
    plot_flip_path,
    plot_ranking,
)
from ._normalize import normalize_for_display
from ._regions import plot_curve, plot_region_map
from ._sanity import plot_map_strip, plot_similarity_bars, plot_similarity_curve

__all__ = [
    "normalize_for_display",
    "plot",
    "plot_bars",
    "plot_bias_test",
    "plot_change_frequency",
    "plot_curve",
    "plot_directions",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_image",
    "plot_map_strip",
    "plot_ranking",
    "plot_region_map",
    "plot_similarity_bars",
    "plot_similarity_curve",
]
