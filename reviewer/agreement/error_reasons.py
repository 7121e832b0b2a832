"""Why classifiers erred, from auditors' error reasons: counts per field, classifier and
category, with example transcripts (the auditor's report in ``reviewer stats``)."""

from __future__ import annotations

from typing import Any

from db import Store
from db.labels import error_reasons, resolve_rubric
from rubrics import RubricError

EXAMPLES = 5


def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ",".join(map(str, sorted(value))) + "]"
    return "-" if value is None else str(value)


def _labels(store: Store, rubric_id: str) -> dict[str, str]:
    try:
        rubric = resolve_rubric(store, rubric_id)
    except RubricError:
        return {}
    return {r.id: r.label for r in rubric.audit_reasons}


def error_reason_report(store: Store, rubric_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """One entry per (rubric, field, classifier, what the classifier said), most tagged items
    first; in each, per reason code the number of distinct transcripts tagged with it and up
    to five example ids, plus the free texts. Codes a rubric does not define are kept as they
    are (their label is the code)."""
    groups: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for e in error_reasons(store):
        if rubric_ids is not None and e.rubric_id not in rubric_ids:
            continue
        value = e.value if isinstance(e.value, dict) else {}
        key = (
            e.rubric_id,
            str(value.get("field")),
            str(value.get("classifier")),
            _show(value.get("said")),
        )
        group = groups.setdefault(key, {"items": set(), "codes": {}, "texts": [], "refs": {}})
        group["items"].add(e.transcript_id)
        group["refs"].setdefault(_show(value.get("reference")), set()).add(e.transcript_id)
        for code in value.get("codes") or []:
            group["codes"].setdefault(code, set()).add(e.transcript_id)
        if e.note:
            group["texts"].append(
                {"transcript_id": e.transcript_id, "auditor": e.rater, "text": e.note}
            )
    labels: dict[str, dict[str, str]] = {}
    out = []
    for (rid, field_id, classifier, said), group in groups.items():
        names = labels.setdefault(rid, _labels(store, rid))
        reasons = [
            {
                "code": code,
                "label": names.get(code, code),
                "items": len(ids),
                "examples": sorted(ids)[:EXAMPLES],
            }
            for code, ids in group["codes"].items()
        ]
        reasons.sort(key=lambda r: (-r["items"], r["code"]))
        out.append(
            {
                "rubric_id": rid,
                "field": field_id,
                "classifier": classifier,
                "category": said,
                "items": len(group["items"]),
                "examples": sorted(group["items"])[:EXAMPLES],
                "reference": {ref: len(ids) for ref, ids in sorted(group["refs"].items())},
                "reasons": reasons,
                "texts": group["texts"],
            }
        )
    out.sort(
        key=lambda g: (-g["items"], g["rubric_id"], g["field"], g["classifier"], g["category"])
    )
    return out
