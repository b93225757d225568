"""Drift methods against known answers and scipy."""

import numpy as np
import pytest
from scipy import special, stats
from scipy.spatial.distance import jensenshannon

from monitoring_pipeline.core.bins import numeric_bins_from_sorted, quantiles_sorted
from monitoring_pipeline.core.drift import methods


def _samples(seed: int, n1: int, n2: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return np.sort(rng.normal(size=n1)), np.sort(rng.normal(shift, 1.0, size=n2))


@pytest.mark.parametrize(("n1", "n2", "shift"), [(50, 70, 0.0), (1000, 800, 0.3), (20_000, 30_000, 0.05)])
def test_ks_and_wasserstein_match_scipy(n1: int, n2: int, shift: float) -> None:
    ref, cur = _samples(n1, n1, n2, shift)
    ks, wasserstein = methods.ks_wasserstein_sorted(ref, cur)
    assert ks == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(ref, cur), abs=1e-9)


def test_ks_and_wasserstein_with_ties_match_scipy() -> None:
    rng = np.random.default_rng(3)
    ref, cur = np.sort(rng.integers(0, 5, 400).astype(float)), np.sort(rng.integers(1, 6, 300).astype(float))
    ks, wasserstein = methods.ks_wasserstein_sorted(ref, cur)
    assert ks == pytest.approx(stats.ks_2samp(ref, cur).statistic, abs=1e-9)
    assert wasserstein == pytest.approx(stats.wasserstein_distance(ref, cur), abs=1e-9)


def test_ks_pvalue_matches_scipy_asymptotic_on_large_samples() -> None:
    ref, cur = _samples(7, 20_000, 20_000, 0.02)
    d, _ = methods.ks_wasserstein_sorted(ref, cur)
    expected = stats.ks_2samp(ref, cur, method="asymp").pvalue
    assert methods.ks_pvalue(d, len(ref), len(cur)) == pytest.approx(expected, rel=0.05)


def test_psi_known_answer_with_floor() -> None:
    # proportions (0.5, 0.5, 0) vs (0.25, 0.25, 0.5); the empty bin is floored at 1e-4, not renormalised.
    ref, cur = np.array([50, 50, 0]), np.array([25, 25, 50])
    expected = 2 * (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.5 - 1e-4) * np.log(0.5 / 1e-4)
    assert methods.psi(ref, cur) == pytest.approx(expected, rel=1e-12)


def test_psi_on_reference_deciles_bins_are_right_closed() -> None:
    ref = np.arange(1.0, 11.0)  # deciles q(0.1)..q(0.9) = 1.9, 2.8, ..., 9.1 (numpy linear)
    bins = numeric_bins_from_sorted(ref)
    assert bins.edges[bins.decile_positions] == pytest.approx(np.quantile(ref, np.arange(1, 10) / 10))
    counts = np.diff(np.concatenate([[0], np.searchsorted(ref, bins.edges[bins.decile_positions], "right"), [10]]))
    assert counts.tolist() == [1] * 10
    assert methods.psi(counts, counts) == 0.0


def test_jensen_shannon_matches_scipy() -> None:
    p, q = np.array([10, 20, 30, 0]), np.array([5, 5, 20, 70])
    assert methods.jensen_shannon(p, q) == pytest.approx(jensenshannon(p / p.sum(), q / q.sum()), abs=1e-12)
    assert methods.jensen_shannon(p, p) == 0.0


def test_chi2_matches_scipy_contingency() -> None:
    ref, cur = np.array([30, 50, 20, 0]), np.array([20, 40, 30, 10])
    stat, p = methods.chi2(ref, cur)
    expected = stats.chi2_contingency(np.vstack([ref, cur])[:, :4], correction=False)
    assert stat == pytest.approx(expected.statistic, rel=1e-12)
    assert p == pytest.approx(expected.pvalue, rel=1e-9)


def test_benjamini_hochberg_matches_scipy() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan, 0.001])
    adjusted = methods.benjamini_hochberg(p)
    expected = stats.false_discovery_control(p[~np.isnan(p)], method="bh")
    assert np.isnan(adjusted[4])
    assert adjusted[~np.isnan(p)] == pytest.approx(expected, rel=1e-12)


def test_binned_ks_and_wasserstein_are_close_to_exact() -> None:
    ref, cur = _samples(11, 50_000, 50_000, 0.2)
    bins = numeric_bins_from_sorted(ref)

    def fine(sample: np.ndarray) -> np.ndarray:
        below = np.searchsorted(sample, bins.edges[0], "left")
        return np.diff(np.concatenate([[0, below], np.searchsorted(sample, bins.edges, "right"), [len(sample)]]))

    ks, w = methods.binned_ks_wasserstein(bins.edges, fine(ref), fine(cur), (ref[0], ref[-1]), (cur[0], cur[-1]))
    exact_ks, exact_w = methods.ks_wasserstein_sorted(ref, cur)
    assert ks == pytest.approx(exact_ks, abs=0.01)
    assert w == pytest.approx(exact_w, rel=0.05)


@pytest.mark.parametrize("dof", [1, 2, 5, 30, 499])
def test_chi2_sf_matches_scipy(dof: int) -> None:
    for statistic in (0.0, 0.01, 0.5, float(dof), 3.0 * dof, 10.0 * dof + 50):
        expected = special.chdtrc(dof, statistic)
        assert methods.chi2_sf(statistic, dof) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_kolmogorov_sf_matches_scipy() -> None:
    for z in (0.05, 0.3, 0.7, 0.99, 1.0, 1.2, 2.0, 4.0, 8.0):
        assert methods.kolmogorov_sf(z) == pytest.approx(special.kolmogorov(z), rel=1e-9, abs=1e-300)


def test_quantiles_on_sorted_arrays_equal_numpy_bit_for_bit() -> None:
    rng = np.random.default_rng(9)
    for n in (1, 2, 7, 1000):
        values = np.sort(rng.lognormal(size=n))
        probabilities = np.arange(101) / 100
        assert (quantiles_sorted(values, probabilities) == np.quantile(values, probabilities)).all()
