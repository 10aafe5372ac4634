"""Planted model bugs for the debugging lab (Adebayo 2022), as ``xw.bugs``.

>>> import xaiwidgets as xw
>>> bug = xw.bugs.spurious_signal(xw.datasets.load_digits(), kind="tag", aligned_class=0)
>>> bug.description.startswith("Spurious signal")
True
"""

from .analysis.bugs import (
    Bug,
    NoisyLabels,
    OutOfDistribution,
    ParameterRandomization,
    SpuriousSignal,
    clear_cache,
    noise_images,
    noisy_labels,
    out_of_distribution,
    parameter_randomization,
    spurious_signal,
    train_pair,
)

__all__ = [
    "Bug",
    "NoisyLabels",
    "OutOfDistribution",
    "ParameterRandomization",
    "SpuriousSignal",
    "clear_cache",
    "noise_images",
    "noisy_labels",
    "out_of_distribution",
    "parameter_randomization",
    "spurious_signal",
    "train_pair",
]
