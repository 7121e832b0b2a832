"""Design-consistent rates from a classifier that labels everything and humans who label a
sample: the numeric core of ``reviewer analyze`` (no database here).

The estimator is prediction-powered inference with power tuning (PPI++, Angelopoulos, Duchi
and Zrnic 2023) written as the survey statistician's difference estimator (Särndal, Swensson
and Wretman 1992, ch. 6) with inverse-probability weights:

    rate_g = lam * mean_{U_g}(f) + sum_{s_g} w_i (y_i - lam f_i) / sum_{s_g} w_i

where U_g are all the group's transcripts the classifier labelled (f: its 0/1 label), s_g the
sampled ones with a reference label y, and w_i = 1 / (inclusion probability) adjusted for
assignments not yet labelled (weighting-class adjustment within each stratum: the labelled part
of a stratum is taken as a random part of what was drawn there, which holds because every queue
orders its items by a seeded shuffle). ``lam`` in [0, 1] is fitted once per outcome on the whole
sample (weighted regression slope of y on f); lam = 1 is the plain difference estimator,
lam = 0 the human-only estimate. Any fixed lam gives a design-consistent estimate; fitting it
only trades variance.

Variance: Taylor linearisation of the ratio (Hajek) estimator under stratified sampling,
sum_h (1 - f_h) r_h / (r_h - 1) sum_{i in h} (z_i - zbar_h)^2 with z_i the item's linearised
contribution (zero outside the group), so a group that cuts across strata (a random queue) is
a domain estimate, and a gap or a difference of gaps is the same formula on the difference of
the z's. Two more terms keep the interval honest:

- the transcripts of a group are themselves a sample of the model's behaviour, so the rate the
  study asks about (the model's rate on prompts like these) carries rate (1 - rate) / N_g more;
- a stratum where humans and classifier never disagreed gives zero residual variance by luck,
  not knowledge: such a stratum takes the variance of a disagreement rate of 0.5 / (m + 1)
  instead (m: the group's labelled items there; the Jeffreys prior's half pseudo-count), so no
  interval is zero-width unless every item is labelled by humans.

Human-only rates use the same weights (lam = 0) and a Wilson interval on the effective sample
size (Korn and Graubard 1998); the classifier's own rate has a Wilson interval on N_g.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np

CONFIDENCE = 0.95
MIN_PER_STRATUM = 2
# Half a disagreement (the Jeffreys prior's pseudo-count) where a stratum showed none.
PSEUDO = 0.5


def z_value(confidence: float = CONFIDENCE) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: float, confidence: float = CONFIDENCE) -> list[float] | None:
    """Wilson score interval for a proportion; ``n`` may be an effective (non-integer) size.
    Never zero-width for n > 0: with 0 of n it is [0, z^2 / (n + z^2)]."""
    if n <= 0:
        return None
    z = z_value(confidence)
    p = min(1.0, max(0.0, successes / n))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return [float(max(0.0, centre - half)), float(min(1.0, centre + half))]


@dataclass
class DesignSample:
    """The human-labelled sample of one outcome, one entry per sampled item.

    ``stratum`` codes the design strata; ``fpc`` is each item's stratum sampling fraction
    r_h / N_h (0 where the design is not simple random sampling within the stratum, which makes
    the variance the with-replacement one: conservative). ``group`` is the item's estimation
    group code (-1: in no group asked about)."""

    y: np.ndarray
    f: np.ndarray
    weight: np.ndarray
    stratum: np.ndarray
    fpc: np.ndarray
    group: np.ndarray

    @classmethod
    def build(
        cls,
        y: Sequence[float],
        f: Sequence[float],
        weight: Sequence[float],
        stratum: Sequence[int],
        fpc: Sequence[float],
        group: Sequence[int],
    ) -> DesignSample:
        return cls(
            *(np.asarray(a, dtype=float) for a in (y, f, weight)),
            np.asarray(stratum, dtype=np.int64),
            np.asarray(fpc, dtype=float),
            np.asarray(group, dtype=np.int64),
        )

    def __len__(self) -> int:
        return int(self.y.size)


def power_tuning(sample: DesignSample) -> float:
    """The weighted least-squares slope of y on f, clipped to [0, 1] (PPI++'s lam for a mean
    when the unlabelled set is much larger than the labelled one). 0 when f does not vary."""
    w = sample.weight
    if w.sum() <= 0:
        return 0.0
    fm = np.average(sample.f, weights=w)
    ym = np.average(sample.y, weights=w)
    var_f = np.average((sample.f - fm) ** 2, weights=w)
    if var_f <= 1e-12:
        return 0.0
    cov = np.average((sample.f - fm) * (sample.y - ym), weights=w)
    return float(min(1.0, max(0.0, cov / var_f)))


@dataclass
class Linear:
    """An estimate with what its variance needs: the linearised contribution z of every sample
    item, the superpopulation term and the floor (see the module docstring)."""

    value: float
    z: np.ndarray
    superpopulation: float
    floor: np.ndarray  # per design stratum (codes in sorted order)
    n: int
    terms: list[tuple[float, Linear]] = field(default_factory=list)

    def __sub__(self, other: Linear) -> Linear:
        return combine([(1.0, self), (-1.0, other)])


def combine(terms: list[tuple[float, Linear]]) -> Linear:
    """A linear combination of estimates (a gap, a difference of gaps)."""
    value = sum(c * e.value for c, e in terms)
    z = sum(c * e.z for c, e in terms)
    return Linear(
        float(value),
        np.asarray(z),
        sum(c * c * e.superpopulation for c, e in terms),
        sum(c * c * e.floor for c, e in terms),
        sum(e.n for _, e in terms),
        terms,
    )


def _strata(sample: DesignSample) -> tuple[np.ndarray, np.ndarray]:
    codes, inverse = np.unique(sample.stratum, return_inverse=True)
    return codes, inverse


def stratum_variances(sample: DesignSample, z: np.ndarray) -> np.ndarray:
    """Per design stratum, (1 - f_h) r_h / (r_h - 1) sum (z_i - zbar_h)^2."""
    codes, inverse = _strata(sample)
    if z.size == 0:
        return np.zeros(codes.size)
    r = np.bincount(inverse, minlength=codes.size).astype(float)
    zsum = np.bincount(inverse, weights=z, minlength=codes.size)
    zmean = zsum / r
    ss = np.bincount(inverse, weights=(z - zmean[inverse]) ** 2, minlength=codes.size)
    fpc = np.bincount(inverse, weights=sample.fpc, minlength=codes.size) / r
    single = r < 2
    # A stratum with one labelled item has no spread to measure: its squared contribution
    # stands in (as if the stratum's mean were 0), which is the usual conservative choice.
    factor = np.where(single, 1.0, r / np.maximum(r - 1, 1))
    ss = np.where(single, zsum**2, ss)
    return (1 - np.clip(fpc, 0, 1)) * factor * ss


def design_variance(sample: DesignSample, z: np.ndarray) -> float:
    """Stratified linearisation variance of sum(z) (see the module docstring)."""
    return float(np.sum(stratum_variances(sample, z)))


def domain_estimate(
    sample: DesignSample,
    group: int,
    f_mean: float,
    population: int,
    lam: float,
    *,
    model_rate: bool = True,
    pooled: bool = False,
) -> Linear | None:
    """The rate of one group: lam * mean_U(f) + weighted mean of (y - lam f) over its sample.
    ``model_rate``: the target is the model's rate on prompts like these (the group's own
    sampling variance counts); otherwise the rate among exactly these transcripts.
    ``pooled``: the correction is the mean of (y - lam f) over the whole sample, every group's
    items alike (valid only if the classifier errs alike in every group)."""
    in_group = sample.group == group
    if not in_group.any():
        return None
    mask = np.ones_like(in_group) if pooled else in_group
    n = int(mask.sum())
    if n == 0:
        return None
    w = np.where(mask, sample.weight, 0.0)
    total = w.sum()
    resid = sample.y - lam * sample.f
    m = float((w * resid).sum() / total)
    value = lam * f_mean + m
    z = w * (resid - m) / total
    superpopulation = 0.0
    if (
        population > 0 and model_rate
    ):  # at 0 or 1 the rate is not known exactly: half an item either way
        edge = 0.5 / (population + 1)
        p = min(1.0 - edge, max(edge, value))
        superpopulation = p * (1 - p) / population
    # The floor: per stratum, the spread of a disagreement rate of 0.5 / (m_h + 1) (m_h: the
    # group's labelled items there), at the stratum's mean weight and sampling fraction.
    codes, inverse = _strata(sample)
    m_h = np.bincount(inverse, weights=mask.astype(float), minlength=codes.size)
    w_h = np.bincount(inverse, weights=w, minlength=codes.size)
    fpc = np.bincount(inverse, weights=sample.fpc, minlength=codes.size) / np.maximum(
        np.bincount(inverse, minlength=codes.size), 1
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        pseudo = PSEUDO / (m_h + 2 * PSEUDO)
        mean_w = np.where(m_h > 0, w_h / np.maximum(m_h, 1), 0.0)
        floor = (1 - np.clip(fpc, 0, 1)) * m_h * (mean_w / total) ** 2 * pseudo * (1 - pseudo)
    return Linear(float(value), z, superpopulation, floor, n)


def _floored(per: np.ndarray, floor: np.ndarray) -> float:
    """A stratum whose labelled items showed no spread at all takes the floor instead."""
    return float(np.sum(np.where(per <= 1e-15, floor, per)))


def variance(sample: DesignSample, est: Linear) -> float:
    return _floored(stratum_variances(sample, est.z), est.floor) + est.superpopulation


def normal_interval(
    sample: DesignSample,
    est: Linear,
    bounds: tuple[float, float] = (0.0, 1.0),
    confidence: float = CONFIDENCE,
) -> dict:
    """Value, standard error and the interval clipped to what the quantity can be; says when
    the point was clipped (a correction can overshoot 0 or 1)."""
    se = float(np.sqrt(variance(sample, est)))
    half = z_value(confidence) * se
    low, high = bounds
    value = min(high, max(low, est.value))
    out = {
        "value": value,
        "se": se,
        "ci": [max(low, est.value - half), min(high, est.value + half)],
    }
    if value != est.value:
        out["clipped_from"] = est.value
    return out


def wilson_design(sample: DesignSample, est: Linear, confidence: float = CONFIDENCE) -> dict:
    """A Wilson interval on the effective sample size p(1-p)/var (Korn and Graubard 1998); with
    p at 0 or 1, where that is undefined, on Kish's effective size instead."""
    var = variance(sample, est)
    p = min(1.0, max(0.0, est.value))
    if 0 < p < 1 and var > 0:
        n_eff = p * (1 - p) / var
    else:  # 0 or 1 observed: the variance of a rate of 1/2 over the same variance gives n
        n_eff = max(1.0, 0.25 / var) if var > 0 else float(max(1, est.n))
        n_eff = min(n_eff, float(est.n))
    return {
        "value": p,
        "se": float(np.sqrt(var)),
        "ci": wilson(p * n_eff, n_eff, confidence),
        "n_effective": round(float(n_eff), 1),
    }


def residual_sd_by_stratum(sample: DesignSample, lam: float, group: int) -> dict[int, float]:
    """The spread of y - lam f within each stratum of a group's sample (for the planner)."""
    out = {}
    mask = sample.group == group
    resid = sample.y - lam * sample.f
    for h in np.unique(sample.stratum[mask]):
        r = resid[mask & (sample.stratum == h)]
        sd = float(r.std(ddof=1)) if r.size > 1 else 0.5
        out[int(h)] = max(sd, 0.1)
    return out


def items_for_width(
    sample: DesignSample,
    est: Linear,
    target_half_width: float,
    population: int,
    confidence: float = CONFIDENCE,
) -> int | None:
    """How many labelled items the group's estimate needs for a half-width of the target, if the
    new items are drawn like the present ones: the design variance is S^2 (1/n - 1/N), with S^2
    read off the present one. At most N (all of them). None when the group's own sampling
    variance alone is wider than the target (no number of labels can help)."""
    z = z_value(confidence)
    budget = (target_half_width / z) ** 2 - est.superpopulation
    if budget <= 0:
        return None
    design = _floored(stratum_variances(sample, est.z), est.floor)
    n0 = est.n
    if design <= budget:
        return n0
    if n0 >= population:
        return population
    spread = design / (1 / n0 - 1 / population)
    need = 1 / (budget / spread + 1 / population)
    return int(min(population, np.ceil(need)))


class AllocationError(ValueError):
    """A sample too small for its strata."""


def neyman_allocation(
    sizes: list[int], sds: list[float], total: int, minimum: int | None = None
) -> list[int]:
    """Sample sizes per stratum proportional to N_h * S_h (Neyman 1934), each at least
    MIN_PER_STRATUM (or the whole stratum if smaller) so that every item has a positive
    inclusion probability and every stratum a variance, and never more than N_h. Integer
    shares by largest remainder."""
    least = MIN_PER_STRATUM if minimum is None else minimum
    floor = [min(least, n) for n in sizes]
    if sum(floor) > total:
        raise AllocationError(
            f"{len(sizes)} strata need at least {sum(floor)} items ({least} each) "
            "for every item to have a chance of being drawn"
        )
    alloc = list(floor)
    left = min(total, sum(sizes)) - sum(alloc)
    while left > 0:
        open_ = [h for h, n in enumerate(sizes) if alloc[h] < n]
        if not open_:
            break
        weights = {h: sizes[h] * sds[h] for h in open_}
        mass = sum(weights.values()) or float(len(open_))
        ideal = {
            h: left * (weights[h] / mass if sum(weights.values()) else 1 / len(open_))
            for h in open_
        }
        given = 0
        for h in open_:
            add = min(int(ideal[h]), sizes[h] - alloc[h])
            alloc[h] += add
            given += add
        rest = left - given
        if rest > 0:
            by_remainder = sorted(open_, key=lambda h: (-(ideal[h] - int(ideal[h])), h))
            for h in by_remainder:
                if rest == 0:
                    break
                if alloc[h] < sizes[h]:
                    alloc[h] += 1
                    rest -= 1
            given = left - rest
        if given == 0:
            break
        left -= given
    return alloc
