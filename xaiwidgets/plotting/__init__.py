"""Pure matplotlib plots: ``Explanation -> Axes``, usable without widgets.

``plot``, ``plot_bars`` and ``plot_image`` draw a finished figure. The displays
(``AttributionBars``, ``AttributionImage``, ``ProbabilityBars``) draw once and then update
their artists in place, and ``LiveFigure`` redraws only what moved: the building blocks
of the widgets, usable for animations too.
"""

from ._attack import SimilarityCurve, plot_explanation_attack
from ._debugging import (
    TrainingExamples,
    detection_curve,
    plot_debug_measures,
    plot_detection_curve,
    plot_training_examples,
)
from ._explanation import AttributionImage, plot, plot_bars, plot_image
from ._flip import (
    FlipPathDisplay,
    plot_bias_test,
    plot_change_frequency,
    plot_directions,
    plot_flip_changes,
    plot_flip_path,
    plot_loadings,
    plot_ranking,
)
from ._live import AttributionBars, LiveFigure, ProbabilityBars
from ._normalize import normalize_for_display
from ._regions import CurveDisplay, RegionMapMarker, plot_curve, plot_region_map
from ._sanity import MapStrip, plot_map_strip, plot_similarity_bars, plot_similarity_curve

__all__ = [
    "AttributionBars",
    "AttributionImage",
    "CurveDisplay",
    "FlipPathDisplay",
    "LiveFigure",
    "MapStrip",
    "ProbabilityBars",
    "RegionMapMarker",
    "SimilarityCurve",
    "TrainingExamples",
    "detection_curve",
    "normalize_for_display",
    "plot",
    "plot_bars",
    "plot_bias_test",
    "plot_change_frequency",
    "plot_curve",
    "plot_debug_measures",
    "plot_detection_curve",
    "plot_directions",
    "plot_explanation_attack",
    "plot_flip_changes",
    "plot_flip_path",
    "plot_image",
    "plot_loadings",
    "plot_map_strip",
    "plot_ranking",
    "plot_region_map",
    "plot_similarity_bars",
    "plot_similarity_curve",
    "plot_training_examples",
]
