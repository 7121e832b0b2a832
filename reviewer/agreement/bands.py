"""Verbal interpretation bands for chance-corrected coefficients.

Landis and Koch (1977) proposed these bands for kappa; they are conventions, not tests, and
are printed with their name so nobody mistakes them for a statistical judgement.
"""

from __future__ import annotations

BAND_SOURCE = "Landis & Koch (1977)"

LANDIS_KOCH = (
    (0.0, "poor"),
    (0.2, "slight"),
    (0.4, "fair"),
    (0.6, "moderate"),
    (0.8, "substantial"),
    (1.0, "almost perfect"),
)


def interpretation(value: float) -> str:
    """The Landis-Koch band of a coefficient: below 0 poor, 0-0.20 slight, ... 0.81-1."""
    if value < 0:
        return "poor"
    for upper, label in LANDIS_KOCH[1:]:
        if value <= upper:
            return label
    return "almost perfect"


def band_of_interval(value: float, ci: list[float] | None) -> tuple[str | None, str | None]:
    """The band of a coefficient, or None with a note when its interval spans several bands:
    a band is then no statement about the data."""
    band = interpretation(value)
    if ci is None:
        return band, None
    low, high = interpretation(ci[0]), interpretation(ci[1])
    if low == high:
        return band, None
    return None, f"interval spans {low} to {high}"
