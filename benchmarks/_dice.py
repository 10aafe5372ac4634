"""DiCE (Mothilal et al. 2020, ``dice-ml``) as a reference for the counterfactual benchmarks.

``dice-ml`` is optional (the ``bench`` extra): :func:`dice_data` raises ImportError
without it, and the benchmarks print a reason instead of a row.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any

import numpy as np

#: What a benchmark prints where dice-ml is missing.
MISSING = "dice-ml is not installed (pip install dice-ml): DiCE skipped"


def dice_data(dataset: Any) -> tuple[Any, Any, list[str]]:
    """The ``dice_ml`` module, DiCE's view of the training data, and the feature names.

    Raises
    ------
    ImportError
        Without dice-ml.
    """
    import dice_ml
    import pandas as pd

    names = list(dataset.feature_names)
    frame = pd.DataFrame(dataset.X_train, columns=names)
    frame["label"] = dataset.y_train
    data = dice_ml.Data(dataframe=frame, continuous_features=names, outcome_name="label")
    return dice_ml, data, names


def run_dice(
    explainer: Any, X: np.ndarray, names: list[str], **options: Any
) -> tuple[list[np.ndarray | None], list[float]]:
    """One counterfactual of the opposite class per row (None where DiCE finds none),
    and the seconds each took; DiCE's warnings and log lines are silenced."""
    import pandas as pd

    points, times = [], []
    logging.disable(logging.WARNING)  # DiCE logs a warning per zero-MAD column
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for x in X:
                query = pd.DataFrame(x[None], columns=names)
                start = time.perf_counter()
                try:
                    result = explainer.generate_counterfactuals(
                        query, total_CFs=1, desired_class="opposite", verbose=False, **options
                    )
                    cfs = result.cf_examples_list[0].final_cfs_df
                except Exception:  # DiCE raises when it finds no counterfactual
                    cfs = None
                times.append(time.perf_counter() - start)
                found = cfs is not None and len(cfs) > 0
                points.append(cfs[names].to_numpy(float)[0] if found else None)
    finally:
        logging.disable(logging.NOTSET)
    return points, times
