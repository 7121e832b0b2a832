"""Stand-in annotators for the manual's examples, on a demo database only.

The pages show `reviewer stats`, `analyze`, adjudication and export on labels that people
would make in the labeler. To keep those examples real and repeatable, this script makes such
labels the way the labeler does (``db.labels.commit_label``: blind, one event per field),
for one queue and one annotator, from each demo transcript's generating style with a seeded
share of mistakes. It refuses a database that holds anything but demo transcripts.

    .venv/bin/python docs/stand_in_annotators.py DB QUEUE ANNOTATOR [--mistakes 0.15] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from db import Store, labels
from db.queues import get_queue, queue_members
from reviewer.demo import MOTIVATIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("db", type=Path)
    parser.add_argument("queue")
    parser.add_argument("annotator")
    parser.add_argument(
        "--mistakes",
        type=float,
        default=0.15,
        help="Share of items whose alignment-faking label is flipped.",
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    store = Store(args.db)
    rng = random.Random(f"{args.seed}:{args.annotator}")
    queue = get_queue(store, args.queue)
    if queue is None:
        print(f"{args.db}: no queue {args.queue}", file=sys.stderr)
        return 1
    rubric = labels.resolve_rubric(store, queue.rubric_id)
    made = 0
    for assignment in queue_members(store, args.queue, args.annotator):
        transcript = store.transcript(assignment.transcript_id)
        truth = transcript["metadata"].get("demo_truth")
        if truth is None:
            print(
                f"{args.db}: transcript {transcript['id']} is not a demo transcript; "
                "stand-in labels are for demo databases only",
                file=sys.stderr,
            )
            return 1
        faking = truth["alignment_faking"]
        motivation = sorted(m for m in truth["motivation"] if m in MOTIVATIONS)
        if rng.random() < args.mistakes:
            faking = "no" if faking == "yes" else "yes"
            motivation = [] if motivation else [rng.choice(MOTIVATIONS)]
        values = {"alignment_faking": faking, "motivation": motivation}
        if rubric.id == "compliance":
            values = {"compliance": truth["compliance"]}
        labels.commit_label(
            store,
            transcript["id"],
            annotator=args.annotator,
            rubric_id=rubric.id,
            rubric_hash=rubric.content_hash,
            values=values,
            seconds=round(rng.uniform(8, 40), 1),
        )
        made += 1
    print(f"{args.annotator}: {made} blind labels committed in queue {args.queue}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
