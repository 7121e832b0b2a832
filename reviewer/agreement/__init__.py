"""Agreement statistics (numpy only): coefficients, intervals, and raters judged against a
reference. Ratings are compressed once into item patterns (see ``ratings``), and every
coefficient and every bootstrap resample is a weighted sum over those patterns."""

from reviewer.agreement.ratings import LEVELS, RatingSet
from reviewer.agreement.report import (
    FieldSpec,
    analyse_field,
    confusion_items,
    default_positive,
    versus_reference,
)

__all__ = [
    "LEVELS",
    "FieldSpec",
    "RatingSet",
    "analyse_field",
    "confusion_items",
    "default_positive",
    "versus_reference",
]
