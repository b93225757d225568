"""PCA reconstruction error: it sees a broken correlation that leaves every marginal unchanged, and the lazy
Polars expression computes exactly what the NumPy definition does."""

import numpy as np
import polars as pl
import pytest

from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR, PcaModel, fit_on_frame, fit_pca

COLUMNS = ("x", "y")


def _linked(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=n)
    return np.column_stack([x, x + rng.normal(0, 0.2, n)])


def test_reconstruction_sees_a_joint_change_with_unchanged_marginals() -> None:
    rng = np.random.default_rng(7)
    model = fit_pca(_linked(rng, 5_000), COLUMNS)
    assert model.components.shape == (1, 2)
    same = _linked(rng, 5_000)
    broken = np.column_stack([rng.normal(size=5_000), rng.normal(0, 1.02, 5_000)])  # same marginals, no link
    assert model.reconstruction_error(same).mean() < 0.02 < 0.3 < model.reconstruction_error(broken).mean()


def test_polars_expression_matches_numpy_and_survives_json() -> None:
    rng = np.random.default_rng(3)
    reference = rng.multivariate_normal([10, -2, 5], [[4, 1.5, 0], [1.5, 2, 0.3], [0, 0.3, 1]], 2_000)
    model = PcaModel.from_json(fit_pca(reference, ("a", "b", "c")).to_json())
    day = rng.normal(0, 3, (500, 3))
    day[0, 1] = np.nan
    frame = pl.DataFrame(day, schema=["a", "b", "c"], orient="row").with_columns(pl.col("b").fill_nan(None))
    errors = frame.lazy().select(model.error_expr()).collect()[RECONSTRUCTION_ERROR].to_numpy()
    assert np.allclose(errors, model.reconstruction_error(day), atol=1e-9)  # a null counts as the mean, as NaN


def test_fit_needs_values_in_every_column() -> None:
    frame = pl.DataFrame({"a": [1.0, 2.0, 3.0], "b": [None, None, None]}, schema={"a": pl.Float64, "b": pl.Float64})
    with pytest.raises(ValueError, match=r"columns \['a', 'b'\]"):
        fit_on_frame(frame, ("a", "b"), 0.65)
