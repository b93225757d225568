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
    return stat, chi2_sf(stat, table.shape[1] - 1)


def chi2_sf(statistic: float, dof: int) -> float:
    """Survival function of the chi-square distribution: the regularized upper incomplete gamma Q(dof/2, x/2)."""
    a, x = dof / 2, statistic / 2
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:  # series for the lower function P, then Q = 1 - P
        term = total = 1 / a
        for n in range(1, 10_000):
            term *= x / (a + n)
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, 1.0 - total * math.exp(log_prefix))
    # Lentz's continued fraction for Q
    tiny = 1e-300
    b = x + 1 - a
    c, d = 1 / tiny, 1 / b
    h = d
    for n in range(1, 10_000):
        an = -n * (n - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        step = d * c
        h *= step
        if abs(step - 1) < 1e-16:
            break
    return min(1.0, math.exp(log_prefix) * h)


def kolmogorov_sf(z: float) -> float:
    """Survival function of the Kolmogorov distribution (the limit law of sqrt(n) * D)."""
    if z <= 0:
        return 1.0
    if z < 1.0:  # the theta-function form converges fast for small z
        q = math.exp(-(math.pi**2) / (8 * z * z))
        cdf = math.sqrt(2 * math.pi) / z * sum(q ** ((2 * k - 1) ** 2) for k in range(1, 20))
        return 1.0 - cdf
    return 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * z * z) for k in range(1, 101))


def ks_pvalue(statistic: float, n_reference: int, n_current: int) -> float:
    """Two-sided asymptotic p-value (Kolmogorov distribution)."""
    if n_reference == 0 or n_current == 0:
        return float("nan")
    en = n_reference * n_current / (n_reference + n_current)
    return min(max(kolmogorov_sf(math.sqrt(en) * statistic), 0.0), 1.0)


def ks_wasserstein_sorted(reference: np.ndarray, current: np.ndarray) -> tuple[float, float]:
    """Exact two-sample KS statistic and Wasserstein-1 distance of two ascending-sorted, finite samples.

    A stable sort of the two concatenated runs is a linear merge; both empirical CDFs are then running counts
    along the merged order, kept as integers scaled by n1 * n2 until the end.
    """
    n1, n2 = len(reference), len(current)
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan")
    total = n1 + n2
    both = np.concatenate([reference, current])
    order = np.argsort(both, kind="stable")
    merged = both[order]
    # n1 * n2 * |F_ref - F_cur| after k + 1 merged values = |ref_count * (n1 + n2) - (k + 1) * n1|, exact in float64
    scaled_gap = np.cumsum(order < n1, dtype=np.float64)
    scaled_gap *= total
    scaled_gap -= np.arange(n1, n1 * (total + 1), n1, dtype=np.float64)
    np.abs(scaled_gap, out=scaled_gap)
    last_of_ties = merged[1:] != merged[:-1]
    scale = n1 * n2
    ks = max(float(scaled_gap[:-1][last_of_ties].max(initial=0.0)), float(scaled_gap[-1])) / scale
    wasserstein = float(np.dot(scaled_gap[:-1], np.diff(merged))) / scale
    return ks, wasserstein


def cdf_knots(edges: np.ndarray, counts: np.ndarray, low: float, high: float) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-linear CDF of a fine histogram (see `profile.fine_histogram` for the bin layout).

    Mass below the first edge is spread over [low, edges[0]), mass above the last over (edges[-1], high],
    the point mass at edges[0] is a jump, and interior bins are uniform.
    """
    total = counts.sum()
    cumulative = np.cumsum(counts) / total
    below, at_first, interior = cumulative[0], cumulative[1], cumulative[2:-1]
    xs = np.concatenate(
        [[min(low, edges[0]), np.nextafter(edges[0], -np.inf), edges[0]], edges[1:], [max(high, edges[-1])]]
    )
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
