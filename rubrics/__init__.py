"""Rubrics: versioned TOML files that say what to label, how, and how a classifier is asked."""

from rubrics.loader import RubricError, builtin_rubric_paths, load_rubric, resolve_rubric
from rubrics.model import Category, ClassifierSpec, Field, Rubric

__all__ = [
    "Category",
    "ClassifierSpec",
    "Field",
    "Rubric",
    "RubricError",
    "builtin_rubric_paths",
    "load_rubric",
    "resolve_rubric",
]
