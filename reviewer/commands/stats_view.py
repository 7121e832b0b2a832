"""Rich tables for ``reviewer stats``. Names and labels come from users' files, so every one
is rendered as literal text (no markup), with control characters made visible."""

from __future__ import annotations

from typing import Any

from rich.columns import Columns
from rich.console import Console
from rich.table import Table
from rich.text import Text

from reviewer.agreement.bands import BAND_SOURCE
from reviewer.agreement.names import METRIC_NAMES
from reviewer.console import literal, make_console


def fmt(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_ci(entry: dict[str, Any]) -> str:
    ci = entry.get("ci")
    return "—" if not ci else f"[{ci[0]:.3f}, {ci[1]:.3f}]"


def _band(entry: dict[str, Any]) -> str:
    """The band, or the span of bands the interval covers (then no single band is claimed)."""
    note = entry.get("interpretation_note")
    if note:
        return "spans " + note.removeprefix("interval spans ")
    return entry.get("interpretation", "")


def overall_table(field: dict[str, Any]) -> Table:
    panel = ", ".join(field["panel"]) or "none"
    table = Table(title=Text("Agreement among ") + literal(panel), title_justify="left")
    for col in (
        "coefficient",
        "value",
        "95% CI (bootstrap)",
        "SE (analytic)",
        f"{BAND_SOURCE} band",
    ):
        table.add_column(col, no_wrap=col == "coefficient")
    for key, entry in field["overall"].items():
        value = entry["value"]
        table.add_row(
            METRIC_NAMES.get(key, key),
            fmt(value) if value is not None else Text("undefined", style="yellow"),
            fmt_ci(entry) if value is not None else literal(entry.get("reason", "")),
            fmt(entry.get("se")),
            _band(entry),
        )
    return table


def pairs_table(field: dict[str, Any]) -> Table:
    table = Table(title="Pairs of raters (items both labelled)", title_justify="left")
    for col in (
        "rater",
        "rater",
        "items",
        "agree",
        "Cohen's kappa",
        "95% CI",
        "Scott's pi",
        "AC1",
        "alpha",
    ):
        table.add_column(col, no_wrap=True)
    for pair in field["pairs"]:
        value = {
            k: (pair.get(k) or {}).get("value")
            for k in (
                "percent_agreement",
                "cohen_kappa",
                "scott_pi",
                "gwet_ac1",
                "krippendorff_alpha",
            )
        }
        table.add_row(
            literal(pair["raters"][0]),
            literal(pair["raters"][1]),
            str(pair["n_items"]),
            fmt(value["percent_agreement"]),
            fmt(value["cohen_kappa"]),
            fmt_ci(pair.get("cohen_kappa") or {}),
            fmt(value["scott_pi"]),
            fmt(value["gwet_ac1"]),
            fmt(value["krippendorff_alpha"]),
        )
    return table


def versus_table(field: dict[str, Any]) -> Table:
    table = Table(title="Raters against references", title_justify="left")
    for col in (
        "rater",
        "reference",
        "items",
        "acc",
        "prec",
        "recall",
        "spec",
        "F1",
        "AUROC",
        "AP",
    ):
        table.add_column(col, no_wrap=True)
    for v in field["versus_reference"]:
        table.add_row(
            literal(v["rater"]),
            literal(v["reference"]),
            str(v["n_items"]),
            *(
                fmt(v[k])
                for k in (
                    "accuracy",
                    "precision",
                    "recall",
                    "specificity",
                    "f1",
                    "auroc",
                    "average_precision",
                )
            ),
        )
    positives = {v["positive"] for v in field["versus_reference"] if v["positive"] is not None}
    if positives:
        table.caption = literal(
            f"positive category: {', '.join(str(p) for p in positives)}; AUROC and AP (average "
            "precision) from the rater's score"
        )
    return table


def _with_ci(value: float | None, ci: list[float] | None) -> str:
    if value is None:
        return "—"
    return fmt(value) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")


def confusion_table(v: dict[str, Any]) -> Table:
    conf = v["confusion"]
    table = Table(title=literal(f"{v['reference']} ↓  {v['rater']} →"), title_justify="left")
    table.add_column("")
    for label in conf["labels"]:
        table.add_column(literal(label), justify="right")
    for label, row in zip(conf["labels"], conf["matrix"], strict=True):
        table.add_row(literal(label), *(str(c) for c in row))
    return table


def gap_table(field: dict[str, Any]) -> Table:
    table = Table(
        title="Does the classifier agree with humans as well as humans agree with each other? "
        "(mean pairwise Cohen's kappa)",
        title_justify="left",
    )
    for col in ("rater", "with humans", "humans together", "difference [95% CI]", "verdict"):
        table.add_column(col)
    for g in field["classifier_vs_humans"]:
        diff = g["difference"]
        table.add_row(
            literal(g["rater"]),
            fmt(g["rater_vs_humans"]["value"]),
            fmt(g["humans_vs_humans"]["value"]),
            f"{fmt(diff['value'])} {fmt_ci(diff)}",
            g["verdict"] or "—",
        )
    margins = {g.get("margin") for g in field["classifier_vs_humans"]} - {None}
    if margins:
        table.caption = Text(
            f"verdict: a non-inferiority test with margin {', '.join(f'{m:g}' for m in margins)} "
            "kappa: non-inferior when the whole interval of the difference lies above -margin, "
            "inferior when below it, otherwise inconclusive"
        )
    return table


def no_shared_line(field: dict[str, Any]) -> Text | None:
    """One line naming the rater pairs and comparisons left out for sharing no item."""
    skipped = field.get("no_shared_items") or {}
    pairs, versus = skipped.get("pairs", []), skipped.get("versus_reference", [])
    if not pairs and not versus:
        return None
    counts = []
    if pairs:
        counts.append(f"{len(pairs)} pair{'' if len(pairs) == 1 else 's'}")
    if versus:
        counts.append(f"{len(versus)} comparison{'' if len(versus) == 1 else 's'} with a reference")
    names = sorted({f"{a} / {b}" for a, b in pairs} | {f"{a} vs {b}" for a, b in versus})
    return Text(f"Left out {' and '.join(counts)} of raters who share no item: ") + literal(
        "; ".join(names)
    )


def print_report(report: dict[str, Any], console: Console | None = None) -> None:
    console = console or make_console()
    if not report["fields"]:
        console.print("No fields with labels.")
        return
    for field in report["fields"]:
        head = Text("\n") + literal(field["field"])
        head.stylize("bold")
        head.append_text(
            literal(
                f"  ({field['level']}; {field['n_items']} items, {field['n_raters']} rater"
                f"{'' if field['n_raters'] == 1 else 's'}; "
                f"categories: {', '.join(str(c) for c in field['categories'])})",
                style="dim",
            )
        )
        console.print(head)
        reasons = {e.get("reason") for e in field["overall"].values() if e["value"] is None}
        if all(e["value"] is None for e in field["overall"].values()) and len(reasons) == 1:
            panel = ", ".join(field["panel"]) or "none"
            console.print(
                Text("Agreement among ") + literal(f"{panel}: undefined, {reasons.pop()}")
            )
        else:
            console.print(overall_table(field))
        for warning in field["warnings"]:
            console.print(Text("warning: ", style="bold yellow") + literal(warning))
        if field["pairs"]:
            console.print(pairs_table(field))
        if field["versus_reference"]:
            console.print(versus_table(field))
            for v in field["versus_reference"]:
                if v.get("auroc") is not None:
                    console.print(
                        literal(v["rater"])
                        + Text(
                            f": AUROC {_with_ci(v['auroc'], v.get('auroc_ci'))} "
                            f"({v.get('auroc_ci_method') or 'no interval'}); AP "
                            f"{_with_ci(v['average_precision'], v.get('average_precision_ci'))}"
                            " (item bootstrap)"
                        )
                    )
                for flag in v.get("chance_flags", []):
                    console.print(
                        Text("chance: ", style="bold yellow")
                        + literal(v["rater"])
                        + Text(": ")
                        + literal(flag)
                    )
            console.print(Text("Confusion matrices (rows: reference, columns: rater)"))
            console.print(Columns([confusion_table(v) for v in field["versus_reference"]]))
        if field["classifier_vs_humans"]:
            console.print(gap_table(field))
        left_out = no_shared_line(field)
        if left_out is not None:
            console.print(left_out, style="dim")
    if report.get("error_reasons"):
        console.print(error_reasons_table(report["error_reasons"]))
    console.print(
        Text(
            "Intervals: item bootstrap percentile intervals (AUROC: DeLong on the logit "
            "scale; AP: item bootstrap); SE: analytic standard errors where standard. Bands are "
            f"{BAND_SOURCE}'s conventions, not tests; where the interval spans several bands "
            "they are named, and none is claimed.",
            style="dim",
        )
    )


def error_reasons_table(groups: list[dict[str, Any]]) -> Table:
    """Auditors' reasons why a classifier erred, per field, classifier and category."""
    table = Table(title="Why the classifiers erred (auditors' error reasons)", title_justify="left")
    for column in ("field", "classifier", "said (gold)", "reason", "items", "e.g. transcripts"):
        table.add_column(column)
    for g in groups:
        gold = ", ".join(f"{ref} {n}" for ref, n in g["reference"].items())
        head = (literal(g["field"]), literal(g["classifier"]), literal(f"{g['category']} ({gold})"))
        table.add_row(
            *head,
            Text("any reason", style="bold"),
            str(g["items"]),
            " ".join(f"#{t}" for t in g["examples"]),
        )
        for r in g["reasons"]:
            table.add_row(
                "",
                "",
                "",
                literal(r["label"]),
                str(r["items"]),
                " ".join(f"#{t}" for t in r["examples"]),
            )
        for t in g["texts"][:3]:
            table.add_row(
                "", "", "", literal(f"\u201c{t['text'][:70]}\u201d"), "", f"#{t['transcript_id']}"
            )
    return table
