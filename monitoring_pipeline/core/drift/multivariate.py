"""Multivariate drift: the error of reconstructing each row from the principal components of the reference.

Fit on the baseline's numeric features (standardized; a missing value counts as the mean), keeping the fewest
components that explain `explained` of the variance. A row's error is its mean squared distance to that subspace,
per feature. When the relations between features change — a correlation breaks, a new mix of segments appears —
rows leave the subspace and the error rises even if every feature's own distribution is unchanged (the idea of
NannyML's data-reconstruction drift). The error is a plain numeric column: it is binned, profiled, merged and
compared like any other, so a day never needs the reference rows again.

Because the components are orthonormal, ||z - VᵀVz||² = ||z||² - ||Vz||²: the error is a Polars expression over
the feature columns and runs lazily, streaming, with no NumPy copy of the day.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import polars as pl

RECONSTRUCTION_ERROR = "pca_reconstruction_error"
FIT_SAMPLE_ROWS = 200_000  # rows of the baseline the components are fitted on (a seeded sample when larger)


@dataclass(frozen=True)
class PcaModel:
    columns: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    components: np.ndarray  # k x d, orthonormal rows

    def error_expr(self) -> pl.Expr:
        """Each row's mean squared reconstruction error, as a Float64 expression over `columns`."""
        z = [
            ((pl.col(c).cast(pl.Float64) - m) / s).fill_nan(0.0).fill_null(0.0)
            for c, m, s in zip(self.columns, self.mean, self.scale, strict=True)
        ]
        squared = pl.sum_horizontal([zi**2 for zi in z])
        projected = pl.sum_horizontal(
            [pl.sum_horizontal([zi * float(w) for zi, w in zip(z, row, strict=True)]) ** 2 for row in self.components]
        )
        return ((squared - projected).clip(lower_bound=0.0) / len(self.columns)).alias(RECONSTRUCTION_ERROR)

    def reconstruction_error(self, rows: np.ndarray) -> np.ndarray:
        """The same error per row of a NumPy array (columns in `columns` order)."""
        z = _standardize(rows, self.mean, self.scale)
        residual = z - z @ self.components.T @ self.components
        return (residual**2).mean(axis=1)

    def to_json(self) -> str:
        return json.dumps(
            {
                "columns": list(self.columns),
                "mean": self.mean.tolist(),
                "scale": self.scale.tolist(),
                "components": self.components.tolist(),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> PcaModel:
        raw = json.loads(text)
        return cls(tuple(raw["columns"]), np.array(raw["mean"]), np.array(raw["scale"]), np.array(raw["components"]))


def _standardize(rows: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = (np.asarray(rows, dtype=np.float64) - mean) / scale
    return np.where(np.isfinite(z), z, 0.0)


def fit_pca(reference_rows: np.ndarray, columns: tuple[str, ...], explained: float = 0.65) -> PcaModel:
    """Standardize the reference and keep the fewest components explaining `explained` of its variance."""
    rows = np.asarray(reference_rows, dtype=np.float64)
    rows = np.where(np.isfinite(rows), rows, np.nan)
    if rows.shape[0] < 2 or np.isnan(rows).all(axis=0).any():
        raise ValueError(f"too few reference values to fit the reconstruction model on columns {list(columns)}")
    mean = np.nanmean(rows, axis=0)
    scale = np.nanstd(rows, axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    z = _standardize(rows, mean, scale)
    _, singular, vt = np.linalg.svd(z, full_matrices=False)
    share = np.cumsum(singular**2) / (singular**2).sum()
    k = min(int(np.searchsorted(share, explained) + 1), len(columns))
    signs = np.sign(vt[np.arange(len(vt)), np.abs(vt).argmax(axis=1)])  # SVD's sign is arbitrary: pin it
    return PcaModel(columns, mean, scale, vt[:k] * signs[:k, None])


def fit_on_frame(frame: pl.DataFrame, columns: tuple[str, ...], explained: float) -> PcaModel:
    """Fit on `columns` of a frame, on a seeded sample of at most FIT_SAMPLE_ROWS rows. The rows are sorted
    first, so the same rows in any order give the same model, to the last bit."""
    rows = frame.select(pl.col(c).cast(pl.Float64) for c in columns).sort(columns, nulls_last=True)
    sample = rows.sample(FIT_SAMPLE_ROWS, seed=0) if rows.height > FIT_SAMPLE_ROWS else rows
    return fit_pca(sample.to_numpy(), columns, explained)
