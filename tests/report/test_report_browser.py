"""The report as a reader sees it: loaded in headless Chromium, it draws every chart, asks for
nothing but itself and logs no error. A page that does reach out is caught the same way."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.factory import build_study
from tests.report.headless_chromium import CHROMIUM, SKIP_REASON, Page
from tests.report.test_report import run

pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason=SKIP_REASON), pytest.mark.slow]

SIX_WAY_FULL_WITH_AF = (0xA5, 0x0F, 0x15)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("browser")
    db = build_study(folder / "study.db")
    out = folder / "report.html"
    code, output = run("--db", db, "report", "--out", out, "--assume-random", "--resamples", "100")
    assert code == 0, output
    return out


@pytest.fixture
def page(tmp_path):
    p = Page(tmp_path / "profile")
    yield p
    p.close()


def _pixels(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def test_the_report_draws_its_charts_offline_without_errors(report, page):
    page.open(report.as_uri())
    assert page.requests() == [report.as_uri()]  # the file itself, nothing else
    assert page.errors() == []
    boxes = page.evaluate(
        "Array.from(document.querySelectorAll('figure.chart')).map(f => {"
        " const r = f.querySelector('svg').getBoundingClientRect();"
        " return {name: f.dataset.chart, x: r.x + scrollX, y: r.y + scrollY, width: r.width,"
        " height: r.height}; })"
    )
    assert len(boxes) >= 10
    assert all(b["width"] > 200 and b["height"] > 100 for b in boxes), boxes
    six = next(b for b in boxes if b["name"] == "six-way")
    image = _pixels(page.screenshot({k: six[k] for k in ("x", "y", "width", "height")}))
    from PIL import ImageStat

    assert ImageStat.Stat(image.convert("L")).stddev[0] > 20  # not a blank rectangle
    colours = {c for _, c in image.getcolors(maxcolors=1 << 20)}
    assert SIX_WAY_FULL_WITH_AF in colours  # the bars themselves were painted
    gap = next(b for b in boxes if b["name"] == "headline-compliance-gap")
    image = _pixels(page.screenshot({k: gap[k] for k in ("x", "y", "width", "height")}))
    assert ImageStat.Stat(image.convert("L")).stddev[0] > 10
    whole = _pixels(page.screenshot())
    assert whole.size[1] > 3000  # the whole long page, not one screen


def test_the_report_prints_with_its_charts(report, page):
    page.open(report.as_uri())
    pdf = page.send("Page.printToPDF", {"printBackground": True}, session=True)["data"]
    import base64

    data = base64.b64decode(pdf)
    assert data.startswith(b"%PDF") and len(data) > 50_000
    assert page.errors() == []


def test_a_page_that_reaches_out_or_logs_an_error_is_caught(tmp_path, page):
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><link rel='stylesheet' href='http://fonts.example.invalid/f.css'>"
        "<img src='https://cdn.example.invalid/a.png'>"
        "<script>console.error('drawn wrong')</script>"
    )
    page.open(bad.as_uri())
    asked = page.requests()
    assert "http://fonts.example.invalid/f.css" in asked
    assert "https://cdn.example.invalid/a.png" in asked
    assert "drawn wrong" in page.errors()
