"""``reviewer queue create|list|show``: build labeling queues and see how far they got."""

from __future__ import annotations

import json

import click

from reviewer.commands._context import Context, pass_context
from reviewer.console import echo_literal

KIND_HELP = (
    "random: unlabeled items, seeded order per annotator; stratified: --size items per model x "
    "condition; score-stratified: --size items (default 200) over model x condition x classifier "
    "score bins, Neyman allocation, inclusion probabilities recorded for weighted estimates; overlap: one set every --annotator labels (agreement); disagreement: humans vs "
    "each other or a classifier (adjudication; unblind by default); uncertain: classifier vote "
    "fraction within --margin of the threshold, nearest first; calibration: items with a gold label; "
    "adjudication: items whose blind human labels differ (--with-classifier: also humans vs a "
    "classifier), human splits first, then more disputed fields, then the most even split; "
    "errors: items where classifier --rater contradicts the gold label, most confident first; "
    "flagged: items someone flagged, the longest-flagged first."
)


@click.group()
def queue() -> None:
    """Labeling queues: who labels what, in which order, and how far they got."""


@queue.command("create")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(
        [
            "random",
            "stratified",
            "score-stratified",
            "overlap",
            "disagreement",
            "uncertain",
            "calibration",
            "adjudication",
            "errors",
            "flagged",
        ]
    ),
    help=KIND_HELP,
)
@click.option(
    "--annotator",
    "annotators",
    multiple=True,
    help="Who labels it (repeat for several). None: anyone may work through it.",
)
@click.option(
    "--rubric",
    "rubric_id",
    default="goal_guarding",
    show_default=True,
    help="Rubric the queue is labeled under.",
)
@click.option(
    "--size",
    type=int,
    help="Items per annotator (stratified: per stratum, default 10; overlap: default 50).",
)
@click.option("--limit", type=int, help="Cap on the queue length, after --size.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for every shuffle.")
@click.option("--model", help="Only transcripts of this model.")
@click.option("--condition", help="Only transcripts of this condition (e.g. free, paid).")
@click.option("--dataset", help="Only transcripts of this dataset.")
@click.option(
    "--blind/--no-blind",
    default=None,
    help="Hide classifier and other labels until the annotator commits. Default: "
    "blind, except for disagreement, adjudication and errors queues (adjudicators "
    "and auditors see every label).",
)
@click.option(
    "--margin",
    type=float,
    default=0.15,
    show_default=True,
    help="uncertain: how far from the threshold a vote fraction may be.",
)
@click.option(
    "--field",
    "field_id",
    help="uncertain/disagreement/calibration: look at this "
    "field only (uncertain default: the rubric's binary field).",
)
@click.option(
    "--min-humans",
    type=int,
    default=2,
    show_default=True,
    help="calibration, errors: humans needed for a unanimous gold label.",
)
@click.option(
    "--imported-as-human",
    is_flag=True,
    help="Count imported labels (e.g. a published gold set) as human labels.",
)
@click.option(
    "--classifier",
    help="score-stratified: the classifier whose score makes the "
    "strata (default: the one that scored most items).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="NAME exists: the new queue becomes NAME (next version); the old one is kept "
    "with its assignments as NAME@vK.",
)
@click.option("--rater", help="errors: the classifier (rater name) whose errors are audited.")
@click.option(
    "--with-classifier",
    is_flag=True,
    help="adjudication: also queue items where the humans agree and a classifier does not.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@pass_context
def queue_create(
    obj: Context,
    name: str,
    kind: str,
    annotators: tuple[str, ...],
    rubric_id: str,
    size,
    limit,
    seed,
    model,
    condition,
    dataset,
    blind,
    margin,
    field_id,
    min_humans,
    imported_as_human,
    classifier,
    replace,
    rater,
    with_classifier,
    as_json,
) -> None:
    """Create queue NAME of --kind and store its assignments.

    \b
    reviewer queue create week1 --kind random --annotator ann --annotator bob --seed 1
    reviewer queue create agree --kind overlap --annotator ann --annotator bob --size 40
    reviewer queue create adjudicate --kind disagreement
    reviewer queue create sample --kind score-stratified --size 200
    reviewer queue create settle --kind adjudication --annotator carol
    reviewer queue create audit --kind errors --rater claude-run-3 --annotator dana
    """
    from db.queues import QueueError, queue_annotators
    from reviewer.queues import QueueRequest, build_queue

    request = QueueRequest(
        name=name,
        kind=kind,
        rubric_id=rubric_id,
        annotators=annotators,
        size=size,
        limit=limit,
        seed=seed,
        model=model,
        condition=condition,
        dataset=dataset,
        blind=blind,
        margin=margin,
        field=field_id,
        min_humans=min_humans,
        imported_as_human=imported_as_human,
        replace=replace,
        rater=rater,
        with_classifier=with_classifier,
        extra={"classifier": classifier} if classifier else {},
    )
    try:
        q, written = build_queue(obj.store, request)
    except (QueueError, KeyError) as exc:
        raise click.ClickException(str(exc).strip("'\"")) from None
    owners = queue_annotators(obj.store, q.name)
    if as_json:
        click.echo(
            json.dumps(
                {**_queue_json(q), "assignments": written, "per_annotator": dict(owners)}, indent=2
            )
        )
        return
    who = ", ".join(f"{a or 'anyone'}: {n}" for a, n in owners)
    replaced = f" (replaces {q.params['replaces']})" if "replaces" in q.params else ""
    echo_literal(
        f"created queue {q.name}{replaced}: {q.kind} under {q.rubric_id}, "
        f"{'blind' if q.blind else 'NOT blind'}, {written} assignments ({who})"
    )


def _queue_json(q) -> dict:
    return {
        "name": q.name,
        "base_name": q.base_name,
        "version": q.version,
        "kind": q.kind,
        "rubric_id": q.rubric_id,
        "blind": q.blind,
        "params": q.params,
        "created_at": q.created_at,
    }


@queue.command("list")
@click.option("--all-versions", is_flag=True, help="Also list replaced versions.")
@click.option("--json", "as_json", is_flag=True, help="Print the queues as JSON.")
@pass_context
def queue_list(obj: Context, all_versions: bool, as_json: bool) -> None:
    """Every queue with its kind, rubric, mode and assignments per annotator."""
    from db.queues import list_queues, queue_annotators

    queues = list_queues(obj.store, all_versions=all_versions)
    rows = [(q, queue_annotators(obj.store, q.name)) for q in queues]
    if as_json:
        click.echo(
            json.dumps([{**_queue_json(q), "per_annotator": dict(o)} for q, o in rows], indent=2)
        )
        return
    if not rows:
        echo_literal("no queues yet: create one with `reviewer queue create NAME --kind random`")
        return
    for q, owners in rows:
        who = ", ".join(f"{a or 'anyone'} {n}" for a, n in owners)
        echo_literal(
            f"{q.name}  {q.kind}  {q.rubric_id}  {'blind' if q.blind else 'unblind'}  "
            f"{q.created_at[:19]}  [{who}]"
        )


@queue.command("show")
@click.argument("name")
@click.option(
    "--annotator",
    "annotators",
    multiple=True,
    help="Show progress for this annotator (default: the queue's annotators).",
)
@click.option(
    "--items", type=int, default=10, show_default=True, help="How many assignments to list."
)
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@pass_context
def queue_show(
    obj: Context, name: str, annotators: tuple[str, ...], items: int, as_json: bool
) -> None:
    """Progress per annotator (done / total, skipped, next item) and the first assignments."""
    from db.queues import (
        QueueError,
        get_queue,
        list_queues,
        next_assignment,
        queue_annotators,
        queue_members,
        queue_progress,
    )

    q = get_queue(obj.store, name)
    if q is None:
        known = ", ".join(x.name for x in list_queues(obj.store)) or "none yet"
        raise click.ClickException(f"no queue named {name!r} (queues: {known})")
    owners = queue_annotators(obj.store, q.name)
    named = [a for a, _ in owners if a]
    strangers = [a for a in annotators if named and a not in named]
    if strangers:
        raise click.ClickException(
            f"queue {q.name!r} has no assignments for {strangers[0]!r} "
            f"(its annotators: {', '.join(named)})"
        )
    people = list(annotators) or named
    progress = {}
    try:
        for who in people:
            p = queue_progress(obj.store, q.name, who)
            nxt = next_assignment(obj.store, q.name, who)
            progress[who] = {
                "done": p.done,
                "skipped": p.skipped,
                "total": p.total,
                "next_transcript_id": None if nxt is None else nxt.transcript_id,
            }
    except QueueError as exc:
        raise click.ClickException(str(exc)) from None
    members = queue_members(obj.store, q.name, limit=items)
    if as_json:
        click.echo(
            json.dumps(
                {
                    **_queue_json(q),
                    "per_annotator": dict(owners),
                    "progress": progress,
                    "first": [a.__dict__ for a in members],
                },
                indent=2,
            )
        )
        return
    total = sum(n for _, n in owners)
    echo_literal(
        f"{q.name}: {q.kind} under {q.rubric_id}, {'blind' if q.blind else 'NOT blind'}, "
        f"{total} assignments, created {q.created_at[:19]}"
    )
    click.echo(f"params: {json.dumps(q.params, sort_keys=True)}")
    if not people:
        echo_literal("shared queue (anyone): pass --annotator NAME to see someone's progress")
    for who, p in progress.items():
        nxt = p["next_transcript_id"]
        echo_literal(
            f"  {who}: {p['done']}/{p['total']} done, {p['skipped']} skipped, "
            f"next: {'none (finished)' if nxt is None else f'transcript {nxt}'}"
        )
    echo_literal(f"first {len(members)} assignments:")
    for a in members:
        echo_literal(
            f"  {a.annotator or 'anyone'} #{a.position}: transcript {a.transcript_id}  {a.reason}"
        )


@queue.command("plan")
@click.argument("name")
@click.option(
    "--target-width",
    type=float,
    required=True,
    help="The width of the corrected 95% interval wanted for every group (e.g. 0.1).",
)
@click.option(
    "--field",
    "field_id",
    help="The field whose rate matters (default: the rubric's first binary field).",
)
@click.option(
    "--reference",
    default="gold",
    show_default=True,
    help="The labels taken as the truth (as in `reviewer analyze`).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@pass_context
def queue_plan(
    obj: Context, name: str, target_width: float, field_id, reference, as_json: bool
) -> None:
    """How many more items to label, and in which strata of queue NAME's design, for the
    corrected rate of every model x condition to reach --target-width.

    Reads the labels so far the way `reviewer analyze --design NAME` does; more items in a
    stratum are proposed in proportion to the items still unlabelled there times the spread
    of (reference - classifier) seen there (Neyman allocation). Create them with
    `reviewer queue create NAME --replace ...` or a new queue of the same kind.

    \b
    reviewer queue plan sample --target-width 0.1
    """
    from db.queues import get_queue
    from reviewer.analysis import AnalysisError, motivation_analysis
    from reviewer.commands.analyze import plan_line

    if not 0 < target_width < 2:
        raise click.ClickException(f"--target-width must be between 0 and 2, not {target_width}")
    q = get_queue(obj.store, name)
    if q is None:
        raise click.ClickException(f"no queue named {name!r}: see `reviewer queue list`")
    try:
        report = motivation_analysis(
            obj.store, [q.rubric_id], design=name, reference=reference, target_width=target_width
        )
    except AnalysisError as exc:
        raise click.ClickException(str(exc)) from None
    outcomes = report["rubrics"][0]["outcomes"] if report["rubrics"] else []
    if field_id is not None:
        outcomes = [o for o in outcomes if o["field"] == field_id]
    elif outcomes:
        outcomes = [o for o in outcomes if o["field"] == outcomes[0]["field"]][:1]
    if not outcomes:
        raise click.ClickException(f"queue {name}: no labels under {q.rubric_id} to plan from")
    plans = []
    for o in outcomes:
        for g in o["groups"]:
            plan = g["corrected"].get("plan")
            plans.append(
                {
                    "outcome": o["outcome"],
                    "model": g["model"],
                    "condition": g["condition"],
                    "design": o["design"]["status"],
                    "plan": plan,
                    "reason": g["corrected"].get("reason"),
                }
            )
    if as_json:
        click.echo(json.dumps(plans, indent=2))
        return
    from reviewer.console import literal, make_console

    console = make_console()
    for p in plans:
        where = f"{p['outcome']} {p['model'] or '?'} x {p['condition'] or '?'}: "
        text = plan_line(p["plan"]) if p["plan"] else f"no plan: {p['reason']}"
        console.print(literal(where + text))
