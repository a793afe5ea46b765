"""The HTML report in a real browser: headless Chromium driven by Playwright.

The filters hide and show claims, the summary's links land on their claim or finding, printing
opens every claim, and a 2,000-claim file shows its summary on the first screen. Chromium is
Debian's (``.ci/run`` installs it); where it cannot be had, these skip and say why.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edi63650.testing import synth
from edi63650.validate import Validator

FIXTURES = Path(__file__).parent.parent / "fixtures"
MIXED = FIXTURES / "rulepack-professional.837"  # rejected, warned and clean claims
VIEWPORT = {"width": 1280, "height": 800}

sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium)
        yield launched
        launched.close()


def report(tmp_path: Path, data: bytes, name: str = "report.html") -> str:
    page = tmp_path / name
    page.write_text(Validator().validate(data).to_html(data), encoding="utf-8")
    return page.as_uri()


def verdicts(path: Path) -> dict[str, int]:
    """How many claims of each verdict the validator gives (what the page must show)."""
    counts = {"rejected": 0, "warned": 0, "accepted": 0}
    for result in Validator().validate(path).claims:
        warned = any(f.severity.value == "warning" for f in result.findings)
        verdict = "rejected" if not result.accepted else "warned" if warned else "accepted"
        counts[verdict] += 1
    return counts


def visible_claims(page: Any) -> int:
    return int(page.locator("details.claim:visible").count())


def test_the_filters_hide_and_show_claims(browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(report(tmp_path, MIXED.read_bytes()))
    counts = verdicts(MIXED)
    total = sum(counts.values())
    assert min(counts.values()) > 5
    assert visible_claims(page) == total
    assert page.locator("#shown").inner_text() == f"{total} of {total} claims shown"

    page.select_option("#f-verdict", "rejected")
    assert visible_claims(page) == counts["rejected"]
    assert page.locator("#shown").inner_text() == f"{counts['rejected']} of {total} claims shown"
    assert page.locator("details.claim.accepted:visible, details.claim.warned:visible").count() == 0
    page.select_option("#f-verdict", "warned")
    assert visible_claims(page) == counts["warned"]
    page.select_option("#f-verdict", "accepted")
    assert visible_claims(page) == counts["accepted"]
    # Segments outside claims without findings go with a filter and come back without it.
    assert page.locator("table.other:visible").count() == 0

    page.select_option("#f-verdict", "")
    page.select_option("#f-severity", "warning")
    warned = page.locator("details.claim:visible")
    assert warned.count() >= counts["warned"]  # and rejected ones with warnings too
    for index in range(warned.count()):
        assert "warning" in (warned.nth(index).get_attribute("data-severities") or "").split()

    page.select_option("#f-severity", "")
    page.select_option("#f-rule", "SCS-IMAGING")
    imaging = page.locator("details.claim:visible")
    assert 0 < imaging.count() < counts["rejected"]
    for index in range(imaging.count()):
        assert "SCS-IMAGING" in (imaging.nth(index).get_attribute("data-rules") or "").split()

    page.select_option("#f-rule", "")
    assert visible_claims(page) == total
    assert page.locator("table.other:visible").count() > 0
    page.close()


def in_view(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    # Below the sticky filter bar (scroll-margin-top), within the first screen.
    return box is not None and 30 <= box["y"] < VIEWPORT["height"] - 30


def test_links_land_on_their_claim_and_finding(browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(report(tmp_path, MIXED.read_bytes()))

    # A rejected claim in the table: the page goes to its block, which is open.
    link = page.locator("#rejected a").nth(5)
    claim_id = link.inner_text()
    target = link.get_attribute("href")
    assert target is not None
    assert target.startswith("#c")
    link.click()
    assert page.evaluate("location.hash") == target
    assert in_view(page, target)
    block = page.locator(target)
    assert block.get_attribute("open") is not None
    assert f"claim {claim_id}: rejected" in block.locator("summary").inner_text()
    # Closed by hand, then the same link again (no change of hash): it opens again.
    block.locator("summary").click()
    assert block.get_attribute("open") is None
    link.click()
    page.wait_for_function(f"document.querySelector('{target}').open")
    # A malformed address does not break the page.
    page.evaluate("location.hash = '%E0%A4%A'")
    page.select_option("#f-verdict", "rejected")
    assert visible_claims(page) == verdicts(MIXED)["rejected"]
    page.select_option("#f-verdict", "")

    # A rule in the summary: only the claims with its findings, and its first finding in view.
    page.locator("a[data-rule='SCS-IMAGING']").first.click()
    assert page.locator("#f-rule").input_value() == "SCS-IMAGING"
    assert in_view(page, "#r-SCS-IMAGING-error")
    assert "SCS-IMAGING error" in page.locator("#r-SCS-IMAGING-error").inner_text()
    # The warnings of the same rule have their own first finding.
    page.locator("a[href='#r-SCS-IMAGING-warning']").click()
    assert in_view(page, "#r-SCS-IMAGING-warning")
    assert "SCS-IMAGING warning" in page.locator("#r-SCS-IMAGING-warning").inner_text()

    # A link to a collapsed claim (a clean one) opens it.
    clean = page.locator("details.claim.accepted").first
    anchor = clean.get_attribute("id")
    assert clean.get_attribute("open") is None
    page.goto(page.url.split("#")[0] + f"#{anchor}")
    page.wait_for_function(f"document.getElementById('{anchor}').open")
    assert in_view(page, f"#{anchor}")
    page.close()


def test_printing_opens_every_claim_and_hides_the_filters(browser: Any, tmp_path: Path) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(report(tmp_path, MIXED.read_bytes()))
    closed = "document.querySelectorAll('details.claim:not([open])').length"
    clean = sum(1 for r in Validator().validate(MIXED).claims if not r.findings)
    assert page.evaluate(closed) == clean
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert page.evaluate(closed) == 0
    page.emulate_media(media="print")
    assert not page.locator("#filters").is_visible()
    page.evaluate("window.dispatchEvent(new Event('afterprint'))")
    assert page.evaluate(closed) == clean
    page.close()


def test_a_2000_claim_file_shows_its_summary_on_the_first_screen(
    browser: Any, tmp_path: Path
) -> None:
    page = browser.new_page(viewport=VIEWPORT)
    page.goto(report(tmp_path, synth("837P", 2000, seed=7)))
    shot = tmp_path / "first-screen.png"
    page.screenshot(path=str(shot))  # the viewport only: what a person sees on opening it
    assert shot.stat().st_size > 10_000
    summary = page.locator("#summary").bounding_box()
    assert summary is not None
    assert summary["y"] >= 0
    assert summary["y"] + summary["height"] <= VIEWPORT["height"]
    text = page.locator("#summary").inner_text()
    assert "2,000" in text
    assert "SCS-IMAGING" in text
    assert in_view(page, "#rejected")  # the rejected claims begin on the first screen too
    assert visible_claims(page) == 2000
    # The clean claims are collapsed: the first claim block is far below, not the first screen.
    assert page.locator("details.claim:not([open])").count() > 1900
    page.close()
