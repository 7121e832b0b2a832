"""The demo's data is fixed by its seed: the same rows as the build before it was made faster."""

from __future__ import annotations

import hashlib
import json

import pytest

from db import Store
from reviewer import demo as demo_mod

# The content of seeded builds, hashed, as built by the one-process generator before the
# build moved generation into a second process (reviewer.demo at main b25a1de).
GOLDEN = {
    (300, 0): "c6e42b51c1c66395889df89812ed6034c9d5337d0d960537d603e2c00d046595",
    (2000, 7): "8786f2d10befcd0d1eed8fbc2cfcb44acd946a5d9d53e713bd28ed2a90748da6",
}


def _content_hash(store: Store) -> str:
    """Everything the demo wrote, by content (no row ids or timestamps), in insertion order."""
    transcripts = store.execute(
        "SELECT t.uid, t.dataset, t.model, t.condition, t.prompt_variant, p.text, t.user_input, "
        "t.scratchpad, t.scratchpad_blocks, t.output, t.turns, t.metadata FROM transcripts t "
        "JOIN prompts p ON p.hash = t.system_prompt_hash ORDER BY t.id"
    )
    labels = store.execute(
        "SELECT t.uid, e.rubric_id, e.rubric_hash, e.field, e.value, e.source, e.rater, e.score, "
        "e.scores FROM label_events e JOIN transcripts t ON t.id = e.transcript_id "
        "ORDER BY e.id"
    )
    return hashlib.sha256(json.dumps([transcripts, labels]).encode()).hexdigest()


# A second process, or a 2,000-transcript build: slow (make test runs them; make test-fast keeps
# the small one-process build).
@pytest.mark.parametrize(
    "in_child",
    [False, pytest.param(True, marks=pytest.mark.slow)],
    ids=["one-process", "generator-process"],
)
@pytest.mark.parametrize(
    ("size", "seed"),
    [pytest.param(*key, marks=pytest.mark.slow) if key[0] >= 1000 else key for key in GOLDEN],
)
def test_a_seed_builds_the_same_rows_as_before(tmp_path, monkeypatch, size, seed, in_child):
    monkeypatch.setattr(demo_mod, "PARALLEL_FROM", 1 if in_child else 10**9)
    monkeypatch.setattr(demo_mod, "CHUNK", 700)  # several chunks and batches
    monkeypatch.setattr(demo_mod, "BATCH", 300)
    store = Store(tmp_path / "demo.db")
    counts = demo_mod.build_demo(store, size=size, seed=seed)
    assert counts["transcripts"] == size == store.transcript_count()
    assert _content_hash(store) == GOLDEN[(size, seed)]
    (build,) = store.imports()
    assert (build["status"], build["n_new"], build["n_read"]) == ("done", size, size)
    store.close()
