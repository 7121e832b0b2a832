"""Analytic standard errors, where the literature gives a standard one.

Two-rater tables: the large-sample variance of Fleiss, Cohen and Everitt (1969) for Cohen's
kappa (the ASE statsmodels reports) and Gwet's (2014) linearisation for Scott's pi and AC1/AC2
on a table. Many raters with missing ratings: Gwet's linearised variances for Fleiss' kappa and
AC1/AC2 (irrCAC's). Each function returns the standard error of the point estimate, NaN when
it is undefined.
"""

from __future__ import annotations

import numpy as np

from reviewer.agreement.coefficients import PatternCounts, _div

SE_METHODS = {
    "cohen_kappa": "analytic: Fleiss-Cohen-Everitt (1969) large-sample SE",
    "scott_pi": "analytic: Gwet (2014) linearised SE",
    "gwet_ac": "analytic: Gwet (2008, 2014) linearised SE",
    "fleiss_kappa": "analytic: Gwet (2014) linearised SE (missing-data form)",
}


def _table_parts(table: np.ndarray):
    n = table.sum()
    p = table / n
    return n, p, p.sum(axis=1), p.sum(axis=0)


def cohen_kappa_se(table: np.ndarray, weights: np.ndarray) -> float:
    n, p, row, col = _table_parts(table)
    pa = float((p * weights).sum())
    pe = float(row @ weights @ col)
    if n < 2 or abs(1 - pe) < 1e-12:
        return float("nan")
    kappa = (pa - pe) / (1 - pe)
    term = weights - (1 - kappa) * ((weights.T @ col)[:, None] + (weights.T @ row)[None, :])
    sum1 = float((p * term**2).sum())
    var = (sum1 - (pa - 2 * (1 - kappa) * pe) ** 2) / (n * (1 - pe) ** 2)
    return float(np.sqrt(max(var, 0.0)))


def scott_pi_se(table: np.ndarray, weights: np.ndarray) -> float:
    n, p, row, col = _table_parts(table)
    pi = (row + col) / 2
    pa = float((p * weights).sum())
    pe = float(pi @ weights @ pi)
    if n < 2 or abs(1 - pe) < 1e-12:
        return float("nan")
    scott = (pa - pe) / (1 - pe)
    pbk = ((weights.T @ col) + (weights.T @ row)) / 2
    term = weights - (1 - scott) * (pbk[:, None] + pbk[None, :])
    sum1 = float((p * term**2).sum())
    var = (sum1 - (pa - 2 * (1 - scott) * pe) ** 2) / (n * (1 - pe) ** 2)
    return float(np.sqrt(max(var, 0.0)))


def gwet_ac_table_se(table: np.ndarray, weights: np.ndarray) -> float:
    q = table.shape[0]
    n, p, row, col = _table_parts(table)
    if q < 2 or n < 2:
        return float("nan")
    pi = (row + col) / 2
    tw = weights.sum()
    pa = float((p * weights).sum())
    pe = float(tw * (pi * (1 - pi)).sum() / (q * (q - 1)))
    if abs(1 - pe) < 1e-12:
        return float("nan")
    ac = (pa - pe) / (1 - pe)
    term = weights - 2 * (1 - ac) * tw * (1 - (pi[:, None] + pi[None, :]) / 2) / (q * (q - 1))
    sum1 = float((p * term**2).sum())
    var = (sum1 - (pa - 2 * (1 - ac) * pe) ** 2) / (n * (1 - pe) ** 2)
    return float(np.sqrt(max(var, 0.0)))


def _linearised_se(
    pc: PatternCounts, weights: np.ndarray, value: float, pe: float, pe_item: np.ndarray
) -> float:
    """Gwet's linearised SE over items: each item's contribution is corrected for its
    effect on chance agreement, and the SE is that of their mean."""
    m = pc.ratings.multiplicity.astype(float)
    rated = pc.rated > 0
    n = float(m[rated].sum())
    n2 = float((m * pc.pairable).sum())
    if n < 2 or n2 == 0 or abs(1 - pe) < 1e-12 or not np.isfinite(value):
        return float("nan")
    pa_item = pc.observed_agreement_terms(weights)
    coef_item = (n / n2) * (pa_item - pe * pc.pairable) / (1 - pe)
    x = coef_item - 2 * (1 - value) * (pe_item - pe) / (1 - pe)
    var = float((m[rated] * (x[rated] - value) ** 2).sum()) / (n * (n - 1))
    return float(np.sqrt(var))


def fleiss_kappa_se(pc: PatternCounts, weights: np.ndarray) -> float:
    w = pc.ratings.multiplicity[None, :].astype(float)
    pa = float(pc.agreement(w, weights)[0])
    pi = pc.prevalence(w)[0]
    pe = float(pi @ weights @ pi)
    if abs(1 - pe) < 1e-12:
        return float("nan")
    value = (pa - pe) / (1 - pe)
    pi_w = (weights @ pi + weights.T @ pi) / 2
    pe_item = np.nan_to_num(_div(pc.counts @ pi_w, pc.per_item))
    return _linearised_se(pc, weights, value, pe, pe_item)


def gwet_ac_se(pc: PatternCounts, weights: np.ndarray) -> float:
    q = pc.q
    if q < 2:
        return float("nan")
    w = pc.ratings.multiplicity[None, :].astype(float)
    pa = float(pc.agreement(w, weights)[0])
    pi = pc.prevalence(w)[0]
    factor = weights.sum() / (q * (q - 1))
    pe = float(factor * (pi * (1 - pi)).sum())
    if abs(1 - pe) < 1e-12:
        return float("nan")
    value = (pa - pe) / (1 - pe)
    pe_item = np.nan_to_num(factor * _div(pc.counts @ (1 - pi), pc.per_item))
    return _linearised_se(pc, weights, value, pe, pe_item)
