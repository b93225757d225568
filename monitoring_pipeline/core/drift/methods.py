"""Drift statistics on sorted samples (exact) or on histograms (from mergeable profiles).

Conventions pinned here (and tested):
- PSI: sum((c - r) * ln(c / r)) over bins, proportions floored at 1e-4 without renormalising.
- Jensen-Shannon: distance (square root of the divergence), natural log, as `scipy.spatial.distance.jensenshannon`.
- KS / Wasserstein on sorted samples agree with `scipy.stats.ks_2samp` / `wasserstein_distance` to 1e-9.
- KS p-value: asymptotic Kolmogorov distribution of sqrt(n1*n2/(n1+n2)) * D.
"""

from __future__ import annotations

import math

import numpy as np

PSI_FLOOR = 1e-4


def proportions(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else np.zeros(len(counts), dtype=float)


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    r = np.maximum(proportions(reference_counts), PSI_FLOOR)
    c = np.maximum(proportions(current_counts), PSI_FLOOR)
    return float(np.sum((c - r) * np.log(c / r)))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    p = proportions(reference_counts)
    q = proportions(current_counts)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return float(math.sqrt(max((kl_p + kl_q) / 2, 0.0)))


def chi2(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-square test of homogeneity on a 2 x B table; empty columns are dropped. Returns (stat, p)."""
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    stat = float(((table - expected) ** 2 / expected).sum())
    from scipy.special import chdtrc

    return stat, float(chdtrc(table.shape[1] - 1, stat))


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided asymptotic p-value (Kolmogorov distribution)."""
    if n_reference == 0 or n_current == 0:
        return float("nan")
    from scipy.special import kolmogorov

    en = n_reference * n_current / (n_reference + n_current)
    return float(min(max(kolmogorov(math.sqrt(en) * statistic), 0.0), 1.0))


def ks_sorted(reference: np.ndarray, current: np.ndarray) -> float:
    """Exact two-sample KS statistic of two ascending-sorted, finite samples."""
    n1, n2 = len(reference), len(current)
    if n1 == 0 or n2 == 0:
        return float("nan")
    d_at_ref = np.abs(
        np.searchsorted(reference, reference, "right") / n1 - np.searchsorted(current, reference, "right") / n2
    )
    d_at_cur = np.abs(
        np.searchsorted(reference, current, "right") / n1 - np.searchsorted(current, current, "right") / n2
    )
    return float(max(d_at_ref.max(), d_at_cur.max()))


def wasserstein_sorted(reference: np.ndarray, current: np.ndarray) -> float:
    """Exact Wasserstein-1 distance of two ascending-sorted, finite samples (scipy's algorithm)."""
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    all_values = np.sort(np.concatenate([reference, current]), kind="stable")  # merges two sorted runs
    deltas = np.diff(all_values)
    ref_cdf = np.searchsorted(reference, all_values[:-1], "right") / len(reference)
    cur_cdf = np.searchsorted(current, all_values[:-1], "right") / len(current)
    return float(np.sum(np.abs(ref_cdf - cur_cdf) * deltas))


def cdf_knots(edges: np.ndarray, counts: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear CDF of a fine histogram (see `profile.fine_histogram` for the bin layout).

    Mass below the first edge is spread over [low, edges[0]), mass above the last over (edges[-1], high],
    the point mass at edges[0] is a jump, and interior bins are uniform.
    """
    total = counts.sum()
    cumulative = np.cumsum(counts) / total
    below, at_first, interior = cumulative[0], cumulative[1], cumulative[2:-1]
    xs = np.concatenate([[min(low, edges[0]), np.nextafter(edges[0], -np.inf), edges[0]], edges[1:], [max(high, edges[-1])]])
    fs = np.concatenate([[0.0, below, at_first], interior, [1.0]])
    return xs, fs


def binned_ks_wasserstein(
    edges: np.ndarray,
    reference_counts: np.ndarray,
    current_counts: np.ndarray,
    reference_range: tuple[float, float],
    current_range: tuple[float, float],
) -> tuple[float, float]:
    """KS statistic and Wasserstein-1 estimated from two fine histograms on the same frozen edges.

    KS is evaluated at the bin edges (a lower bound of the exact value, within one fine bin's mass);
    Wasserstein integrates the piecewise-linear CDFs.
    """
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return float("nan"), float("nan")
    rx, rf = cdf_knots(edges, reference_counts, *reference_range)
    cx, cf = cdf_knots(edges, current_counts, *current_range)
    grid = np.unique(np.concatenate([rx, cx]))
    diff = np.abs(np.interp(grid, rx, rf) - np.interp(grid, cx, cf))
    return float(diff.max()), float(np.trapezoid(diff, grid))


def benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values; NaN stays NaN and is not counted."""
    adjusted = np.full(len(p_values), np.nan)
    valid = ~np.isnan(p_values)
    p = p_values[valid]
    m = len(p)
    if m == 0:
        return adjusted
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(ranked, 1.0)
    adjusted[valid] = result
    return adjusted
