"""One field's full agreement report: overall, per pair, versus references, with intervals.

The report is a plain JSON-able dict in the shape ``reviewer stats --json`` documents. Every
statistic is evaluated once on the observed pattern counts and once per bootstrap resample of
them; undefined values become None with the reason, never 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reviewer.agreement import coefficients as co
from reviewer.agreement import variance as va
from reviewer.agreement.bands import band_of_interval
from reviewer.agreement.bootstrap import bootstrap, percentile_interval
from reviewer.agreement.ratings import RatingSet
from reviewer.agreement.versus_reference import (
    RATE_NAMES,
    batched_rates,
    rates,
    score_metrics,
)

AC2_WEIGHTS = {"ordinal": "ordinal", "interval": "quadratic", "ratio": "ratio"}
PREVALENCE_WARNING = 0.85
Z95 = 1.959963984540054
POSITIVE_NAMES = ("yes", "true", "1", "positive", "present", "potential_faking", "af")

Statistic = Callable[[np.ndarray], np.ndarray]


@dataclass
class FieldSpec:
    """What to compute for one field.

    ``panel`` are the raters whose mutual agreement is the "overall" block (the humans);
    ``comparisons`` are (rater, reference) pairs judged as prediction vs truth;
    ``classifiers`` get the "within human-human agreement?" comparison against the panel.
    """

    field: str
    ratings: RatingSet
    panel: Sequence[str] | None = None
    comparisons: Sequence[tuple[str, str]] = ()
    classifiers: Sequence[str] = ()
    positive: Any = None
    kind: str | None = None
    notes: list[str] = field(default_factory=list)


def default_positive(categories: Sequence[Any]) -> Any:
    """The positive category of a two-category field, when its name says so."""
    if len(categories) != 2:
        return None
    for c in categories:
        if isinstance(c, bool):
            return True
        if str(c).strip().lower() in POSITIVE_NAMES:
            return c
    return None


def _num(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


class _Facts:
    """Counts that explain why a coefficient is undefined."""

    def __init__(self, ratings: RatingSet, raters: Sequence[int]):
        self.raters = [ratings.raters[g] for g in raters]
        codes = ratings.patterns[:, np.asarray(list(raters), dtype=np.int64)]
        m = ratings.multiplicity
        present = codes >= 0
        self.n_ratings = int((present.sum(axis=1) * m).sum())
        per_item = present.sum(axis=1)
        self.n_rated_items = int(m[per_item >= 1].sum())
        self.n_pairable = int(m[per_item >= 2].sum())
        used = np.unique(codes[present]) if present.any() else np.empty(0, dtype=int)
        self.used = [ratings.categories[int(k)] for k in used]

    def reason(self) -> str:
        if not self.raters:
            return "no raters (on a database: no human labels yet): agreement needs two or more"
        if len(self.raters) < 2:
            return f"only one rater ({self.raters[0]}): agreement needs two or more"
        if self.n_ratings == 0:
            return "every rating is missing"
        if self.n_pairable == 0:
            return "no item was labelled by two or more of these raters"
        if len(self.used) == 1:
            return (
                f"every rating is {self.used[0]!r}: chance agreement is 1, so the coefficient "
                "is 0/0 (percent agreement is 100%)"
            )
        return (
            "undefined on these data (chance agreement is 1 or the resampled data vary too little)"
        )


class _Builder:
    def __init__(self, n_resamples: int, seed: int, confidence: float):
        self.statistics: dict[str, Statistic] = {}
        self.extras: dict[str, dict[str, Any]] = {}
        self.n_resamples = n_resamples
        self.seed = seed
        self.confidence = confidence

    def add(
        self,
        key: str,
        fn: Statistic,
        *,
        facts: _Facts,
        se=None,
        se_method=None,
        chance_corrected: bool = True,
    ) -> None:
        self.statistics[key] = fn
        self.extras[key] = {
            "facts": facts,
            "se": se,
            "se_method": se_method,
            "chance_corrected": chance_corrected,
        }

    def run(
        self, multiplicity: np.ndarray, order: np.ndarray | None = None
    ) -> dict[str, dict[str, Any]]:
        point_w = multiplicity[None, :].astype(float)
        points = {k: float(np.asarray(fn(point_w))[0]) for k, fn in self.statistics.items()}
        draws = bootstrap(
            self.statistics,
            multiplicity,
            n_resamples=self.n_resamples,
            seed=self.seed,
            order=order,
        )
        method = f"item bootstrap, percentile, {self.n_resamples} resamples, seed {self.seed}"
        out = {}
        for key, value in points.items():
            extra = self.extras[key]
            entry: dict[str, Any] = {"value": _num(value), "ci": None, "ci_method": method}
            if entry["value"] is None:
                entry["ci_method"] = None
                entry["reason"] = extra["facts"].reason()
            else:
                interval, undefined = percentile_interval(draws[key], self.confidence)
                entry["ci"] = None if interval is None else [interval[0], interval[1]]
                if interval is not None and interval[1] - interval[0] < 1e-12:
                    self._zero_width(key, entry)
                    interval = entry["ci"]
                if self.n_resamples == 0:
                    entry["ci_method"] = None
                elif interval is None:
                    entry["ci_method"] = None
                    entry["reason"] = "too few resamples where it is defined for an interval"
                elif undefined:
                    entry["ci_method"] += f" ({undefined} resamples undefined, left out)"
            se = extra["se"]() if extra["se"] is not None and entry["value"] is not None else None
            if se is not None and np.isfinite(se):
                entry["se"] = float(se)
                entry["se_method"] = extra["se_method"]
                low = entry["value"] - Z95 * se
                high = min(1.0, entry["value"] + Z95 * se)
                entry["analytic_ci"] = [float(low), float(high)]
            if extra["chance_corrected"] and entry["value"] is not None:
                band, note = band_of_interval(entry["value"], entry["ci"])
                entry["interpretation"] = band or "no single band"
                if note:
                    entry["interpretation_note"] = note
            out[key] = entry
        return out

    def _zero_width(self, key: str, entry: dict[str, Any]) -> None:
        """Every resample gave the same value (all items agree, say): the percentile interval
        is a point, which would claim certainty that n items do not give. A proportion of
        agreeing items (percent agreement, and AC1 when every rating is one category, where it
        equals percent agreement) gets the Wilson interval on the items instead; any other
        coefficient gets no interval, with the reason."""
        facts = self.extras[key]["facts"]
        n = facts.n_pairable
        value = entry["value"]
        is_share = key.endswith("percent_agreement") or ("gwet_ac" in key and len(facts.used) == 1)
        if is_share and n > 0 and 0 <= value <= 1:
            from reviewer.estimates import wilson

            entry["ci"] = wilson(value * n, n, self.confidence)
            entry["ci_method"] = (
                f"Wilson on the {n} items rated twice or more (every "
                "bootstrap resample gave the same value)"
            )
        else:
            entry["ci"] = None
            entry["zero_width"] = True
            entry["reason"] = (
                "every bootstrap resample gave the same value, so the bootstrap "
                "cannot measure this coefficient's uncertainty: no interval"
            )


def _cohen_variants(level: str) -> list[tuple[str, str]]:
    variants = [("cohen_kappa", "identity")]
    if level != "nominal":
        variants += [("cohen_kappa_linear", "linear"), ("cohen_kappa_quadratic", "quadratic")]
    return variants


NONINFERIORITY_MARGIN = 0.10


def noninferiority_verdict(ci: list[float] | None, margin: float) -> str | None:
    """Is the classifier's agreement with humans at most ``margin`` below the humans' agreement
    with each other? A non-inferiority test read off the two-sided interval of the difference
    (one-sided at half its level): non-inferior when the whole interval lies above -margin,
    inferior when it lies below, otherwise inconclusive: an interval that merely reaches 0
    says nothing."""
    if ci is None:
        return None
    low, high = ci
    if low > -margin:
        return "non-inferior, and above" if low > 0 else "non-inferior"
    if high < -margin:
        return "inferior"
    return "inconclusive"


def analyse_field(
    spec: FieldSpec,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    margin: float = NONINFERIORITY_MARGIN,
) -> dict[str, Any]:
    rs = spec.ratings
    level = rs.level
    q = rs.n_categories
    ranks = np.arange(q, dtype=float)
    identity = np.eye(q)
    panel_names = list(spec.panel) if spec.panel is not None else list(rs.raters)
    panel = [rs.rater_index(r) for r in panel_names]
    b = _Builder(n_resamples, seed, confidence)
    warnings: list[str] = list(spec.notes)

    # -- overall: the panel's mutual agreement -----------------------------------------
    facts = _Facts(rs, panel)
    pc = co.PatternCounts(rs, panel)
    b.add(
        "overall.percent_agreement",
        lambda w: co.percent_agreement(pc, w),
        facts=facts,
        chance_corrected=False,
    )
    b.add(
        "overall.fleiss_kappa",
        lambda w: co.fleiss_kappa(pc, w),
        facts=facts,
        se=lambda: va.fleiss_kappa_se(pc, identity),
        se_method=va.SE_METHODS["fleiss_kappa"],
    )
    b.add("overall.conger_kappa", lambda w: co.conger_kappa(pc, w), facts=facts)
    b.add("overall.krippendorff_alpha", lambda w: co.krippendorff_alpha(pc, w, level), facts=facts)
    b.add(
        "overall.gwet_ac1",
        lambda w: co.gwet_ac(pc, w),
        facts=facts,
        se=lambda: va.gwet_ac_se(pc, identity),
        se_method=va.SE_METHODS["gwet_ac"],
    )
    if level != "nominal":
        try:
            ac2_w = co.weight_matrix(AC2_WEIGHTS[level], rs.numeric_values())
        except ValueError as exc:
            warnings.append(f"gwet_ac2 not computed: {exc}")
        else:
            b.add(
                "overall.gwet_ac2",
                lambda w: co.gwet_ac(pc, w, ac2_w),
                facts=facts,
                se=lambda: va.gwet_ac_se(pc, ac2_w),
                se_method=va.SE_METHODS["gwet_ac"],
            )

    # Weighted Cohen's kappa: at the interval and ratio levels the weights use the categories'
    # values, as alpha and AC2 do; at the ordinal level (and for non-numeric categories) ranks.
    cohen_positions = ranks
    if level in ("interval", "ratio"):
        cohen_positions = rs.numeric_values()
        try:
            [float(c) for c in rs.categories]
        except (TypeError, ValueError):
            warnings.append(
                "weighted Cohen's kappa uses category ranks: the categories are not numbers"
            )

    tables: dict[tuple[int, int], co.PairTable] = {}

    def table(a: int, c: int) -> co.PairTable:
        if (a, c) not in tables:
            tables[(a, c)] = co.PairTable(rs, a, c)
        return tables[(a, c)]

    def add_pair_metrics(prefix: str, a: int, c: int) -> None:
        pt = table(a, c)
        pf = _Facts(rs, [a, c])
        point = lambda: pt.tables(rs.multiplicity[None, :].astype(float))[0]  # noqa: E731
        b.add(
            f"{prefix}.percent_agreement",
            lambda w: co.percent_agreement_table(pt.tables(w)),
            facts=pf,
            chance_corrected=False,
        )
        for name, kind in _cohen_variants(level):
            wm = co.weight_matrix(kind, cohen_positions)
            b.add(
                f"{prefix}.{name}",
                lambda w, wm=wm: co.cohen_kappa_table(pt.tables(w), wm),
                facts=pf,
                se=lambda wm=wm: va.cohen_kappa_se(point(), wm),
                se_method=va.SE_METHODS["cohen_kappa"],
            )
        b.add(
            f"{prefix}.scott_pi",
            lambda w: co.scott_pi_table(pt.tables(w)),
            facts=pf,
            se=lambda: va.scott_pi_se(point(), identity),
            se_method=va.SE_METHODS["scott_pi"],
        )
        b.add(
            f"{prefix}.gwet_ac1",
            lambda w: co.gwet_ac_table(pt.tables(w)),
            facts=pf,
            se=lambda: va.gwet_ac_table_se(point(), identity),
            se_method=va.SE_METHODS["gwet_ac"],
        )
        ppc = co.PatternCounts(rs, [a, c])
        b.add(
            f"{prefix}.krippendorff_alpha", lambda w: co.krippendorff_alpha(ppc, w, level), facts=pf
        )

    if len(panel) == 2:
        add_pair_metrics("overall2", panel[0], panel[1])

    # Raters who share no item have nothing to agree or disagree on: left out, and counted.
    def shared(a: int, c: int) -> int:
        return int(table(min(a, c), max(a, c)).both @ rs.multiplicity)

    all_pairs = list(itertools.combinations(range(rs.n_raters), 2))
    pairs = [(a, c) for a, c in all_pairs if shared(a, c) > 0]
    no_shared_pairs = [[rs.raters[a], rs.raters[c]] for a, c in all_pairs if shared(a, c) == 0]
    comparisons = []
    no_shared_versus = []
    for i, (rater, reference) in enumerate(spec.comparisons):
        if shared(rs.rater_index(rater), rs.rater_index(reference)) > 0:
            comparisons.append((i, rater, reference))
        else:
            no_shared_versus.append([rater, reference])
    for a, c in pairs:
        add_pair_metrics(f"pair.{a}.{c}", a, c)

    # -- does each classifier agree with the panel as well as the panel agrees? --------
    gaps = []
    panel_pairs = list(itertools.combinations(panel, 2))
    for name in spec.classifiers:
        g = rs.rater_index(name)
        humans = [h for h in panel if h != g]
        if len(humans) < 2 or len(panel_pairs) == 0 or not any(shared(g, h) for h in humans):
            continue
        hh_pairs = [(x, y) for x, y in panel_pairs if g not in (x, y)]

        def hh(w, hh_pairs=hh_pairs):
            vals = np.stack([co.cohen_kappa_table(table(x, y).tables(w)) for x, y in hh_pairs])
            return _nanmean(vals)

        def ch(w, g=g, humans=humans):
            vals = np.stack(
                [co.cohen_kappa_table(table(min(g, h), max(g, h)).tables(w)) for h in humans]
            )
            return _nanmean(vals)

        gf = _Facts(rs, [g, *humans])
        b.add(f"gap.{g}.rater", ch, facts=gf)
        b.add(f"gap.{g}.humans", hh, facts=gf)
        b.add(
            f"gap.{g}.difference",
            lambda w, ch=ch, hh=hh: ch(w) - hh(w),
            facts=gf,
            chance_corrected=False,
        )
        gaps.append((name, g, [rs.raters[h] for h in humans]))

    # -- rates of each rater against its reference, for their intervals ---------------
    comparison_positions = []
    for i, rater, reference in comparisons:
        g, f = rs.rater_index(rater), rs.rater_index(reference)
        pos_index = _positive_index(rs, spec.positive)
        comparison_positions.append(pos_index)
        vt = co.PairTable(rs, f, g)
        vf = _Facts(rs, [f, g])
        for name in RATE_NAMES:
            if name != "accuracy" and pos_index is None:
                continue
            b.add(
                f"vs.{i}.{name}",
                lambda w, vt=vt, p=pos_index, name=name: batched_rates(vt.tables(w), p)[name],
                facts=vf,
                chance_corrected=False,
            )

    results = b.run(rs.multiplicity, canonical_order(rs))

    overall = {k.split(".", 1)[1]: v for k, v in results.items() if k.startswith("overall.")}
    if len(panel) == 2:
        for k, v in results.items():
            if k.startswith("overall2.") and k.split(".", 1)[1] not in overall:
                overall[k.split(".", 1)[1]] = v

    pair_entries = []
    for a, c in pairs:
        prefix = f"pair.{a}.{c}."
        entry: dict[str, Any] = {
            "raters": [rs.raters[a], rs.raters[c]],
            "n_items": int(table(a, c).both @ rs.multiplicity),
        }
        for k, v in results.items():
            if k.startswith(prefix):
                entry[k[len(prefix) :]] = v
        pair_entries.append(entry)

    versus = []
    for i, rater, reference in comparisons:
        entry = versus_reference(
            rs,
            rater,
            reference,
            spec.positive,
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
        )
        intervals = {}
        wilson_rates = _wilson_rates(entry)
        for name in RATE_NAMES:
            stat = results.get(f"vs.{i}.{name}")
            if stat is not None and stat["value"] is not None:
                intervals[name] = stat["ci"]
                if stat.get("zero_width") and name in wilson_rates:
                    intervals[name] = wilson_rates[name]
                    entry.setdefault("notes", []).append(
                        f"{name}: every resample gave {stat['value']:.3f}; Wilson interval on "
                        "its count instead"
                    )
        entry["intervals"] = intervals
        entry["intervals_method"] = (
            f"item bootstrap, percentile, {n_resamples} resamples, seed {seed}"
            if n_resamples
            else None
        )
        versus.append(entry)

    gap_entries = []
    for name, g, humans in gaps:
        diff = results[f"gap.{g}.difference"]
        gap_entries.append(
            {
                "rater": name,
                "humans": humans,
                "metric": "cohen_kappa (mean over pairs)",
                "rater_vs_humans": results[f"gap.{g}.rater"],
                "humans_vs_humans": results[f"gap.{g}.humans"],
                "difference": diff,
                "verdict": noninferiority_verdict(diff["ci"], margin),
                "margin": margin,
                "test": f"non-inferiority: rater minus humans above -{margin:g} kappa, read off the "
                f"{confidence:.0%} interval (one-sided at {(1 - confidence) / 2:.1%})",
            }
        )

    prevalence = _prevalence(rs, pc)
    warnings += _prevalence_warnings(prevalence, overall)
    rated = (rs.patterns >= 0).any(axis=1)
    return {
        "field": spec.field,
        "kind": spec.kind,
        "level": level,
        "n_items": int(rs.multiplicity[rated].sum()),
        "n_raters": rs.n_raters,
        "raters": list(rs.raters),
        "panel": panel_names,
        "categories": [_jsonable(c) for c in rs.categories],
        "prevalence": prevalence,
        "overall": overall,
        "pairs": pair_entries,
        "versus_reference": versus,
        "classifier_vs_humans": gap_entries,
        "no_shared_items": {"pairs": no_shared_pairs, "versus_reference": no_shared_versus},
        "warnings": warnings,
    }


def _wilson_rates(entry: dict[str, Any]) -> dict[str, list[float] | None]:
    """Wilson intervals of the rates that are proportions of a count, from the confusion."""
    from reviewer.estimates import wilson

    m = np.asarray(entry["confusion"]["matrix"], dtype=float)
    out = {"accuracy": wilson(float(np.trace(m)), float(m.sum()))}
    labels = [str(c) for c in entry["confusion"]["labels"]]
    if entry.get("positive") is None or str(entry["positive"]) not in labels:
        return out
    k = labels.index(str(entry["positive"]))
    tp = m[k, k]
    fn, fp = m[k].sum() - tp, m[:, k].sum() - tp
    tn = m.sum() - tp - fn - fp
    out.update(
        precision=wilson(tp, tp + fp), recall=wilson(tp, tp + fn), specificity=wilson(tn, tn + fp)
    )
    return out


def canonical_order(rs: RatingSet) -> np.ndarray:
    """The patterns sorted by what they say (rater name and category, as text), whatever the
    codes: the bootstrap draws in this order."""
    by_name = sorted(range(rs.n_raters), key=lambda r: str(rs.raters[r]))
    labels = [str(c) for c in rs.categories]

    def key(p: int) -> tuple:
        row = rs.patterns[p]
        return tuple(
            (str(rs.raters[r]), "" if row[r] < 0 else "\x01" + labels[row[r]]) for r in by_name
        )

    return np.asarray(sorted(range(len(rs.multiplicity)), key=key), dtype=np.int64)


def _nanmean(vals: np.ndarray) -> np.ndarray:
    finite = np.isfinite(vals)
    total = np.where(finite, vals, 0.0).sum(axis=0)
    count = finite.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _prevalence(rs: RatingSet, pc: co.PatternCounts) -> dict[str, float] | None:
    pi = pc.prevalence(rs.multiplicity[None, :].astype(float))[0]
    if not np.all(np.isfinite(pi)):
        return None
    return {str(c): float(p) for c, p in zip(rs.categories, pi, strict=True)}


def _prevalence_warnings(prevalence: dict[str, float] | None, overall: dict) -> list[str]:
    if not prevalence or len(prevalence) < 2:
        return []
    top, share = max(prevalence.items(), key=lambda kv: kv[1])
    if share < PREVALENCE_WARNING:
        return []
    ac1 = overall.get("gwet_ac1", {}).get("value")
    pa = overall.get("percent_agreement", {}).get("value")
    beside = []
    if ac1 is not None:
        beside.append(f"Gwet's AC1 = {ac1:.3f}")
    if pa is not None:
        beside.append(f"percent agreement = {pa:.3f}")
    return [
        f"skewed prevalence: {top!r} is {share:.0%} of ratings, so kappa-type coefficients "
        "(Cohen, Scott, Fleiss, Conger, Krippendorff) can be low despite high agreement "
        "(the kappa paradox); read them beside " + (" and ".join(beside) or "Gwet's AC1")
    ]


def _positive_index(rs: RatingSet, positive: Any) -> int | None:
    if positive is None:
        positive = default_positive(rs.categories)
    if positive is None:
        return None
    matches = [k for k, c in enumerate(rs.categories) if str(c) == str(positive)]
    return matches[0] if matches else None


def versus_reference(
    rs: RatingSet,
    rater: str,
    reference: str,
    positive: Any = None,
    *,
    n_resamples: int = 0,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, Any]:
    """The rater as a prediction of the reference: confusion matrix, rates, AUROC, AP."""
    g, f = rs.rater_index(rater), rs.rater_index(reference)
    pt = co.PairTable(rs, f, g)
    confusion = pt.tables(rs.multiplicity[None, :].astype(float))[0]
    if positive is None:
        positive = default_positive(rs.categories)
    pos_index = None
    notes = []
    if positive is not None:
        matches = [k for k, c in enumerate(rs.categories) if str(c) == str(positive)]
        if matches:
            pos_index = matches[0]
        else:
            notes.append(f"positive value {positive!r} is not one of the categories")
    elif rs.n_categories != 2:
        notes.append(
            "precision, recall, specificity and F1 need a positive category (--positive VALUE)"
        )
    entry: dict[str, Any] = {
        "rater": rater,
        "reference": reference,
        "n_items": int(confusion.sum()),
        "positive": _jsonable(rs.categories[pos_index]) if pos_index is not None else None,
    }
    entry.update(rates(confusion, pos_index))
    score = rs.scores.get(rater)
    if pos_index is not None and rs.item_pattern is not None:
        ref_codes = rs.patterns[rs.item_pattern, f]
        labelled = ref_codes >= 0
        truth = ref_codes[labelled] == pos_index
        sm = score_metrics(
            truth,
            None if score is None else np.asarray(score)[labelled],
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
        )
    else:
        sm = {
            "auroc": None,
            "average_precision": None,
            "score_note": "needs a positive category" if pos_index is None else None,
        }
    entry["auroc"] = sm["auroc"]
    entry["average_precision"] = sm["average_precision"]
    entry["auroc_ci"] = sm.get("auroc_ci")
    entry["auroc_ci_method"] = sm.get("auroc_ci_method")
    entry["average_precision_ci"] = sm.get("average_precision_ci")
    entry["chance_flags"] = sm.get("chance_flags", [])
    if sm.get("score_note") and pos_index is not None:
        notes.append(sm["score_note"])
    entry["confusion"] = {
        "labels": [_jsonable(c) for c in rs.categories],
        "rows": f"reference ({reference})",
        "columns": f"rater ({rater})",
        "matrix": confusion.astype(int).tolist(),
    }
    entry["notes"] = notes
    return entry


def confusion_items(rs: RatingSet, rater: str, reference: str) -> dict[tuple[Any, Any], list]:
    """The items behind each confusion-matrix cell: {(reference label, rater label): items}."""
    if rs.item_pattern is None:
        raise ValueError("the RatingSet needs keep_items=True to list items")
    g, f = rs.rater_index(rater), rs.rater_index(reference)
    ref = rs.patterns[rs.item_pattern, f]
    got = rs.patterns[rs.item_pattern, g]
    items = rs.items if rs.items is not None else range(len(rs.item_pattern))
    cells: dict[tuple[Any, Any], list] = {}
    for pos in np.flatnonzero((ref >= 0) & (got >= 0)).tolist():
        key = (rs.categories[ref[pos]], rs.categories[got[pos]])
        item = items[pos]
        cells.setdefault(key, []).append(item.item() if isinstance(item, np.generic) else item)
    return cells
