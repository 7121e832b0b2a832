"""Classifier runs and calls: the run records, the call cache, and the runner's label events.

The call table is the cache. A call is *final* once it has an answer, parseable or not
(``ok`` or ``parse_error``): any later run that needs the same request key reuses it instead
of paying again. ``error`` rows (the provider failed even after retries) are kept for the
record and retried by the next run; ``submitted`` rows are waiting in a provider batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from db import labels
from db.operations import owner_state, owner_values
from db.store import Store, utc_now

FINAL = ("ok", "parse_error")
_CHUNK = 500


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def find_run(store: Store, name: str, rubric_hash: str, params_key: str) -> dict | None:
    rows = store.execute(
        "SELECT id, status, batch_ids, mode FROM classifier_runs WHERE name = ? AND "
        "rubric_hash = ? AND json_extract(params, '$.key') = ? ORDER BY id DESC LIMIT 1",
        (name, rubric_hash, params_key),
    )
    if not rows:
        return None
    run_id, status, batch_ids, mode = rows[0]
    return {"id": run_id, "status": status, "batches": json.loads(batch_ids), "mode": mode}


class RunInProgress(RuntimeError):
    """The same work (rubric version, model, parameters) is being classified by another
    live process: a second run would pay for every call twice and label every item twice."""

    def __init__(self, run: dict[str, Any]):
        self.run = run
        where = run["host"] or "this host"
        super().__init__(
            f"run {run['id']} ({run['name']}) is already classifying the same transcripts with "
            f"the same rubric version, model and parameters: process {run['pid']} on {where}, "
            f"started {run['started_at']}. Nothing was sent. Wait for it to finish (or stop "
            "it), then run this command again: it resumes from the saved calls and pays only "
            "for what is missing"
            + (
                ""
                if run["owner"] == "alive"
                else f". That process runs on another host ({where}), so it cannot be checked from "
                "here; if it is gone, `reviewer doctor --repair` on that host marks the run "
                "interrupted"
            )
        )


def claim_run(store: Store, *, work_key: str, **run: Any) -> int:
    """The run to record this invocation's calls in, taken for this process: the stored run
    with the same name, rubric version and parameters (resumed), or a new one.

    Checked and taken in one write transaction, so of two identical commands started
    together exactly one gets the run. Raises :class:`RunInProgress` when a run of the same
    work (``work_key``: rubric version, model, server and parameters, whatever the run's
    name) is ``running`` under a process that is alive, or on another host."""
    params = run["params"]
    with store.transaction() as db:
        rows = db.conn.execute(
            "SELECT id, name, pid, host, pid_started, started_at FROM classifier_runs "
            "WHERE status = 'running' AND (json_extract(params, '$.work') = ? OR "
            "(name = ? AND rubric_hash = ? AND json_extract(params, '$.key') = ?))",
            (work_key, run["name"], run["rubric_hash"], params["key"]),
        ).fetchall()
        for run_id, name, pid, host, started, started_at in rows:
            state = owner_state(pid, host, started)
            if state in ("alive", "elsewhere"):
                raise RunInProgress(
                    {
                        "id": run_id,
                        "name": name,
                        "pid": pid,
                        "host": host,
                        "started_at": started_at,
                        "owner": state,
                    }
                )
        found = db.conn.execute(
            "SELECT id FROM classifier_runs WHERE name = ? AND rubric_hash = ? AND "
            "json_extract(params, '$.key') = ? ORDER BY id DESC LIMIT 1",
            (run["name"], run["rubric_hash"], params["key"]),
        ).fetchone()
        if found is not None:
            db.conn.execute(
                "UPDATE classifier_runs SET status = 'running', finished_at = NULL, mode = ?, "
                "params = ?, pid = ?, host = ?, pid_started = ?, note = NULL WHERE id = ?",
                (run["mode"], _dumps(params), *owner_values(), found[0]),
            )
            return found[0]
        return _insert_run(db.conn, **run)


def create_run(
    store: Store,
    *,
    name: str,
    provider: str,
    model: str,
    rubric_hash: str,
    params: dict[str, Any],
    prompt_hash: str,
    base_url: str | None,
    mode: str,
    max_cost_usd: float | None,
) -> int:
    with store.transaction() as db:
        return _insert_run(
            db.conn,
            name=name,
            provider=provider,
            model=model,
            rubric_hash=rubric_hash,
            params=params,
            prompt_hash=prompt_hash,
            base_url=base_url,
            mode=mode,
            max_cost_usd=max_cost_usd,
        )


def _insert_run(
    conn: Any,
    *,
    name: str,
    provider: str,
    model: str,
    rubric_hash: str,
    params: dict[str, Any],
    prompt_hash: str,
    base_url: str | None,
    mode: str,
    max_cost_usd: float | None,
) -> int:
    cur = conn.execute(
        "INSERT INTO classifier_runs(name, provider, model, rubric_hash, params, prompt_hash, "
        "base_url, mode, status, max_cost_usd, started_at, pid, host, pid_started) "
        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            name,
            provider,
            model,
            rubric_hash,
            _dumps(params),
            prompt_hash,
            base_url,
            mode,
            "running",
            max_cost_usd,
            utc_now(),
            *owner_values(),
        ),
    )
    return cur.lastrowid


def set_run_status(
    store: Store, run_id: int, status: str, *, finished: bool = False, mode: str | None = None
) -> None:
    """Record a run's state (and the mode, online or batch, it was last invoked in)."""
    with store.transaction() as db:
        db.conn.execute(
            "UPDATE classifier_runs SET status = ?, finished_at = ?, mode = COALESCE(?, mode) "
            "WHERE id = ?",
            (status, utc_now() if finished else None, mode, run_id),
        )
        if status == "running":  # a resumed run belongs to this process now
            db.conn.execute(
                "UPDATE classifier_runs SET pid = ?, host = ?, pid_started = ?, note = NULL "
                "WHERE id = ?",
                (*owner_values(), run_id),
            )


def set_run_batches(store: Store, run_id: int, batches: list[dict[str, Any]]) -> None:
    with store.transaction() as db:
        db.conn.execute(
            "UPDATE classifier_runs SET batch_ids = ? WHERE id = ?", (_dumps(batches), run_id)
        )


def run_info(store: Store, run_id: int) -> dict[str, Any]:
    cur = store.db.conn.execute("SELECT * FROM classifier_runs WHERE id = ?", (run_id,))
    row = cur.fetchone()
    info = dict(zip([c[0] for c in cur.description], row, strict=True))
    info["params"] = json.loads(info["params"])
    info["batch_ids"] = json.loads(info["batch_ids"])
    return info


def final_keys(store: Store, keys: Sequence[str]) -> set[str]:
    """Which of these request keys already have a final answer (from any run)."""
    found: set[str] = set()
    for chunk in _chunks(list(keys)):
        marks = ",".join("?" * len(chunk))
        found.update(
            r[0]
            for r in store.execute(
                f"SELECT DISTINCT request_key FROM classifier_calls WHERE request_key IN ({marks})"
                f" AND status IN ('ok', 'parse_error')",
                chunk,
            )
        )
    return found


def submitted_keys(store: Store, run_id: int) -> set[str]:
    """Keys of this run still waiting in a provider batch."""
    return {
        r[0]
        for r in store.execute(
            "SELECT request_key FROM classifier_calls WHERE run_id = ? AND status = 'submitted'",
            (run_id,),
        )
    }


def record_call(
    store: Store,
    *,
    run_id: int,
    transcript_id: int,
    request_key: str,
    n_samples: int,
    request: dict[str, Any],
    status: str,
    raw_response: list[str] | None = None,
    parsed: list[dict[str, Any]] | None = None,
    error: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cost_usd: float = 0.0,
    latency_s: float | None = None,
) -> int:
    """Insert one call and commit it at once (the connection autocommits): a kill loses
    at most the calls still in flight."""
    with store.transaction() as db:
        cur = db.conn.execute(
            "INSERT INTO classifier_calls(run_id, transcript_id, request_key, n_samples, request, "
            "raw_response, parsed, status, error, input_tokens, output_tokens, cache_read_tokens, "
            "cache_write_tokens, cost_usd, latency_s, created_at) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                transcript_id,
                request_key,
                n_samples,
                _dumps(request),
                None if raw_response is None else _dumps(raw_response),
                None if parsed is None else _dumps(parsed),
                status,
                error,
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                cost_usd,
                latency_s,
                utc_now(),
            ),
        )
    return cur.lastrowid


def record_submitted(store: Store, run_id: int, rows: list[tuple[int, str, int, dict]]) -> None:
    """Mark (transcript_id, request_key, n_samples, request) as waiting in a batch."""
    now = utc_now()
    with store.transaction() as db:
        db.conn.executemany(
            "INSERT INTO classifier_calls(run_id, transcript_id, request_key, n_samples, "
            "request, status, created_at) VALUES (?,?,?,?,?,'submitted',?)",
            [(run_id, tid, key, n, _dumps(req), now) for tid, key, n, req in rows],
        )


def complete_submitted(
    store: Store,
    run_id: int,
    request_key: str,
    *,
    status: str,
    raw_response: list[str] | None,
    parsed: list[dict[str, Any]] | None,
    error: str | None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cost_usd: float = 0.0,
) -> bool:
    """Fill in a batch call's answer; False if no such waiting call exists."""
    with store.transaction() as db:
        cur = db.conn.execute(
            "UPDATE classifier_calls SET status = ?, raw_response = ?, parsed = ?, error = ?, "
            "input_tokens = ?, output_tokens = ?, cache_read_tokens = ?, cache_write_tokens = ?, "
            "cost_usd = ? WHERE run_id = ? AND request_key = ? AND status = 'submitted'",
            (
                status,
                None if raw_response is None else _dumps(raw_response),
                None if parsed is None else _dumps(parsed),
                error,
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                cost_usd,
                run_id,
                request_key,
            ),
        )
    return cur.rowcount > 0


def fail_submitted(store: Store, run_id: int, keys: Iterable[str], error: str) -> int:
    """Waiting calls that a finished batch did not answer become errors (retried next run)."""
    n = 0
    for chunk in _chunks(list(keys)):
        marks = ",".join("?" * len(chunk))
        with store.transaction() as db:
            cur = db.conn.execute(
                f"UPDATE classifier_calls SET status = 'error', error = ? WHERE run_id = ? AND "
                f"status = 'submitted' AND request_key IN ({marks})",
                (error, run_id, *chunk),
            )
        n += cur.rowcount
    return n


def final_calls(store: Store, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The answer stored for each key (the first final row when several runs made one)."""
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(list(keys)):
        marks = ",".join("?" * len(chunk))
        for key, parsed, raw, status in store.execute(
            f"SELECT request_key, parsed, raw_response, status FROM classifier_calls "
            f"WHERE request_key IN ({marks}) AND status IN ('ok', 'parse_error') ORDER BY id",
            chunk,
        ):
            if key not in out:
                out[key] = {
                    "parsed": json.loads(parsed) if parsed else [],
                    "raw": json.loads(raw) if raw else [],
                    "status": status,
                }
    return out


def labeled_transcripts(store: Store, run_id: int) -> set[int]:
    return labels.run_labeled_transcripts(store, run_id)


def write_item_labels(store: Store, item_labels: list[dict[str, Any]]) -> None:
    """One item's classifier labels (one per field), committed together."""
    labels.write_classifier_labels(store, item_labels)


def run_totals(store: Store, run_id: int) -> dict[str, Any]:
    """Calls made by this run (cached reuse costs nothing and is not counted here)."""
    row = store.execute(
        "SELECT COUNT(*), COALESCE(SUM(status = 'ok'), 0), COALESCE(SUM(status = 'parse_error'), 0),"
        " COALESCE(SUM(status = 'error'), 0), COALESCE(SUM(status = 'submitted'), 0), "
        "COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), "
        "COALESCE(SUM(cache_read_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), "
        "COALESCE(SUM(cost_usd), 0) FROM classifier_calls WHERE run_id = ?",
        (run_id,),
    )[0]
    keys = (
        "calls",
        "ok",
        "parse_error",
        "error",
        "submitted",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost_usd",
    )
    return dict(zip(keys, row, strict=True))


def run_labels(store: Store, run_id: int) -> int:
    """Transcripts this run has a live label on."""
    return len(labels.run_labeled_transcripts(store, run_id))


def transcripts_for_classify(
    store: Store,
    *,
    model: str | None = None,
    condition: str | None = None,
    limit: int | None = None,
) -> list[int]:
    return store.transcript_ids(model=model, condition=condition, limit=limit)


def transcript_texts(store: Store, ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """The text a classifier prompt needs, for many transcripts at once."""
    out: dict[int, dict[str, str]] = {}
    for chunk in _chunks(list(ids)):
        marks = ",".join("?" * len(chunk))
        for tid, user_input, scratchpad, output in store.execute(
            f"SELECT id, user_input, scratchpad, output FROM transcripts WHERE id IN ({marks})",
            chunk,
        ):
            out[tid] = {"user_input": user_input, "scratchpad": scratchpad, "output": output}
    return out


def submitted_keys_in_batch(store: Store, run_id: int, batch_id: str) -> list[str]:
    return [
        r[0]
        for r in store.execute(
            "SELECT request_key FROM classifier_calls WHERE run_id = ? AND status = 'submitted' "
            "AND json_extract(request, '$.batch') = ?",
            (run_id, batch_id),
        )
    ]


def run_asked_per_vote(store: Store, run_id: int) -> bool:
    """Whether this run has made single-vote calls, i.e. fell back from ``n``."""
    return bool(
        store.execute(
            "SELECT 1 FROM classifier_calls WHERE run_id = ? AND "
            "json_extract(request, '$.vote') IS NOT NULL LIMIT 1",
            (run_id,),
        )
    )
