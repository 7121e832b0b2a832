"""Stable content hashes: a rubric version's identity, and (through ``db.models``) a
transcript's uid. Here, beside the rubrics, because a rubric is pure data that imports no
store, while the store may import rubrics."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_hash(*parts: Any) -> str:
    """A stable sha256 over JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
