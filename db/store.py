"""The store API: every read and write the rest of the project makes goes through here.

One SQLite connection per thread (a connection made on the UI thread cannot be used in a
worker thread). Label events are append-only: undo is a retraction event, and the current
label of an item is derived from the events, never stored.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from db._sqlite_utils import sqlite_utils
from db.connection import connect
from db.models import PHASES, SOURCES, LabelEvent, TranscriptRecord, prompt_hash

INSERT_BATCH = 2000


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


@dataclass
class InsertResult:
    new: int = 0
    duplicate: int = 0
    labels: int = 0


_EVENT_COLUMNS = (
    "id, transcript_id, rubric_id, rubric_hash, field, value, source, rater, phase, score, "
    "scores, evidence, note, seconds, retracts, run_id, created_at"
)


def _event(row: tuple) -> LabelEvent:
    (id_, tid, rubric_id, rubric_hash, field, value, source, rater, phase, score, scores,
     evidence, note, seconds, retracts, run_id, created_at) = row  # fmt: skip
    return LabelEvent(
        id=id_,
        transcript_id=tid,
        rubric_id=rubric_id,
        rubric_hash=rubric_hash,
        field=field,
        value=_loads(value),
        source=source,
        rater=rater,
        phase=phase,
        score=score,
        scores=_loads(scores),
        evidence=_loads(evidence),
        note=note,
        seconds=seconds,
        retracts=retracts,
        run_id=run_id,
        created_at=created_at,
    )


class Store:
    """A reviewer database. Safe to share between threads: each gets its own connection."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._local = threading.local()
        self._connections: list[sqlite_utils.Database] = []
        self._lock = threading.Lock()
        _ = self.db  # open (and migrate) now, so errors surface at construction

    # -- connections -------------------------------------------------------------------

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path)
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def execute(self, sql: str, params: Iterable[Any] = ()) -> list[tuple]:
        """Run a read query on this thread's connection and return all rows."""
        return self.db.conn.execute(sql, tuple(params)).fetchall()

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """All writes inside commit together or not at all (nests as savepoints)."""
        with self.db.atomic() as db:
            yield db

    # -- prompts and transcripts ---------------------------------------------------------

    def ensure_prompt(self, text: str) -> str:
        digest = prompt_hash(text)
        self.db.conn.execute(
            "INSERT OR IGNORE INTO prompts(hash, text) VALUES (?, ?)", (digest, text)
        )
        return digest

    def insert_transcripts(
        self,
        records: Iterable[TranscriptRecord],
        *,
        import_id: int | None = None,
        rubric_hashes: dict[str, str] | None = None,
    ) -> InsertResult:
        """Insert records in one transaction; records whose uid exists are counted, not added.

        Labels carried by new records become label events; those carried by duplicates are
        ignored, so importing a file twice changes nothing.
        """
        result = InsertResult()
        rubric_hashes = rubric_hashes or {}
        conn = self.db.conn
        now = utc_now()
        with self.transaction():
            batch: list[TranscriptRecord] = []
            for record in records:
                batch.append(record)
                if len(batch) >= INSERT_BATCH:
                    self._insert_batch(conn, batch, import_id, rubric_hashes, now, result)
                    batch = []
            if batch:
                self._insert_batch(conn, batch, import_id, rubric_hashes, now, result)
        return result

    def _insert_batch(self, conn, batch, import_id, rubric_hashes, now, result) -> None:
        uids = [r.uid for r in batch]
        placeholders = ",".join("?" * len(uids))
        existing = {
            row[0]
            for row in conn.execute(
                f"SELECT uid FROM transcripts WHERE uid IN ({placeholders})", uids
            )
        }
        fresh: dict[str, TranscriptRecord] = {}
        for uid, r in zip(uids, batch, strict=True):
            if uid not in existing and uid not in fresh:
                fresh[uid] = r
        result.new += len(fresh)
        result.duplicate += len(batch) - len(fresh)
        prompt_rows = {}
        rows = []
        for uid, r in fresh.items():
            system_hash = None
            if r.system_prompt:
                system_hash = prompt_hash(r.system_prompt)
                prompt_rows[system_hash] = r.system_prompt
            rows.append(
                (
                    uid, r.dataset, r.model, r.condition, r.prompt_variant, system_hash,
                    r.user_input, r.scratchpad, _dumps([list(b) for b in r.scratchpad_blocks]),
                    r.output, _dumps(r.turns), r.source_path, r.source_ref, import_id,
                    _dumps(r.metadata), now,
                )
            )  # fmt: skip
        if prompt_rows:
            conn.executemany(
                "INSERT OR IGNORE INTO prompts(hash, text) VALUES (?, ?)", prompt_rows.items()
            )
        conn.executemany(
            "INSERT INTO transcripts(uid, dataset, model, condition, prompt_variant, "
            "system_prompt_hash, user_input, scratchpad, scratchpad_blocks, output, turns, "
            "source_path, source_ref, import_id, metadata, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            rows,
        )
        self._insert_record_labels(conn, batch, uids, fresh, import_id, rubric_hashes, now, result)

    def _insert_record_labels(
        self, conn, batch, uids, fresh, import_id, rubric_hashes, now, result
    ) -> None:
        """Labels carried by records. A transcript seen before still gains labels it lacks
        (a second annotator's file over the same transcripts), but a label already stored
        for it (same rubric, field, source, rater and value, even if retracted since) is not
        added again: importing a file twice changes nothing."""
        labelled = [(uid, r) for uid, r in zip(uids, batch, strict=True) if r.labels]
        if not labelled:
            return
        wanted = list({uid for uid, _ in labelled})
        id_by_uid = dict(
            conn.execute(
                f"SELECT uid, id FROM transcripts WHERE uid IN ({','.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
        )
        seen: set[tuple] = set()
        events = []
        for uid, record in labelled:
            tid = id_by_uid[uid]
            is_new = fresh.get(uid) is record
            for lab in record.labels:
                value = _dumps(lab.value)
                key = (tid, lab.rubric_id, lab.field, lab.source, lab.rater, value)
                if key in seen:
                    continue
                seen.add(key)
                if (
                    not is_new
                    and conn.execute(
                        "SELECT 1 FROM label_events WHERE transcript_id = ? AND rubric_id = ? "
                        "AND field = ? AND source = ? AND rater = ? AND value = ? LIMIT 1",
                        key,
                    ).fetchone()
                ):
                    continue
                events.append(
                    (
                        tid, rubric_hashes.get(lab.rubric_id), lab.rubric_id, lab.field,
                        value, lab.source, lab.rater,
                        "blind" if lab.source == "human" else None, lab.score,
                        None if lab.scores is None else _dumps(lab.scores),
                        None if lab.evidence is None else _dumps(lab.evidence),
                        lab.note, import_id, now,
                    )
                )  # fmt: skip
        conn.executemany(
            "INSERT INTO label_events(transcript_id, rubric_hash, rubric_id, field, value, "
            "source, rater, phase, score, scores, evidence, note, import_id, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            events,
        )
        result.labels += len(events)

    def transcript(self, transcript_id: int) -> dict[str, Any] | None:
        """One transcript with its system prompt text and decoded JSON columns."""
        cur = self.db.conn.execute(
            "SELECT t.*, p.text AS system_prompt FROM transcripts t "
            "LEFT JOIN prompts p ON p.hash = t.system_prompt_hash WHERE t.id = ?",
            (transcript_id,),
        )
        row = cur.fetchone()
        if row is None:
            return None
        item = dict(zip([c[0] for c in cur.description], row, strict=True))
        for key in ("scratchpad_blocks", "turns", "metadata"):
            item[key] = json.loads(item[key])
        return item

    def transcript_count(self) -> int:
        return self.db.conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0]

    def transcript_ids(
        self,
        *,
        model: str | None = None,
        condition: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[int]:
        where, params = [], []
        if model is not None:
            where.append("model = ?")
            params.append(model)
        if condition is not None:
            where.append("condition = ?")
            params.append(condition)
        sql = "SELECT id FROM transcripts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id LIMIT ? OFFSET ?"
        params += [-1 if limit is None else limit, offset]
        return [r[0] for r in self.db.conn.execute(sql, params)]

    def search(self, query: str, *, limit: int = 100) -> list[int]:
        """Transcript ids whose scratchpad or output matches an FTS5 query (as a phrase)."""
        phrase = '"' + query.replace('"', '""') + '"'
        rows = self.db.conn.execute(
            "SELECT rowid FROM transcripts_fts WHERE transcripts_fts MATCH ? ORDER BY rowid "
            "LIMIT ?",
            (phrase, limit),
        )
        return [r[0] for r in rows]

    # -- rubrics -------------------------------------------------------------------------

    def register_rubric(
        self, rubric_id: str, version: str, source: str, digest: str, origin: str | None = None
    ) -> str:
        """Record a rubric version (idempotent by content hash) and return its hash."""
        self.db.conn.execute(
            "INSERT OR IGNORE INTO rubrics(hash, rubric_id, version, source, origin, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (digest, rubric_id, version, source, origin, utc_now()),
        )
        return digest

    def rubric_versions(self, rubric_id: str) -> list[dict[str, Any]]:
        cur = self.db.conn.execute(
            "SELECT hash, rubric_id, version, origin, created_at FROM rubrics "
            "WHERE rubric_id = ? ORDER BY created_at",
            (rubric_id,),
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # -- imports -------------------------------------------------------------------------

    def begin_import(
        self,
        path: str,
        fmt: str,
        *,
        sha256: str | None,
        size_bytes: int | None,
        importer_version: str,
        options: dict[str, Any] | None = None,
    ) -> int:
        cur = self.db.conn.execute(
            "INSERT INTO imports(path, format, sha256, size_bytes, importer_version, options, "
            "started_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (path, fmt, sha256, size_bytes, importer_version, _dumps(options or {}), utc_now()),
        )
        return cur.lastrowid

    def finish_import(
        self,
        import_id: int,
        *,
        status: str,
        n_read: int = 0,
        n_new: int = 0,
        n_duplicate: int = 0,
        n_rejected: int = 0,
        errors: list[Any] | None = None,
    ) -> None:
        self.db.conn.execute(
            "UPDATE imports SET status = ?, n_read = ?, n_new = ?, n_duplicate = ?, "
            "n_rejected = ?, errors = ?, finished_at = ? WHERE id = ?",
            (status, n_read, n_new, n_duplicate, n_rejected, _dumps(errors or []), utc_now(),
             import_id),
        )  # fmt: skip

    def imports(self) -> list[dict[str, Any]]:
        cur = self.db.conn.execute("SELECT * FROM imports ORDER BY id")
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    # -- label events --------------------------------------------------------------------

    def append_label(
        self,
        transcript_id: int,
        *,
        rubric_id: str,
        field: str,
        value: Any,
        source: str,
        rater: str,
        phase: str | None = None,
        rubric_hash: str | None = None,
        score: float | None = None,
        scores: dict[str, Any] | None = None,
        evidence: list[dict[str, Any]] | None = None,
        note: str | None = None,
        seconds: float | None = None,
        run_id: int | None = None,
    ) -> int:
        """Append one label event and commit it at once. Returns its id."""
        if source not in SOURCES:
            raise ValueError(f"unknown label source {source!r}; expected one of {SOURCES}")
        if phase is not None and phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}; expected one of {PHASES}")
        cur = self.db.conn.execute(
            "INSERT INTO label_events(transcript_id, rubric_hash, rubric_id, field, value, "
            "source, rater, phase, score, scores, evidence, note, seconds, run_id, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                transcript_id, rubric_hash, rubric_id, field, _dumps(value), source, rater,
                phase, score, None if scores is None else _dumps(scores),
                None if evidence is None else _dumps(evidence), note, seconds, run_id,
                utc_now(),
            ),
        )  # fmt: skip
        return cur.lastrowid

    def retract(self, event_id: int, *, rater: str | None = None, note: str | None = None) -> int:
        """Append an event that withdraws ``event_id``; the original row is untouched."""
        with self.transaction() as db:
            row = db.conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM label_events WHERE id = ?", (event_id,)
            ).fetchone()
            if row is None:
                raise ValueError(f"no label event with id {event_id}")
            target = _event(row)
            if target.retracts is not None:
                raise ValueError(f"event {event_id} is itself a retraction")
            if db.conn.execute(
                "SELECT 1 FROM label_events WHERE retracts = ?", (event_id,)
            ).fetchone():
                raise ValueError(f"event {event_id} is already retracted")
            cur = db.conn.execute(
                "INSERT INTO label_events(transcript_id, rubric_hash, rubric_id, field, value, "
                "source, rater, phase, note, retracts, run_id, created_at) "
                "VALUES (?,?,?,?,NULL,?,?,?,?,?,?,?)",
                (
                    target.transcript_id, target.rubric_hash, target.rubric_id, target.field,
                    target.source, rater or target.rater, target.phase, note, event_id,
                    target.run_id, utc_now(),
                ),
            )  # fmt: skip
            return cur.lastrowid

    def last_active_event(
        self,
        rater: str,
        *,
        transcript_id: int | None = None,
        exclude_fields: Iterable[str] = (),
    ) -> LabelEvent | None:
        """The newest event by ``rater`` that is neither a retraction nor retracted."""
        where = ["e.rater = ?", "e.retracts IS NULL",
                 "NOT EXISTS (SELECT 1 FROM label_events r WHERE r.retracts = e.id)"]  # fmt: skip
        params: list[Any] = [rater]
        if transcript_id is not None:
            where.append("e.transcript_id = ?")
            params.append(transcript_id)
        excluded = list(exclude_fields)
        if excluded:
            where.append(f"e.field NOT IN ({','.join('?' * len(excluded))})")
            params += excluded
        row = self.db.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM label_events e WHERE {' AND '.join(where)} "
            "ORDER BY e.id DESC LIMIT 1",
            params,
        ).fetchone()
        return None if row is None else _event(row)

    def undo_last(
        self,
        rater: str,
        *,
        transcript_id: int | None = None,
        exclude_fields: Iterable[str] = (),
    ) -> LabelEvent | None:
        """Retract the rater's most recent live act; returns it, or None if nothing is left."""
        event = self.last_active_event(
            rater, transcript_id=transcript_id, exclude_fields=exclude_fields
        )
        if event is not None:
            self.retract(event.id, rater=rater)
        return event

    def events(
        self,
        *,
        transcript_id: int | None = None,
        rater: str | None = None,
        rubric_id: str | None = None,
    ) -> list[LabelEvent]:
        """Every event (retractions included), oldest first."""
        where, params = ["1"], []
        for column, value in (("transcript_id", transcript_id), ("rater", rater),
                              ("rubric_id", rubric_id)):  # fmt: skip
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.db.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM label_events WHERE {' AND '.join(where)} ORDER BY id",
            params,
        )
        return [_event(r) for r in rows]

    def current_labels(
        self,
        *,
        rubric_id: str | None = None,
        field: str | None = None,
        rater: str | None = None,
        source: str | None = None,
        phase: str | None = None,
        transcript_ids: Iterable[int] | None = None,
    ) -> list[LabelEvent]:
        """The live label per (transcript, rubric, field, rater, phase): newest unretracted."""
        where = ["e.retracts IS NULL",
                 "NOT EXISTS (SELECT 1 FROM label_events r WHERE r.retracts = e.id)"]  # fmt: skip
        params: list[Any] = []
        for column, value in (("rubric_id", rubric_id), ("field", field), ("rater", rater),
                              ("source", source), ("phase", phase)):  # fmt: skip
            if value is not None:
                where.append(f"e.{column} = ?")
                params.append(value)
        if transcript_ids is not None:
            ids = list(transcript_ids)
            if not ids:
                return []
            where.append(f"e.transcript_id IN ({','.join('?' * len(ids))})")
            params += ids
        rows = self.db.conn.execute(
            f"SELECT {_EVENT_COLUMNS} FROM ("
            f"  SELECT e.*, ROW_NUMBER() OVER (PARTITION BY e.transcript_id, e.rubric_id, "
            f"  e.field, e.rater, IFNULL(e.phase, '') ORDER BY e.id DESC) AS rn "
            f"  FROM label_events e WHERE {' AND '.join(where)}"
            f") WHERE rn = 1 ORDER BY transcript_id, id",
            params,
        )
        return [_event(r) for r in rows]

    # -- summaries -----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """What the database holds: transcripts by model and condition, label events by source.

        Per source, ``events`` counts every event except retractions and splits exactly into
        ``labels`` (live events on rubric fields, revisions included), ``acts`` (live annotator
        acts: fields starting with ``_`` such as _skip, _flag, _comment, _reveal) and
        ``retracted`` (events a later retraction withdrew). ``current_labels`` counts the
        (transcript, rubric, field, rater) combinations with a live label, the unit
        ``reviewer stats`` works on; ``raters`` and ``transcripts`` count those with one.
        """
        conn = self.db.conn
        by_model = conn.execute(
            "SELECT IFNULL(model, '?'), IFNULL(condition, '?'), COUNT(*) FROM transcripts "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        gone = "SELECT retracts FROM label_events WHERE retracts IS NOT NULL"
        split = conn.execute(
            "SELECT source, COUNT(*), SUM(NOT is_act AND NOT is_gone), SUM(is_act AND NOT is_gone),"
            " SUM(is_gone) FROM (SELECT source, substr(field, 1, 1) = '_' AS is_act,"
            f" id IN ({gone}) AS is_gone FROM label_events WHERE retracts IS NULL)"
            " GROUP BY source ORDER BY source"
        ).fetchall()
        current = {
            source: rest
            for source, *rest in conn.execute(
                "SELECT source, COUNT(*), COUNT(DISTINCT rater), COUNT(DISTINCT transcript_id)"
                " FROM (SELECT source, rater, transcript_id FROM label_events"
                f" WHERE retracts IS NULL AND substr(field, 1, 1) != '_' AND id NOT IN ({gone})"
                " GROUP BY transcript_id, rubric_id, field, rater, source) GROUP BY source"
            )
        }
        by_source = [(*row, *current.get(row[0], (0, 0, 0))) for row in split]
        return {
            "path": str(self.path),
            "transcripts": conn.execute("SELECT COUNT(*) FROM transcripts").fetchone()[0],
            "by_model_condition": [
                {"model": m, "condition": c, "transcripts": n} for m, c, n in by_model
            ],
            "labels_by_source": [
                {
                    "source": s,
                    "events": n,
                    "labels": lab,
                    "acts": act,
                    "retracted": ret,
                    "current_labels": cur,
                    "raters": r,
                    "transcripts": t,
                }
                for s, n, lab, act, ret, cur, r, t in by_source
            ],
            "imports": conn.execute("SELECT COUNT(*) FROM imports").fetchone()[0],
            "rubric_versions": conn.execute("SELECT COUNT(*) FROM rubrics").fetchone()[0],
        }
