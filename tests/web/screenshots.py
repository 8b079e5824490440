"""Screenshots of the main pages for the README and docs/: `make screenshots`.

Loads the demo into a fresh SQLite registry in a temporary folder, serves it, and photographs the
pages in Debian's Chromium, in English and Chinese, one at a phone's width, into docs/screenshots/.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

from registry.migrate import upgrade_database
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, PHONE, Site, serve_demo
from tests.web.reports import report_under_verification

DESKTOP = {"width": 1280, "height": 860}


@dataclass(frozen=True)
class Shot:
    name: str
    path: Callable[[Site], str]
    locale: str = "en-GB"
    who: str | None = None
    phone: bool = False
    then: Callable[[Page], None] | None = None


def _verify_proof(page: Page) -> None:
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator(".check-result.ok")).to_be_visible()
    page.locator("#proof-check").scroll_into_view_if_needed()


def _verify_certificate(page: Page) -> None:
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator(".check-result.ok")).to_be_visible(timeout=15_000)
    page.locator("#certificate-check").scroll_into_view_if_needed()


SHOTS = [
    Shot("home-zh", lambda s: "/", "zh-CN"),
    Shot("home-en", lambda s: "/"),
    Shot("home-phone-zh", lambda s: "/", "zh-CN", phone=True),
    Shot("projects-en", lambda s: "/projects?methodology_id=CIR-PV-DG"),
    Shot("project-zh", lambda s: f"/projects/{s.demo.projects['wetland']}", "zh-CN"),
    Shot("project-phone-zh", lambda s: f"/projects/{s.demo.projects['households']}", "zh-CN", phone=True),
    Shot("retirement-verified-en", lambda s: f"/retirements/{s.demo.retirement}", then=_verify_proof),
    Shot("owner-report-zh", lambda s: f"/workspace/reports/{s.demo.reports['households']}", "zh-CN",
         who="pv_aggregator"),
    Shot("verifier-review-en", lambda s: f"/verifier/reports/{report_under_verification(s)}", who="sgs"),
    Shot("verifier-sign-en", lambda s: f"/verifier/reports/{report_under_verification(s)}/sign", who="sgs"),
    Shot("registrar-zh", lambda s: "/registrar", "zh-CN", who="registrar"),
    Shot("apply-phone-zh", lambda s: "/apply", "zh-CN", phone=True),
    Shot("certificate-zh", lambda s: f"/certificates/{s.demo.certificate}", "zh-CN"),
    Shot("certificate-verified-en", lambda s: f"/certificates/{s.demo.certificate}", then=_verify_certificate),
    Shot("factory-claim-en", lambda s: f"/workspace/net-zero/claims/{s.demo.claim}", who="factory"),
    Shot("factory-inventory-zh", lambda s: f"/workspace/net-zero/inventories/{s.demo.inventory}", "zh-CN",
         who="factory"),
    Shot("product-en", lambda s: f"/market/products/{s.demo.market.products[0]}", who="precision"),
    Shot("auction-zh", lambda s: f"/auctions/{s.demo.market.auction}", "zh-CN"),
]


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as playwright:
        var = Path(folder)
        url = f"sqlite:///{var / 'registry.db'}"
        upgrade_database(url)
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        for site in serve_demo(url, var):
            for shot in SHOTS:
                context = browser.new_context(locale=shot.locale, viewport=PHONE if shot.phone else DESKTOP,
                                              device_scale_factor=1)
                page = context.new_page()
                if shot.who:
                    _sign_in(page, site, shot.who)
                page.goto(site.url + shot.path(site))
                if shot.then:
                    shot.then(page)
                target = out / f"{shot.name}.png"
                page.screenshot(path=str(target), full_page=shot.phone)
                written.append(target)
                context.close()
        browser.close()
    return written


def _sign_in(page: Page, site: Site, who: str) -> None:
    """Sign in whatever the page's language: by the form's field names, not its words."""
    page.goto(f"{site.url}/sign-in")
    page.locator("#api_key").fill(site.key(who))
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".who")).to_be_visible()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/screenshots"))
    for path in take(parser.parse_args().out):
        print(path)


if __name__ == "__main__":
    main()
