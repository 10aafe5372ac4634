"""Flip-point analyses: individual report, group audit, bias test, debugging.

Yousefzadeh & O'Leary, "Auditing and Debugging Deep Learning Models via Flip Points:
Individual-Level and Group-Level Analysis", La Matematica (2022):

- :func:`report` is their Algorithm 1 (an explanation report for one input): the closest
  flip point, then flip points constrained to each feature, to user-defined groups of
  features and optionally to all pairs; which subspaces cannot flip the decision, which
  can and with what values, flagged where a value leaves the training data's range.
- :func:`audit` is their Algorithm 2 (group-level analysis): flip points of many inputs,
  the directions ``F = flip point - x``, a feature ranking by QR with column pivoting of
  ``F``, principal components of ``F``, and how often each feature changes, split by
  correct/incorrect classification and by direction of the flip.
- :func:`bias_test` flips a binary attribute of every input (paired counterfactuals) and
  compares predictions, scores and distances to the decision boundary.
- :func:`augment` is their debugging procedure (Sections 4.3 and 5.2.4): add flip points
  constrained to a biased feature to the training set with the original labels, retrain,
  and compare the ranking of that feature and the accuracy before and after.

Flip points of many inputs are computed in parallel with joblib (``n_jobs``; a Dask or
Ray cluster takes over through ``joblib.parallel_config(backend=...)``), show a progress
bar, and can be interrupted (Ctrl-C, or a ``should_stop`` callable): what was finished is
kept and the result says it is incomplete.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import qr
from scipy.stats import wilcoxon

from ..core.dataset import Dataset
from ..core.model import Model, wrap
from ..core.seeding import numpy_rng
from ..core.validation import as_numpy, check_int, check_option, check_real
from ..explainers.flip_points import (
    _SOLVER_DEFAULTS,
    FlipConstraints,
    FlipPoint,
    _flip_options,
    _make_solver,
    single_threaded,
    solve_rows,
)

__all__ = [
    "AugmentResult",
    "BiasTest",
    "FlipAudit",
    "FlipReport",
    "audit",
    "augment",
    "bias_test",
    "report",
]

Progress = bool | Callable[[int, int], None]


# ====================================================================== helpers
def _domain(
    model: Model, constraints: FlipConstraints | None, options: Mapping[str, Any]
) -> tuple[FlipConstraints, dict[str, Any]]:
    """FlipConstraints from ``constraints=`` or the domain keywords, and solver options."""
    domain_keys = ("fixed", "free", "bounds", "monotone", "scale", "norm", "discrete")
    unknown = sorted(set(options) - set(domain_keys) - set(_SOLVER_DEFAULTS) - {"classes"})
    if unknown:
        allowed = sorted([*domain_keys, *_SOLVER_DEFAULTS, "classes"])
        raise TypeError(f"Unknown option(s) {unknown}; allowed: {allowed}.")
    domain = {
        "fixed": options.get("fixed"),
        "free": options.get("free"),
        "bounds": options.get("bounds", "data"),
        "monotone": options.get("monotone"),
        "scale": options.get("scale", "auto"),
        "norm": options.get("norm", "l2"),
        "discrete": options.get("discrete", True),
    }
    resolved = _flip_options(model, constraints=constraints, **domain)
    solver = {k: options.get(k, v) for k, v in _SOLVER_DEFAULTS.items()}
    solver["classes"] = options.get("classes")
    # Validate the solver options once, at the edge.
    _make_solver(model, resolved, **solver)
    return resolved, solver


class _Progress:
    """A tqdm bar, a user callback ``(done, total)``, or nothing."""

    def __init__(self, progress: Progress, total: int, description: str) -> None:
        self.callback = progress if callable(progress) else None
        self.bar = None
        self.done = 0
        self.total = total
        if progress is True:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, leave=False)

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_progress(progress: Any) -> Progress:
    if isinstance(progress, bool) or callable(progress):
        return progress
    raise TypeError(f"progress must be True, False or a callable(done, total); got {progress!r}.")


def flip_points(
    model: Model,
    X: np.ndarray,
    constraints: FlipConstraints,
    solver_options: dict[str, Any],
    *,
    n_jobs: int | None = None,
    progress: Progress = True,
    should_stop: Callable[[], bool] | None = None,
    description: str = "flip points",
) -> tuple[list[FlipPoint | None], bool]:
    """Flip points of every row of a validated batch, in parallel with joblib.

    Returns the points (None for rows not reached) and whether every row was done.
    Interrupting (Ctrl-C, or ``should_stop()`` returning True) keeps what was finished.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    rows = X.reshape(len(X), -1)
    n = len(rows)
    results: list[FlipPoint | None] = [None] * n
    bar = _Progress(progress, n, description)
    workers = effective_n_jobs(n_jobs) if n_jobs not in (None, 1) else 1
    try:
        if workers == 1:
            solver = _make_solver(model, constraints, **solver_options)
            with solver.session():
                for k, row in enumerate(rows):
                    if should_stop is not None and should_stop():
                        break
                    results[k] = solver.solve(row)
                    bar.update(1)
        else:
            chunks = [c for c in np.array_split(np.arange(n), min(n, 4 * workers)) if len(c)]
            tasks = (
                delayed(solve_rows)(model, rows[c], constraints, solver_options) for c in chunks
            )
            outputs = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
            for chunk, points in zip(chunks, outputs, strict=False):
                for k, point in zip(chunk, points, strict=True):
                    results[k] = point.with_model(model)
                bar.update(len(chunk))
                if should_stop is not None and should_stop():
                    break
    except KeyboardInterrupt:
        done = sum(r is not None for r in results)
        warnings.warn(
            f"Interrupted after {done} of {n} flip points; the result covers those rows "
            "(its `complete` is False).",
            stacklevel=3,
        )
    finally:
        bar.close()
    return results, all(r is not None for r in results)


def _format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    value = float(value) + 0.0  # -0.0 (a rounded tiny negative) reads as 0
    return f"{value:.0f}" if value.is_integer() else f"{value:.4g}"


def _implausible(fp: FlipPoint) -> list[str]:
    """Changed features whose flip value lies outside the training data's range."""
    data_range = fp.constraints.data_range
    if fp.point is None or data_range is None:
        return []
    point = fp.point.reshape(-1)
    flagged = []
    for f in fp.constraints.features:
        if f.kind == "categorical":
            continue
        c = f.columns[0]
        low, high = data_range[c]
        if point[c] < low - 1e-9 or point[c] > high + 1e-9:
            flagged.append(f.name)
    return flagged


def _changes_text(fp: FlipPoint) -> str:
    table = fp.changes(include_relaxed=False)
    return ", ".join(
        f"{row['feature']} {_format_value(row['original'])} → {_format_value(row['flip value'])}"
        for row in table.to_dict("records")
    )


# ====================================================================== report
@dataclass(frozen=True, eq=False)
class FlipReport:
    """An explanation report for one input (Algorithm 1 of Yousefzadeh & O'Leary 2022).

    Attributes
    ----------
    x : ndarray
        The explained input.
    prediction : int
        Its class.
    flip_points : dict of str to FlipPoint
        One flip point per subspace: ``"all features"``, each feature, each group and
        (optionally) each pair, by name.
    kinds : dict of str to str
        The kind of each subspace: ``"all"``, ``"feature"``, ``"group"`` or ``"pair"``.
    table : DataFrame
        One row per subspace: ``subspace``, ``kind``, ``can flip``, ``distance``,
        ``flips to``, ``changes`` (original → flip value of each changed feature),
        ``implausible`` (changed features outside the training range) and ``note``.
    class_names : list of str

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> r = xw.flip.report(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
    >>> "dependents" in r.cannot_flip
    True
    >>> r.table.columns[:3].tolist()
    ['subspace', 'kind', 'can flip']
    """

    x: np.ndarray
    prediction: int
    flip_points: dict[str, FlipPoint]
    kinds: dict[str, str]
    table: pd.DataFrame
    class_names: list[str]

    @property
    def closest(self) -> FlipPoint:
        """The closest flip point over every subspace (normally the unconstrained one)."""
        feasible = [fp for fp in self.flip_points.values() if fp.feasible]
        if not feasible:
            return self.flip_points["all features"]
        return min(feasible, key=lambda fp: fp.distance)

    @property
    def can_flip(self) -> list[str]:
        """Subspaces in which the decision can flip."""
        return [name for name, fp in self.flip_points.items() if fp.feasible]

    @property
    def cannot_flip(self) -> list[str]:
        """Subspaces in which no change can flip the decision."""
        return [name for name, fp in self.flip_points.items() if not fp.feasible]

    def changes(self, subspace: str = "all features") -> pd.DataFrame:
        """Original → flip value of the features that change, for one subspace.

        Columns ``feature``, ``original``, ``flip value``, ``change``, ``scaled change``
        and ``implausible`` (outside the training range).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> r = xw.flip.report(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[0])
        >>> r.changes("income")["feature"].tolist()
        ['income']
        """
        if subspace not in self.flip_points:
            raise ValueError(
                f"No subspace {subspace!r} in this report; it has: {', '.join(self.flip_points)}."
            )
        fp = self.flip_points[subspace]
        table = fp.changes(include_relaxed=False).drop(columns=["relaxed value"])
        flagged = set(_implausible(fp))
        table["implausible"] = table["feature"].isin(flagged)
        return table

    def to_frame(self) -> pd.DataFrame:
        """The report's table (a copy)."""
        return self.table.copy()

    def to_html(self) -> str:
        """The report as an HTML fragment: summary sentences and the table."""
        i = self.prediction
        closest = self.closest
        parts = [f"<h4>Flip-point report: predicted {escape(self.class_names[i])!r}</h4>"]
        if closest.feasible:
            parts.append(
                f"<p>Closest flip point (to {escape(str(closest.class_labels[1]))!r}, scaled "
                f"distance {closest.distance:.3g}): {escape(_changes_text(closest))}.</p>"
            )
        single = [n for n, k in self.kinds.items() if k == "feature"]
        blocked = [n for n in single if not self.flip_points[n].feasible]
        if blocked:
            parts.append(
                "<p>No change of any one of these features alone flips the decision: "
                f"{escape(', '.join(blocked))}.</p>"
            )
        shown = self.table.copy()
        shown["distance"] = shown["distance"].map(
            lambda v: "" if not np.isfinite(v) else f"{v:.3g}"
        )
        parts.append(shown.to_html(index=False, escape=True, na_rep=""))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        return (
            f"FlipReport({self.class_names[self.prediction]!r}: {len(self.can_flip)} of "
            f"{len(self.flip_points)} subspaces can flip the decision)"
        )


def report(
    model: Any,
    x: Any,
    *,
    groups: Mapping[str, Sequence[str]] | None = None,
    pairs: bool = False,
    features: Sequence[str] | None = None,
    constraints: FlipConstraints | None = None,
    **options: Any,
) -> FlipReport:
    """The individual explanation report of one input (Algorithm 1).

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    x : array-like of shape input_shape
        The input.
    groups : dict of str to list of str, optional
        Named feature groups to try together, for example by unit of measurement
        (``{"money": ["income", "savings", "loan_amount"]}``).
    pairs : bool, default=False
        Also try every pair of features.
    features : list of str, optional
        The single features to try; default every feature that may change.
    constraints : FlipConstraints, optional
        The domain; otherwise built from ``options``.
    **options
        Domain options of :meth:`FlipConstraints.from_model` (``fixed``, ``bounds``,
        ``monotone``, ``scale``, ``norm``, ``discrete``) and solver options of
        :func:`~xaiwidgets.flip.closest` (``classes``, ``tol``, ...).

    Returns
    -------
    FlipReport

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> r = xw.flip.report(m, ds.X_test[0], groups={"money": ["income", "savings"]})
    >>> r.kinds["money"]
    'group'
    """
    model = wrap(model)
    batch, single = model.check_input(x)
    if not single:
        raise ValueError(f"x must be one input of shape {model.input_shape}; got a batch.")
    base, solver_options = _domain(model, constraints, options)
    free = base.free_features
    if features is None:
        features = free
    else:
        features = [features] if isinstance(features, str) else list(features)
        unknown = [f for f in features if f not in free]
        if unknown:
            raise ValueError(
                f"features {unknown} cannot change in this domain; the free features are: "
                f"{', '.join(free)}."
            )
    subspaces: dict[str, tuple[str, list[str] | None]] = {"all features": ("all", None)}
    for name in features:
        subspaces[name] = ("feature", [name])
    if groups is not None:
        if not isinstance(groups, Mapping):
            raise TypeError(
                f"groups must be a dict {{name: [features]}}; got {type(groups).__name__}."
            )
        for name, members in groups.items():
            members = [members] if isinstance(members, str) else list(members)
            if not members:
                raise ValueError(f"groups[{name!r}] is empty.")
            if name in subspaces:
                raise ValueError(f"groups name {name!r} clashes with a feature or 'all features'.")
            subspaces[name] = ("group", members)
    if pairs:
        for a, b in itertools.combinations(features, 2):
            subspaces[f"{a} + {b}"] = ("pair", [a, b])
    row = batch[0].reshape(-1)
    points: dict[str, FlipPoint] = {}
    for name, (_, members) in subspaces.items():
        domain = base if members is None else base.restrict(free=members)
        solver = _make_solver(model, domain, **solver_options)
        with solver.session():
            points[name] = solver.solve(row)
    kinds = {name: kind for name, (kind, _) in subspaces.items()}
    table = pd.DataFrame(
        [
            {
                "subspace": name,
                "kind": kinds[name],
                "can flip": fp.feasible,
                "distance": fp.distance,
                "flips to": fp.class_labels[1] if fp.feasible else None,
                "changes": _changes_text(fp) if fp.feasible else "",
                "implausible": ", ".join(_implausible(fp)),
                "note": fp.reason
                or ("approximate (no gradients)" if fp.approximate else "")
                or ("" if fp.on_boundary else "discrete values: first point past the boundary"),
            }
            for name, fp in points.items()
        ]
    )
    first = next(iter(points.values()))
    return FlipReport(
        x=first.x.copy(),
        prediction=first.classes[0],
        flip_points=points,
        kinds=kinds,
        table=table,
        class_names=list(model.class_names),
    )


# ====================================================================== bias test
@dataclass(frozen=True, eq=False)
class BiasTest:
    """Paired counterfactuals: every input with a binary attribute flipped.

    Attributes
    ----------
    attribute : str
        The flipped feature.
    table : DataFrame
        One row per input: ``value`` and ``counterfactual value`` of the attribute,
        ``prediction`` and ``counterfactual prediction``, ``changed`` (the prediction
        differs), ``score`` and ``counterfactual score`` (the score margin of
        ``positive class``: its logit or log-probability minus the largest other),
        ``score change`` (counterfactual minus original), ``effect`` (the score with the
        attribute's high value minus with its low value, whichever the input had),
        ``signed distance`` and ``counterfactual signed distance`` (distance to the
        closest flip point with the attribute held, positive on the side of the positive
        class) and ``distance change``.
    summary : DataFrame
        Per direction of the flip (``"0 → 1"``, ``"1 → 0"``) and overall: ``n``,
        ``fraction changed``, ``mean score change``, ``mean effect``, ``median effect``,
        ``wilcoxon p`` (two-sided signed-rank test of the effects, SciPy) and
        ``mean distance change``.
    positive_class : int or None
        The class whose score is compared (None: each input's predicted class).

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> t = xw.flip.bias_test(m, ds.X_test[:20], "group", progress=False)
    >>> t.summary["direction"].tolist()[-1]
    'all'
    """

    attribute: str
    table: pd.DataFrame
    summary: pd.DataFrame
    positive_class: int | None
    flip_points: list[FlipPoint | None] = field(repr=False, default_factory=list)
    counterfactual_flip_points: list[FlipPoint | None] = field(repr=False, default_factory=list)
    complete: bool = True

    def subset(self, mask: Any) -> BiasTest:
        """The test restricted to some rows (a boolean mask or indices)."""
        index = _row_index(mask, len(self.table))
        table = self.table.iloc[index].reset_index(drop=True)
        return dataclasses.replace(
            self,
            table=table,
            summary=_bias_summary(table),
            flip_points=[self.flip_points[k] for k in index] if self.flip_points else [],
            counterfactual_flip_points=(
                [self.counterfactual_flip_points[k] for k in index]
                if self.counterfactual_flip_points
                else []
            ),
        )

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Paired counterfactual test</b> of {escape(self.attribute)!r}</p>"
            + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}")
        )


def _binary_attribute(constraints: FlipConstraints, attribute: str) -> tuple[list[int], str]:
    """The columns of a two-valued feature and its kind ("value" or "one-hot")."""
    matches = [f for f in constraints.features if f.name == attribute]
    if not matches:
        names = ", ".join(f.name for f in constraints.features[:20])
        raise ValueError(f"attribute {attribute!r} is not a feature; the features are: {names}.")
    f = matches[0]
    if f.kind == "categorical":
        if len(f.columns) != 2:
            raise ValueError(
                f"attribute {attribute!r} has {len(f.columns)} categories; the paired test "
                "flips a binary attribute."
            )
        return list(f.columns), "one-hot"
    low, high = constraints.bounds[f.columns[0]]
    if not (np.isfinite(low) and np.isfinite(high)) or high <= low:
        raise ValueError(
            f"attribute {attribute!r} needs two finite bounds (its two values); got "
            f"({low}, {high})."
        )
    return [f.columns[0]], "value"


def _counterfactual(
    X: np.ndarray, columns: list[int], kind: str, bounds: np.ndarray
) -> np.ndarray:
    flipped = X.copy()
    if kind == "one-hot":
        flipped[:, columns] = X[:, columns[::-1]]
    else:
        c = columns[0]
        low, high = bounds[c]
        flipped[:, c] = low + high - X[:, c]
    return flipped


def _margin(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    rows = np.arange(len(scores))
    others = scores.copy()
    others[rows, classes] = -np.inf
    return scores[rows, classes] - others.max(axis=1)


def _bias_summary(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    directions = sorted(table["direction"].unique()) if len(table) else []
    for name in [*directions, "all"]:
        part = table if name == "all" else table[table["direction"] == name]
        effect = part["effect"].to_numpy()
        p = np.nan
        if len(effect) >= 10 and np.any(effect != 0):
            p = float(wilcoxon(effect).pvalue)
        empty = len(part) == 0
        rows.append(
            {
                "direction": name,
                "n": len(part),
                "fraction changed": np.nan if empty else float(part["changed"].mean()),
                "mean score change": np.nan if empty else float(part["score change"].mean()),
                "mean effect": np.nan if empty else float(np.mean(effect)),
                "median effect": np.nan if empty else float(np.median(effect)),
                "wilcoxon p": p,
                "mean distance change": np.nan if empty else float(part["distance change"].mean()),
            }
        )
    return pd.DataFrame(rows)


def bias_test(
    model: Any,
    X: Any,
    attribute: str,
    *,
    positive_class: int | None = None,
    distances: bool = True,
    n_jobs: int | None = None,
    progress: Progress = True,
    should_stop: Callable[[], bool] | None = None,
    constraints: FlipConstraints | None = None,
    **options: Any,
) -> BiasTest:
    """The paired-counterfactual bias test of a binary attribute.

    Every input is paired with a copy whose attribute takes its other value. The test
    compares the predictions, the score of ``positive_class`` and the signed distance to
    the decision boundary (the distance to the closest flip point with the attribute
    held, positive where the input is classified as ``positive_class``).

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    X : array-like of shape (n, *input_shape)
        The inputs.
    attribute : str
        A feature with two values: an integer or continuous feature whose bounds are its
        two values (for example ``group`` in ``{0, 1}``), or a two-column one-hot group.
    positive_class : int, optional
        The favourable class; default 1 for two classes, else each input's predicted class.
    distances : bool, default=True
        Compute the distances to the boundary (two flip points per input); False
        compares predictions and scores only.
    n_jobs, progress, should_stop
        As in :func:`audit`.
    constraints : FlipConstraints, optional
        The domain of the flip points (the attribute is held fixed in it).
    **options
        Domain and solver options, as in :func:`audit`.

    Returns
    -------
    BiasTest

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> young = ds.ground_truth["in_bias_subspace"](ds.X_test)
    >>> t = xw.flip.bias_test(m, ds.X_test[young][:30], "group", distances=False)
    >>> float(t.summary.iloc[-1]["mean effect"]) < -1  # group = 1 lowers approval here
    True
    """
    model = wrap(model)
    batch, _ = model.check_input(X, name="X")
    progress = _check_progress(progress)
    if constraints is None:
        options = {"discrete": False, **options}
    base, solver_options = _domain(model, constraints, options)
    if positive_class is not None:
        positive_class = check_int(positive_class, "positive_class", 0, model.n_classes - 1)
    elif model.n_classes == 2:
        positive_class = 1
    columns, kind = _binary_attribute(base, attribute)
    flat = batch.reshape(len(batch), -1)
    flipped = _counterfactual(flat, columns, kind, base.bounds)
    output = model.default_output
    scores = model.outputs(flat.reshape(batch.shape), output)
    scores_cf = model.outputs(flipped.reshape(batch.shape), output)
    if output == "probability":
        scores, scores_cf = (
            np.log(np.maximum(scores, 1e-300)),
            np.log(np.maximum(scores_cf, 1e-300)),
        )
    predicted, predicted_cf = scores.argmax(axis=1), scores_cf.argmax(axis=1)
    target = predicted if positive_class is None else np.full(len(flat), positive_class)
    margin, margin_cf = _margin(scores, target), _margin(scores_cf, target)
    signed = signed_cf = np.full(len(flat), np.nan)
    points: list[FlipPoint | None] = []
    points_cf: list[FlipPoint | None] = []
    complete = True
    if distances:
        held = base.restrict(fixed=[attribute])
        both = np.concatenate([flat, flipped])
        found, complete = flip_points(
            model,
            both,
            held,
            solver_options,
            n_jobs=n_jobs,
            progress=progress,
            should_stop=should_stop,
            description=f"paired test of {attribute}",
        )
        points, points_cf = found[: len(flat)], found[len(flat) :]

        def signed_distance(fps: list[FlipPoint | None], labels: np.ndarray) -> np.ndarray:
            d = np.array([np.nan if fp is None or not fp.feasible else fp.distance for fp in fps])
            return np.where(labels == target, d, -d)

        signed = signed_distance(points, predicted)
        signed_cf = signed_distance(points_cf, predicted_cf)
    value = flat[:, columns[-1]] if kind == "one-hot" else flat[:, columns[0]]
    is_high = value > (0.5 if kind == "one-hot" else base.bounds[columns[0]].mean())
    value_cf = flipped[:, columns[-1]] if kind == "one-hot" else flipped[:, columns[0]]
    names = model.class_names
    table = pd.DataFrame(
        {
            "value": value,
            "counterfactual value": value_cf,
            "direction": [
                f"{_format_value(a)} → {_format_value(b)}"
                for a, b in zip(value, value_cf, strict=True)
            ],
            "prediction": [names[k] for k in predicted],
            "counterfactual prediction": [names[k] for k in predicted_cf],
            "changed": predicted != predicted_cf,
            "score": margin,
            "counterfactual score": margin_cf,
            "score change": margin_cf - margin,
            "effect": np.where(is_high, margin - margin_cf, margin_cf - margin),
            "signed distance": signed,
            "counterfactual signed distance": signed_cf,
            "distance change": signed_cf - signed,
        }
    )
    return BiasTest(
        attribute=attribute,
        table=table,
        summary=_bias_summary(table),
        positive_class=positive_class,
        flip_points=points,
        counterfactual_flip_points=points_cf,
        complete=complete,
    )


# ====================================================================== audit
def _row_index(mask: Any, n: int) -> np.ndarray:
    array = np.asarray(mask)
    if array.dtype == bool:
        if array.shape != (n,):
            raise ValueError(f"mask must be a boolean array of {n} rows; got shape {array.shape}.")
        return np.flatnonzero(array)
    if array.ndim != 1 or not np.issubdtype(array.dtype, np.integer):
        raise TypeError("mask must be a boolean array or an array of row indices.")
    if array.size and (array.min() < -n or array.max() >= n):
        raise ValueError(f"mask holds row indices outside [0, {n - 1}].")
    return array % n if array.size else array.astype(int)


@dataclass(frozen=True)
class FlipPCA:
    """Principal components of the flip directions.

    Attributes
    ----------
    explained_variance_ratio : ndarray
        Share of the variance of each component.
    loadings : DataFrame
        One row per feature, one column per component (``PC1``, ``PC2``, ...).
    scores : ndarray of shape (n_rows, n_components)
        The directions in component coordinates (rows with a flip point only).
    labels : list of str
        The flip direction of each of those rows (for colouring).
    """

    explained_variance_ratio: np.ndarray
    loadings: pd.DataFrame
    scores: np.ndarray
    labels: list[str]


@dataclass(frozen=True, eq=False)
class FlipAudit:
    """Flip points of many inputs and what they say about the model (Algorithm 2).

    Attributes
    ----------
    X : ndarray
        The audited inputs.
    y : ndarray or None
        Their labels, if given.
    flip_points : list of FlipPoint or None
        One per row (None for rows not reached before an interruption).
    directions : ndarray of shape (n, n_columns)
        ``flip point - x`` per row (NaN where there is no flip point).
    scaled_directions : ndarray of shape (n, n_columns)
        The same divided by the feature scales.
    table : DataFrame
        One row per input: ``row``, ``prediction``, ``flips to``, ``direction``
        (``"a → b"``), ``correct`` (if labels were given), ``distance``, ``residual``,
        ``feasible``, ``same partition``.
    constraints : FlipConstraints
        The domain of the flip points.
    bias : BiasTest or None
        The paired test of ``attribute``, if one was asked for.
    complete : bool
        False when the run was interrupted.
    change_threshold : float
        A feature "changes" in a row when its scaled change exceeds this fraction of the
        row's largest scaled change.

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> a = xw.flip.audit(m, ds.X_test[:40], ds.y_test[:40], progress=False)
    >>> a.ranking()["feature"].iloc[0] in ds.feature_names
    True
    """

    X: np.ndarray
    y: np.ndarray | None
    flip_points: list[FlipPoint | None]
    directions: np.ndarray
    scaled_directions: np.ndarray
    table: pd.DataFrame
    constraints: FlipConstraints
    feature_names: list[str]
    class_names: list[str]
    bias: BiasTest | None = None
    complete: bool = True
    change_threshold: float = 0.1
    meta: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ selection
    def subset(self, mask: Any) -> FlipAudit:
        """The audit of some rows only (boolean mask or indices), for subgroup analysis.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:20], progress=False)
        >>> len(a.subset(a.table["feasible"].to_numpy()).table) <= 20
        True
        """
        index = _row_index(mask, len(self.X))
        return dataclasses.replace(
            self,
            X=self.X[index],
            y=None if self.y is None else self.y[index],
            flip_points=[self.flip_points[k] for k in index],
            directions=self.directions[index],
            scaled_directions=self.scaled_directions[index],
            table=self.table.iloc[index].reset_index(drop=True),
            bias=None if self.bias is None else self.bias.subset(index),
        )

    def _groups(self, by: str | None) -> list[tuple[str, np.ndarray]]:
        valid = np.isfinite(self.scaled_directions).all(axis=1)
        if by is None:
            return [("all", valid)]
        by = check_option(by, "by", ["correct", "direction"])
        if by == "correct":
            if self.y is None:
                raise ValueError("by='correct' needs labels: pass y to xw.flip.audit.")
            correct = self.table["correct"].to_numpy(dtype=bool)
            return [("correct", valid & correct), ("incorrect", valid & ~correct)]
        labels = self.table["direction"].to_numpy()
        return [(str(d), valid & (labels == d)) for d in sorted(set(labels[valid]))]

    def _unit_rows(self, rows: np.ndarray) -> np.ndarray:
        F = self.scaled_directions[rows]
        norms = np.linalg.norm(F, axis=1, keepdims=True)
        keep = norms[:, 0] > 0
        return F[keep] / norms[keep]

    # ------------------------------------------------------------------ analyses
    def ranking(self, by: str | None = None, method: str = "qr") -> pd.DataFrame:
        """Features ranked by QR with column pivoting of the flip directions.

        The directions (scaled, each row normalised to unit length so that every input
        counts once) form a matrix ``F`` with one column per feature;
        ``scipy.linalg.qr(F, pivoting=True)`` picks first the column of largest norm, then
        repeatedly the column with the largest part not explained by those already
        picked (Businger & Golub 1965). The pivot order ranks the features along which
        the decision boundary is crossed, as in the paper; ``pivot`` is ``|R_kk|``
        relative to the first.

        QR rewards independence as well as size: a feature whose component is small
        but varies independently of the others (its sign changing from input to
        input) keeps its residual norm and can be picked early. ``rms change``, the
        root mean square of each unit direction's component, measures size alone;
        ``method="rms"`` ranks by it. Report both when they disagree.

        Parameters
        ----------
        by : {None, "correct", "direction"}, default=None
            Rank all rows, or separately for correct/incorrect inputs or for each flip
            direction (a ``group`` column is added).
        method : {"qr", "rms"}, default="qr"
            Which column gives ``rank``: the pivot order or the size of the component.

        Returns
        -------
        DataFrame
            ``feature``, ``rank`` (1 = first), ``qr rank``, ``pivot``, ``rms rank``,
            ``rms change``, sorted by ``rank``.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
        >>> sorted(a.ranking()["rank"]) == list(range(1, 14))
        True
        """
        method = check_option(method, "method", ["qr", "rms"])
        frames = []
        for name, rows in self._groups(by):
            F = self._unit_rows(rows)
            if len(F) == 0:
                continue
            R, pivots = qr(F, mode="r", pivoting=True)
            diagonal = np.abs(np.diag(R))
            pivot = np.zeros(F.shape[1])
            pivot[pivots[: len(diagonal)]] = diagonal / max(diagonal[0], 1e-300)
            qr_rank = np.empty(F.shape[1], dtype=int)
            qr_rank[pivots] = np.arange(1, F.shape[1] + 1)
            rms = np.sqrt((F**2).mean(axis=0))
            rms_rank = np.empty(F.shape[1], dtype=int)
            rms_rank[np.argsort(-rms, kind="stable")] = np.arange(1, F.shape[1] + 1)
            frame = pd.DataFrame(
                {
                    "feature": self.feature_names,
                    "rank": qr_rank if method == "qr" else rms_rank,
                    "qr rank": qr_rank,
                    "pivot": pivot,
                    "rms rank": rms_rank,
                    "rms change": rms,
                }
            ).sort_values("rank", kind="stable")
            if by is not None:
                frame.insert(0, "group", name)
            frames.append(frame)
        if not frames:
            raise ValueError("No row of this audit has a flip point to rank features by.")
        return pd.concat(frames, ignore_index=True)

    def rank_of(self, feature: str, method: str = "qr") -> int:
        """The rank of one feature (1 = first); a one-hot group takes its best column.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
        >>> 1 <= a.rank_of("group") <= 13
        True
        """
        columns = [
            self.feature_names[c]
            for f in self.constraints.features
            if f.name == feature
            for c in f.columns
        ]
        if not columns and feature in self.feature_names:
            columns = [feature]
        if not columns:
            raise ValueError(f"No feature {feature!r} in this audit.")
        ranking = self.ranking(method=method)
        return int(ranking.loc[ranking["feature"].isin(columns), "rank"].min())

    def pca(self, n_components: int = 2) -> FlipPCA:
        """Principal components of the unit flip directions (scikit-learn's PCA).

        PC1's loadings say along which combination of features the boundary is most
        often crossed.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
        >>> a.pca().loadings.shape
        (13, 2)
        """
        from sklearn.decomposition import PCA

        valid = np.isfinite(self.scaled_directions).all(axis=1)
        norms = np.linalg.norm(np.where(valid[:, None], self.scaled_directions, 0), axis=1)
        rows = valid & (norms > 0)
        F = self.scaled_directions[rows] / norms[rows, None]
        n_components = check_int(n_components, "n_components", low=1, high=F.shape[1])
        if len(F) < n_components:
            raise ValueError(
                f"PCA with {n_components} components needs at least that many flip points; "
                f"this audit has {len(F)}."
            )
        fitted = PCA(n_components=n_components).fit(F)
        columns = [f"PC{k + 1}" for k in range(n_components)]
        return FlipPCA(
            explained_variance_ratio=fitted.explained_variance_ratio_,
            loadings=pd.DataFrame(fitted.components_.T, index=self.feature_names, columns=columns),
            scores=fitted.transform(F),
            labels=list(self.table.loc[rows, "direction"]),
        )

    def change_frequency(self, by: str | None = None) -> pd.DataFrame:
        """How often each feature changes in the flip points.

        A feature changes in a row when its scaled change is more than
        ``change_threshold`` times the row's largest scaled change.

        Returns
        -------
        DataFrame
            ``feature`` and ``frequency`` (a fraction of the rows with a flip point),
            with a ``group`` column when ``by`` is given.

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:30], progress=False)
        >>> float(a.change_frequency()["frequency"].max()) <= 1.0
        True
        """
        frames = []
        for name, rows in self._groups(by):
            F = np.abs(self.scaled_directions[rows])
            if len(F) == 0:
                continue
            largest = F.max(axis=1, keepdims=True)
            changed = (self.change_threshold * largest < F) & (largest > 0)
            frame = pd.DataFrame(
                {"feature": self.feature_names, "frequency": changed.mean(axis=0)}
            )
            if by is not None:
                frame.insert(0, "group", name)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Counts and mean distances per flip direction (and per correctness, with labels).

        Examples
        --------
        >>> import xaiwidgets as xw
        >>> ds = xw.datasets.load_credit()
        >>> a = xw.flip.audit(xw.wrap(xw.zoo.train_mlp(ds), ds), ds.X_test[:20], progress=False)
        >>> "mean distance" in a.summary().columns
        True
        """
        keys = ["direction"] + (["correct"] if "correct" in self.table else [])
        grouped = self.table[self.table["feasible"]].groupby(keys)
        return (
            grouped.agg(
                n=("distance", "size"),
                mean_distance=("distance", "mean"),
                median_distance=("distance", "median"),
            )
            .reset_index()
            .rename(
                columns={"mean_distance": "mean distance", "median_distance": "median distance"}
            )
        )

    def _repr_html_(self) -> str:
        head = (
            f"<p><b>Flip-point audit</b> of {len(self.X)} inputs"
            f"{'' if self.complete else ' (interrupted: incomplete)'}; "
            f"{int(self.table['feasible'].sum())} have a flip point.</p>"
        )
        ranking = self.ranking().head(8)
        return head + self.summary().to_html(index=False) + ranking.to_html(index=False)

    def __repr__(self) -> str:
        return (
            f"FlipAudit({len(self.X)} inputs, {int(self.table['feasible'].sum())} flip points"
            f"{'' if self.complete else ', incomplete'})"
        )


def audit(
    model: Any,
    X: Any,
    y: Any = None,
    *,
    attribute: str | None = None,
    positive_class: int | None = None,
    change_threshold: float = 0.1,
    n_jobs: int | None = None,
    progress: Progress = True,
    should_stop: Callable[[], bool] | None = None,
    constraints: FlipConstraints | None = None,
    **options: Any,
) -> FlipAudit:
    """Group-level audit with flip points (Algorithm 2).

    Computes the closest flip point of every input, the directions ``F = flip - x``, and
    offers the analyses of the paper on the result: :meth:`FlipAudit.ranking` (pivoted
    QR), :meth:`FlipAudit.pca`, :meth:`FlipAudit.change_frequency`, split by correct
    versus incorrect classification and by direction of the flip; ``attribute`` adds
    the paired-counterfactual :func:`bias_test`. Flip points here default to the
    continuous relaxation (``discrete=False``): the directions are then exact ties and
    not blurred by rounding.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The classifier.
    X : array-like of shape (n, *input_shape)
        The inputs (for example a test set, or one subgroup of it).
    y : array-like of shape (n,), optional
        Labels, to split by correct and incorrect classification.
    attribute : str, optional
        A binary attribute for the paired-counterfactual test (``FlipAudit.bias``).
    positive_class : int, optional
        The favourable class of the paired test.
    change_threshold : float, default=0.1
        See :attr:`FlipAudit.change_threshold`.
    n_jobs : int, optional
        Worker processes (joblib); ``None`` or 1 runs here, -1 uses every core. Inside
        ``joblib.parallel_config(backend="dask")`` (or ``"ray"``) a cluster does the work.
    progress : bool or callable, default=True
        A progress bar, nothing, or a function called with ``(done, total)``.
    should_stop : callable, optional
        Checked between inputs; returning True stops the run (as Ctrl-C does), keeping
        what was finished.
    constraints : FlipConstraints, optional
        The domain; otherwise built from ``options``.
    **options
        Domain options (``fixed``, ``free``, ``bounds``, ``monotone``, ``scale``,
        ``norm``, ``discrete``) and solver options (``classes``, ``tol``, ...).

    Returns
    -------
    FlipAudit

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> a = xw.flip.audit(m, ds.X_test[:40], ds.y_test[:40], progress=False)
    >>> bool(a.table["feasible"].all())
    True
    """
    model = wrap(model)
    batch, _ = model.check_input(X, name="X")
    progress = _check_progress(progress)
    change_threshold = check_real(change_threshold, "change_threshold", low=0.0, high=1.0)
    labels = None
    if y is not None:
        labels = as_numpy(y, "y").reshape(-1)
        if labels.shape != (len(batch),):
            raise ValueError(
                f"y must hold one label per row of X ({len(batch)}); got {labels.shape}."
            )
    if constraints is None:
        options = {"discrete": False, **options}
    domain, solver_options = _domain(model, constraints, options)
    points, complete = flip_points(
        model,
        batch,
        domain,
        solver_options,
        n_jobs=n_jobs,
        progress=progress,
        should_stop=should_stop,
        description="flip-point audit",
    )
    flat = batch.reshape(len(batch), -1)
    directions = np.full_like(flat, np.nan)
    names = model.class_names
    rows = []
    for k, fp in enumerate(points):
        feasible = fp is not None and fp.feasible
        if feasible:
            directions[k] = (fp.point - fp.x).reshape(-1)
        predicted = None if fp is None else fp.classes[0]
        target = None if not feasible else fp.classes[1]
        row = {
            "row": k,
            "prediction": None if predicted is None else names[predicted],
            "flips to": None if target is None else names[target],
            "direction": "" if target is None else f"{names[predicted]} → {names[target]}",
            "distance": np.nan if not feasible else fp.distance,
            "residual": np.nan if not feasible else fp.residual,
            "feasible": bool(feasible),
            "same partition": None if not feasible else fp.same_partition,
        }
        if labels is not None:
            row["correct"] = predicted is not None and predicted == int(labels[k])
        rows.append(row)
    bias = None
    if attribute is not None:
        bias = bias_test(
            model,
            batch,
            attribute,
            positive_class=positive_class,
            n_jobs=n_jobs,
            progress=progress,
            should_stop=should_stop,
            constraints=domain,
            **{k: v for k, v in solver_options.items() if k != "classes"},
        )
        complete = complete and bias.complete
    return FlipAudit(
        X=batch,
        y=labels,
        flip_points=points,
        directions=directions,
        scaled_directions=directions / domain.scale,
        table=pd.DataFrame(rows),
        constraints=domain,
        feature_names=list(domain.feature_names),
        class_names=list(names),
        bias=bias,
        complete=complete,
        change_threshold=change_threshold,
        meta={"n_jobs": n_jobs, "solver": solver_options},
    )


# ====================================================================== augment
@dataclass(frozen=True, eq=False)
class AugmentResult:
    """What debugging by augmentation did and what it changed.

    Attributes
    ----------
    model : Model
        The retrained model.
    dataset : Dataset
        The augmented training data (the original plus the added flip points).
    added : ndarray of shape (n_added, *input_shape)
        The flip points added, each with the label of the input it came from.
    added_labels : ndarray of shape (n_added,)
    before, after : FlipAudit
        Audits of the evaluation inputs with the original and the retrained model.
    summary : DataFrame
        ``metric``, ``where`` (``all``, ``subgroup``, ``outside``), ``before``, ``after``:
        test accuracy, the pivoted-QR rank of the feature, its mean effect on the score
        (paired counterfactuals: high value minus low value) and the fraction of
        predictions that change when it flips.
    """

    model: Model
    dataset: Dataset
    added: np.ndarray
    added_labels: np.ndarray
    before: FlipAudit
    after: FlipAudit
    summary: pd.DataFrame

    def _repr_html_(self) -> str:
        return (
            f"<p><b>Augmentation</b>: {len(self.added)} flip points added to "
            f"{len(self.dataset.X_train) - len(self.added)} training rows.</p>"
            + self.summary.to_html(index=False, float_format=lambda v: f"{v:.3g}")
        )


def _default_train_fn(model: Model) -> Callable[[Dataset], Any]:
    if model.source == "sklearn":
        from sklearn.base import clone

        def refit(dataset: Dataset) -> Any:
            X = dataset.X_train.reshape(len(dataset.X_train), -1)
            return clone(model.predictor).fit(X, dataset.y_train)

        return refit
    if model.source == "torch":
        from ..zoo import train_mlp

        def retrain(dataset: Dataset) -> Any:
            # Small networks train many times faster on one thread than on a busy pool.
            with single_threaded():
                return train_mlp(dataset, progress=False)

        return retrain
    raise TypeError(
        "augment needs train_fn= for a callable model: a function that takes the augmented "
        "Dataset and returns a trained model."
    )


def _evaluation_mask(subgroup: Any, X: np.ndarray) -> np.ndarray | None:
    if subgroup is None:
        return None
    mask = subgroup(X) if callable(subgroup) else np.asarray(subgroup)
    mask = np.asarray(mask)
    if mask.dtype != bool or mask.shape != (len(X),):
        raise ValueError(
            f"subgroup must be a boolean mask over the {len(X)} evaluation rows or a function "
            "of X returning one."
        )
    return mask


def augment(
    model: Any,
    dataset: Dataset,
    feature: str,
    *,
    train_fn: Callable[[Dataset], Any] | None = None,
    rows: Any = None,
    X_eval: Any = None,
    y_eval: Any = None,
    subgroup: Any = None,
    max_eval: int = 400,
    n_jobs: int | None = None,
    progress: Progress = True,
    seed: int = 0,
    **options: Any,
) -> AugmentResult:
    """Debug a model with flip points: augment along a biased feature and retrain.

    For every training row (or the rows selected by ``rows``) the closest flip point
    that changes only ``feature`` is computed; where one exists it is added to the
    training set with the row's original label, which teaches the model that changing
    ``feature`` alone should not change the decision (Yousefzadeh & O'Leary 2022,
    Sections 4.3 and 5.2.4). The model is retrained with ``train_fn`` and compared with
    the original on the evaluation inputs.

    Parameters
    ----------
    model : Model or anything :func:`~xaiwidgets.wrap` accepts
        The model trained on ``dataset``.
    dataset : Dataset
        Its training data.
    feature : str
        The feature suspected of bias (for example ``"group"``).
    train_fn : callable, optional
        ``train_fn(augmented_dataset) -> model``. Default: a fresh clone of a
        scikit-learn estimator, or ``xw.zoo.train_mlp`` with default settings for torch
        models (which is what ``xw.zoo.train_mlp(dataset)`` made).
    rows : boolean mask or indices over the training rows, optional
        The rows to augment (default all).
    X_eval, y_eval : array-like, optional
        Evaluation inputs and labels; default the data set's test set.
    subgroup : boolean mask over the evaluation rows, or a function of X, optional
        A subgroup to report separately (for example
        ``dataset.ground_truth["in_bias_subspace"]``).
    max_eval : int, default=400
        Audit at most this many evaluation rows (a seeded sample) before and after.
    n_jobs, progress
        As in :func:`audit`.
    seed : int, default=0
        Seed of the evaluation sample.
    **options
        Domain and solver options for the flip points.

    Returns
    -------
    AugmentResult

    Examples
    --------
    >>> import xaiwidgets as xw
    >>> ds = xw.datasets.load_credit()
    >>> m = xw.wrap(xw.zoo.train_mlp(ds), ds)
    >>> young = ds.ground_truth["in_bias_subspace"]
    >>> r = xw.flip.augment(m, ds, "group", rows=young(ds.X_train), subgroup=young,
    ...                     max_eval=60, progress=False)  # doctest: +SKIP
    """
    model = wrap(model, dataset) if not isinstance(model, Model) else model
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be an xaiwidgets Dataset; got {type(dataset).__name__}.")
    progress = _check_progress(progress)
    max_eval = check_int(max_eval, "max_eval", low=2)
    train_fn = _default_train_fn(model) if train_fn is None else train_fn
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable; got {type(train_fn).__name__}.")
    base, solver_options = _domain(model, None, {"discrete": True, **options})
    if feature not in base.free_features:
        raise ValueError(
            f"feature {feature!r} cannot change in this domain; free features: "
            f"{', '.join(base.free_features)}."
        )
    train_rows = _row_index(
        np.ones(len(dataset.X_train), bool) if rows is None else rows, len(dataset.X_train)
    )
    X_source = dataset.X_train[train_rows]
    found, _ = flip_points(
        model,
        X_source,
        base.restrict(free=[feature]),
        solver_options,
        n_jobs=n_jobs,
        progress=progress,
        description=f"flip points along {feature}",
    )
    keep = [k for k, fp in enumerate(found) if fp is not None and fp.feasible]
    added = np.array([found[k].point for k in keep]).reshape((len(keep), *dataset.input_shape))
    added_labels = dataset.y_train[train_rows][keep]
    augmented = dataset.replace(
        name=f"{dataset.name}+flip({feature})",
        X_train=np.concatenate([dataset.X_train, added]),
        y_train=np.concatenate([dataset.y_train, added_labels]),
    )
    retrained = wrap(train_fn(augmented), dataset)
    X_eval_all = dataset.X_test if X_eval is None else as_numpy(X_eval, "X_eval")
    y_eval_all = (
        (dataset.y_test if X_eval is None else None)
        if y_eval is None
        else as_numpy(y_eval, "y_eval")
    )
    mask = _evaluation_mask(subgroup, X_eval_all.reshape(len(X_eval_all), -1))
    sample = numpy_rng(seed).permutation(len(X_eval_all))[:max_eval]
    sample.sort()
    eval_domain = dataclasses.replace(base, discrete=False)
    audits = [
        audit(
            m,
            X_eval_all[sample],
            None if y_eval_all is None else y_eval_all[sample],
            n_jobs=n_jobs,
            progress=progress,
            constraints=eval_domain,
            **solver_options,
        )
        for m in (model, retrained)
    ]
    before, after = audits
    summary = _augment_summary(
        model, retrained, feature, base, X_eval_all, y_eval_all, mask, sample, before, after
    )
    return AugmentResult(
        model=retrained,
        dataset=augmented,
        added=added,
        added_labels=added_labels,
        before=before,
        after=after,
        summary=summary,
    )


def _augment_summary(
    model: Model,
    retrained: Model,
    feature: str,
    domain: FlipConstraints,
    X: np.ndarray,
    y: np.ndarray | None,
    mask: np.ndarray | None,
    sample: np.ndarray,
    before: FlipAudit,
    after: FlipAudit,
) -> pd.DataFrame:
    parts = [("all", np.ones(len(X), dtype=bool))]
    if mask is not None:
        parts += [("subgroup", mask), ("outside", ~mask)]
    rows = []
    for where, part in parts:
        in_sample = part[sample]
        for metric, values in (
            (
                "accuracy",
                [
                    None if y is None else float((m.predict(X[part]) == y[part]).mean())
                    for m in (model, retrained)
                ],
            ),
            (
                f"rank of {feature}",
                [
                    a.subset(in_sample).rank_of(feature) if in_sample.sum() > 1 else None
                    for a in (before, after)
                ],
            ),
        ):
            rows.append(
                {"metric": metric, "where": where, "before": values[0], "after": values[1]}
            )
        if part.any():
            tests = [
                bias_test(m, X[part], feature, distances=False, progress=False, constraints=domain)
                for m in (model, retrained)
            ]
            overall = [t.summary.iloc[-1] for t in tests]
            rows.append(
                {
                    "metric": f"mean effect of {feature} (high - low value)",
                    "where": where,
                    "before": float(overall[0]["mean effect"]),
                    "after": float(overall[1]["mean effect"]),
                }
            )
            rows.append(
                {
                    "metric": f"predictions changed when {feature} flips",
                    "where": where,
                    "before": float(overall[0]["fraction changed"]),
                    "after": float(overall[1]["fraction changed"]),
                }
            )
    return pd.DataFrame(rows)
