"""``reviewer report``: the study's results as one self-contained HTML file.

Every number comes from the functions the commands print (``reviewer.analysis`` for rates and
gaps, ``reviewer.agreement`` for agreement, ``reviewer.agreement.error_reasons`` for audits),
called with the same arguments the printed command lines use, so each table can be reproduced.

Charts are drawn by matplotlib as static SVG and inlined: the file needs no script, no font
and no network, opens the same offline, and prints as vectors. matplotlib is imported only
when a report is drawn, so the command line and the app start without it.
"""

from __future__ import annotations

import html
import io
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db import Store

METHODS = ("classifier", "human", "corrected")
METHOD_COLOURS = {"classifier": "#7f7f7f", "human": "#1f77b4", "corrected": "#d62728"}
METHOD_MARKERS = {"classifier": "s", "human": "o", "corrected": "D"}
# Refused, partial, full; the darker shade of each is "with alignment-faking reasoning".
SIX_WAY_COLOURS = {
    ("refused", "yes"): "#08519c",
    ("refused", "no"): "#9ecae1",
    ("partial", "yes"): "#a63603",
    ("partial", "no"): "#fdae6b",
    ("full", "yes"): "#a50f15",
    ("full", "no"): "#fc9272",
}


@dataclass
class ReportOptions:
    """The choices behind every number; they become the flags of the printed commands."""

    reference: str = "gold"
    min_humans: int = 1
    design: str | None = None
    assume_random: bool = False
    classifier: str | None = None
    phase: str = "blind"
    resamples: int = 1000
    seed: int = 0


# -- the numbers -----------------------------------------------------------------------------


def _analyze_flags(o: ReportOptions) -> list[str]:
    flags = ["--reference", o.reference, "--min-humans", str(o.min_humans), "--phase", o.phase]
    if o.design:
        flags += ["--design", o.design]
    if o.assume_random:
        flags.append("--assume-random")
    if o.classifier:
        flags += ["--classifier", o.classifier]
    return flags


def command(db_path: Path | str, *args: str) -> str:
    """The shell command line that prints a number of the report."""
    return shlex.join(["reviewer", "--db", str(db_path), *args])


def gather(
    store: Store, options: ReportOptions | None = None, *, current=None, on_progress=None
) -> dict[str, Any]:
    """Every number of the report, as JSON-able data, with the command that prints each.
    ``current``: the labels read column-wise (``db.labels.current_label_columns``), read here
    when not given; ``on_progress(done, total)`` after each part (an analysis, a rubric's
    agreement)."""
    from db.agreement_data import labelled_rubrics_of
    from db.dataset import stored_rubrics
    from db.labels import current_label_columns
    from reviewer.agreement import analyse_field
    from reviewer.agreement.error_reasons import error_reason_report
    from reviewer.agreement.store_fields import store_field_specs
    from reviewer.agreement.summary import agreement_summary, calibration
    from reviewer.analysis import Attributes, motivation_analysis, six_way_analysis

    o = options or ReportOptions()
    db = store.path
    current = current if current is not None else current_label_columns(store)
    attributes = Attributes.read(store)
    labelled = labelled_rubrics_of(current)
    common = dict(
        classifier=o.classifier,
        phase=o.phase,
        reference=o.reference,
        min_humans=o.min_humans,
        design=o.design,
        assume_random=o.assume_random,
        current=current,
        attributes=attributes,
    )
    variants = attributes.values("prompt_variant")
    variants = sorted(v for v in variants if v)
    parts = [0, 2 * len(labelled) + 1 + len(labelled) * max(0, len(variants) - 1)]

    def step() -> None:
        parts[0] += 1
        if on_progress is not None:
            on_progress(parts[0], parts[1])

    flags = _analyze_flags(o)
    data: dict[str, Any] = {
        "database": str(db),
        "created": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "options": o.__dict__.copy(),
        "summary": store.summary(),
        "rubrics": [
            {k: r[k] for k in ("rubric_id", "version", "hash", "origin", "created_at")}
            for r in stored_rubrics(store)
        ],
        "labelled_rubrics": labelled,
    }
    # Rates and gaps, per rubric, exactly as `reviewer analyze --rubric R` computes them.
    data["analysis"] = []
    for rid in labelled:
        result = motivation_analysis(store, [rid], **common)
        step()
        for rubric in result["rubrics"]:
            data["analysis"].append(
                {
                    **rubric,
                    "ci_method": result["ci_method"],
                    "correction": result["correction"],
                    "target": result["target"],
                    "command": command(db, "analyze", "--rubric", rid, *flags),
                }
            )
    if all(r in labelled for r in ("compliance", "goal_guarding")):
        six = six_way_analysis(store, **common)
        six["command"] = command(db, "analyze", "--six-way", *flags)
        data["six_way"] = six
    else:
        data["six_way"] = None
    step()
    data["prompt_variants"] = variants
    data["variant_differences"] = []
    for other in variants[1:]:
        pair = (other, variants[0])
        for rid in labelled:
            result = motivation_analysis(
                store, [rid], by=("prompt_variant", "model"), compare_variants=pair, **common
            )
            step()
            for rubric in result["rubrics"]:
                for outcome in rubric["outcomes"]:
                    if outcome["field"] == "motivation":
                        continue  # the paper's question is the gap of compliance and faking
                    data["variant_differences"].append(
                        {
                            "rubric": rid,
                            "outcome": outcome["outcome"],
                            "variants": list(pair),
                            "rows": outcome.get("gap_differences", []),
                            "command": command(
                                db,
                                "analyze",
                                "--rubric",
                                rid,
                                "--by",
                                "prompt_variant",
                                "--compare-variants",
                                *pair,
                                *flags,
                            ),
                        }
                    )
    # Agreement, per rubric, exactly as `reviewer stats --rubric R` computes it.
    data["agreement"] = []
    for rid in labelled:
        specs = [
            s
            for s in store_field_specs(store, rid, phase=o.phase, current=current)
            if s.ratings.n_raters
        ]
        fields = [analyse_field(s, n_resamples=o.resamples, seed=o.seed) for s in specs]
        curves = {
            s.field: [c for c in (calibration(s, name) for name in s.classifiers) if c]
            for s in specs
        }
        data["agreement"].append(
            {
                "rubric": rid,
                "fields": fields,
                "summary": agreement_summary(fields, rid),
                "calibration": curves,
                "command": command(
                    db,
                    "stats",
                    "--rubric",
                    rid,
                    "--phase",
                    o.phase,
                    "--resamples",
                    str(o.resamples),
                    "--seed",
                    str(o.seed),
                ),
            }
        )
        step()
    data["error_reasons"] = error_reason_report(store)
    data["error_reasons_command"] = command(db, "stats", "--json")
    return data


# -- charts ----------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("svg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            # Text stays text (small, selectable, found by the browser's search), drawn in the
            # reader's own sans-serif: nothing is embedded and nothing is fetched.
            "svg.fonttype": "none",
            "font.family": "sans-serif",
            "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica", "Liberation Sans"],
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    )
    return plt


def _svg(fig, name: str) -> str:
    """The figure as an inline <svg> element: no XML prologue, no date, ids unique to it."""
    plt = _pyplot()
    plt.rcParams["svg.hashsalt"] = f"reviewer-{name}"
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    start = text.find("<svg")
    return f'<figure class="chart" data-chart="{html.escape(name)}">{text[start:]}</figure>'


def _label(key: dict[str, Any], columns: list[str]) -> str:
    return " · ".join("?" if key.get(c) is None else str(key[c]) for c in columns)


def six_way_chart(six: dict[str, Any]) -> str | None:
    """Per model, stacked bars of the six cells, free next to paid, for each way of estimating
    that has numbers."""
    cells = six["cells"]
    by = [c for c in six["by"] if c != "condition"]
    shares: dict[str, dict[tuple[str, str], dict[tuple, float]]] = {}
    for cell in cells:
        level, af = cell["positive"].split("/")
        for g in cell["groups"]:
            model = _label(g, by)
            for method in METHODS:
                value = g[method].get("value")
                if value is not None:
                    slot = shares.setdefault(model, {}).setdefault((method, g["condition"]), {})
                    slot[(level, af)] = value
    if not shares:
        return None
    plt = _pyplot()
    models = sorted(shares)
    fig, axes = plt.subplots(
        1, len(models), figsize=(max(4.0, 3.2 * len(models)), 3.6), sharey=True, squeeze=False
    )
    for ax, model in zip(axes[0], models, strict=True):
        bars = sorted(shares[model], key=lambda k: (METHODS.index(k[0]), str(k[1])))
        for x, (method, condition) in enumerate(bars):
            bottom = 0.0
            for key, colour in SIX_WAY_COLOURS.items():
                h = shares[model][(method, condition)].get(key, 0.0)
                ax.bar(
                    x, h, bottom=bottom, color=colour, width=0.7, edgecolor="white", linewidth=0.5
                )
                bottom += h
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels([f"{c}\n{m}" for m, c in bars], fontsize=7)
        ax.set_title(model, fontsize=9)
        ax.set_ylim(0, 1.05)
    axes[0][0].set_ylabel("share of transcripts")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in SIX_WAY_COLOURS.values()]
    names = [f"{lvl}, {'with' if af == 'yes' else 'without'} AF" for lvl, af in SIX_WAY_COLOURS]
    fig.legend(
        handles,
        names,
        loc="lower center",
        ncol=3,
        frameon=False,
        fontsize=8,
        bbox_to_anchor=(0.5, -0.12),
    )
    return _svg(fig, "six-way")


def forest_chart(
    name: str,
    title: str,
    rows: list[tuple[str, dict[str, Any]]],
    xlabel: str,
    zero_line: bool = False,
) -> str | None:
    """Point estimates with 95% intervals, one row per group, the three ways side by side."""
    drawable = [
        (label, e)
        for label, e in rows
        if any(e.get(m, {}).get("value") is not None for m in METHODS)
    ]
    if not drawable:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.42 * len(drawable)))
    offsets = {"classifier": -0.22, "human": 0.0, "corrected": 0.22}
    for m in METHODS:
        ys, xs, lo, hi = [], [], [], []
        for y, (_, e) in enumerate(drawable):
            entry = e.get(m, {})
            if entry.get("value") is None:
                continue
            ci = entry.get("ci") or [entry["value"], entry["value"]]
            ys.append(y + offsets[m])
            xs.append(entry["value"])
            lo.append(max(0.0, entry["value"] - ci[0]))
            hi.append(max(0.0, ci[1] - entry["value"]))
        if xs:
            ax.errorbar(
                xs,
                ys,
                xerr=[lo, hi],
                fmt=METHOD_MARKERS[m],
                color=METHOD_COLOURS[m],
                markersize=4,
                capsize=2,
                linewidth=1,
                label=m,
            )
    if zero_line:
        ax.axvline(0, color="#999999", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(len(drawable)))
    ax.set_yticklabels([label for label, _ in drawable], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=9, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _svg(fig, name)


def calibration_chart(name: str, title: str, curves: list[dict[str, Any]]) -> str | None:
    if not curves:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.plot([0, 1], [0, 1], color="#999999", linewidth=0.8, linestyle="--", label="perfect")
    palette = ["#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2"]
    for k, curve in enumerate(curves):
        xs = [b["mean_score"] for b in curve["bins"]]
        ys = [b["human_positive"] for b in curve["bins"]]
        lo = [max(0.0, y - b["ci"][0]) for y, b in zip(ys, curve["bins"], strict=True)]
        hi = [max(0.0, b["ci"][1] - y) for y, b in zip(ys, curve["bins"], strict=True)]
        ax.errorbar(
            xs,
            ys,
            yerr=[lo, hi],
            fmt="o-",
            color=palette[k % len(palette)],
            markersize=4,
            capsize=2,
            linewidth=1,
            label=curve["classifier"],
        )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel(f"classifier score for {curves[0]['positive']!r}")
    ax.set_ylabel("share of humans saying it")
    ax.set_title(title, fontsize=9, loc="left")
    ax.legend(fontsize=7, frameon=False, loc="upper left")
    return _svg(fig, name)


# -- the page --------------------------------------------------------------------------------


def e(text: Any) -> str:
    return html.escape("" if text is None else str(text))


def _cell(entry: dict[str, Any] | None) -> str:
    """An estimate with its interval and n, or the reason there is none."""
    entry = entry or {}
    if entry.get("value") is None:
        return (
            f'<span class="none" title="{e(entry.get("reason"))}">— {e(entry.get("reason"))}</span>'
        )
    ci = entry.get("ci")
    text = f"{entry['value']:.2f}"
    if ci:
        text += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    if "N" in entry:
        text += f" <small>n={entry['n']}/{entry['N']}</small>"
    elif "n" in entry:
        text += f" <small>n={entry['n']}</small>"
    elif "n_free" in entry:
        text += f" <small>n={entry['n_free']}/{entry['n_paid']}</small>"
    return text


def _table(head: list[str], rows: list[list[str]], cls: str = "") -> str:
    """Cells are HTML already (escape data before)."""
    out = [
        f'<table class="{cls}"><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
    ]
    out += ["<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows]
    out.append("</tbody></table>")
    return "".join(out)


def _cmd(text: str) -> str:
    return f'<p class="cmd">reproduce: <code>{e(text)}</code></p>'


def _design_lines(outcome: dict[str, Any]) -> str:
    ref, design = outcome["reference"], outcome["design"]
    parts = [
        f"reference: <b>{e(ref['name'])}</b> ({e(ref.get('rule', ''))}), {ref['n_items']} items"
    ]
    if ref.get("unresolved"):
        parts.append(f"{ref['unresolved']} unresolved left out")
    if design["status"] == "unknown":
        parts.append(
            f'<span class="warn">design unknown: {e(design["note"])}; corrected '
            "column withheld</span>"
        )
    else:
        parts.append(f"design: {e(design['source'])}")
        if design.get("note"):
            parts.append(f'<span class="warn">{e(design["note"])}</span>')
    return "<p>" + "; ".join(parts) + "</p>"


def _outcome_section(rubric: str, outcome: dict[str, Any], chart_name: str) -> str:
    by = [
        c
        for c in ("dataset", "prompt_variant", "model", "condition")
        if any(c in g for g in outcome["groups"])
    ]
    others = [c for c in by if c != "condition"]
    out = [f"<h3>{e(rubric)}: {e(outcome['outcome'])}</h3>", _design_lines(outcome)]
    v = outcome["validation"]
    if v.get("sensitivity") is not None or v.get("specificity") is not None:
        out.append(
            f"<p>classifier <b>{e(outcome['classifier'])}</b>: sensitivity "
            f"{_cell({'value': v['sensitivity'], 'ci': v['sensitivity_ci']})}, specificity "
            f"{_cell({'value': v['specificity'], 'ci': v['specificity_ci']})} on "
            f"{v['n_items']} items{' (design-weighted)' if v['weighted'] else ''}</p>"
        )
    rows = [(_label(g, by), g) for g in outcome["groups"]]
    chart = forest_chart(f"{chart_name}-rate", f"{outcome['outcome']}: rate (95% CI)", rows, "rate")
    gaps = [(_label(g, others), g) for g in outcome["gap_free_minus_paid"]]
    gap_chart = None
    if outcome["field"] != "motivation":  # motivation: the rates are the point; gaps in a table
        gap_chart = forest_chart(
            f"{chart_name}-gap",
            f"{outcome['outcome']}: free - paid (95% CI)",
            gaps,
            "difference",
            zero_line=True,
        )
    out.append('<div class="charts">' + (chart or "") + (gap_chart or "") + "</div>")
    out.append(
        _table(
            [*map(e, by), "classifier", "human", "corrected"],
            [
                [
                    *(e(g.get(c) if g.get(c) is not None else "?") for c in by),
                    _cell(g["classifier"]),
                    _cell(g["human"]),
                    _cell(g["corrected"]),
                ]
                for g in outcome["groups"]
            ],
            "rates",
        )
    )
    if outcome["gap_free_minus_paid"]:
        out.append("<p>free − paid (n: free/paid items)</p>")
        out.append(
            _table(
                [*map(e, others), "gap: classifier", "gap: human", "gap: corrected"],
                [
                    [
                        *(e(g.get(c) if g.get(c) is not None else "?") for c in others),
                        _cell(g["classifier"]),
                        _cell(g["human"]),
                        _cell(g["corrected"]),
                    ]
                    for g in outcome["gap_free_minus_paid"]
                ],
                "gaps",
            )
        )
    return "".join(out)


def _find(analysis: list[dict], rubric: str, name: str) -> dict | None:
    for r in analysis:
        if r["rubric"] == rubric:
            for o in r["outcomes"]:
                if o["outcome"] == name:
                    return o
    return None


def _headline(data: dict[str, Any]) -> str:
    """The compliance gap and the alignment-faking rate per model, three ways."""
    out = ["<h2 id='headline'>Compliance gap and alignment faking per model</h2>"]
    found = False
    for rubric, name, title in (
        ("compliance", "compliance=full", "compliance gap (full compliance, free − paid)"),
        ("goal_guarding", "alignment_faking=yes", "alignment-faking rate"),
    ):
        o = _find(data["analysis"], rubric, name)
        if o is None:
            continue
        found = True
        others = [
            c for c in ("dataset", "prompt_variant", "model") if any(c in g for g in o["groups"])
        ]
        if rubric == "compliance":
            rows = [(_label(g, others), g) for g in o["gap_free_minus_paid"]]
            chart = forest_chart(
                "headline-compliance-gap",
                f"{title} (95% CI)",
                rows,
                "difference in rate",
                zero_line=True,
            )
        else:
            rows = [(_label(g, [*others, "condition"]), g) for g in o["groups"]]
            chart = forest_chart("headline-af-rate", f"{title} (95% CI)", rows, "rate")
        out.append(f"<h3>{e(title)}</h3>")
        out.append(chart or "<p class='none'>no estimates</p>")
    if not found:
        out.append(
            "<p class='none'>Needs labels under the compliance and goal_guarding rubrics.</p>"
        )
    return "".join(out)


def _six_way_section(six: dict[str, Any] | None) -> str:
    out = ["<h2 id='six-way'>Six-way breakdown: compliance × alignment-faking reasoning</h2>"]
    if six is None:
        out.append("<p class='none'>Needs both compliance and goal_guarding labels.</p>")
        return "".join(out)
    ref, design = six["reference"], six["design"]
    note = (
        f"reference {e(ref['name'])}, {ref['n_items']} items with both labels; "
        f"design: {e(design['source'])}"
    )
    if design["status"] == "unknown":
        note += f' <span class="warn">(unknown: {e(design["note"])}; corrected withheld)</span>'
    out.append(
        f"<p>{note}. Each bar is one tier, estimated one way; each cell is its own rate, "
        "so bars of human and corrected estimates need not sum to exactly 1.</p>"
    )
    out.append(six_way_chart(six) or "<p class='none'>no estimates</p>")
    by = [c for c in six["by"]]
    rows = []
    order = {c["outcome"]: k for k, c in enumerate(six["cells"])}
    flat = [
        (tuple(str(g.get(c)) for c in by), cell["outcome"], g)
        for cell in six["cells"]
        for g in cell["groups"]
    ]
    for key, name, g in sorted(flat, key=lambda r: (r[0], order[r[1]])):
        rows.append(
            [
                *map(e, key),
                e(name),
                _cell(g["classifier"]),
                _cell(g["human"]),
                _cell(g["corrected"]),
            ]
        )
    out.append(_table([*map(e, by), "cell", "classifier", "human", "corrected"], rows, "six"))
    out.append(_cmd(six["command"]))
    return "".join(out)


def _variants_section(data: dict[str, Any]) -> str:
    if len(data["prompt_variants"]) < 2:
        return ""
    out = ["<h2 id='variants'>Prompt variants: difference of gaps</h2>"]
    for d in data["variant_differences"]:
        a, b = d["variants"]
        rows = [(_label(r, ["model"]), r) for r in d["rows"]]
        out.append(f"<h3>{e(d['rubric'])}: {e(d['outcome'])}, gap of {e(a)} − gap of {e(b)}</h3>")
        chart = forest_chart(
            f"variants-{d['rubric']}-{d['outcome']}-{a}",
            f"{d['outcome']}: ({a} gap) − ({b} gap)",
            rows,
            "difference",
            zero_line=True,
        )
        out.append(chart or "")
        out.append(
            _table(
                ["model", "human", "corrected"],
                [
                    [e(r.get("model")), _cell(r.get("human")), _cell(r.get("corrected"))]
                    for r in d["rows"]
                ],
            )
        )
        out.append(_cmd(d["command"]))
    return "".join(out)


def _agreement_section(data: dict[str, Any]) -> str:
    from reviewer.agreement.summary import fmt, verdict

    out = ["<h2 id='agreement'>Agreement</h2>"]
    for block in data["agreement"]:
        rows = []
        for r in block["summary"]:
            head = [
                e(f"{r['rubric_id']}.{r['field']}"),
                str(r["n_items"]),
                e(", ".join(r["humans"]) or "—"),
                e(fmt(r["alpha"])),
            ]
            if not r["classifiers"]:
                rows.append([*head, "—", "—", "—", "—", "—"])
            for c in r["classifiers"]:
                rows.append(
                    [
                        *head,
                        e(c["rater"]),
                        e(fmt(c["with_humans"])),
                        e(fmt(c["humans_together"])),
                        e(fmt(c["difference"])),
                        f'<b class="verdict">{e(verdict(c))}</b>',
                    ]
                )
        out.append(f"<h3>{e(block['rubric'])}</h3>")
        out.append(
            _table(
                [
                    "field",
                    "items",
                    "humans",
                    "humans' alpha [95% CI]",
                    "classifier",
                    "kappa with humans",
                    "humans' kappa",
                    "difference [95% CI]",
                    "verdict",
                ],
                rows,
                "summary",
            )
        )
        out.append(
            "<p class='note'>verdict: non-inferiority with margin 0.1 kappa, read off "
            "the 95% interval of the difference.</p>"
        )
        for f in block["fields"]:
            out.append(f"<h4>{e(block['rubric'])}.{e(f['field'])}</h4>")
            coeffs = [
                [
                    e(k.replace("_", " ")),
                    e(fmt(v, 3)),
                    e(v.get("interpretation") or v.get("reason") or ""),
                ]
                for k, v in f["overall"].items()
            ]
            if coeffs:
                out.append(
                    _table(["humans together", "value [95% CI]", "band / reason"], coeffs, "coeffs")
                )
            mats = []
            for vr in f["versus_reference"]:
                c = vr["confusion"]
                labels = [e(x) for x in c["labels"]]
                body = [
                    [f"<th>{lab}</th>", *map(str, row)]
                    for lab, row in zip(labels, c["matrix"], strict=True)
                ]
                mats.append(
                    f'<div class="matrix"><p>{e(vr["reference"])} ↓ {e(vr["rater"])} → '
                    f"(n={vr['n_items']}; acc {fmt(vr.get('accuracy'))}"
                    + (
                        f", AUROC {fmt({'value': vr.get('auroc'), 'ci': vr.get('auroc_ci')})}"
                        if vr.get("auroc") is not None
                        else ""
                    )
                    + ")</p>"
                    + _table(["", *labels], body, "confusion")
                    + "</div>"
                )
            if mats:
                out.append('<div class="matrices">' + "".join(mats) + "</div>")
            curves = block["calibration"].get(f["field"], [])
            chart = calibration_chart(
                f"calibration-{block['rubric']}-{f['field']}", f"{f['field']}: calibration", curves
            )
            if chart:
                out.append(chart)
            for w in f.get("warnings", []):
                out.append(f"<p class='warn'>{e(w)}</p>")
        out.append(_cmd(block["command"]))
    out.append("<h3>Why the classifiers erred (auditors' error reasons)</h3>")
    rows = []
    for g in data["error_reasons"]:
        refs = ", ".join(f"{k} {v}" for k, v in g["reference"].items())
        for r in g["reasons"]:
            rows.append(
                [
                    e(g["field"]),
                    e(g["classifier"]),
                    e(f"{g['category']} ({refs})"),
                    e(r["label"]),
                    str(r["items"]),
                    e(" ".join(f"#{t}" for t in r["examples"])),
                ]
            )
        for t in g["texts"]:
            rows.append(
                [
                    e(g["field"]),
                    e(g["classifier"]),
                    e(g["category"]),
                    f"“{e(t['text'])}”",
                    "",
                    f"#{t['transcript_id']}",
                ]
            )
    if rows:
        out.append(
            _table(
                ["field", "classifier", "said (reference)", "reason", "items", "e.g. transcripts"],
                rows,
                "reasons",
            )
        )
    else:
        out.append("<p class='none'>No audit has tagged a classifier error yet.</p>")
    out.append(_cmd(data["error_reasons_command"]))
    return "".join(out)


def _provenance(data: dict[str, Any]) -> str:
    s = data["summary"]
    o = data["options"]
    out = [
        "<h2 id='provenance'>Provenance</h2>",
        f"<p>database <code>{e(data['database'])}</code>: {s['transcripts']:,} transcripts, "
        f"{s['imports']} imports, {s['rubric_versions']} rubric versions. Made "
        f"{e(data['created'])}.</p>",
    ]
    out.append(
        _table(
            ["model", "condition", "transcripts"],
            [
                [e(r["model"]), e(r["condition"]), f"{r['transcripts']:,}"]
                for r in s["by_model_condition"]
            ],
        )
    )
    out.append(
        _table(
            ["label source", "labels", "raters", "transcripts"],
            [
                [e(r["source"]), f"{r['labels']:,}", str(r["raters"]), f"{r['transcripts']:,}"]
                for r in s["labels_by_source"]
            ],
        )
    )
    out.append(
        _table(
            ["rubric", "version", "content hash", "registered", "from"],
            [
                [
                    e(r["rubric_id"]),
                    e(r["version"]),
                    f"<code>{e(r['hash'])}</code>",
                    e((r["created_at"] or "")[:19]),
                    e(r["origin"]),
                ]
                for r in data["rubrics"]
            ],
        )
    )
    out.append(
        f"<p>reference: <b>{e(o['reference'])}</b> (min humans {o['min_humans']}); "
        f"human labels: {e(o['phase'])}; design: "
        f"{e(o['design'] or 'as recorded for the reference items')}"
        + (
            "; unknown designs taken as simple random samples (--assume-random)"
            if o["assume_random"]
            else ""
        )
        + f"; agreement intervals: {o['resamples']} bootstrap resamples, seed "
        f"{o['seed']}.</p>"
    )
    if data["analysis"]:
        a = data["analysis"][0]
        out.append(
            f"<p class='note'>Target: {e(a['target'])}. Intervals: {e(a['ci_method'])}. "
            f"Correction: {e(a['correction'])}.</p>"
        )
    cmds = [a["command"] for a in data["analysis"]]
    if data["six_way"]:
        cmds.append(data["six_way"]["command"])
    cmds += [d["command"] for d in data["variant_differences"]]
    cmds += [b["command"] for b in data["agreement"]]
    cmds.append(data["error_reasons_command"])
    out.append(
        "<p>Every number above is printed by one of these commands (add "
        "<code>--json</code> for full precision):</p><pre>"
        + "\n".join(e(c) for c in dict.fromkeys(cmds))
        + "</pre>"
    )
    return "".join(out)


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
 margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#222;line-height:1.4;font-size:15px}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;margin-top:2rem}h4{margin-bottom:.3rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:left;vertical-align:top}
thead th{background:#f3f3f3}small{color:#666}.none{color:#888}.warn{color:#a15c00}
.note{color:#555;font-size:.85rem}.cmd{font-size:.8rem;color:#555}
code,pre{font-family:ui-monospace,"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.8rem}
pre{background:#f7f7f7;padding:.5rem;white-space:pre-wrap;word-break:break-all}
figure.chart{margin:.5rem 0;display:inline-block}figure.chart svg{max-width:100%;height:auto}
.charts,.matrices{display:flex;flex-wrap:wrap;gap:1rem;align-items:flex-start}
nav a{margin-right:1rem}
@media print{body{max-width:none;font-size:11px}nav{display:none}
 h2,h3{break-after:avoid}table,figure{break-inside:avoid}}
"""


def render_html(data: dict[str, Any]) -> str:
    """The report page: sections in the order a paper reads them, provenance last."""
    from reviewer import __version__

    body = [_headline(data), _six_way_section(data["six_way"])]
    body.append("<h2 id='rates'>Rates and gaps per model and tier</h2>")
    motivation = []
    for rubric in data["analysis"]:
        for k, outcome in enumerate(rubric["outcomes"]):
            section = _outcome_section(rubric["rubric"], outcome, f"{rubric['rubric']}-{k}")
            (motivation if outcome["field"] == "motivation" else body).append(section)
        if not any(o["field"] == "motivation" for o in rubric["outcomes"]):
            body.append(_cmd(rubric["command"]))
    if motivation:
        body.append("<h2 id='motivation'>Motivation rates per model and tier</h2>")
        body += motivation
        body += [
            _cmd(r["command"])
            for r in data["analysis"]
            if any(o["field"] == "motivation" for o in r["outcomes"])
        ]
    body.append(_variants_section(data))
    body.append(_agreement_section(data))
    body.append(_provenance(data))
    nav = "".join(
        f"<a href='#{a}'>{t}</a>"
        for a, t in (
            ("headline", "Headline"),
            ("six-way", "Six-way"),
            ("rates", "Rates"),
            ("motivation", "Motivation"),
            ("agreement", "Agreement"),
            ("provenance", "Provenance"),
        )
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; "
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>reviewer report: {e(Path(data['database']).name)}</title>"
        f"<style>{CSS}</style></head><body>"
        f"<h1>Alignment-faking study: results</h1><p class='note'>reviewer {e(__version__)}, "
        f"database <code>{e(data['database'])}</code>, {e(data['created'])}. Rates with 95% "
        "intervals three ways: from the classifier's labels, from the human reference labels "
        "(design-weighted), and corrected (the classifier's rate corrected by its errors on the "
        "human-labelled sample).</p>"
        f"<nav>{nav}</nav>" + "".join(body) + "</body></html>\n"
    )


def write_report(
    store: Store, out: Path, options: ReportOptions | None = None, *, current=None, on_progress=None
) -> dict[str, Any]:
    """Gather (see ``gather``), draw and write the report; the file appears only when
    complete."""
    import os

    data = gather(store, options, current=current, on_progress=on_progress)
    page = render_html(data)
    partial = out.with_name(out.name + ".partial")
    try:
        partial.write_text(page, encoding="utf-8")
        os.replace(partial, out)
    finally:
        if partial.exists():
            partial.unlink()
    data["bytes"] = out.stat().st_size
    data["charts"] = page.count('<figure class="chart"')
    return data
