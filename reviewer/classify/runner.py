"""The classifier run: plan the calls, skip the cached ones, make the rest, label the items.

A *call* is one request to the provider (one vote, or all votes with ``n``). Its request key
hashes everything that changes the answer, so the call table doubles as a cache: any call
that already has an answer, from this run or another, is never paid for again, and a run that
was killed picks up where it stopped. Each finished call is committed on its own; an item's
label events are written as soon as all its votes are in.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from db import classifier as cdb
from db.models import content_hash
from db.store import Store
from reviewer.classify.base import (
    BatchRequest,
    CallFailed,
    Completion,
    ConfigError,
    NotSupportedN,
    Provider,
    RateLimited,
    describe_error,
    scrub,
    scrub_all,
    secret_values,
    url_without_credentials,
)
from reviewer.classify.limiter import AdaptiveLimiter
from reviewer.classify.prices import Price, find_price
from reviewer.classify.registry import make_provider, parse_model_spec, provider_class
from reviewer.classify.votes import aggregate
from reviewer.classify.writer import Writer
from rubrics.model import Rubric
from rubrics.prompt import ParseError, parse_response, render_system, render_user

KEY_VERSION = "reviewer-classifier-call/1"
CHARS_PER_TOKEN = 4
PLAN_CHUNK = 500
BATCH_CHUNK = 10_000
RATE_LIMIT_ROUNDS = 8
FAILURES_TO_STOP = 10
MAX_IDS_SHOWN = 20
NO_ANSWER = -1
DEFER = -2

#: How a run ended, as the process exit status of ``reviewer classify``. Errors before the
#: run starts (bad options, a missing key, no transcripts) exit 1, usage errors 2.
EXIT_STATUS = {
    "finished": 0,  # every item labeled (or skipped for want of a scratchpad)
    "incomplete": 3,  # some calls failed, or some items have no parseable answer
    "max-cost": 4,  # stopped before --max-cost could be exceeded
    "errors": 5,  # stopped: calls kept failing (refused key, unknown model, server down)
    "waiting": 6,  # answers still wait in a provider batch
    "busy": 7,  # refused: another live process runs the same work (nothing was sent)
    "interrupted": 130,  # Ctrl-C or a kill
}


def exit_status(summary: dict[str, Any]) -> int:
    """The exit status for a run's summary (see :data:`EXIT_STATUS`)."""
    if summary.get("dry_run"):
        return 0
    if summary["status"] == "stopped":
        return EXIT_STATUS[summary["stopped_reason"]]
    return EXIT_STATUS[summary["status"]]


def estimate_tokens(text: str) -> int:
    """A rough token count (characters / 4): good enough for budgets, not for billing."""
    return len(text) // CHARS_PER_TOKEN + 1


@dataclass
class Options:
    rubric: Rubric
    model_spec: str
    votes: int
    temperature: float
    threshold: float
    max_tokens: int
    concurrency: int = 16
    batch: bool = False
    max_cost: float | None = None
    dry_run: bool = False
    base_url: str | None = None
    limit: int | None = None
    model_filter: str | None = None
    condition: str | None = None
    prices: dict[str, Price] = field(default_factory=dict)
    name: str | None = None
    timeout: float = 120.0
    max_retries: int = 5
    retry_unparseable: int = 0

    @property
    def provider(self) -> str:
        return self.model_spec.partition(":")[0]

    @property
    def model(self) -> str:
        return self.model_spec.partition(":")[2]


@dataclass
class Call:
    """One request: ``n`` samples (with ``vote`` None) or the single sample of vote ``vote``.

    ``slots`` are the item's vote positions its samples fill, in order; ``retry`` is the
    re-asking round (0 for the first answers).
    """

    transcript_id: int
    key: str
    n: int
    vote: int | None
    user: str
    est_input: int
    slots: list[int] = field(default_factory=list)
    retry: int = 0
    done: bool = False

    def request(self, opts: Options) -> dict[str, Any]:
        req: dict[str, Any] = {"temperature": opts.temperature, "max_tokens": opts.max_tokens}
        req["n" if self.vote is None else "vote"] = self.n if self.vote is None else self.vote
        if self.retry:
            req["retry"] = self.retry
        return req


@dataclass
class Stats:
    items: int = 0
    items_done: int = 0
    items_labeled: int = 0
    new_labels: int = 0
    items_without_answer: int = 0
    items_skipped_empty: int = 0
    samples_reasked: int = 0
    items_in_batch: int = 0
    calls_planned: int = 0
    calls_cached: int = 0
    calls_made: int = 0
    calls_failed: int = 0
    samples_unparseable: int = 0
    rate_limited: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float = 0.0
    batches_submitted: int = 0
    batches_collected: int = 0
    batches_pending: int = 0
    started: float = field(default_factory=time.monotonic)


class Runner:
    def __init__(
        self,
        store: Store,
        opts: Options,
        *,
        provider_factory: Callable[..., Provider] = make_provider,
        on_progress: Callable[[Stats], None] | None = None,
    ):
        self.store = store
        self.opts = opts
        parse_model_spec(opts.model_spec)  # a malformed spec or unknown provider fails here
        self.provider_factory = provider_factory
        self.on_progress = on_progress or (lambda s: None)
        self.rubric = opts.rubric
        if self.rubric.classifier is None:
            raise ConfigError(f"rubric {self.rubric.id!r} has no [classifier] section")
        self.rubric_hash = self.rubric.content_hash
        self.system = render_system(self.rubric)
        self.system_tokens = estimate_tokens(self.system)
        self.provider_cls = provider_class(opts.provider)
        self.base_url = self.provider_cls.effective_base_url(opts.base_url)
        # What is stored or shown never holds a key: answers that echo one included.
        self.secrets = secret_values()
        self.supports_n = self.provider_cls.supports_n
        # False once the server is known to refuse n: one request per vote from then on.
        self.n_per_call = self.supports_n
        self.n_fallback: str | None = None
        self.needs_scratchpad = "{scratchpad}" in (self.rubric.classifier.template or "")
        self.skipped_empty: list[int] = []
        self.without_answer: list[int] = []
        self._reservations = 0
        self.next_call_estimate: float | None = None
        self._retry_items: dict[int, str] = {}
        self.price = find_price(opts.provider, opts.model, opts.prices)
        if opts.max_cost is not None and self.price is None:
            raise ConfigError(
                f"--max-cost needs a price for {opts.model_spec}, and the built-in table has "
                "none: give one with --prices FILE.toml (see `reviewer classify --help`)"
            )
        self.stats = Stats()
        self.limiter = AdaptiveLimiter(max(1, opts.concurrency))
        self.provider: Provider | None = None
        self.run_id: int | None = None
        self.run_name = opts.name or self.default_name()
        self.spent_before = 0.0
        self.reserved = 0.0
        self.stop_reason: str | None = None
        self._item_keys: dict[int, list[str]] = {}
        self._item_pending: dict[int, int] = {}
        self._item_failed: set[int] = set()
        self._labeled: set[int] = set()
        self.writer: Writer | None = None
        self._collected: set[str] = set()
        self._key_items: dict[str, list[int]] = {}
        self._done_keys: set[str] = set()
        self._failures_in_a_row = 0
        self._rounds: dict[int, list[tuple[list[int], str]]] = {}
        self.last_error: str | None = None
        self._budget = asyncio.Condition()

    # -- identity ------------------------------------------------------------------------

    def params(self) -> dict[str, Any]:
        o = self.opts
        p = {
            "votes": o.votes,
            "temperature": o.temperature,
            "threshold": o.threshold,
            "max_tokens": o.max_tokens,
            "n_per_call": self.supports_n,
        }
        # The work, whatever the run is called: two live runs of it would pay twice.
        work = content_hash(o.model_spec, self.base_url, self.rubric_hash, p)
        p["key"] = content_hash(o.model_spec, self.base_url, self.rubric_hash, p, self.run_name)
        p["work"] = work
        return p

    def default_name(self) -> str:
        o = self.opts
        return (
            f"{o.model_spec}/{self.rubric.id}@{self.rubric_hash[:8]}"
            f"/{o.votes}v-t{o.temperature:g}-th{o.threshold:g}"
        )

    def call_key(self, user: str, *, vote: int | None, n: int, retry: int = 0) -> str:
        o = self.opts
        which: dict[str, int] = {"vote": vote} if vote is not None else {"n": n}
        if retry:  # a new sample of the same prompt, not the cached answer
            which["retry"] = retry
        return content_hash(
            KEY_VERSION,
            o.provider,
            o.model,
            self.base_url,
            self.system,
            user,
            o.temperature,
            o.max_tokens,
            which,
        )

    def calls_for(self, tid: int, user: str, slots: list[int], retry: int = 0) -> list[Call]:
        """The requests that fill these vote slots: one with n, or one per vote."""
        est = self.system_tokens + estimate_tokens(user)
        if self.n_per_call and len(slots) > 1:
            n = len(slots)
            key = self.call_key(user, vote=None, n=n, retry=retry)
            return [Call(tid, key, n, None, user, est, list(slots), retry)]
        if self.n_per_call and retry:  # one sample, asked the way this run asks with n
            key = self.call_key(user, vote=None, n=1, retry=retry)
            return [Call(tid, key, 1, None, user, est, list(slots), retry)]
        return [
            Call(tid, self.call_key(user, vote=k, n=1, retry=retry), 1, k, user, est, [k], retry)
            for k in slots
        ]

    # -- planning ------------------------------------------------------------------------

    def transcript_ids(self) -> list[int]:
        o = self.opts
        return cdb.transcripts_for_classify(
            self.store, model=o.model_filter, condition=o.condition, limit=o.limit
        )

    def plan_item(self, tid: int, texts: dict[str, str]) -> list[Call]:
        return self.calls_for(tid, render_user(self.rubric, texts), list(range(self.opts.votes)))

    def has_text(self, texts: dict[str, str]) -> bool:
        """False for a transcript whose scratchpad is empty (reasoning absent or redacted)
        when the rubric asks about the scratchpad: its prompt would be an empty frame."""
        return not self.needs_scratchpad or bool((texts.get("scratchpad") or "").strip())

    def plan_chunks(self, ids: list[int]):
        """Yield (item calls by transcript, keys already answered) a chunk at a time.

        Items with nothing to classify are left out, counted and remembered."""
        for start in range(0, len(ids), PLAN_CHUNK):
            chunk = ids[start : start + PLAN_CHUNK]
            texts = cdb.transcript_texts(self.store, chunk)
            planned = {}
            for tid in chunk:
                if tid not in texts:
                    continue
                if not self.has_text(texts[tid]):
                    self.stats.items_skipped_empty += 1
                    self.skipped_empty.append(tid)
                    continue
                planned[tid] = self.plan_item(tid, texts[tid])
            keys = [c.key for calls in planned.values() for c in calls]
            yield planned, cdb.final_keys(self.store, keys)

    def estimated_cost(self, call: Call) -> float:
        if self.price is None:
            return 0.0
        # Upper bound: the whole prompt uncached (plus a margin for the chars/4 guess) and
        # every sample using all of max_tokens.
        return self.price.cost(
            input_tokens=int(call.est_input * 1.25),
            output_tokens=self.opts.max_tokens * call.n,
            batch=self.opts.batch,
        )

    def actual_cost(self, c: Completion) -> float:
        if self.price is None:
            return 0.0
        return self.price.cost(
            input_tokens=c.input_tokens,
            output_tokens=c.output_tokens,
            cache_read_tokens=c.cache_read_tokens,
            cache_write_tokens=c.cache_write_tokens,
            batch=self.opts.batch,
        )

    # -- dry run -------------------------------------------------------------------------

    def dry_run(self) -> dict[str, Any]:
        """What a run would send, from the call cache and a chars/4 token estimate."""
        ids = self.transcript_ids()
        calls = cached = samples = input_tokens = 0
        cost = 0.0
        for planned, final in self.plan_chunks(ids):
            for item_calls in planned.values():
                for c in item_calls:
                    if c.key in final:
                        cached += 1
                        continue
                    calls += 1
                    samples += c.n
                    input_tokens += c.est_input
                    cost += self.estimated_cost(c)
        return {
            "dry_run": True,
            "run": self.run_name,
            "rubric": self.rubric.id,
            "rubric_hash": self.rubric_hash,
            "provider": self.opts.provider,
            "model": self.opts.model,
            "base_url": url_without_credentials(self.base_url),
            "mode": "batch" if self.opts.batch else "online",
            "items": len(ids),
            "items_skipped_empty": self.stats.items_skipped_empty,
            "calls_cached": cached,
            "calls_to_make": calls,
            "samples_to_make": samples,
            "est_input_tokens": input_tokens,
            "max_output_tokens": samples * self.opts.max_tokens,
            "est_cost_usd_upper": round(cost, 6) if self.price else None,
            "price_known": self.price is not None,
            "token_estimate": "characters / 4; output at max_tokens per sample; no cache discount",
        }

    # -- run bookkeeping -----------------------------------------------------------------

    def open_run(self) -> None:
        """Take this run's record (resumed or new); another live process on the same work
        stops this one with :class:`~db.classifier.RunInProgress` before anything is sent."""
        params = self.params()
        mode = "batch" if self.opts.batch else "online"
        self.store.register_rubric(
            self.rubric.id,
            self.rubric.version,
            self.rubric.source_text,
            self.rubric_hash,
            self.rubric.origin,
        )
        self.run_id = cdb.claim_run(
            self.store,
            work_key=params["work"],
            name=self.run_name,
            provider=self.opts.provider,
            model=self.opts.model,
            rubric_hash=self.rubric_hash,
            params=params,
            prompt_hash=content_hash(self.system),
            base_url=url_without_credentials(self.base_url),
            mode=mode,
            max_cost_usd=self.opts.max_cost,
        )
        self.spent_before = cdb.run_totals(self.store, self.run_id)["cost_usd"]
        self._labeled = cdb.labeled_transcripts(self.store, self.run_id)
        if self.n_per_call and cdb.run_asked_per_vote(self.store, self.run_id):
            # An earlier invocation found that this server refuses n: reuse its per-vote calls.
            self.n_per_call = False
            self.n_fallback = "the server refused n on an earlier invocation of this run"

    def get_provider(self) -> Provider:
        """The provider, made on first use: a run served wholly from the cache never even
        imports the SDK."""
        if self.provider is None:
            self.provider = self.make_provider()
        return self.provider

    def make_provider(self) -> Provider:
        return self.provider_factory(
            self.opts.model_spec,
            base_url=self.opts.base_url,
            timeout=self.opts.timeout,
            max_retries=self.opts.max_retries,
            concurrency=self.opts.concurrency,
            before_attempt=self.limiter.wait_if_paused,
            after_response=self.limiter.on_response,
        )

    def parse_texts(self, texts: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        parsed, errors = [], []
        for text in texts:
            try:
                parsed.append(parse_response(self.rubric, text).to_json())
            except ParseError as exc:
                parsed.append({"error": str(exc)})
                errors.append(str(exc))
        return parsed, errors

    def completion_fields(self, comp: Completion) -> dict[str, Any]:
        """Parse a response's samples and count its usage; the columns to store."""
        texts = self.clean(comp.texts)
        parsed, errors = self.parse_texts(texts)
        self.stats.samples_unparseable += len(errors)
        usage = self.count_usage(comp)
        error = None
        if errors:
            reasons = "; ".join(dict.fromkeys(errors))
            error = f"{len(errors)} of {len(comp.texts)} samples unparseable: {reasons}"
        return dict(
            status="parse_error" if errors else "ok",
            raw_response=texts,
            parsed=parsed,
            error=error,
            **usage,
        )

    def clean(self, texts: list[str]) -> list[str]:
        """An answer's samples with any API key masked, before anything parses or stores
        them (a model or a proxy may echo the key it was sent)."""
        return scrub_all(list(texts), self.secrets)

    def count_usage(self, comp: Completion) -> dict[str, Any]:
        """Add a response's tokens and cost to the run's; the usage columns to store."""
        cost = self.actual_cost(comp)
        s = self.stats
        s.input_tokens += comp.input_tokens
        s.output_tokens += comp.output_tokens
        s.cache_read_tokens += comp.cache_read_tokens
        s.cache_write_tokens += comp.cache_write_tokens
        s.cost_usd += cost
        return dict(
            input_tokens=comp.input_tokens,
            output_tokens=comp.output_tokens,
            cache_read_tokens=comp.cache_read_tokens,
            cache_write_tokens=comp.cache_write_tokens,
            cost_usd=cost,
        )

    async def _write(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if self.writer is None:
            return fn(*args, **kwargs)
        return await self.writer.call(fn, *args, **kwargs)

    async def _record_call(self, call: Call, **fields: Any) -> Any:
        """Store one call of this run (``db.classifier.record_call``) with ``fields``."""
        return await self._write(
            cdb.record_call,
            self.store,
            run_id=self.run_id,
            transcript_id=call.transcript_id,
            request_key=call.key,
            n_samples=call.n,
            request=call.request(self.opts),
            **fields,
        )

    @staticmethod
    def slot_samples(
        answers: dict[str, dict[str, Any]], keys: list[str], rounds: list[tuple[list[int], str]]
    ) -> tuple[list[dict[str, Any]], tuple[int, int]]:
        """An item's samples, one per vote slot: the first answers, with every re-asked
        sample put in the slot it re-asks; and (slots re-asked, new samples taken)."""
        samples = [p for k in keys for p in answers[k]["parsed"]]
        slots_reasked: set[int] = set()
        new_samples = 0
        for slots, key in rounds:
            if key in answers:
                for slot, parsed in zip(slots, answers[key]["parsed"], strict=False):
                    samples[slot] = parsed
                    slots_reasked.add(slot)
                    new_samples += 1
        return samples, (len(slots_reasked), new_samples)

    def label_item(
        self,
        tid: int,
        keys: list[str],
        rounds: list[tuple[list[int], str]] | None = None,
        *,
        defer: bool = False,
    ) -> int:
        """Aggregate an item's answered votes into label events, returning how many were
        written: 0 while votes are missing, NO_ANSWER if no vote parsed, DEFER (with
        ``defer``) if some did not parse and will be asked again."""
        rounds = rounds or []
        answers = cdb.final_calls(self.store, keys + [key for _, key in rounds])
        if any(k not in answers for k in keys):
            return 0
        samples, reasked = self.slot_samples(answers, keys, rounds)
        if defer and any("answers" not in p for p in samples):
            return DEFER
        labels, evidence, n_valid = aggregate(self.rubric, samples, self.opts.threshold)
        if not labels:
            return NO_ANSWER
        note = f"{n_valid} of {len(samples)} votes parsed"
        if reasked[0]:
            note += (
                f"; {reasked[0]} asked again after an unparseable answer ({reasked[1]} new samples)"
            )
        cdb.write_item_labels(
            self.store,
            [
                dict(
                    transcript_id=tid,
                    rubric_id=self.rubric.id,
                    rubric_hash=self.rubric_hash,
                    field=lab.field,
                    value=lab.value,
                    rater=self.run_name,
                    score=lab.score,
                    scores=lab.scores,
                    evidence=evidence,
                    note=note,
                    run_id=self.run_id,
                )
                for lab in labels
            ],
        )
        return len(labels)

    async def finish_item(self, tid: int) -> None:
        """Write an item's labels once every vote has an answer (no-op if already done).

        With --retry-unparseable an item with unparseable votes waits for the re-asking
        rounds at the end of the run instead."""
        self.stats.items_done += 1
        keys = self._item_keys.pop(tid, None)
        if keys is None or tid in self._labeled or tid in self._item_failed:
            return
        defer = self.opts.retry_unparseable > 0 and not self.opts.batch
        written = await self._write(self.label_item, tid, keys, defer=defer)
        if written == DEFER:
            self._retry_items[tid] = keys
            return
        self._count_written(tid, written)

    def _count_written(self, tid: int, written: int) -> None:
        if written == NO_ANSWER:
            self.stats.items_without_answer += 1
            self.without_answer.append(tid)
        elif written > 0:
            self._labeled.add(tid)
            self.stats.items_labeled += 1
            self.stats.new_labels += written

    # -- online --------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        if self.opts.dry_run:
            return self.dry_run()
        self.provider_cls.check_key()  # a missing key fails before any work
        self.open_run()
        status = "interrupted"
        try:
            if self.opts.batch:
                status = await self._run_batch()
            else:
                self.writer = Writer(self.store, on_busy=_say_busy)
                try:
                    status = await self._run_online()
                finally:
                    self.writer.close()
                    self.writer = None
        finally:
            cdb.set_run_status(self.store, self.run_id, status, finished=status in ("finished",))
            if self.provider is not None:
                await self.provider.close()
        return self.summary(status)

    async def _run_online(self) -> str:
        ids = self.transcript_ids()
        self.stats.items = len(ids)
        await self._pool(lambda queue: self._feed(ids, queue))
        if self._retry_items:
            await self._retry_rounds()
        self.on_progress(self.stats)
        if not self.stop_reason and self.stats.calls_failed and not self.stats.calls_made:
            self.stop_reason = "errors"  # not one call got through: not "some failed"
        if self.stop_reason:
            return "stopped"
        if self.stats.calls_failed or self.stats.items_without_answer:
            return "incomplete"
        return "waiting" if self.stats.items_in_batch else "finished"

    async def _pool(self, feed: Callable[[asyncio.Queue[Call | None]], Awaitable[None]]) -> None:
        """Run ``feed``'s calls through the workers and wait until every one is settled."""
        queue: asyncio.Queue[Call | None] = asyncio.Queue(maxsize=self.opts.concurrency * 4)
        # Twice as many workers as calls allowed in flight: a worker that has its answer
        # waits for the database write while another one already uses the freed slot.
        n_workers = self.opts.concurrency * 2
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(n_workers)]
        try:
            await feed(queue)
        except BaseException:
            for w in workers:
                w.cancel()
            raise
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)

    async def _retry_rounds(self) -> None:
        """Ask again, up to --retry-unparseable rounds, for the votes whose answer did not
        parse: new samples under new request keys (so a rerun reuses these answers too, and
        never mistakes the unparseable answer in the cache for a new one)."""
        items, self._retry_items = self._retry_items, {}
        texts = cdb.transcript_texts(self.store, list(items))
        users = {tid: render_user(self.rubric, texts[tid]) for tid in items}
        self._rounds = {tid: [] for tid in items}
        for r in range(1, self.opts.retry_unparseable + 1):
            if self.stop_reason:
                break
            wanted: dict[str, Call] = {}
            for tid, keys in items.items():
                if tid in self._item_failed:
                    continue
                answers = cdb.final_calls(self.store, keys + [k for _, k in self._rounds[tid]])
                samples, _ = self.slot_samples(answers, keys, self._rounds[tid])
                bad = [slot for slot, p in enumerate(samples) if "answers" not in p]
                if not bad:
                    continue
                for c in self.calls_for(tid, users[tid], bad, retry=r):
                    self._rounds[tid].append((c.slots, c.key))
                    self._key_items.setdefault(c.key, []).append(tid)
                    wanted.setdefault(c.key, c)
            if not wanted:
                break
            final = cdb.final_keys(self.store, list(wanted))
            todo = [c for key, c in wanted.items() if key not in final]
            for key in final:
                self._key_items.pop(key, None)
            self.stats.calls_planned += len(wanted)
            self.stats.calls_cached += len(final)
            self.stats.samples_reasked += sum(c.n for c in todo)  # sent now, not cached

            async def feed(queue: asyncio.Queue[Call | None], todo: list[Call] = todo) -> None:
                for c in todo:
                    if self.stop_reason:
                        return
                    await queue.put(c)

            await self._pool(feed)
        for tid, keys in items.items():
            if tid in self._item_failed or self.stop_reason:
                continue
            written = await self._write(self.label_item, tid, keys, self._rounds[tid])
            self._count_written(tid, written)
        self._rounds = {}

    async def _feed(self, ids: list[int], queue: asyncio.Queue[Call | None]) -> None:
        waiting = cdb.submitted_keys(self.store, self.run_id)
        for planned, final in self.plan_chunks(ids):
            for tid, calls in planned.items():
                if waiting and any(c.key in waiting for c in calls):
                    # Sent with --batch and not collected yet: paying again online would
                    # double the cost; `--batch` collects it.
                    self.stats.items_in_batch += 1
                    continue
                todo = [c for c in calls if c.key not in final and c.key not in self._done_keys]
                self.stats.calls_planned += len(calls)
                self.stats.calls_cached += len(calls) - len(todo)
                self._item_keys[tid] = [c.key for c in calls]
                if not todo:
                    await self.finish_item(tid)
                    continue
                self._item_pending[tid] = len(todo)
                for c in todo:
                    if self.stop_reason:
                        break
                    if c.key in self._key_items:  # same prompt as an item already queued
                        self._key_items[c.key].append(tid)
                        continue
                    self._key_items[c.key] = [tid]
                    await queue.put(c)
            self.on_progress(self.stats)
            if self.stop_reason:
                return

    async def _worker(self, queue: asyncio.Queue[Call | None]) -> None:
        while True:
            call = await queue.get()
            if call is None:
                return
            if self.stop_reason:
                continue
            try:
                await self._do_call(call)
            except Exception as exc:  # a bug must not lose the other calls' results
                await self._fail(call, f"internal error: {describe_error(exc)}")
            self.on_progress(self.stats)

    async def _fail(self, call: Call, message: str) -> None:
        message = scrub(message, self.secrets)
        self.stats.calls_failed += 1
        self.last_error = message
        self._item_failed.update(self._key_items.get(call.key, [call.transcript_id]))
        await self._record_call(call, status="error", error=message)
        await self._call_done(call)

    async def _call_done(self, call: Call) -> None:
        if call.done:
            return
        call.done = True
        # Items with identical prompts share one call: it answers all of them.
        for tid in self._key_items.pop(call.key, [call.transcript_id]):
            if tid not in self._item_pending:  # a re-asking round: labeled after the round
                continue
            self._item_pending[tid] -= 1
            if self._item_pending[tid] == 0:
                del self._item_pending[tid]
                await self.finish_item(tid)

    def _budget_allows(self, estimate: float) -> bool:
        cap = self.opts.max_cost
        if cap is None:
            return True
        return self.spent_before + self.stats.cost_usd + self.reserved + estimate <= cap

    async def _reserve(self, estimate: float) -> bool:
        """Set aside a call's worst-case cost, waiting for calls in flight to settle when only
        their reservations stand in the way; False (and the run stops) once even a lone call
        could break --max-cost.

        Whether calls are in flight is a count, not ``reserved > 0``: adding and taking away
        the same floats leaves residue (1.6e-17) that would have this wait for a release
        that never comes."""
        if self.opts.max_cost is None:  # nothing to wait for: skip the lock
            self._take(estimate)
            return True
        async with self._budget:
            while not self._budget_allows(estimate):
                if self._reservations == 0 or self.stop_reason:
                    if not self.stop_reason:
                        self.stop_reason = "max-cost"
                        self.next_call_estimate = estimate
                    self._budget.notify_all()  # every other waiter stops too
                    return False
                await self._budget.wait()
            self._take(estimate)
            return True

    def _take(self, estimate: float) -> None:
        self._reservations += 1
        self.reserved += estimate

    def _give_back(self, estimate: float) -> None:
        self._reservations -= 1
        self.reserved = self.reserved - estimate if self._reservations else 0.0

    async def _do_call(self, call: Call) -> None:
        provider = self.get_provider()
        estimate = self.estimated_cost(call)
        for round_ in range(RATE_LIMIT_ROUNDS):
            if self.stop_reason or not await self._reserve(estimate):
                return
            await self.limiter.acquire()
            if self.stop_reason:  # stopped while this call waited for a slot: do not send it
                self._give_back(estimate)
                await self.limiter.release()
                return
            started = time.monotonic()
            comp: Completion | None = None
            refused: NotSupportedN | None = None
            try:
                comp = await provider.complete(
                    self.system,
                    call.user,
                    n=call.n,
                    temperature=self.opts.temperature,
                    max_tokens=self.opts.max_tokens,
                )
            except RateLimited as exc:
                self.stats.rate_limited += 1
                # The SDK's own retries are spent: wait as asked (or back off), then go again.
                wait = exc.retry_after if exc.retry_after else min(0.5 * 2.0**round_, 30.0)
                failed: str | None = None if round_ + 1 < RATE_LIMIT_ROUNDS else str(exc)
            except NotSupportedN as exc:
                refused, failed, wait = exc, None, None
            except CallFailed as exc:
                failed = str(exc)
                wait = None
                self._failures_in_a_row += 1
                if exc.fatal:  # a refused key or an unknown model: every call would fail
                    self.stop_reason = self.stop_reason or "errors"
                elif self._failures_in_a_row >= max(FAILURES_TO_STOP, self.opts.concurrency):
                    # Every call fails even after the SDK's retries (server down, bad key,
                    # unknown model): stop instead of spending hours on more of the same.
                    self.stop_reason = self.stop_reason or "errors"
            else:
                latency = time.monotonic() - started
                failed = None
                fields = self.completion_fields(comp)  # spend counted before the slot frees
            finally:
                self._give_back(estimate)
                await self.limiter.release()
                if self.opts.max_cost is not None:
                    async with self._budget:
                        self._budget.notify_all()
            if comp is not None:
                self._failures_in_a_row = 0
                self.stats.calls_made += 1
                self._done_keys.add(call.key)
                await self._record_call(call, latency_s=latency, **fields)
                await self._call_done(call)
                return
            if refused is not None:
                await self._ask_per_vote(call, refused)
                return
            if failed is not None:
                await self._fail(call, failed)
                return
            await asyncio.sleep(wait or 0)

    async def _ask_per_vote(self, call: Call, refused: NotSupportedN) -> None:
        """The server does not take ``n``: record the refusal (and pay for any answer it gave
        anyway), then ask this call's votes one request each, as every later call will be."""
        if self.n_per_call:
            self.n_per_call = False
            self.n_fallback = f"the server refused n={call.n}: {refused}"
        fields: dict[str, Any] = {}
        if refused.completion is not None:  # answered once anyway: paid, but not a vote set
            fields = self.count_usage(refused.completion)
            fields["raw_response"] = self.clean(refused.completion.texts)
        await self._record_call(
            call,
            status="n_refused",
            error=scrub(f"n refused, asked once per vote: {refused}", self.secrets),
            **fields,
        )
        subs = [
            Call(
                call.transcript_id,
                self.call_key(call.user, vote=k, n=1, retry=call.retry),
                1,
                k,
                call.user,
                call.est_input,
                [k],
                call.retry,
            )
            for k in call.slots
        ]
        tids = self._key_items.pop(call.key, [call.transcript_id])
        for tid in tids:
            if tid in self._item_pending:  # a first answer: the item now waits for each vote
                keys = self._item_keys[tid]
                at = keys.index(call.key)
                keys[at : at + 1] = [c.key for c in subs]
                self._item_pending[tid] += len(subs) - 1
            elif tid in self._rounds:  # a re-asking round
                rounds = self._rounds[tid]
                at = rounds.index((call.slots, call.key))
                rounds[at : at + 1] = [(c.slots, c.key) for c in subs]
        self.stats.calls_planned += len(subs) - 1
        for c in subs:
            self._key_items[c.key] = list(tids)
        await asyncio.gather(*(self._do_call(c) for c in subs))

    # -- batch ---------------------------------------------------------------------------

    async def _run_batch(self) -> str:
        provider = self.get_provider()
        info = cdb.run_info(self.store, self.run_id)
        batches: list[dict[str, Any]] = info["batch_ids"]
        for batch in batches:
            if batch.get("collected"):
                continue
            state = await provider.batch_state(batch["id"])
            batch["status"] = state.status
            if not state.done:
                self.stats.batches_pending += 1
                continue
            await self._collect(batch["id"])
            batch["collected"] = True
            self.stats.batches_collected += 1
            cdb.set_run_batches(self.store, self.run_id, batches)
        cdb.set_run_batches(self.store, self.run_id, batches)

        ids = self.transcript_ids()
        self.stats.items = len(ids)
        waiting = cdb.submitted_keys(self.store, self.run_id)
        to_submit: list[Call] = []
        for planned, final in self.plan_chunks(ids):
            for tid, calls in planned.items():
                self.stats.calls_planned += len(calls)
                self.stats.calls_cached += sum(
                    c.key in final and c.key not in self._collected for c in calls
                )
                self._item_keys[tid] = [c.key for c in calls]
                if all(c.key in final for c in calls):
                    await self.finish_item(tid)
                    continue
                for c in calls:
                    if c.key in final or c.key in waiting:
                        continue
                    estimate = self.estimated_cost(c)
                    if not self._budget_allows(estimate):
                        self.stop_reason = "max-cost"
                        break
                    self.reserved += estimate
                    to_submit.append(c)
                    waiting.add(c.key)
        for start in range(0, len(to_submit), BATCH_CHUNK):
            chunk = to_submit[start : start + BATCH_CHUNK]
            requests = [BatchRequest(c.key, self.system, c.user, c.n) for c in chunk]
            batch_id = await provider.submit_batch(
                requests, temperature=self.opts.temperature, max_tokens=self.opts.max_tokens
            )
            batches.append({"id": batch_id, "requests": len(chunk), "status": "submitted"})
            cdb.set_run_batches(self.store, self.run_id, batches)
            cdb.record_submitted(
                self.store,
                self.run_id,
                [
                    (c.transcript_id, c.key, c.n, {**c.request(self.opts), "batch": batch_id})
                    for c in chunk
                ],
            )
            self.stats.batches_submitted += 1
            self.stats.batches_pending += 1
        self.on_progress(self.stats)
        if self.stats.batches_pending:
            return "waiting"
        if self.stop_reason:
            return "stopped"
        if cdb.run_totals(self.store, self.run_id)["error"] or self.stats.items_without_answer:
            return "incomplete"
        return "finished"

    async def _collect(self, batch_id: str) -> None:
        results = await self.get_provider().batch_results(batch_id)
        expected = cdb.submitted_keys(self.store, self.run_id)
        for custom_id, result in results:
            if custom_id not in expected:
                continue
            if isinstance(result, str):
                self.stats.calls_failed += 1
                cdb.fail_submitted(
                    self.store, self.run_id, [custom_id], scrub(result, self.secrets)
                )
            else:
                fields = self.completion_fields(result)
                cdb.complete_submitted(self.store, self.run_id, custom_id, **fields)
                self._collected.add(custom_id)
                self.stats.calls_made += 1
            expected.discard(custom_id)
        leftover = cdb.submitted_keys_in_batch(self.store, self.run_id, batch_id)
        if leftover:
            self.stats.calls_failed += len(leftover)
            cdb.fail_submitted(
                self.store,
                self.run_id,
                leftover,
                f"batch {batch_id} ended without an answer for this request",
            )

    # -- summary -------------------------------------------------------------------------

    def summary(self, status: str) -> dict[str, Any]:
        s = self.stats
        totals = cdb.run_totals(self.store, self.run_id) if self.run_id else {}
        out = {
            "run_id": self.run_id,
            "run": self.run_name,
            "rubric": self.rubric.id,
            "rubric_hash": self.rubric_hash,
            "provider": self.opts.provider,
            "model": self.opts.model,
            "base_url": url_without_credentials(self.base_url),
            "mode": "batch" if self.opts.batch else "online",
            "status": status,
            "stopped_reason": self.stop_reason,
            "last_error": self.last_error,
            "items": s.items,
            "items_labeled_now": s.items_labeled,
            "items_labeled_total": cdb.run_labels(self.store, self.run_id) if self.run_id else 0,
            "items_without_answer": s.items_without_answer,
            "items_without_answer_ids": sorted(self.without_answer),
            "items_skipped_empty": s.items_skipped_empty,
            "items_skipped_empty_ids": sorted(self.skipped_empty),
            "items_waiting_in_batch": s.items_in_batch,
            "label_events": s.new_labels,
            "calls_planned": s.calls_planned,
            "calls_cached": s.calls_cached,
            "calls_made": s.calls_made,
            "calls_failed": s.calls_failed,
            "samples_unparseable": s.samples_unparseable,
            "samples_reasked": s.samples_reasked,
            "retry_unparseable": self.opts.retry_unparseable,
            "n_fallback": self.n_fallback,
            "rate_limited_responses": self.limiter.rate_limited,
            "rate_limit_requeues": s.rate_limited,
            "batches_submitted": s.batches_submitted,
            "batches_collected": s.batches_collected,
            "batches_pending": s.batches_pending,
            "input_tokens": s.input_tokens,
            "output_tokens": s.output_tokens,
            "cache_read_tokens": s.cache_read_tokens,
            "cache_write_tokens": s.cache_write_tokens,
            "cost_usd": round(s.cost_usd, 6),
            "run_cost_usd": round(float(totals.get("cost_usd", 0.0)), 6),
            "max_cost_usd": self.opts.max_cost,
            "max_cost_next_call_usd": None
            if self.next_call_estimate is None
            else round(self.next_call_estimate, 6),
            "price_known": self.price is not None,
            "elapsed_s": round(time.monotonic() - s.started, 3),
        }
        out["exit_status"] = exit_status(out)
        return out


def _say_busy(message: str) -> None:
    """The database writer waits out another process's write lock: say so on stderr."""
    import sys

    print(f"classify: database busy: {message}", file=sys.stderr, flush=True)
