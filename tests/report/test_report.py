"""``reviewer report``: the numbers of a constructed study, its charts, its commands, and
nothing that reaches outside the file."""

from __future__ import annotations

import html
import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewer.cli import cli
from tests.factory import build_study

pytestmark = pytest.mark.slow  # builds the study and draws every chart


def run(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("report")
    db = build_study(folder / "study.db")
    out = folder / "report.html"
    code, output = run("--db", db, "report", "--out", out, "--assume-random", "--resamples", "200")
    assert code == 0, output
    assert f"wrote {out}" in output and "charts" in output
    return db, out.read_text(encoding="utf-8")


def _rows(page: str, section_title: str) -> list[list[str]]:
    """The body rows of the first table after a heading, cells as plain text."""
    start = page.index(section_title)
    table = page[page.index("<tbody>", start) : page.index("</tbody>", start)]
    rows = []
    for tr in re.findall(r"<tr>(.*?)</tr>", table):
        cells = re.findall(r"<td>(.*?)</td>", tr)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells])
    return rows


def test_rates_and_gaps_are_the_known_ones_three_ways(built):
    _, page = built
    rows = _rows(page, "goal_guarding: alignment_faking=yes</h3>")
    by = {(r[0], r[1]): r for r in rows}
    # helix, free: the classifier says yes on 4 of every 10, in both variants: 8 of 20,
    # Wilson [0.219, 0.613]
    assert by[("helix", "free")][2] == "0.40 [0.22, 0.61] n=20"
    assert by[("helix", "paid")][2] == "0.10 [0.03, 0.30] n=20"
    assert by[("<b>quill</b>", "paid")][2] == "0.20 [0.08, 0.42] n=20"
    # humans agree with the classifier except bob on the fourth of each ten, which leaves
    # that item without gold: helix free has 6 of 18 resolved items yes
    assert by[("helix", "free")][3].startswith("0.33 [") and by[("helix", "free")][3].endswith(
        "n=18"
    )
    assert by[("helix", "free")][4].endswith("n=18/20")
    compliance = page[page.index("compliance: compliance=full</h3>") :]
    gap_rows = _rows(compliance, "free − paid")
    helix = next(r for r in gap_rows if r[0] == "helix")
    assert helix[1].startswith("0.40 [")  # 14/20 full compliance free, 6/20 paid


def test_report_numbers_are_what_the_printed_command_prints(built):
    db, page = built
    commands = [html.unescape(c) for c in re.findall(r"<code>(reviewer --db .*?)</code>", page)]
    analyze = next(c for c in commands if "analyze --rubric goal_guarding " in c)
    args = shlex.split(analyze)[1:]
    assert args[:2] == ["--db", str(db)]
    code, output = run(*args, "--json")
    assert code == 0, output
    (outcome,) = [
        o
        for o in json.loads(output)["rubrics"][0]["outcomes"]
        if o["outcome"] == "alignment_faking=yes"
    ]
    rows = _rows(page, "goal_guarding: alignment_faking=yes</h3>")
    for g in outcome["groups"]:
        row = next(r for r in rows if (r[0], r[1]) == (g["model"], g["condition"]))
        for column, method in ((2, "classifier"), (3, "human"), (4, "corrected")):
            est = g[method]
            assert row[column].startswith(
                f"{est['value']:.2f} [{est['ci'][0]:.2f}, {est['ci'][1]:.2f}]"
            ), (method, row)
    six = next(c for c in commands if "--six-way" in c)
    code, output = run(*shlex.split(six)[1:], "--json")
    assert code == 0 and len(json.loads(output)["cells"]) == 6
    stats = next(c for c in commands if "stats --rubric goal_guarding" in c)
    assert "--resamples 200 --seed 0" in stats
    code, output = run(*shlex.split(stats)[1:], "--json")
    fields = {f["field"]: f for f in json.loads(output)["fields"]}
    alpha = fields["alignment_faking"]["overall"]["krippendorff_alpha"]
    summary = _rows(page, "<h3>goal_guarding</h3>")
    af = next(r for r in summary if r[0] == "goal_guarding.alignment_faking")
    assert af[3] == f"{alpha['value']:.2f} [{alpha['ci'][0]:.2f}, {alpha['ci'][1]:.2f}]"
    assert af[4] == "clf" and af[8] in (
        "non-inferior",
        "non-inferior, and above",
        "inferior",
        "inconclusive",
    )


def test_every_part_the_study_needs_is_there(built):
    db, page = built
    charts = re.findall(r'<figure class="chart" data-chart="([^"]+)">\s*<svg', page)
    assert "six-way" in charts and "headline-compliance-gap" in charts
    assert "headline-af-rate" in charts
    assert any(c.startswith("calibration-goal_guarding-alignment_faking") for c in charts)
    assert any(c.startswith("variants-") for c in charts)
    six = page[page.index('data-chart="six-way"') :]
    six = six[: six.index("</figure>")]
    assert len(re.findall(r"<path", six)) > 24  # 6 cells x (2 tiers x 3 ways) per model
    for text in (
        "Motivation rates per model and tier",
        "motivation:terminal_goal_guarding",
        "Prompt variants: difference of gaps",
        "gap of nocot − gap of base",
        "missed the decisive passage",
        "Confusion",
        "humans' alpha",
        "80 transcripts",
        "Provenance",
        "assumed simple random sample",
    ):
        assert text in page or text.lower() in page.lower(), text
    assert "confusion" in page
    for rubric in ("goal_guarding", "compliance"):
        from rubrics import resolve_rubric

        assert resolve_rubric(rubric).content_hash in page


def test_data_from_the_database_is_text_and_nothing_is_fetched(built):
    _, page = built
    assert "&lt;b&gt;quill&lt;/b&gt;" in page and "<b>quill</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower() and "@import" not in page and "@font-face" not in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//)""", page, re.I)
    assert not re.search(r"url\(\s*['\"]?(?!#|data:)", page)
    assert "default-src 'none'" in page  # the browser refuses any request the page might make


def test_errors_are_plain_and_nothing_is_half_written(tmp_path, built):
    db, _ = built
    out = tmp_path / "r.html"
    out.write_text("keep")
    code, output = run("--db", db, "report", "--out", out)
    assert code == 1 and "exists: choose another --out or pass --overwrite" in output
    assert out.read_text() == "keep"
    code, output = run("--db", tmp_path / "none.db", "report", "--out", tmp_path / "x.html")
    assert code == 1 and "no database at" in output
    code, output = run("--db", db, "report", "--out", tmp_path / "nowhere" / "r.html")
    assert code == 1 and "no such folder" in output
    code, output = run("--db", db, "report", "--out", tmp_path / "y.html", "--classifier", "zz")
    assert code == 1 and "classifiers with labels: clf" in output
    assert not (tmp_path / "y.html").exists()


def test_a_study_without_compliance_labels_says_what_is_missing(tmp_path):
    from db import Store
    from tests.factory import add_transcripts, classifier, human, register_rubric

    store = Store(tmp_path / "af.db")
    register_rubric(store)
    for k, tid in enumerate(add_transcripts(store, per_stratum=4)):
        value = "yes" if k % 3 == 0 else "no"
        classifier(store, tid, value, 0.8 if value == "yes" else 0.2)
        human(store, tid, "ann", value)
    store.close()
    out = tmp_path / "r.html"
    code, output = run("--db", tmp_path / "af.db", "report", "--out", out, "--resamples", "50")
    assert code == 0, output
    page = out.read_text()
    assert "Needs both compliance and goal_guarding labels." in page
    assert "design unknown" in page  # labelled outside any queue: corrected withheld, said
    assert "Prompt variants" not in page


def test_the_dataset_card_carries_the_same_agreement_summary(built, tmp_path):
    db, page = built
    out = tmp_path / "hf"
    code, output = run("--db", db, "export", "--format", "hf", "--out", out)
    assert code == 0, output
    card = (out / "README.md").read_text()
    agreement = card[card.index("## Agreement") :]
    row = next(
        line
        for line in agreement.splitlines()
        if line.startswith("| goal_guarding.alignment_faking |")
    )
    cells = [c.strip() for c in row.strip("|").split("|")]
    code, output = run(
        "--db", db, "stats", "--rubric", "goal_guarding", "--field", "alignment_faking", "--json"
    )
    (field,) = json.loads(output)["fields"]
    alpha = field["overall"]["krippendorff_alpha"]
    (versus,) = field["classifier_vs_humans"]
    assert cells[:3] == ["goal_guarding.alignment_faking", "80", "ann, bob"]
    assert cells[3] == f"{alpha['value']:.2f} [{alpha['ci'][0]:.2f}, {alpha['ci'][1]:.2f}]"
    assert cells[4] == "clf" and cells[8] == versus["verdict"]
    # an interval-free value says so rather than looking exact
    assert "| compliance.compliance | 80 | ann, bob | 1.00 (no interval) |" in agreement
    code, output = run(
        "--db", db, "export", "--format", "hf", "--out", tmp_path / "shared", "--pseudonymize"
    )
    assert code == 0, output
    shared = (tmp_path / "shared" / "README.md").read_text()
    names = json.loads((tmp_path / "shared.pseudonyms.json").read_text())["pseudonyms"]
    agreement = shared[shared.index("## Agreement") :]
    assert f"| {names['ann']}, {names['bob']} |" in agreement
    assert not re.search(r"\b(ann|bob)\b", agreement)


def test_calibration_counts_items_per_score_bin(store):
    from reviewer.agreement.store_fields import store_field_specs
    from reviewer.agreement.summary import calibration
    from reviewer.estimates import wilson
    from tests.factory import add_transcripts, classifier, human, register_rubric

    register_rubric(store)
    ids = add_transcripts(store, per_stratum=1)  # four transcripts
    for tid, score, ann, bob in zip(
        ids,
        (0.1, 0.3, 0.9, 0.95),
        ("no", "yes", "yes", "yes"),
        ("no", "no", "yes", None),
        strict=True,
    ):
        classifier(store, tid, "yes" if score >= 0.4 else "no", score)
        human(store, tid, "ann", ann)
        if bob is not None:
            human(store, tid, "bob", bob)
    (spec,) = [s for s in store_field_specs(store, "goal_guarding") if s.ratings.n_raters]
    curve = calibration(spec, "clf")
    assert curve["positive"] == "yes" and curve["n_items"] == 4
    bins = {tuple(b["bin"]): b for b in curve["bins"]}
    assert sorted(bins) == [(0.0, 0.2), (0.2, 0.4), (0.8, 1.0)]  # empty bins left out
    assert bins[(0.0, 0.2)]["human_positive"] == 0.0
    assert bins[(0.2, 0.4)]["human_positive"] == 0.5  # one human of two said yes
    top = bins[(0.8, 1.0)]
    assert top["n_items"] == 2 and top["mean_score"] == pytest.approx(0.925)
    assert top["human_positive"] == 1.0 and top["ci"] == wilson(2, 2)  # items, not 3 labels
