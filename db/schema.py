"""Numbered, append-only schema migrations.

Never edit a migration that has shipped: add a new one at the end. The database's
``PRAGMA user_version`` records how many migrations it has, so that an older reviewer
refuses a database written by a newer one instead of touching it.
"""

from __future__ import annotations

from collections.abc import Callable

from db._sqlite_utils import Database, load_sqlite_utils


class _Migrations:
    """The migration list, registered like sqlite-utils' ``Migrations`` (same decorator,
    same ``_sqlite_migrations`` table), which is imported only when one must be applied:
    opening an up-to-date database never loads sqlite-utils."""

    def __init__(self, name: str):
        self.name = name
        self._migrations: list[tuple[str, Callable[[Database], None]]] = []

    def __call__(self, *, name: str) -> Callable[[Callable], Callable]:
        def register(fn: Callable[[Database], None]) -> Callable[[Database], None]:
            if any(existing == name for existing, _ in self._migrations):
                raise ValueError(f"migration {name!r} is registered twice")
            self._migrations.append((name, fn))
            return fn

        return register

    def apply(self, db: Database) -> None:
        load_sqlite_utils()  # first, so that pandas and numpy stay hidden
        from sqlite_utils.migrations import Migrations

        migrations = Migrations(self.name)
        for name, fn in self._migrations:
            migrations(name=name)(fn)
        migrations.apply(db.full())


MIGRATIONS = _Migrations("reviewer")


@MIGRATIONS(name="m001_initial")
def m001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            path TEXT NOT NULL,
            format TEXT NOT NULL,
            sha256 TEXT,
            size_bytes INTEGER,
            n_read INTEGER NOT NULL DEFAULT 0,
            n_new INTEGER NOT NULL DEFAULT 0,
            n_duplicate INTEGER NOT NULL DEFAULT 0,
            n_rejected INTEGER NOT NULL DEFAULT 0,
            errors TEXT NOT NULL DEFAULT '[]',
            options TEXT NOT NULL DEFAULT '{}',
            importer_version TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running',
            started_at TEXT NOT NULL,
            finished_at TEXT
        );

        CREATE TABLE prompts (
            hash TEXT PRIMARY KEY,
            text TEXT NOT NULL
        );

        CREATE TABLE transcripts (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            dataset TEXT,
            model TEXT,
            condition TEXT,
            prompt_variant TEXT,
            system_prompt_hash TEXT REFERENCES prompts(hash),
            user_input TEXT NOT NULL DEFAULT '',
            scratchpad TEXT NOT NULL DEFAULT '',
            scratchpad_blocks TEXT NOT NULL DEFAULT '[]',
            output TEXT NOT NULL DEFAULT '',
            turns TEXT NOT NULL DEFAULT '[]',
            source_path TEXT,
            source_ref TEXT,
            import_id INTEGER REFERENCES imports(id),
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );
        CREATE INDEX transcripts_model_condition ON transcripts(model, condition);

        CREATE VIRTUAL TABLE transcripts_fts USING fts5(
            scratchpad, output, content='transcripts', content_rowid='id'
        );
        CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN
            INSERT INTO transcripts_fts(rowid, scratchpad, output)
            VALUES (new.id, new.scratchpad, new.output);
        END;
        CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN
            INSERT INTO transcripts_fts(transcripts_fts, rowid, scratchpad, output)
            VALUES ('delete', old.id, old.scratchpad, old.output);
        END;

        CREATE TABLE rubrics (
            hash TEXT PRIMARY KEY,
            rubric_id TEXT NOT NULL,
            version TEXT NOT NULL,
            source TEXT NOT NULL,
            origin TEXT,
            created_at TEXT NOT NULL
        );
        CREATE INDEX rubrics_by_id ON rubrics(rubric_id);

        CREATE TABLE classifier_runs (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            rubric_hash TEXT NOT NULL REFERENCES rubrics(hash),
            params TEXT NOT NULL DEFAULT '{}',
            prompt_hash TEXT,
            base_url TEXT,
            mode TEXT NOT NULL DEFAULT 'online',
            batch_ids TEXT NOT NULL DEFAULT '[]',
            status TEXT NOT NULL DEFAULT 'running',
            max_cost_usd REAL,
            started_at TEXT NOT NULL,
            finished_at TEXT
        );

        CREATE TABLE classifier_calls (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES classifier_runs(id),
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            request_key TEXT NOT NULL,
            n_samples INTEGER NOT NULL DEFAULT 1,
            request TEXT NOT NULL DEFAULT '{}',
            raw_response TEXT,
            parsed TEXT,
            status TEXT NOT NULL,
            error TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cache_read_tokens INTEGER NOT NULL DEFAULT 0,
            cache_write_tokens INTEGER NOT NULL DEFAULT 0,
            cost_usd REAL NOT NULL DEFAULT 0,
            latency_s REAL,
            created_at TEXT NOT NULL
        );
        CREATE INDEX classifier_calls_key ON classifier_calls(request_key, status);
        CREATE INDEX classifier_calls_run ON classifier_calls(run_id);

        CREATE TABLE label_events (
            id INTEGER PRIMARY KEY,
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            rubric_hash TEXT REFERENCES rubrics(hash),
            rubric_id TEXT NOT NULL,
            field TEXT NOT NULL,
            value TEXT,
            source TEXT NOT NULL
                CHECK (source IN ('human', 'classifier', 'adjudication', 'imported')),
            rater TEXT NOT NULL,
            phase TEXT CHECK (phase IS NULL OR phase IN ('blind', 'revealed', 'adjudicated')),
            score REAL,
            scores TEXT,
            evidence TEXT,
            note TEXT,
            seconds REAL,
            retracts INTEGER REFERENCES label_events(id),
            run_id INTEGER REFERENCES classifier_runs(id),
            import_id INTEGER REFERENCES imports(id),
            created_at TEXT NOT NULL
        );
        CREATE INDEX label_events_item ON label_events(transcript_id, rubric_id, field);
        CREATE INDEX label_events_rater ON label_events(rater, id);
        CREATE INDEX label_events_retracts ON label_events(retracts);
        CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events BEGIN
            SELECT RAISE(ABORT, 'label_events is append-only: record a retraction instead');
        END;
        CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events BEGIN
            SELECT RAISE(ABORT, 'label_events is append-only: record a retraction instead');
        END;

        CREATE TABLE queues (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            rubric_id TEXT,
            blind INTEGER NOT NULL DEFAULT 1,
            params TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        );

        CREATE TABLE assignments (
            id INTEGER PRIMARY KEY,
            queue TEXT NOT NULL REFERENCES queues(name),
            annotator TEXT NOT NULL DEFAULT '',
            transcript_id INTEGER NOT NULL REFERENCES transcripts(id),
            position INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created_at TEXT NOT NULL,
            UNIQUE (queue, annotator, transcript_id)
        );
        CREATE INDEX assignments_order ON assignments(queue, annotator, position);
        """
    )


# The rule of a live label event (db/labels.py reads through it), and the trigger that closes
# REPLACE's hole in the append-only rule: created by m002, checked by `reviewer doctor`.
LIVE_VIEW = (
    "CREATE VIEW live_label_events AS SELECT e.* FROM label_events e "
    "WHERE e.retracts IS NULL "
    "AND NOT EXISTS (SELECT 1 FROM label_events r WHERE r.retracts = e.id)"
)
NO_REPLACE_TRIGGER = (
    "CREATE TRIGGER label_events_no_replace BEFORE INSERT ON label_events "
    "WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM label_events WHERE id = NEW.id) "
    "BEGIN SELECT RAISE(ABORT, 'label_events is append-only: an event id is never reused'); "
    "END"
)


@MIGRATIONS(name="m002_label_core")
def m002_label_core(db: Database) -> None:
    """One definition of a live label event, and an append-only rule without holes.

    - ``live_label_events``: the events that count, i.e. neither a retraction nor retracted.
      Every reader filters through it (db/labels.py), so the rule is written once.
    - Retractions are found through a partial index over the few rows that are retractions.
      The old full index on ``retracts`` let the planner answer ``retracts IS NULL`` by
      walking every live event of the database instead of one transcript's.
      An event is retracted at most once: unique, unless an older database already holds a
      double retraction (from before writes took the lock up front), which stays readable.
    - ``REPLACE INTO`` / ``INSERT OR REPLACE`` over an existing id would delete the old row
      without firing the delete trigger; an insert trigger refuses a taken id first.
    """
    conn = db.conn
    doubled = conn.execute(
        "SELECT 1 FROM label_events WHERE retracts IS NOT NULL GROUP BY retracts "
        "HAVING COUNT(*) > 1 LIMIT 1"
    ).fetchone()
    unique = "" if doubled else "UNIQUE "
    # One statement at a time: executescript would commit the migration's transaction.
    for statement in (
        "DROP INDEX IF EXISTS label_events_retracts",
        f"CREATE {unique}INDEX label_events_retraction ON label_events(retracts) "
        "WHERE retracts IS NOT NULL",
        NO_REPLACE_TRIGGER,
        LIVE_VIEW,
    ):
        conn.execute(statement)


@MIGRATIONS(name="m003_assignment_design")
def m003_assignment_design(db: Database) -> None:
    """The sampling design of every assignment: the probability that the queue's draw
    included the item, and the stratum it was drawn from. NULL probability: the queue did not
    draw a probability sample (uncertain, disagreement, calibration), so its items cannot be
    weighted back to the population."""
    # One statement at a time: executescript would commit the migration's transaction.
    db.conn.execute(
        "ALTER TABLE assignments ADD COLUMN inclusion_probability REAL "
        "CHECK (inclusion_probability IS NULL "
        "OR (inclusion_probability > 0 AND inclusion_probability <= 1))"
    )
    db.conn.execute("ALTER TABLE assignments ADD COLUMN stratum TEXT")


@MIGRATIONS(name="m004_operations")
def m004_operations(db: Database) -> None:
    """Who runs an import or a classifier run, so that one left ``running`` by a killed
    process can be told from one still at work (db/operations.py reconciles them).

    - ``pid``, ``host`` and ``pid_started`` (the process's start time as the kernel gives it,
      so that a reused pid is not taken for the original process) on ``imports`` and
      ``classifier_runs``; ``note`` on ``classifier_runs`` says how a run was reconciled.
    - Partial indexes over the rows still ``running`` (checked at every open), and indexes
      that count what an import wrote: its transcripts and its labels.
    """
    conn = db.conn
    for table in ("imports", "classifier_runs"):
        for column, kind in (("pid", "INTEGER"), ("host", "TEXT"), ("pid_started", "TEXT")):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        conn.execute(f"CREATE INDEX {table}_running ON {table}(id) WHERE status = 'running'")
    conn.execute("ALTER TABLE classifier_runs ADD COLUMN note TEXT")
    conn.execute("CREATE INDEX transcripts_import ON transcripts(import_id)")
    conn.execute(
        "CREATE INDEX label_events_import ON label_events(import_id) WHERE import_id IS NOT NULL"
    )


# Label events counted as they are appended (``reviewer info`` reads the counts; ``reviewer
# doctor`` recounts them from the events and rebuilds them). Per source: events (retractions
# not counted), split into labels, acts and retracted; and the (transcript, rubric, field,
# rater) combinations with a live label, and the raters and transcripts that have one.
_LIVE_KEY = (
    "SELECT 1 FROM live_label_events x WHERE x.transcript_id = {e}.transcript_id "
    "AND x.rubric_id = {e}.rubric_id AND x.field = {e}.field AND x.rater = {e}.rater "
    "AND x.source = {e}.source{other}"
)
_LIVE_TRANSCRIPT = (
    "SELECT 1 FROM live_label_events x WHERE x.transcript_id = {e}.transcript_id "
    "AND x.source = {e}.source AND substr(x.field, 1, 1) != '_'{other}"
)
_NEW_KEY = "(substr(NEW.field, 1, 1) != '_' AND NOT EXISTS ({}))".format(
    _LIVE_KEY.format(e="NEW", other=" AND x.id != NEW.id")
)
COUNT_APPEND_TRIGGER = (
    "CREATE TRIGGER label_counts_append AFTER INSERT ON label_events "
    "WHEN NEW.retracts IS NULL BEGIN "
    "INSERT INTO label_counts(source) VALUES (NEW.source) ON CONFLICT(source) DO NOTHING; "
    "UPDATE label_counts SET events = events + 1, "
    "acts = acts + (substr(NEW.field, 1, 1) = '_'), "
    "labels = labels + (substr(NEW.field, 1, 1) != '_'), "
    f"current_labels = current_labels + {_NEW_KEY}, "
    f"transcripts = transcripts + ({_NEW_KEY} AND NOT EXISTS ("
    + _LIVE_TRANSCRIPT.format(e="NEW", other=" AND x.id != NEW.id")
    + ")) WHERE source = NEW.source; "
    "INSERT INTO label_rater_counts(source, rater, current_labels) "
    f"SELECT NEW.source, NEW.rater, 1 WHERE {_NEW_KEY} "
    "ON CONFLICT(source, rater) DO UPDATE SET current_labels = current_labels + 1; END"
)
# The first retraction of an event that is not itself a retraction moves it to 'retracted',
# and takes away the combination (and the transcript) it was the last live label of.
_TARGET = "FROM label_events t WHERE t.id = NEW.retracts"
_FIRST = (
    f"(SELECT t.retracts IS NULL {_TARGET}) AND NOT EXISTS (SELECT 1 FROM label_events r "
    "WHERE r.retracts = NEW.retracts AND r.id != NEW.id)"
)
_GONE_KEY = "(substr(t.field, 1, 1) != '_' AND NOT EXISTS ({}))".format(
    _LIVE_KEY.format(e="t", other="")
)
COUNT_RETRACT_TRIGGER = (
    "CREATE TRIGGER label_counts_retract AFTER INSERT ON label_events "
    "WHEN NEW.retracts IS NOT NULL BEGIN "
    "UPDATE label_rater_counts SET current_labels = current_labels - 1 "
    f"WHERE source = (SELECT t.source {_TARGET}) AND rater = (SELECT t.rater {_TARGET}) "
    f"AND (SELECT {_GONE_KEY} {_TARGET}) AND {_FIRST}; "
    "UPDATE label_counts SET retracted = retracted + 1, "
    f"acts = acts - (SELECT substr(t.field, 1, 1) = '_' {_TARGET}), "
    f"labels = labels - (SELECT substr(t.field, 1, 1) != '_' {_TARGET}), "
    f"current_labels = current_labels - (SELECT {_GONE_KEY} {_TARGET}), "
    f"transcripts = transcripts - (SELECT {_GONE_KEY} AND NOT EXISTS ("
    + _LIVE_TRANSCRIPT.format(e="t", other="")
    + f") {_TARGET}) "
    f"WHERE source = (SELECT t.source {_TARGET}) AND {_FIRST}; END"
)
LABEL_COUNTS_TABLE = (
    "CREATE TABLE label_counts (source TEXT PRIMARY KEY, "
    + ", ".join(
        f"{c} INTEGER NOT NULL DEFAULT 0"
        for c in ("events", "labels", "acts", "retracted", "current_labels", "transcripts")
    )
    + ")"
)
# Per source and rater, the combinations with a live label: a rater counts while above 0.
# (A rater's events are looked up by its index only when the database has no statistics
# that call the rater unselective; a table of its own needs no look-up.)
RATER_COUNTS_TABLE = (
    "CREATE TABLE label_rater_counts (source TEXT NOT NULL, rater TEXT NOT NULL, "
    "current_labels INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (source, rater)) WITHOUT ROWID"
)


LABEL_VALUES_INDEX = (
    "CREATE INDEX IF NOT EXISTS label_events_values ON label_events"
    "(rubric_id, field, source, rater, phase, value, transcript_id)"
)


# Transcripts by model and condition (NULL shown as '?'), kept as they are written.
TRANSCRIPT_COUNTS_TABLE = (
    "CREATE TABLE transcript_counts (model TEXT NOT NULL, condition TEXT NOT NULL, "
    "transcripts INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (model, condition)) WITHOUT ROWID"
)
_COUNT_ONE = (
    "INSERT INTO transcript_counts(model, condition, transcripts) VALUES "
    "(IFNULL(NEW.model, '?'), IFNULL(NEW.condition, '?'), 1) ON CONFLICT(model, condition) "
    "DO UPDATE SET transcripts = transcripts + 1; "
)
_UNCOUNT_ONE = (
    "UPDATE transcript_counts SET transcripts = transcripts - 1 "
    "WHERE model = IFNULL(OLD.model, '?') AND condition = IFNULL(OLD.condition, '?'); "
)
TRANSCRIPT_COUNT_TRIGGERS = {
    "transcript_counts_insert": "CREATE TRIGGER transcript_counts_insert AFTER INSERT ON "
    f"transcripts BEGIN {_COUNT_ONE}END",
    "transcript_counts_delete": "CREATE TRIGGER transcript_counts_delete AFTER DELETE ON "
    f"transcripts BEGIN {_UNCOUNT_ONE}END",
    "transcript_counts_update": "CREATE TRIGGER transcript_counts_update AFTER UPDATE OF "
    f"model, condition ON transcripts BEGIN {_UNCOUNT_ONE}{_COUNT_ONE}END",
}


@MIGRATIONS(name="m005_data_path")
def m005_data_path(db: Database) -> None:
    """What the data path needs at a million transcripts.

    - ``label_counts`` and ``label_rater_counts``: label events counted by source (and the
      live combinations by rater) as they are appended, by two triggers,
      so that ``reviewer info`` reads a few rows instead of every event (14 s at 1M). The
      events stay as they were (nothing is updated or deleted there); the counts are derived
      and ``reviewer doctor`` recounts them. Filled here from the events already stored.
    - ``transcript_counts``: transcripts by model and condition, kept the same way.
    - ``transcripts_groups``: model, condition, dataset and prompt variant in one index, so
      the analysis groups a million transcripts from the index alone (it replaces the
      index on model and condition, which it begins with).
    """
    from db import labels

    conn = db.conn
    for statement in (
        LABEL_COUNTS_TABLE,
        RATER_COUNTS_TABLE,
        COUNT_APPEND_TRIGGER,
        COUNT_RETRACT_TRIGGER,
        "CREATE INDEX transcripts_groups ON transcripts(model, condition, dataset, prompt_variant)",
        "DROP INDEX IF EXISTS transcripts_model_condition",
        TRANSCRIPT_COUNTS_TABLE,
        *TRANSCRIPT_COUNT_TRIGGERS.values(),
    ):
        conn.execute(statement)
    labels.rebuild_event_counts(conn)
    rebuild_transcript_counts(conn)


@MIGRATIONS(name="m006_label_values")
def m006_label_values(db: Database) -> None:
    """``label_events_values``: every label's rubric, field, source, rater, phase, value and
    transcript in one index, so that the statistics read a million transcripts' labels
    grouped by rater and value from the index alone, without touching the events' rows
    (``db.labels.current_label_columns``: 1.5 s at 3M labels instead of 15 s)."""
    db.conn.execute(LABEL_VALUES_INDEX)


@MIGRATIONS(name="m007_label_columns_cache")
def m007_label_columns_cache(db: Database) -> None:
    """``label_columns_cache``: the live labels of rubric fields as the column reader last
    read them (``db.labels.current_label_columns``), with the last event they include. Derived
    data, never a label: a reader takes it only when it holds its own snapshot's events up to
    that one, adds the events after it, and otherwise reads the labels afresh. Nothing else
    reads it, and deleting its row loses nothing."""
    db.conn.execute(
        "CREATE TABLE label_columns_cache (name TEXT PRIMARY KEY, format INTEGER NOT NULL, "
        "last_event INTEGER NOT NULL, keys TEXT NOT NULL, sizes BLOB NOT NULL, "
        "shift INTEGER, labels BLOB NOT NULL)"
    )


def transcript_counts(conn) -> list[tuple]:
    """(model, condition, transcripts) as the triggers keep them, NULL shown as '?'."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT model, condition, transcripts FROM transcript_counts WHERE transcripts > 0 "
            "ORDER BY model, condition"
        )
    ]


def recount_transcripts(conn) -> list[tuple]:
    """``transcript_counts`` counted from the transcripts."""
    return [
        tuple(r)
        for r in conn.execute(
            "SELECT IFNULL(model, '?'), IFNULL(condition, '?'), COUNT(*) FROM transcripts "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        )
    ]


def rebuild_transcript_counts(conn) -> None:
    conn.execute("DELETE FROM transcript_counts")
    conn.executemany(
        "INSERT INTO transcript_counts(model, condition, transcripts) VALUES (?, ?, ?)",
        recount_transcripts(conn),
    )


# The objects whose loss would go unnoticed, as the migrations above create them:
# ``reviewer doctor`` checks that each is present with this definition and, with
# ``--repair``, recreates it. (type, table it belongs to, definition)
GUARDED_OBJECTS: dict[str, tuple[str, str, str]] = {
    "label_events_no_update": (
        "trigger",
        "label_events",
        "CREATE TRIGGER label_events_no_update BEFORE UPDATE ON label_events BEGIN "
        "SELECT RAISE(ABORT, 'label_events is append-only: record a retraction instead'); END",
    ),
    "label_events_no_delete": (
        "trigger",
        "label_events",
        "CREATE TRIGGER label_events_no_delete BEFORE DELETE ON label_events BEGIN "
        "SELECT RAISE(ABORT, 'label_events is append-only: record a retraction instead'); END",
    ),
    "label_events_no_replace": ("trigger", "label_events", NO_REPLACE_TRIGGER),
    "transcripts_fts_insert": (
        "trigger",
        "transcripts",
        "CREATE TRIGGER transcripts_fts_insert AFTER INSERT ON transcripts BEGIN "
        "INSERT INTO transcripts_fts(rowid, scratchpad, output) "
        "VALUES (new.id, new.scratchpad, new.output); END",
    ),
    "transcripts_fts_delete": (
        "trigger",
        "transcripts",
        "CREATE TRIGGER transcripts_fts_delete AFTER DELETE ON transcripts BEGIN "
        "INSERT INTO transcripts_fts(transcripts_fts, rowid, scratchpad, output) "
        "VALUES ('delete', old.id, old.scratchpad, old.output); END",
    ),
    "live_label_events": ("view", "live_label_events", LIVE_VIEW),
    "label_counts_append": ("trigger", "label_events", COUNT_APPEND_TRIGGER),
    "label_counts_retract": ("trigger", "label_events", COUNT_RETRACT_TRIGGER),
    **{name: ("trigger", "transcripts", sql) for name, sql in TRANSCRIPT_COUNT_TRIGGERS.items()},
}


def same_definition(a: str | None, b: str | None) -> bool:
    """Two CREATE statements say the same, whatever their spacing and final semicolon."""
    if a is None or b is None:
        return a is b
    return " ".join(a.rstrip("; \n").split()) == " ".join(b.rstrip("; \n").split())


SCHEMA_VERSION = len(MIGRATIONS._migrations)
