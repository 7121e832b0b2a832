"""Reading and validating rubric TOML files."""

from __future__ import annotations

import functools
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from rubrics.model import FIELD_KINDS, Category, ClassifierSpec, ErrorReason, Field, Rubric

_ID = re.compile(r"^[a-z][a-z0-9_]*$")
RESERVED_KEYS = {
    "u",
    "s",
    "f",
    "c",
    "/",
    "?",
    "q",
    "e",
    "j",
    "k",
    "m",
    "v",
    "p",
    "r",
    "x",
    "[",
    "]",
}


class RubricError(ValueError):
    """A rubric file that cannot be used; the message names the file and the problem."""


def builtin_rubric_paths() -> dict[str, Path]:
    """Built-in rubric files by id (the file stem)."""
    root = resources.files("rubrics")
    return {Path(str(p)).stem: Path(str(p)) for p in root.iterdir() if str(p).endswith(".toml")}


def resolve_rubric(name_or_path: str | Path) -> Rubric:
    """A built-in rubric by id, or a user's rubric by path."""
    text = str(name_or_path)
    builtins = builtin_rubric_paths()
    if text in builtins:
        return load_rubric(builtins[text])
    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        return load_rubric(path)
    known = ", ".join(sorted(builtins)) or "none"
    raise RubricError(f"no rubric {text!r}: built-in rubrics are {known}, or give a .toml path")


def load_rubric(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RubricError(f"{path}: no such rubric file") from None
    except IsADirectoryError:
        raise RubricError(f"{path}: is a folder; give a rubric .toml file") from None
    except OSError as exc:
        raise RubricError(f"{path}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise RubricError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_rubric(text, origin=str(path))


def parse_rubric(text: str, *, origin: str = "<string>") -> Rubric:
    """The rubric a TOML text defines (``RubricError`` naming ``origin`` if it cannot be
    used). Parsed once per text and origin: an import looks up its rubrics for every file
    and every mapped column, and TOML parsing took most of importing a small file (a
    ``Rubric`` is frozen, so one parsed value serves every caller)."""
    return _parsed(text, origin)


@functools.lru_cache(maxsize=64)
def _parsed(text: str, origin: str) -> Rubric:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RubricError(f"{origin}: not valid TOML: {exc}") from None
    problems: list[str] = []
    rubric = _build(data, problems, text, origin)
    if problems:
        listing = "\n  - ".join(problems)
        raise RubricError(f"{origin}: {len(problems)} problem(s):\n  - {listing}")
    assert rubric is not None
    return rubric


def _str(data: dict[str, Any], key: str, where: str, problems: list[str], default=None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        problems.append(f"{where}: '{key}' must be a non-empty string")
        return ""
    return value


def _build(data: dict[str, Any], problems: list[str], text: str, origin: str) -> Rubric | None:
    rubric_id = _str(data, "id", "rubric", problems)
    if rubric_id and not _ID.match(rubric_id):
        problems.append(f"rubric: id {rubric_id!r} must be lower_snake_case")
    version = data.get("version")
    if not isinstance(version, str | int):
        problems.append('rubric: \'version\' must be a string such as "1" or "2024-06"')
        version = ""
    title = _str(data, "title", "rubric", problems, default=rubric_id)
    description = _str(data, "description", "rubric", problems)
    raw_fields = data.get("fields")
    fields: list[Field] = []
    if not isinstance(raw_fields, list) or not raw_fields:
        problems.append("rubric: needs at least one [[fields]] table")
        raw_fields = []
    all_keys: dict[str, str] = {}
    for i, raw in enumerate(raw_fields):
        where = f"fields[{i}]"
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a table")
            continue
        fid = _str(raw, "id", where, problems)
        where = f"field {fid or i!r}"
        if fid and not _ID.match(fid):
            problems.append(f"{where}: id must be lower_snake_case")
        kind = raw.get("kind")
        if kind not in FIELD_KINDS:
            problems.append(f"{where}: kind must be one of {', '.join(FIELD_KINDS)}")
        question = _str(raw, "question", where, problems)
        cats: list[Category] = []
        raw_cats = raw.get("categories")
        if not isinstance(raw_cats, list) or not raw_cats:
            problems.append(f"{where}: needs at least one [[fields.categories]] entry")
            raw_cats = []
        for j, rc in enumerate(raw_cats):
            cwhere = f"{where} category[{j}]"
            if not isinstance(rc, dict):
                problems.append(f"{cwhere}: must be a table")
                continue
            cid = _str(rc, "id", cwhere, problems)
            cwhere = f"{where} category {cid or j!r}"
            if cid and not _ID.match(cid):
                problems.append(f"{cwhere}: id must be lower_snake_case")
            key = rc.get("key")
            if not isinstance(key, str) or len(key) != 1:
                problems.append(f"{cwhere}: key must be a single character")
                key = ""
            elif key in RESERVED_KEYS:
                problems.append(f"{cwhere}: key {key!r} is reserved by the labeler")
            elif key in all_keys:
                problems.append(f"{cwhere}: key {key!r} is already used by {all_keys[key]}")
            else:
                all_keys[key] = f"{fid}.{cid}"
            rules = rc.get("rules", [])
            examples = rc.get("examples", [])
            for name, seq in (("rules", rules), ("examples", examples)):
                if not isinstance(seq, list) or not all(isinstance(x, str) for x in seq):
                    problems.append(f"{cwhere}: {name} must be a list of strings")
            cats.append(
                Category(
                    id=cid,
                    label=rc.get("label", cid) if isinstance(rc.get("label", cid), str) else cid,
                    key=key,
                    definition=_str(rc, "definition", cwhere, problems),
                    rules=tuple(rules) if isinstance(rules, list) else (),
                    examples=tuple(examples) if isinstance(examples, list) else (),
                )
            )
        ids = [c.id for c in cats]
        if len(set(ids)) != len(ids):
            problems.append(f"{where}: category ids repeat")
        if kind == "binary" and len(cats) != 2:
            problems.append(f"{where}: a binary field has exactly two categories")
        fields.append(
            Field(
                id=fid,
                kind=kind if isinstance(kind, str) else "",
                question=question,
                categories=tuple(cats),
                required=bool(raw.get("required", kind != "multi")),
            )
        )
    fids = [f.id for f in fields]
    if len(set(fids)) != len(fids):
        problems.append("rubric: field ids repeat")
    classifier = None
    raw_cls = data.get("classifier")
    if raw_cls is not None:
        if not isinstance(raw_cls, dict):
            problems.append("classifier: must be a table")
        else:
            template = _str(raw_cls, "template", "classifier", problems)
            if template and "{scratchpad}" not in template and "{output}" not in template:
                problems.append("classifier: template must contain {scratchpad} or {output}")
            threshold = raw_cls.get("threshold", 0.4)
            if not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
                problems.append("classifier: threshold must be a number from 0 to 1")
                threshold = 0.4
            classifier = ClassifierSpec(
                system=_str(raw_cls, "system", "classifier", problems),
                template=template,
                threshold=float(threshold),
                votes=int(raw_cls.get("votes", 20)),
                temperature=float(raw_cls.get("temperature", 1.0)),
                max_tokens=int(raw_cls.get("max_tokens", 1024)),
            )
    error_reasons = _error_reasons(data.get("error_reasons", []), problems)
    if problems:
        return None
    return Rubric(
        id=rubric_id,
        version=str(version),
        title=title,
        description=description,
        fields=tuple(fields),
        classifier=classifier,
        error_reasons=error_reasons,
        source_text=text,
        origin=origin,
    )


def _error_reasons(raw: Any, problems: list[str]) -> tuple[ErrorReason, ...]:
    """``[[error_reasons]]`` tables (id, label): the codes auditors tag classifier errors with."""
    if not isinstance(raw, list):
        problems.append("error_reasons: must be a list of [[error_reasons]] tables")
        return ()
    out = []
    for i, entry in enumerate(raw):
        where = f"error_reasons[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a table")
            continue
        rid = _str(entry, "id", where, problems)
        if rid and not _ID.match(rid):
            problems.append(f"{where}: id must be lower_snake_case")
        label = entry.get("label", rid)
        out.append(ErrorReason(rid, label if isinstance(label, str) and label else rid))
    if len({r.id for r in out}) != len(out):
        problems.append("error_reasons: ids repeat")
    if len(out) > 9:
        problems.append("error_reasons: at most 9 (keys 1-9 choose them)")
    return tuple(out)
