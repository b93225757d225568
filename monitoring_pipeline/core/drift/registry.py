"""The drift methods we compute, which column kinds they apply to, and their default thresholds.

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
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

INPUT_ROLES = ("feature", "multivariate")  # what the model was given: features and their joint (PCA) signal
OUTPUT_ROLES = ("output", "prompt")  # what it answered, and the prompt it answered


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
class MethodInfo:
    name: str
    kinds: frozenset[ColumnKind]
    default_thresholds: Thresholds | None
    description: str


_BOTH = frozenset(ColumnKind)
_NUM = frozenset({ColumnKind.NUMERIC})
_CAT = frozenset({ColumnKind.CATEGORICAL})

METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("psi", _NUM, Thresholds(0.10, 0.25), "population stability index on reference-decile bins"),
        MethodInfo("ks", _NUM, Thresholds(0.10, 0.20), "Kolmogorov-Smirnov statistic D"),
        MethodInfo("wasserstein", _NUM, None, "Wasserstein-1 distance in the feature's units"),
        MethodInfo("wasserstein_norm", _NUM, Thresholds(0.10, 0.20), "Wasserstein-1 divided by reference std"),
        MethodInfo("jensen_shannon", _BOTH, Thresholds(0.10, 0.20), "Jensen-Shannon distance, natural log"),
        MethodInfo("chi2", _CAT, None, "chi-square statistic of the reference x current contingency table"),
        MethodInfo("unseen_share", _CAT, Thresholds(0.01, 0.05), "share of current values absent from reference"),
        MethodInfo("null_share", _BOTH, Thresholds(0.05, 0.20), "increase of the null share over reference"),
    )
}

DEFAULT_DECIDING: dict[ColumnKind, tuple[str, ...]] = {
    ColumnKind.NUMERIC: ("psi", "ks"),
    ColumnKind.CATEGORICAL: ("jensen_shannon", "unseen_share"),
}

DATA_QUALITY_METHODS = frozenset({"null_share"})


def method_info(name: str) -> MethodInfo:
    """Look a method up by name; the error lists the valid names."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown drift method {name!r}; expected one of {sorted(METHODS)}") from None


def methods_for(kind: ColumnKind) -> list[str]:
    return [name for name, info in METHODS.items() if kind in info.kinds]
