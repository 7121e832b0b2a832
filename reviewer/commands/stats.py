"""``reviewer stats``: agreement statistics on the database, or on a ratings CSV."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reviewer.cli import Context, pass_context


@click.command("stats")
@click.option("--rubric", "rubric_id", help="Rubric id (default: every rubric with labels).")
@click.option("--field", "field_id", help="Only this field (database mode).")
@click.option(
    "--phase",
    type=click.Choice(["blind", "revealed"]),
    default="blind",
    show_default=True,
    help="Human labels to use: blind (committed before seeing the classifier) or revealed "
    "(the revised label where there is one).",
)
@click.option(
    "--ratings",
    "ratings_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Standalone mode: a long CSV with columns item,rater,value (optional field, score).",
)
@click.option(
    "--level",
    type=click.Choice(["nominal", "ordinal", "interval", "ratio"]),
    default="nominal",
    show_default=True,
    help="Measurement level of the CSV values (Krippendorff's alpha metric, weighted kappas).",
)
@click.option(
    "--reference",
    "references",
    multiple=True,
    help="CSV rater taken as the truth; every other rater is judged against it (repeatable).",
)
@click.option(
    "--categories",
    help="CSV category order, comma-separated (e.g. refused,partial,full for ordinal words).",
)
@click.option("--positive", help="The positive category for precision, recall, F1 and AUROC.")
@click.option(
    "--score-for",
    "score_for",
    help="CSV: the category the score column is a score for (default: the field's yes-like "
    "category, e.g. yes, when it has two categories; else the --positive category).",
)
@click.option("--resamples", default=1000, show_default=True, help="Bootstrap resamples.")
@click.option("--seed", default=0, show_default=True, help="Bootstrap seed.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON (docs/statistics.md)."
)
@pass_context
def stats(
    obj: Context,
    rubric_id: str | None,
    field_id: str | None,
    phase: str,
    ratings_path: Path | None,
    level: str,
    references: tuple[str, ...],
    categories: str | None,
    positive: str | None,
    score_for: str | None,
    resamples: int,
    seed: int,
    as_json: bool,
) -> None:
    """Agreement between raters: humans with each other, and classifiers against humans.

    On the database: per rubric field, the human panel's agreement (percent agreement,
    Fleiss', Conger's, Krippendorff's alpha, Gwet's AC1/AC2; with two humans also Cohen's
    kappa and Scott's pi), every pair of raters, each classifier against each human and
    everyone against imported reference labels (e.g. gold), with 95% item-bootstrap intervals
    and analytic standard errors where standard. Multi-label fields are judged per category
    (one-vs-rest).

    With --ratings FILE.csv: the same on a long-format CSV (item,rater,value, optional field
    and score). Raters with a score are treated as classifiers. A score is the rater's
    probability (or any higher-means-more score) for ONE category: --score-for CATEGORY, by
    default the field's yes-like category (yes, true, 1, ...) when it has two categories, else
    the --positive category. When --positive names the other category of a two-category
    field, AUROC and average precision use 1 - score; with more than two categories a
    --positive other than the scored category is an error.
    """
    from reviewer.agreement import analyse_field

    if resamples < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--resamples")
    if ratings_path is not None:
        order = [c.strip() for c in categories.split(",")] if categories else None
        specs = _csv_specs(ratings_path, level, references, positive, order, score_for)
        source = str(ratings_path)
    else:
        if score_for is not None:
            raise click.UsageError(
                "--score-for applies to --ratings CSV files; in the database classifier "
                "events carry a score per category"
            )
        specs = _db_specs(obj, rubric_id, field_id, phase, positive)
        source = str(obj.db_path)
    _check_positive(positive, specs, source)
    fields = [analyse_field(spec, n_resamples=resamples, seed=seed) for spec in specs]
    report = {"source": source, "phase": None if ratings_path else phase, "fields": fields}
    if ratings_path is None:
        from reviewer.agreement.error_reasons import error_reason_report

        report["error_reasons"] = error_reason_report(obj.store, [rubric_id] if rubric_id else None)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    from reviewer.commands.stats_view import print_report

    print_report(report)


def _csv_specs(path: Path, level, references, positive, categories, score_for=None):
    from reviewer.agreement import FieldSpec
    from reviewer.agreement.long_format import RatingsFileError, read_ratings_csv
    from reviewer.agreement.score_category import ScoreCategoryError, orient_scores

    try:
        fields = read_ratings_csv(path, level=level, categories=categories)
    except RatingsFileError as exc:
        raise click.ClickException(str(exc)) from None
    if score_for is not None:
        scored = [fr for fr in fields if fr.scored_raters]
        known = [str(c) for fr in scored for c in fr.ratings.categories]
        if not scored:
            raise click.ClickException(f"{path}: --score-for needs a score column with values")
        if score_for not in known:
            raise click.ClickException(
                f"{path}: --score-for {score_for!r} is not a category of a scored field "
                f"(categories: {', '.join(dict.fromkeys(known))})"
            )
    specs = []
    for fr in fields:
        raters = fr.ratings.raters
        unknown = [r for r in references if r not in raters]
        if unknown and len(fields) == 1:
            raise click.ClickException(
                f"{path}: --reference {unknown[0]!r} is not a rater in the file "
                f"(raters: {', '.join(raters)})"
            )
        refs = [r for r in references if r in raters]
        others = [r for r in raters if r not in refs]
        unscored = [r for r in others if r not in fr.scored_raters]
        panel = unscored if len(unscored) >= 2 else others
        if refs:
            comparisons = [(r, ref) for ref in refs for r in others]
        else:
            comparisons = [(c, h) for c in fr.scored_raters for h in unscored]
        typed = _typed_positive(positive, fr.ratings.categories)
        try:
            notes = orient_scores(
                fr.ratings,
                score_for=score_for,
                positive=typed if positive is not None else None,
                field=fr.field if len(fields) > 1 else "",
            )
        except ScoreCategoryError as exc:
            raise click.ClickException(f"{path}: {exc}") from None
        specs.append(
            FieldSpec(
                field=fr.field,
                ratings=fr.ratings,
                panel=panel,
                comparisons=comparisons,
                classifiers=[c for c in fr.scored_raters if c not in refs],
                positive=typed,
                notes=notes,
            )
        )
    return specs


def _check_positive(positive: str | None, specs, source: str) -> None:
    """A --positive that is no field's category would silently drop precision, recall, F1,
    AUROC and AP, so it is an error that names the categories there are."""
    if positive is None:
        return
    found: list[str] = []
    for spec in specs:
        if spec.kind == "multi":
            continue
        names = [str(c) for c in spec.ratings.categories]
        if positive in names:
            return
        found += [c for c in names if c not in found]
    if not found:
        return
    raise click.ClickException(
        f"{source}: --positive {positive!r} is not a category of the ratings "
        f"(categories: {', '.join(found)})"
    )


def _typed_positive(positive: str | None, categories: list[Any]) -> Any:
    if positive is None:
        return None
    for c in categories:
        if str(c) == positive:
            return c
    return positive


def read_current_labels(store, what: str = "reading labels", *, scores: bool = True):
    """Every current label, column-wise (``db.labels.current_label_columns``), with progress
    on stderr when the reading takes more than a second."""
    from db.labels import current_label_columns
    from reviewer.commands._progress import progress

    with progress(what, unit="events") as update:
        return current_label_columns(store, scores=scores, on_progress=update)


def _db_specs(obj: Context, rubric_id, field_id, phase, positive):
    from db.agreement_data import labelled_fields, labelled_rubrics_of
    from reviewer.agreement.store_fields import store_field_specs

    if not obj.db_path.exists():
        raise click.ClickException(
            f"no database at {obj.db_path}: import and label transcripts first, or use "
            "--ratings FILE.csv"
        )
    store = obj.store
    current = read_current_labels(store)
    labelled = labelled_rubrics_of(current)
    rubric_ids = [rubric_id] if rubric_id else labelled
    if not rubric_ids:
        raise click.ClickException(f"{obj.db_path}: no labels yet, so no agreement to measure")
    shown_as = field_id
    field_id, category, named_rubric = _split_field_name(field_id, rubric_id, labelled)
    if named_rubric is not None:
        rubric_ids = [named_rubric]
    specs = []
    for rid in rubric_ids:
        found = store_field_specs(
            store, rid, field=field_id, phase=phase, positive=positive, current=current
        )
        if category is not None:
            wanted = f"{field_id}:{category}"
            matching = [s for s in found if s.field == wanted]
            if not matching and any(s.ratings.n_raters for s in found):
                raise click.ClickException(
                    f"{obj.db_path}: field {field_id!r} has no category {category!r} "
                    f"(fields: {', '.join(s.field for s in found)})"
                )
            found = matching
        if rubric_id and not any(s.ratings.n_raters for s in found):
            if shown_as and rid in labelled:
                raise click.ClickException(
                    f"{obj.db_path}: no labels for rubric {rid!r} field {shown_as!r} "
                    f"(labelled fields of {rid}: {', '.join(labelled_fields(store, rid))})"
                )
            raise click.ClickException(
                f"{obj.db_path}: no labels for rubric {rid!r}"
                + (f" field {shown_as!r}" if shown_as else "")
                + f" (labelled rubrics: {', '.join(labelled) or 'none'})"
            )
        for spec in found:
            spec.field = f"{rid}.{spec.field}" if not rubric_id else spec.field
        specs += [s for s in found if rubric_id or s.ratings.n_raters]
    if not specs:
        raise click.ClickException(
            f"{obj.db_path}: no labels for field {shown_as!r} in any rubric (labelled fields: "
            + ", ".join(f"{r}.{f}" for r in labelled for f in labelled_fields(store, r))
            + ")"
            if shown_as
            else f"{obj.db_path}: no labels to measure"
        )
    return specs


def _split_field_name(
    name: str | None, rubric_id: str | None, labelled: list[str]
) -> tuple[str | None, str | None, str | None]:
    """Accept the names stats prints: ``rubric.field`` (without --rubric) and
    ``field:category`` (one category of a multi-label field). Returns the field, the category
    (or None) and the rubric the name picked (or None)."""
    if name is None:
        return None, None, None
    named_rubric = None
    prefix, dot, rest = name.partition(".")
    if dot and rest and (prefix == rubric_id or (rubric_id is None and prefix in labelled)):
        named_rubric, name = prefix, rest
    field, colon, category = name.partition(":")
    if colon and field and category:
        return field, category, named_rubric
    return name, None, named_rubric
