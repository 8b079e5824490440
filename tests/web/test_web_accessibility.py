"""Every page, as each role sees it, in English and Chinese: it answers 200; axe-core (vendored in
tests/web/vendor) finds no serious or critical violation; at a phone's width (390 px) nothing
scrolls sideways; the browser reports no script error and no Content-Security-Policy violation.

The context bypasses the policy only so that the test can inject axe; violations are still
reported by Chromium's console, which the test reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from registry.applications import ApplicationDetails, submit_application
from tests.web.conftest import PHONE, Site, axe_violations, market_morning_after, pretty
from tests.web.netzero import filed_inventory
from tests.web.reports import (
    account_with_credits,
    new_pv_project,
    report_in_draft,
    report_under_verification,
    submitted_report,
)
from tests.web.test_web_registrar import draft_project, fresh_issuance, submitted_project
from web.app import PAGE_ROUTERS

Paths = Callable[[Site], list[str]]


def open_auction(site: Site, seller: str = "wetland", product: str = "WETLAND-REMOVALS") -> str:
    """2 t taking bids until 16:00 on the market clock's day: a bidder's form, or the seller's view."""
    closes = market_morning_after(date.fromisoformat(site.demo.market.trading_day)).replace(hour=16)
    return str(httpx.post(f"{site.url}/api/v1/auctions", headers={"Authorization": f"Bearer {site.key(seller)}"},
                          json={"title": "Axe auction, 2 t", "quantity_kg": 2_000, "reserve_price_fen": 8_000,
                                "closes_at": closes.isoformat(), "product": product,
                                "from_account": site.demo.accounts[seller]}).json()["id"])


def _public(site: Site) -> list[str]:
    project = site.demo.projects["wetland"]
    issuance = httpx.get(f"{site.url}/api/v1/issuances", params={"project": project}).json()["items"][0]["id"]
    return ["/", "/projects", "/issuances", "/retirements", "/verifiers", "/log", "/verify", "/sign-in", "/apply",
            "/apply/status", f"/projects/{project}", f"/issuances/{issuance}", f"/retirements/{site.demo.retirement}",
            f"/parties/{site.demo.parties['wetland']}", "/projects/prj_missing", "/certificates", "/market",
            f"/certificates/{site.demo.certificate}", f"/market/products/{site.demo.market.products[0]}", "/auctions",
            f"/auctions/{site.demo.market.auction}"]


def _owner(site: Site) -> list[str]:
    project, meters = new_pv_project(site)
    report = report_in_draft(site, project, meters)
    return ["/workspace", f"/workspace/accounts/{account_with_credits(site, 2_000)}", "/workspace/retire",
            "/workspace/transfer", "/workspace/transfer/batch", "/workspace/retire/batch", "/workspace/projects",
            "/workspace/projects/new",
            "/workspace/projects/new/CIR-PV-DG/1.0", f"/workspace/projects/{project}",
            f"/workspace/projects/{project}/reports/new", f"/workspace/projects/{draft_project(site)[0]}",
            f"/workspace/reports/{report}",
            f"/workspace/reports/{site.demo.reports['households']}", "/workspace/offers", "/workspace/pledges",
            "/workspace/cash", "/auctions/new", f"/auctions/{open_auction(site, 'pv_aggregator', 'SZ-PV-2025')}"]


def _verifier(site: Site) -> list[str]:
    project, _ = submitted_project(site)
    return ["/verifier", f"/verifier/reports/{submitted_report(site)}", "/verifier/projects",
            f"/verifier/projects/{project}", f"/verifier/reports/{report_under_verification(site)}/sign"]


def _registrar(site: Site) -> list[str]:
    accreditation = httpx.get(f"{site.url}/api/v1/verifiers").json()[0]["id"]
    project, _ = submitted_project(site)
    issuance = fresh_issuance(site, 1_000)
    block = httpx.get(f"{site.url}/api/v1/blocks", params={"issuance": issuance}).json()["items"][0]["id"]
    with site.db.write() as s:
        application = submit_application(s, ApplicationDetails(
            "Axe Household", "individual", "CN-JS", "1 Test Road", "13812345678", None, "buyer", "A test", True))
        reference = application.application.public_id
    return ["/registrar", "/registrar/parties", "/registrar/parties/new",
            f"/registrar/parties/{site.demo.parties['sgs']}", "/registrar/applications",
            f"/registrar/applications/{reference}", "/registrar/accreditations", "/registrar/accreditations/new",
            f"/registrar/accreditations/{accreditation}", "/registrar/projects",
            "/registrar/projects?status=registered", f"/registrar/projects/{project}", "/registrar/freezes",
            f"/registrar/freezes?issuance={issuance}",
            f"/registrar/freezes/{block}", "/market/products/new", f"/market/products/{site.demo.market.products[0]}"]


def _buyer(site: Site) -> list[str]:
    return ["/workspace", "/workspace/net-zero", f"/workspace/net-zero/facilities/{site.demo.facility}",
            f"/workspace/net-zero/inventories/{site.demo.inventory}", f"/workspace/net-zero/claims/{site.demo.claim}",
            "/workspace/cash", "/workspace/offers", "/workspace/pledges", "/workspace/orders",
            f"/market/products/{site.demo.market.products[1]}", "/auctions/new", f"/auctions/{open_auction(site)}",
            f"/auctions/{site.demo.market.auction}"]


def _bank(site: Site) -> list[str]:
    return ["/bank", "/workspace/pledges", "/workspace/cash"]


def _inventory_verifier(site: Site) -> list[str]:
    taken = filed_inventory(site, take=True)
    return ["/verifier/inventories", f"/verifier/inventories/{site.demo.inventory}", f"/verifier/inventories/{taken}",
            f"/verifier/inventories/{taken}/sign"]


ROLES: dict[str, tuple[str | None, Paths]] = {
    "public": (None, _public), "owner": ("pv_aggregator", _owner), "verifier": ("sgs", _verifier),
    "registrar": ("registrar", _registrar), "buyer": ("factory", _buyer),
    "inventory verifier": ("cqc", _inventory_verifier), "bank": ("bank", _bank)}
NOT_FOUND = {"/projects/prj_missing"}
# GET routes that are not pages to check: a redirect, downloads, JSON for the signing script, the
# third-party API reference, and pages shown once after a form (their journeys look at them).
NOT_PAGES = {"/language/{language}", "/workspace/reports/{report_id}/data", "/workspace/reports/{report_id}/data-file",
             "/verifier/reports/{report_id}/data", "/verifier/reports/{report_id}/statement-template", "/docs",
             "/redoc", "/apply/submitted", "/apply/key", "/registrar/parties/{party_id}/key",
             "/workspace/net-zero/inventories/{inventory_id}/data",
             "/verifier/inventories/{inventory_id}/statement-template"}


def _sign_in(page: Page, site: Site, who: str) -> None:
    """By the form's field names: the page may be in Chinese."""
    page.goto(f"{site.url}/sign-in")
    page.locator("#api_key").fill(site.key(who))
    page.locator("form.form button[type=submit]").click()
    expect(page.locator(".who")).to_be_visible()


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
@pytest.mark.parametrize("role", list(ROLES))
def test_every_page(browser: Browser, browser_context_args: dict[str, Any], site: Site, role: str,
                    locale: str) -> None:
    who, paths = ROLES[role]
    context = browser.new_context(**{**browser_context_args, "locale": locale, "bypass_csp": True})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda exc: console.append(str(exc)))
    if who is not None:
        _sign_in(page, site, who)
    found: dict[str, Any] = {}
    for path in paths(site):
        page.set_viewport_size({"width": 1280, "height": 900})
        response = page.goto(site.url + path)
        assert response is not None and response.status == (404 if path in NOT_FOUND else 200), path
        assert page.locator("html").get_attribute("lang") == ("zh-CN" if locale == "zh-CN" else "en")
        violations = axe_violations(page)
        if violations:
            found[path] = violations
        page.set_viewport_size(PHONE)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        if overflow > 0:
            found.setdefault(path, []).append(f"scrolls sideways by {overflow}px at 390 px")
    context.close()
    errors = [text for text in console if "404" not in text]  # the not-found page is meant to answer 404
    assert not found, pretty(found)
    assert not errors, errors


def test_every_page_route_is_checked(site: Site) -> None:
    """A new page cannot escape the checks above: every GET route of web/ is visited or named in NOT_PAGES."""
    visited = [path.split("?")[0] for _, paths in ROLES.values() for path in paths(site)]
    routes = {route.path for router in PAGE_ROUTERS for route in router.routes if "GET" in route.methods}
    unchecked = [template for template in routes - NOT_PAGES
                 if not any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path) for path in visited)]
    assert unchecked == []
