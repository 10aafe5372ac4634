"""A generated credit-approval table with a documented rule and a hidden, local bias.

The label comes from a known scoring rule, so tests and lessons can check an
explanation against the truth. The rule penalises the protected attribute ``group``
**only** for young applicants with short employment (``age < 30`` and
``years_employed < 3``): averaged over everyone the effect is small, so the
probability outputs barely show it, while a local audit (flip points restricted to
that subspace) finds it.
"""

from __future__ import annotations

import numpy as np

from ..core.dataset import Dataset, Feature
from ..core.validation import check_int

__all__ = ["credit_score", "in_bias_subspace", "load_credit"]

EMPLOYMENT = ("salaried", "self-employed", "contract", "unemployed")

#: Continuous and integer columns, in order, with their plausible bounds.
_NUMERIC = (
    ("income", "continuous", (10.0, 250.0)),  # thousand dollars a year
    ("debt_ratio", "continuous", (0.0, 1.5)),  # monthly debt / monthly income
    ("age", "integer", (18.0, 75.0)),
    ("years_employed", "integer", (0.0, 45.0)),
    ("late_payments", "integer", (0.0, 12.0)),  # in the last two years
    ("savings", "continuous", (0.0, 300.0)),  # thousand dollars
    ("loan_amount", "continuous", (1.0, 60.0)),  # thousand dollars
    ("dependents", "integer", (0.0, 5.0)),
)

#: Weights of the documented scoring rule (see :func:`credit_score`).
RULE_WEIGHTS = {
    "log_income": 1.2,
    "debt_ratio": -3.0,
    "age": 0.02,
    "years_employed": 0.08,
    "late_payments": -0.6,
    "log_savings": 0.5,
    "loan_amount": -0.03,
    "dependents": 0.0,
    "employment": {"salaried": 0.4, "self-employed": 0.0, "contract": -0.2, "unemployed": -1.0},
    "group_in_subspace": -2.5,
    "intercept": 0.9,
}

#: The sign of each feature's effect on approval under the rule (0: ignored).
EFFECT_SIGNS = {
    "income": 1,
    "debt_ratio": -1,
    "age": 1,
    "years_employed": 1,
    "late_payments": -1,
    "savings": 1,
    "loan_amount": -1,
    "dependents": 0,
    "group": -1,
}

_COLUMNS = [name for name, _, _ in _NUMERIC] + [f"employment={e}" for e in EMPLOYMENT] + ["group"]
_INDEX = {name: i for i, name in enumerate(_COLUMNS)}


def in_bias_subspace(X: np.ndarray) -> np.ndarray:
    """Rows where the rule uses ``group``: ``age < 30`` and ``years_employed < 3``.

    Parameters
    ----------
    X : ndarray of shape (n, 13)
        Rows of ``load_credit`` data.

    Returns
    -------
    ndarray of bool, shape (n,)

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> round(float(in_bias_subspace(ds.X_train).mean()), 2)
    0.17
    """
    X = np.asarray(X, dtype=float)
    return (X[:, _INDEX["age"]] < 30) & (X[:, _INDEX["years_employed"]] < 3)


def credit_score(X: np.ndarray) -> np.ndarray:
    """The documented approval score; the label is ``score + noise > 0``.

    ``score = 1.2 log(income / 50) - 3 (debt_ratio - 0.35) + 0.02 (age - 40)
    + 0.08 years_employed - 0.6 late_payments + 0.5 log(1 + savings / 10)
    - 0.03 (loan_amount - 15) + w_employment - 2.5 group [age < 30 and years_employed < 3]
    + 0.9``, with ``w_employment`` = 0.4 (salaried), 0 (self-employed), -0.2
    (contract), -1 (unemployed). ``dependents`` has no effect.

    Parameters
    ----------
    X : ndarray of shape (n, 13)
        Rows of ``load_credit`` data.

    Returns
    -------
    ndarray of shape (n,)

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> float(((credit_score(ds.X_test) > 0) == ds.y_test).mean()) > 0.8
    True
    """
    X = np.asarray(X, dtype=float)
    w = RULE_WEIGHTS

    def col(name: str) -> np.ndarray:
        return X[:, _INDEX[name]]

    employment = sum(w["employment"][e] * col(f"employment={e}") for e in EMPLOYMENT)
    return (
        w["log_income"] * np.log(np.maximum(col("income"), 1e-3) / 50.0)
        + w["debt_ratio"] * (col("debt_ratio") - 0.35)
        + w["age"] * (col("age") - 40.0)
        + w["years_employed"] * col("years_employed")
        + w["late_payments"] * col("late_payments")
        + w["log_savings"] * np.log1p(np.maximum(col("savings"), 0.0) / 10.0)
        + w["loan_amount"] * (col("loan_amount") - 15.0)
        + w["dependents"] * col("dependents")
        + employment
        + w["group_in_subspace"] * col("group") * in_bias_subspace(X)
        + w["intercept"]
    )


def _generate(n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` applicants from the documented generative process."""
    employment = rng.choice(len(EMPLOYMENT), size=n, p=[0.55, 0.2, 0.17, 0.08])
    age = np.clip(np.round(18 + rng.gamma(2.2, 9.0, size=n)), 18, 75)
    max_years = np.minimum(age - 18, 45)
    years = np.floor(rng.uniform(size=n) ** 1.3 * (max_years + 1))
    years = np.where(employment == EMPLOYMENT.index("unemployed"), 0, np.minimum(years, max_years))
    income = np.clip(rng.lognormal(np.log(45) + 0.01 * (age - 35), 0.45, size=n), 10, 250)
    income = np.where(
        employment == EMPLOYMENT.index("unemployed"), np.clip(income * 0.4, 10, 250), income
    )
    columns = {
        "income": np.round(income, 1),
        "debt_ratio": np.round(np.clip(rng.beta(2.0, 5.0, size=n) * 1.2, 0, 1.5), 3),
        "age": age,
        "years_employed": years,
        "late_payments": np.clip(rng.poisson(0.8, size=n), 0, 12),
        "savings": np.round(
            np.clip(rng.lognormal(np.log(8) + 0.02 * (age - 35), 1.0, size=n), 0, 300), 1
        ),
        "loan_amount": np.round(np.clip(rng.gamma(3.0, 5.0, size=n), 1, 60), 1),
        "dependents": np.clip(rng.poisson(1.0, size=n), 0, 5),
    }
    one_hot = np.eye(len(EMPLOYMENT))[employment]
    group = (rng.uniform(size=n) < 0.4).astype(float)
    return np.column_stack([columns[name] for name, _, _ in _NUMERIC] + [one_hot, group])


def load_credit(n: int = 8000, seed: int = 0, noise: float = 0.5) -> Dataset:
    """A generated credit-approval table with a hidden bias in one subspace.

    Thirteen columns for ten features: income, debt ratio, age, years employed, late
    payments, savings, loan amount, dependents (ignored by the rule), a categorical
    employment type (one-hot, four columns) and a binary protected attribute
    ``group``. The label (approved = 1) is ``credit_score(X) + N(0, noise^2) > 0``;
    see :func:`credit_score` for the rule. The rule penalises ``group = 1`` only when
    ``age < 30`` and ``years_employed < 3``.

    Parameters
    ----------
    n : int, default=8000
        Number of applicants (75 % train, 25 % test).
    seed : int, default=0
        Seed of the generation and the split.
    noise : float, default=0.5
        Standard deviation of the Gaussian noise added to the score.

    Returns
    -------
    Dataset
        ``ground_truth`` holds ``score`` (the rule as a function), ``weights``,
        ``effect_signs``, ``bias_feature``, ``bias_effect`` and ``in_bias_subspace``.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> ds.feature("employment").categories
    ('salaried', 'self-employed', 'contract', 'unemployed')
    >>> ds.ground_truth["bias_feature"]
    'group'
    """
    n = check_int(n, "n", low=20)
    seed = check_int(seed, "seed", low=0)
    rng = np.random.default_rng(seed)
    X = _generate(n, rng)
    y = (credit_score(X) + rng.normal(0.0, noise, size=n) > 0).astype(int)
    n_train = round(0.75 * n)
    features = [
        Feature(name, kind, (i,), bounds) for i, (name, kind, bounds) in enumerate(_NUMERIC)
    ]
    first = len(_NUMERIC)
    features.append(
        Feature(
            "employment",
            "categorical",
            tuple(range(first, first + len(EMPLOYMENT))),
            (0.0, 1.0),
            EMPLOYMENT,
        )
    )
    features.append(Feature("group", "integer", (len(_COLUMNS) - 1,), (0.0, 1.0)))
    return Dataset(
        name="credit",
        X_train=X[:n_train],
        y_train=y[:n_train],
        X_test=X[n_train:],
        y_test=y[n_train:],
        feature_names=list(_COLUMNS),
        class_names=["denied", "approved"],
        kind="tabular",
        features=features,
        description=(
            "Generated credit applications (xaiwidgets.datasets.load_credit). The label "
            "follows a documented score (credit_score) plus Gaussian noise; the protected "
            "attribute 'group' lowers the score by 2.5 only for applicants under 30 with "
            "fewer than 3 years of employment."
        ),
        ground_truth={
            "score": credit_score,
            "weights": RULE_WEIGHTS,
            "effect_signs": EFFECT_SIGNS,
            "bias_feature": "group",
            "bias_effect": RULE_WEIGHTS["group_in_subspace"],
            "in_bias_subspace": in_bias_subspace,
            "noise": noise,
        },
    )
