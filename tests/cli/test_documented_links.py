"""Every relative link in README.md and docs/*.md points at a file that exists, and at a
heading of it when it names one (anchors as GitHub makes them from headings)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6} (.+)$", re.M)
FENCED = re.compile(r"^```.*?^```", re.M | re.S)


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchor(heading: str) -> str:
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCED.sub("", page.read_text(encoding="utf-8"))
    return {anchor(h) for h in HEADING.findall(text)}


def broken_links(page: Path) -> list[str]:
    text = FENCED.sub("", page.read_text(encoding="utf-8"))
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, fragment = target.partition("#")
        file = page if not path else (page.parent / path).resolve()
        if not file.exists():
            broken.append(f"{page.name}: {target}: no such file")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{page.name}: {target}: no heading #{fragment} in {file.name}")
    return broken


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    assert not broken_links(page), "\n".join(broken_links(page))


def test_a_broken_link_is_caught(tmp_path) -> None:
    (tmp_path / "a.md").write_text("# A page\n\n## Its part\n", encoding="utf-8")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#its-part) [gone](c.md) [wrong](a.md#nothing)\n", encoding="utf-8")
    assert broken_links(page) == [
        "b.md: c.md: no such file",
        "b.md: a.md#nothing: no heading #nothing in a.md",
    ]
