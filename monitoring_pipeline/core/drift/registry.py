"""The drift methods we compute, which column kinds they apply to, their default thresholds and their functions.

Defaults (documented in README, overridable per column in the project config):

| method           | kinds       | value                                   | warn | drift | decides by default |
|------------------|-------------|-----------------------------------------|------|-------|--------------------|
| psi              | numeric     | PSI on frozen reference-decile bins     | 0.10 | 0.25  | yes                |
| ks               | numeric     | two-sample KS statistic D               | 0.10 | 0.20  | yes                |
| wasserstein      | numeric     | Wasserstein-1 distance (raw units)      | -    | -     | no (information)   |
| wasserstein_norm | numeric     | Wasserstein-1 / reference std           | 0.10 | 0.20  | no                 |
| jensen_shannon   | both        | JS distance (natural log, scipy's)      | 0.10 | 0.20  | categorical only   |
| chi2             | categorical | chi-square statistic (p-value beside)   | -    | -     | no (evidence)      |
| unseen_share     | categorical | share of values never seen in reference | 0.01 | 0.05  | yes                |
| null_share       | both        | current null share - reference share    | 0.05 | 0.20  | no: data quality   |
| ngram_mmd        | text        | squared MMD of hashed n-gram vectors    | 0.005| 0.01  | yes (text columns) |

A method is one `MethodInfo` row carrying its statistic: a function of the column's `ColumnInputs` returning
(value, p_value). Adding one is its maths in `methods.py`, a small adapter and a row here, and a line in the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from monitoring_pipeline.core.drift import methods

if TYPE_CHECKING:  # bins and profile import ColumnKind from here
    from monitoring_pipeline.core.bins import Bins
    from monitoring_pipeline.core.profile import ColumnProfile

INPUT_ROLES = ("feature", "multivariate")  # what the model was given: features and their joint (PCA) signal
OUTPUT_ROLES = ("output", "prompt")  # what it answered, and the prompt it answered


TEXT_METHOD = "ngram_mmd"  # a text column's one method (see core.drift.text): computed from text profiles, not bins
TEXT_THRESHOLDS_DEFAULT = (0.005, 0.01)


class ColumnKind(StrEnum):
    NUMERIC = "numeric"
    CATEGORICAL = "categorical"


@dataclass(frozen=True)
class Thresholds:
    """Effect-size bounds: value >= warn is `warn`, value >= drift is `drift`."""

    warn: float
    drift: float

    def __post_init__(self) -> None:
        if not 0 <= self.warn <= self.drift:
            raise ValueError(f"thresholds need 0 <= warn <= drift, got warn={self.warn} drift={self.drift}")


@dataclass(frozen=True)
class ColumnInputs:
    """What a method sees of one column: both profiles, the frozen bins and, when raw rows were at hand, the exact
    (KS, Wasserstein) pair. What several methods share is computed once per column, on first use."""

    reference: ColumnProfile
    current: ColumnProfile
    bins: Bins
    exact: tuple[float, float] | None = None

    @cached_property
    def histograms(self) -> tuple[np.ndarray, np.ndarray]:
        """(reference, current) counts the distribution distances compare: on the reference-decile bins for a
        numeric column, on its categories (vocabulary, other, unseen) for a categorical one."""
        reference, current = self.reference.counts, self.current.counts
        if self.bins.kind is ColumnKind.NUMERIC:
            return self.bins.decile_counts(reference), self.bins.decile_counts(current)
        return reference, current

    @cached_property
    def ks_wasserstein(self) -> tuple[float, float]:
        """The exact pair when given, else estimated from the fine histograms (numeric columns)."""
        if self.exact is not None:
            return self.exact
        reference, current = self.reference, self.current
        return methods.binned_ks_wasserstein(
            self.bins.edges,
            reference.counts,
            current.counts,
            (reference.minimum, reference.maximum),
            (current.minimum, current.maximum),
        )


Score = tuple[float | None, float | None]  # (value, p_value); None or a non-finite value is undefined
Statistic = Callable[[ColumnInputs], Score]


@dataclass(frozen=True)
class MethodInfo:
    """One drift method: the column kinds it applies to, its default thresholds and the statistic computing it.
    A data-quality method is computed even on a column whose distribution methods are blocked (too few rows, no
    reference) and never decides the verdict."""

    name: str
    kinds: frozenset[ColumnKind]
    default_thresholds: Thresholds | None
    description: str
    statistic: Statistic
    data_quality: bool = False
    reach: float | None = None  # the largest value the statistic can take (None: unbounded)


DISCRETE_EDGES = 10


def _psi(column: ColumnInputs) -> Score:
    return methods.psi(*column.histograms), None


def _ks(column: ColumnInputs) -> Score:
    """KS's D with its asymptotic p-value for continuous columns. A column with at most DISCRETE_EDGES distinct
    baseline values (a flag, a count) gets the chi-square test of its value counts instead: KS's p-value assumes
    continuity and is far too conservative on discrete data."""
    ks = column.ks_wasserstein[0]
    reference, current = column.reference, column.current
    if len(column.bins.edges) <= DISCRETE_EDGES:
        return ks, methods.chi2(reference.counts, current.counts)[1]
    return ks, methods.ks_pvalue(ks, reference.n_valid, current.n_valid)


def _wasserstein(column: ColumnInputs) -> Score:
    return column.ks_wasserstein[1], None


def _wasserstein_norm(column: ColumnInputs) -> Score:
    std = column.reference.std
    return column.ks_wasserstein[1] / std if std else float("nan"), None


def _jensen_shannon(column: ColumnInputs) -> Score:
    return methods.jensen_shannon(*column.histograms), None


def _chi2(column: ColumnInputs) -> Score:
    return methods.chi2(column.reference.counts, column.current.counts)


def _unseen_share(column: ColumnInputs) -> Score:
    counts = column.current.counts
    return float(counts[-1] / counts.sum()), None


def _null_share(column: ColumnInputs) -> Score:
    reference, current = column.reference, column.current
    if reference.n_rows == 0 or current.n_rows == 0:
        return None, None
    return current.n_missing / current.n_rows - reference.n_missing / reference.n_rows, None


_BOTH = frozenset(ColumnKind)
_NUM = frozenset({ColumnKind.NUMERIC})
_CAT = frozenset({ColumnKind.CATEGORICAL})

METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("psi", _NUM, Thresholds(0.10, 0.25), "population stability index on reference-decile bins", _psi),
        MethodInfo("ks", _NUM, Thresholds(0.10, 0.20), "Kolmogorov-Smirnov statistic D", _ks, reach=1.0),
        MethodInfo("wasserstein", _NUM, None, "Wasserstein-1 distance in the feature's units", _wasserstein),
        MethodInfo(
            "wasserstein_norm",
            _NUM,
            Thresholds(0.10, 0.20),
            "Wasserstein-1 divided by reference std",
            _wasserstein_norm,
        ),
        MethodInfo(
            "jensen_shannon",
            _BOTH,
            Thresholds(0.10, 0.20),
            "Jensen-Shannon distance, natural log",
            _jensen_shannon,
            reach=math.sqrt(math.log(2)),
        ),
        MethodInfo("chi2", _CAT, None, "chi-square statistic of the reference x current contingency table", _chi2),
        MethodInfo(
            "unseen_share",
            _CAT,
            Thresholds(0.01, 0.05),
            "share of current values absent from reference",
            _unseen_share,
            reach=1.0,
        ),
        MethodInfo(
            "null_share",
            _BOTH,
            Thresholds(0.05, 0.20),
            "increase of the null share over reference",
            _null_share,
            data_quality=True,
            reach=1.0,
        ),
    )
}

DEFAULT_DECIDING: dict[ColumnKind, tuple[str, ...]] = {
    ColumnKind.NUMERIC: ("psi", "ks"),
    ColumnKind.CATEGORICAL: ("jensen_shannon", "unseen_share"),
}


def method_info(name: str) -> MethodInfo:
    """Look a method up by name; the error lists the valid names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown drift method {name!r}; expected one of {sorted(METHODS)}") from None


def reachable(method: str, value: float) -> bool:
    """Whether the statistic of `method` can ever reach `value` (a threshold above its reach never fires)."""
    reach = method_info(method).reach
    return reach is None or value <= reach


def methods_for(kind: ColumnKind) -> list[MethodInfo]:
    """The methods applying to a column kind, in registry order (the order of every report)."""
    return [info for info in METHODS.values() if kind in info.kinds]
