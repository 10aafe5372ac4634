"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets.

``plot``, ``plot_bars`` and ``plot_image`` draw a finished figure. The displays
(``AttributionBars``, ``AttributionImage``, ``ProbabilityBars``) draw once and then update
their artists in place, and ``LiveFigure`` redraws only what moved: the building blocks
of the widgets, usable for animations too.
"""

from ._attack import SimilarityCurve, plot_explanation_attack
from ._explanation import AttributionImage, plot, plot_bars, plot_image
from ._flip import (
    plot_bias_test,
    plot_change_frequency,
    plot_directions,
    plot_flip_changes,
    plot_flip_path,
    plot_ranking,
)
from ._live import AttributionBars, LiveFigure, ProbabilityBars
from ._normalize import normalize_for_display
from ._sanity import plot_map_strip, plot_similarity_bars, plot_similarity_curve

__all__ = [
    "AttributionBars",
    "AttributionImage",
    "LiveFigure",
    "ProbabilityBars",
    "SimilarityCurve",
    "normalize_for_display",
    "plot",
    "plot_bars",
    "plot_bias_test",
    "plot_change_frequency",
    "plot_directions",
    "plot_explanation_attack",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_image",
    "plot_map_strip",
    "plot_ranking",
    "plot_similarity_bars",
    "plot_similarity_curve",
]
