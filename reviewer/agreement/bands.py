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
