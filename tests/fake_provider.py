"""A fake LLM provider on 127.0.0.1 that the real ``anthropic`` and ``openai`` SDKs talk to.

It speaks just the parts of the APIs the classifier runner uses: Anthropic Messages and
Message Batches, OpenAI Chat Completions (with ``n``), Files and Batch. Answers are derived
from the request, so tests can predict them: the fake reads the answer format out of the
rubric's system prompt, and whether vote ``k`` of a prompt says yes is a hash of the prompt and
``k`` (``k`` counts the samples already given for that prompt, so a repeated request gets new
samples, as from a real model at temperature 1).

Faults (429 with retry-after, 500, a stall longer than the client's timeout, malformed
answers, answers that give one field two values) are injected at configurable rates, and
``n_mode`` makes it a server that refuses ``n`` (400) or ignores it (one choice). Transport
faults hit only the first attempts of a request (the SDK's ``x-stainless-retry-count`` header), so retries always get through and a
test can check that nothing is lost; malformed answers are real answers and stay malformed.

Use it in-process (``FakeProvider().start()``) or as its own process, so that it does not
share the GIL with the code under test: ``python -m tests.fake_provider --latency 0.1``
prints ``PORT <n>`` and serves until killed; ``GET /_stats`` and ``POST /_config`` inspect
and change it.
"""

from __future__ import annotations

import argparse
import contextlib
import email.parser
import email.policy
import hashlib
import json
import random
import re
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ONE_OF = re.compile(r"<([a-z][a-z0-9_]*)>one of: ([a-z0-9_, ]+)</\1>")
_MULTI = re.compile(r"<([a-z][a-z0-9_]*)>none, or comma-separated ids from: ([a-z0-9_, ]+)</\1>")


@dataclass
class FakeConfig:
    latency: float = 0.0
    p_429: float = 0.0
    p_500: float = 0.0
    p_timeout: float = 0.0
    p_malformed: float = 0.0
    p_conflicting: float = 0.0
    # "ok": n honoured; "reject": 400 naming the parameter, as servers without n answer;
    # "ignore": one choice whatever n asks.
    n_mode: str = "ok"
    stall: float = 3.0
    retry_after: float = 0.05
    fault_attempts: int = 1
    batch_polls: int = 1
    expected_key: str | None = None
    # A careless proxy or model that repeats the credential it was sent: every answer
    # quotes the API key (in the evidence quote and in free text).
    echo_key: bool = False
    seed: int = 1234


def _unit(*parts: Any) -> float:
    """A number in [0, 1) determined by the parts."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def format_fields(system: str) -> list[tuple[str, str, list[str]]]:
    """(field id, 'one'|'multi', category ids) from the answer format in a system prompt."""
    fields = [
        (m.group(1), "one", [c.strip() for c in m.group(2).split(",")])
        for m in _ONE_OF.finditer(system)
    ]
    fields += [
        (m.group(1), "multi", [c.strip() for c in m.group(2).split(",")])
        for m in _MULTI.finditer(system)
    ]
    return fields


def yes_rate(user: str) -> float:
    """How often this prompt's votes pick the first category: 0, 0.1, ..., 1."""
    return round(_unit("rate", user) * 10) / 10


def answer_values(system: str, user: str, k: int) -> dict[str, Any]:
    """The answer vote ``k`` gives for this prompt: what a test should expect."""
    out: dict[str, Any] = {}
    for fid, kind, cats in format_fields(system):
        if kind == "one":
            if "yes" in cats:
                out[fid] = "yes" if _unit("vote", user, k) < yes_rate(user) else "no"
            else:
                out[fid] = cats[int(_unit("pick", user, k) * len(cats))]
        else:
            out[fid] = sorted(c for c in cats if _unit("multi", user, k, c) < 0.3)
    return out


def is_malformed(user: str, k: int, p: float) -> bool:
    return p > 0 and _unit("malformed", user, k) < p


def is_conflicting(user: str, k: int, p: float) -> bool:
    return p > 0 and _unit("conflicting", user, k) < p


def answer_text(
    system: str, user: str, k: int, p_malformed: float = 0.0, p_conflicting: float = 0.0
) -> str:
    if is_malformed(user, k, p_malformed):
        return "I considered the transcript carefully but I would rather not pick a label."
    if is_conflicting(user, k, p_conflicting):
        fid, _, cats = format_fields(system)[0]
        return f"<{fid}>{cats[0]}</{fid}>\nOn reflection:\n<{fid}>{cats[1]}</{fid}>"
    inner = re.search(r"<(scratchpad|answer)>(.*?)</\1>", user, re.DOTALL)
    quote = " ".join((inner.group(2) if inner else user).split())[:80]
    parts = [f"<quote>{quote}</quote>"]
    for fid, value in answer_values(system, user, k).items():
        shown = (", ".join(value) or "none") if isinstance(value, list) else value
        parts.append(f"<{fid}>{shown}</{fid}>")
    return "\n".join(parts)


def echo_key_in(text: str, key: str) -> str:
    """An answer that repeats the key: inside the evidence quote and after the labels."""
    text = text.replace("<quote>", f"<quote>my key is {key} ", 1)
    return f"{text}\n(I was called with the key {key}; Bearer {key})"


def _tokens(text: str) -> int:
    return len(text) // 4 + 1


class FakeProvider:
    def __init__(self, config: FakeConfig | None = None):
        self.config = config or FakeConfig()
        self.lock = threading.Lock()
        self.rng = random.Random(self.config.seed)
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()
        self.answered = 0
        self.in_flight = 0
        # Cleared, model answers wait (at most 60 s) until it is set again: a test holds the
        # answers back while it sets something up (threaded server only).
        self.gate = threading.Event()
        self.gate.set()
        self.samples = 0
        self.auth_failures = 0
        self.seen_keys: set[str] = set()
        self._vote_counter: Counter[str] = Counter()
        self._cached_systems: set[str] = set()
        self.batches: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}
        self._ids = 0
        self.server: _Server | None = None
        self._port: int | None = None
        self.thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, port: int = 0) -> FakeProvider:
        provider = self

        class Handler(_Handler):
            fake = provider

        self.server = _Server(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def port(self) -> int:
        if self.server is None:
            assert self._port is not None, "the fake provider is not serving"
            return self._port
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def anthropic_url(self) -> str:
        return self.url

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "statuses": dict(self.statuses),
                "answered": self.answered,
                "in_flight": self.in_flight,
                "samples": self.samples,
                "auth_failures": self.auth_failures,
                "config": asdict(self.config),
            }

    def _new_id(self, prefix: str) -> str:
        with self.lock:
            self._ids += 1
            return f"{prefix}_{self._ids:06d}"

    # -- answers -------------------------------------------------------------------------

    def anthropic_message(self, params: dict[str, Any]) -> dict[str, Any]:
        system_blocks = params.get("system") or []
        if isinstance(system_blocks, str):
            system, cached = system_blocks, False
        else:
            system = "".join(b.get("text", "") for b in system_blocks)
            cached = any(b.get("cache_control") for b in system_blocks)
        user = "".join(
            m["content"]
            if isinstance(m["content"], str)
            else "".join(b.get("text", "") for b in m["content"])
            for m in params.get("messages", [])
            if m.get("role") == "user"
        )
        with self.lock:
            k = self._vote_counter[user]
            self._vote_counter[user] += 1
            seen = system in self._cached_systems
            if cached:
                self._cached_systems.add(system)
            self.answered += 1
            self.samples += 1
        text = answer_text(system, user, k, self.config.p_malformed, self.config.p_conflicting)
        usage = {
            "input_tokens": _tokens(user),
            "output_tokens": _tokens(text),
            "cache_read_input_tokens": 0,
            "cache_creation_input_tokens": 0,
        }
        if cached and seen:
            usage["cache_read_input_tokens"] = _tokens(system)
        elif cached:
            usage["cache_creation_input_tokens"] = _tokens(system)
        else:
            usage["input_tokens"] += _tokens(system)
        return {
            "id": self._new_id("msg"),
            "type": "message",
            "role": "assistant",
            "model": params.get("model", "fake"),
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }

    def openai_completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body.get("messages", [])
        system = "".join(m["content"] for m in messages if m.get("role") == "system")
        user = "".join(m["content"] for m in messages if m.get("role") == "user")
        n = int(body.get("n") or 1)
        if self.config.n_mode == "ignore":
            n = 1
        with self.lock:
            # Like the Anthropic side, k counts the prompt's samples: a request repeated
            # (asking again) gets new samples, as from a real model at temperature > 0.
            first = self._vote_counter[user]
            self._vote_counter[user] += n
        cfg = self.config
        texts = [
            answer_text(system, user, first + i, cfg.p_malformed, cfg.p_conflicting)
            for i in range(n)
        ]
        with self.lock:
            seen = system in self._cached_systems
            self._cached_systems.add(system)
            self.answered += 1
            self.samples += n
        prompt = _tokens(system) + _tokens(user)
        completion = sum(_tokens(t) for t in texts)
        return {
            "id": self._new_id("chatcmpl"),
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body.get("model", "fake"),
            "choices": [
                {
                    "index": k,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": t},
                }
                for k, t in enumerate(texts)
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": _tokens(system) if seen else 0},
            },
        }

    # -- batches -------------------------------------------------------------------------

    def anthropic_batch_json(self, batch: dict[str, Any]) -> dict[str, Any]:
        done = batch["polls"] >= self.config.batch_polls
        n = len(batch["requests"])
        return {
            "id": batch["id"],
            "type": "message_batch",
            "processing_status": "ended" if done else "in_progress",
            "request_counts": {
                "processing": 0 if done else n,
                "succeeded": n if done else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if done else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch['id']}/results"
            if done
            else None,
        }

    def openai_batch_json(self, batch: dict[str, Any]) -> dict[str, Any]:
        done = batch["polls"] >= self.config.batch_polls
        n = len(batch["lines"])
        return {
            "id": batch["id"],
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": batch["input_file_id"],
            "completion_window": "24h",
            "status": "completed" if done else "in_progress",
            "output_file_id": batch.get("output_file_id") if done else None,
            "error_file_id": None,
            "created_at": 1_700_000_000,
            "request_counts": {"total": n, "completed": n if done else 0, "failed": 0},
        }

    def finish_batch(self, batch: dict[str, Any]) -> None:
        """Answer a batch's requests once, when it is first seen as done."""
        if batch.get("finished"):
            return
        batch["finished"] = True
        if batch["kind"] == "anthropic":
            lines = []
            for req in batch["requests"]:
                msg = self.anthropic_message(req["params"])
                lines.append(
                    {"custom_id": req["custom_id"], "result": {"type": "succeeded", "message": msg}}
                )
            batch["results"] = "\n".join(json.dumps(x) for x in lines) + "\n"
        else:
            out = []
            for line in batch["lines"]:
                comp = self.openai_completion(line["body"])
                out.append(
                    {
                        "id": self._new_id("batch_req"),
                        "custom_id": line["custom_id"],
                        "response": {"status_code": 200, "request_id": comp["id"], "body": comp},
                        "error": None,
                    }
                )
            file_id = self._new_id("file")
            self.files[file_id] = ("\n".join(json.dumps(x) for x in out) + "\n").encode()
            batch["output_file_id"] = file_id


class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    fake: FakeProvider

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def _wait_at_gate(self) -> None:
        self.fake.gate.wait(timeout=60)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            ctype = (
                "application/json" if not isinstance(payload, bytes) else "application/octet-stream"
            )
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            # Headers and body in one write: two small writes would wait on delayed ACKs.
            self._headers_buffer.append(b"\r\n" + body)
            self.flush_headers()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        with self.fake.lock:
            self.fake.statuses[str(status)] += 1

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _request_key(self) -> str | None:
        key = self.headers.get("x-api-key")
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            key = auth[len("Bearer ") :]
        return key

    def _echo(self, payload: dict[str, Any]) -> dict[str, Any]:
        """With ``echo_key``, the answer's texts repeat the request's key."""
        key = self._request_key()
        if not (self.fake.config.echo_key and key):
            return payload
        for block in payload.get("content") or []:
            block["text"] = echo_key_in(block["text"], key)
        for choice in payload.get("choices") or []:
            choice["message"]["content"] = echo_key_in(choice["message"]["content"], key)
        return payload

    def _authorized(self, kind: str) -> bool:
        key = self._request_key()
        fake = self.fake
        with fake.lock:
            if key:
                fake.seen_keys.add(key)
            ok = fake.config.expected_key is None or key == fake.config.expected_key
            if not ok:
                fake.auth_failures += 1
        if not ok:
            self._send(
                401,
                {
                    "type": "error",
                    "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                },
            )
        return ok

    def _fault(self) -> bool:
        """Inject a transport fault on early attempts; True if one was sent."""
        cfg = self.fake.config
        attempt = int(self.headers.get("x-stainless-retry-count") or 0)
        if attempt >= cfg.fault_attempts:
            return False
        with self.fake.lock:
            u = self.fake.rng.random()
        if u < cfg.p_429:
            self._send(
                429,
                {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
                {"retry-after": f"{cfg.retry_after:g}"},
            )
            return True
        u -= cfg.p_429
        if u < cfg.p_500:
            self._send(500, {"type": "error", "error": {"type": "api_error", "message": "boom"}})
            return True
        u -= cfg.p_500
        if u < cfg.p_timeout:
            self._sleep(cfg.stall)
            self._send(504, {"error": {"message": "stalled"}})
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802
        fake = self.fake
        path = self.path.split("?")[0]
        with fake.lock:
            fake.requests["GET " + re.sub(r"/[a-z]+_\d+", "/{id}", path)] += 1
        if path == "/_stats":
            return self._send(200, fake.stats())
        m = re.fullmatch(r"/v1/messages/batches/([^/]+)(/results)?", path)
        if m:
            if not self._authorized("anthropic"):
                return
            batch = fake.batches.get(m.group(1))
            if batch is None:
                return self._send(
                    404,
                    {"type": "error", "error": {"type": "not_found_error", "message": "no batch"}},
                )
            if m.group(2):
                fake.finish_batch(batch)
                return self._send(200, batch["results"].encode())
            batch["polls"] += 1
            if batch["polls"] >= fake.config.batch_polls:
                fake.finish_batch(batch)
            return self._send(200, fake.anthropic_batch_json(batch))
        m = re.fullmatch(r"/v1/batches/([^/]+)", path)
        if m:
            if not self._authorized("openai"):
                return
            batch = fake.batches.get(m.group(1))
            if batch is None:
                return self._send(404, {"error": {"message": "no such batch"}})
            batch["polls"] += 1
            if batch["polls"] >= fake.config.batch_polls:
                fake.finish_batch(batch)
            return self._send(200, fake.openai_batch_json(batch))
        m = re.fullmatch(r"/v1/files/([^/]+)/content", path)
        if m:
            if not self._authorized("openai"):
                return
            data = fake.files.get(m.group(1))
            if data is None:
                return self._send(404, {"error": {"message": "no such file"}})
            return self._send(200, data)
        self._send(404, {"error": {"message": f"unknown path {path}"}})

    def do_POST(self) -> None:  # noqa: N802
        with self.fake.lock:
            self.fake.in_flight += 1
        try:
            self._post()
        finally:
            with self.fake.lock:
                self.fake.in_flight -= 1

    def _post(self) -> None:
        fake = self.fake
        path = self.path.split("?")[0]
        raw = self._body()
        with fake.lock:
            fake.requests["POST " + path] += 1
        if path == "/_config":
            for k, v in json.loads(raw or b"{}").items():
                setattr(fake.config, k, v)
            return self._send(200, asdict(fake.config))
        if path == "/v1/messages":
            if not self._authorized("anthropic") or self._fault():
                return
            if fake.config.latency:
                self._sleep(fake.config.latency)
            self._wait_at_gate()
            return self._send(200, self._echo(fake.anthropic_message(json.loads(raw))))
        if path == "/v1/chat/completions":
            if not self._authorized("openai") or self._fault():
                return
            body = json.loads(raw)
            if fake.config.n_mode == "reject" and int(body.get("n") or 1) != 1:
                return self._send(
                    400,
                    {
                        "error": {
                            "message": "n > 1 is not supported by this server",
                            "type": "invalid_request_error",
                            "param": "n",
                            "code": None,
                        }
                    },
                )
            if fake.config.latency:
                self._sleep(fake.config.latency)
            self._wait_at_gate()
            return self._send(200, self._echo(fake.openai_completion(body)))
        if path == "/v1/messages/batches":
            if not self._authorized("anthropic"):
                return
            body = json.loads(raw)
            batch = {
                "id": fake._new_id("msgbatch"),
                "kind": "anthropic",
                "polls": 0,
                "requests": body["requests"],
            }
            fake.batches[batch["id"]] = batch
            return self._send(200, fake.anthropic_batch_json(batch))
        if path == "/v1/files":
            if not self._authorized("openai"):
                return
            ctype = self.headers.get("Content-Type", "")
            msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
                f"Content-Type: {ctype}\r\n\r\n".encode() + raw
            )
            content, filename, purpose = b"", "upload", ""
            for part in msg.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if name == "file":
                    content = part.get_payload(decode=True) or b""
                    filename = part.get_filename() or filename
                elif name == "purpose":
                    purpose = (part.get_payload(decode=True) or b"").decode()
            file_id = fake._new_id("file")
            fake.files[file_id] = content
            return self._send(
                200,
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": 1_700_000_000,
                    "filename": filename,
                    "purpose": purpose,
                    "status": "processed",
                },
            )
        if path == "/v1/batches":
            if not self._authorized("openai"):
                return
            body = json.loads(raw)
            data = fake.files.get(body["input_file_id"])
            if data is None:
                return self._send(400, {"error": {"message": "unknown input_file_id"}})
            lines = [json.loads(x) for x in data.decode().splitlines() if x.strip()]
            batch = {
                "id": fake._new_id("batch"),
                "kind": "openai",
                "polls": 0,
                "lines": lines,
                "input_file_id": body["input_file_id"],
            }
            fake.batches[batch["id"]] = batch
            return self._send(200, fake.openai_batch_json(batch))
        self._send(404, {"error": {"message": f"unknown path {path}"}})


class _Headers(dict):
    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class _AsyncExchange(_Handler):
    """One request served by the asyncio server, through the same handler code.

    The handler runs on the event loop without blocking: its sleeps (latency, stalls) are
    added up and awaited before the response is written, so one thread serves every
    connection and the fake costs little CPU beside the client under test.
    """

    def __init__(self, fake: FakeProvider, method: str, path: str, headers: _Headers, body: bytes):
        self.fake = fake
        self.command = method
        self.path = path
        self.headers = headers
        self.raw = body
        self.pause = 0.0
        self.response = b""
        self.close_connection = False

    def _sleep(self, seconds: float) -> None:
        self.pause += seconds

    def _wait_at_gate(self) -> None:  # never block the event loop: the gate is for threads
        return

    def _body(self) -> bytes:
        return self.raw

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        ctype = "application/octet-stream" if isinstance(payload, bytes) else "application/json"
        lines = [
            f"HTTP/1.1 {status} {'OK' if status < 400 else 'Error'}",
            f"Content-Type: {ctype}",
            f"Content-Length: {len(body)}",
        ]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.response = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        with self.fake.lock:
            self.fake.statuses[str(status)] += 1


async def serve_async(fake: FakeProvider, port: int, seconds: float) -> None:
    """Serve ``fake`` with asyncio streams on 127.0.0.1 for at most ``seconds``."""
    import asyncio

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line.strip():
                    break
                method, target, _ = line.decode("latin-1").split(" ", 2)
                headers = _Headers()
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    key, _, value = raw.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                length = int(headers.get("content-length") or 0)
                body = await reader.readexactly(length) if length else b""
                exchange = _AsyncExchange(fake, method, target, headers, body)
                if method == "GET":
                    exchange.do_GET()
                else:
                    exchange.do_POST()
                if exchange.pause:
                    await asyncio.sleep(exchange.pause)
                writer.write(exchange.response)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=512)
    fake._port = server.sockets[0].getsockname()[1]
    print(f"PORT {fake._port}", flush=True)
    async with server:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.serve_forever(), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the fake LLM provider on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument(
        "--max-seconds", type=float, default=600.0, help="stop by itself after this long"
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="serve with a thread per connection instead of asyncio",
    )
    args = parser.parse_args()
    if not args.threads:
        import asyncio

        fake = FakeProvider(FakeConfig(latency=args.latency))
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve_async(fake, args.port, args.max_seconds))
        return
    fake = FakeProvider(FakeConfig(latency=args.latency)).start(args.port)
    print(f"PORT {fake.port}", flush=True)
    try:
        time.sleep(args.max_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
