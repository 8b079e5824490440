"""A household applies for an account in a browser, the registrar decides, and the household collects
its key once and is signed in; in Chinese and in English, with the refusals a person meets."""

from __future__ import annotations

import re
import secrets

import httpx
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import func, select
from sqlmodel import col

from registry.models import ApplicationStatus, PartyApplication
from registry.parties import authenticate
from tests.web.conftest import PHONE, Site, axe_violations, sign_in


def applications_named(site: Site, name: str) -> list[PartyApplication]:
    with site.db.read() as s:
        return list(s.execute(select(PartyApplication).where(col(PartyApplication.name) == name)).scalars())


def fill_application(page: Page, name: str, region: str = "CN-JS", consent: bool = True) -> None:
    """The form by its fields' ids: the same whatever the page's language."""
    page.locator("#kind").check()  # a household
    page.locator("#name").fill(name)
    page.locator("#region").fill(region)
    page.locator("#address").fill("苏州工业园区星湖街 88 号 3 幢 502 室")
    page.locator("#phone").fill("138 1234 5678")
    page.locator("#role").check()  # register my reductions
    page.locator("#description").fill("8 kWp rooftop PV, grid-connected 2024")
    if consent:
        page.locator("#consent").check()


def send(page: Page, form_action: str) -> None:
    page.locator(f"form[action='{form_action}'] button[type=submit]").click()


def registrar_decides(browser: Browser, site: Site, name: str, reason: str | None = None) -> None:
    """The registrar finds the application among those waiting and approves it (or rejects it)."""
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    sign_in(page, site, "registrar")
    page.get_by_role("link", name=re.compile("Applications waiting")).click()
    waiting = page.get_by_role("region", name="Waiting for a decision")
    waiting.get_by_role("link", name=name).click()
    expect(page.locator(".facts")).to_contain_text("138 1234 5678")  # the registrar sees the contact details
    if reason is None:
        page.get_by_role("button", name="Approve").click()
        expect(page.locator(".lead")).to_contain_text("approved")
    else:
        page.get_by_role("button", name="Reject").click()  # without a reason first
        expect(page.locator("#reason-error")).to_contain_text("say why")
        expect(page.locator(".lead")).to_contain_text("submitted")
        page.get_by_label("Reason for rejecting").fill(reason)
        page.get_by_role("button", name="Reject").click()
        expect(page.locator(".lead")).to_contain_text("rejected")
    context.close()


def test_a_household_applies_in_chinese_and_claims_its_key_once(browser: Browser, site: Site) -> None:
    name = f"王{secrets.token_hex(2)}"
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/sign-in")
    page.locator("a[href='/apply']").first.click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    fill_application(page, name)
    send(page, "/apply")
    expect(page).to_have_url(re.compile("/apply/submitted$"))
    reference = page.locator("#reference").inner_text()
    claim_code = page.locator("#claim-code").inner_text()
    assert reference.startswith("app_") and re.fullmatch(r"([A-Z2-9]{4}-){6}[A-Z2-9]{4}", claim_code)
    page.reload()  # the code is shown once
    expect(page.locator("#claim-code")).to_have_count(0)
    [stored] = applications_named(site, name)
    assert stored.status == ApplicationStatus.SUBMITTED and claim_code not in str(stored.claim_code_hash)

    page.goto(f"{site.url}/apply/status?reference={reference}")
    page.locator("#claim_code").fill(claim_code.lower())
    send(page, "/apply/status")
    expect(page.locator(".status")).to_have_class(re.compile("status-submitted"))
    expect(page.locator("form[action='/apply/claim']")).to_have_count(0)

    registrar_decides(browser, site, name)

    page.goto(f"{site.url}/apply/status?reference={reference}")
    page.locator("#claim_code").fill(claim_code)
    send(page, "/apply/status")
    expect(page.locator(".facts")).to_contain_text(name[0] + "*")  # the applicant's own page masks the name too
    send(page, "/apply/claim")
    expect(page).to_have_url(re.compile("/apply/key$"))
    api_key = page.locator("#api-key").inner_text()
    with site.db.read() as s:
        party = authenticate(s, api_key)
        assert party is not None and party.name == name and party.role_set == {"project_owner"}
    expect(page.locator(".who")).to_have_text(name)  # signed in
    page.locator("a[href='/workspace']").last.click()
    account = page.locator("section.card")
    expect(account).to_have_count(1)
    expect(account.locator("h2")).to_contain_text("Main")
    expect(account.locator(".tile-value").first).to_have_text("0.000")
    page.goto(f"{site.url}/apply/key")
    expect(page.locator("#api-key")).to_have_count(0)

    # A second claim is refused and changes nothing.
    other = browser.new_context(locale="zh-CN").new_page()
    other.goto(f"{site.url}/apply/status?reference={reference}")
    other.locator("#claim_code").fill(claim_code)
    send(other, "/apply/status")
    expect(other.locator("form[action='/apply/claim']")).to_have_count(0)
    with httpx.Client(base_url=site.url) as client:
        client.get("/apply/status")
        again = client.post("/apply/claim", data={"csrf_token": client.cookies["cir_csrf"], "reference": reference,
                                                  "claim_code": claim_code})
        assert again.status_code == 409 and "already claimed" in again.text and "cir_" not in again.text
    other.context.close()
    context.close()


def test_a_household_applies_in_english_is_told_what_to_fix_and_is_rejected_with_a_reason(
        browser: Browser, page: Page, site: Site) -> None:
    name = f"Li {secrets.token_hex(2)}"
    page.goto(f"{site.url}/apply")
    fill_application(page, name, region="Jiangsu", consent=False)
    page.get_by_label("E-mail address").fill("li.example.com")
    page.get_by_role("button", name="Send the application").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    expect(page.locator("#region-error")).to_contain_text("'Jiangsu' is not an ISO 3166-2 subdivision code")
    expect(page.locator("#email-error")).to_contain_text("Enter an e-mail address like name@example.com")
    expect(page.locator("#consent-error")).to_contain_text("Agree to the processing of your personal data")
    expect(page.get_by_label("Full name")).to_have_value(name)  # what was typed is kept
    expect(summary.get_by_role("link", name=re.compile("Jiangsu"))).to_have_attribute("href", "#region")
    assert applications_named(site, name) == []

    page.get_by_label("Region").fill("CN-JS")
    page.get_by_label("E-mail address").fill("li@example.com")
    page.get_by_label("I agree to the processing of my personal data for this purpose").check()
    page.get_by_role("button", name="Send the application").click()
    reference = page.locator("#reference").inner_text()
    claim_code = page.locator("#claim-code").inner_text()

    page.get_by_role("link", name="See the decision").click()
    page.get_by_label("Claim code").fill("AAAA-AAAA-AAAA-AAAA-AAAA-AAAA-AAAA")
    page.get_by_role("button", name="Show my application").click()
    expect(page.locator("#claim_code-error")).to_contain_text("that is not the claim code")
    page.get_by_label("Reference").fill("app_nosuchthing")
    page.get_by_label("Claim code").fill(claim_code)
    page.get_by_role("button", name="Show my application").click()
    expect(page.locator("#reference-error")).to_contain_text("no application app_nosuchthing")

    registrar_decides(browser, site, name, reason="Your roof is already in the SIP aggregator's project.")

    page.get_by_label("Reference").fill(reference)
    page.get_by_label("Claim code").fill(claim_code)
    page.get_by_role("button", name="Show my application").click()
    expect(page.locator(".status")).to_have_text("rejected")
    expect(page.get_by_role("region", name="Why the registrar rejected it")).to_contain_text(
        "already in the SIP aggregator's project")
    expect(page.get_by_role("button", name=re.compile("Collect"))).to_have_count(0)
    with site.db.read() as s:
        assert s.execute(select(func.count()).select_from(PartyApplication).where(
            col(PartyApplication.name) == name, col(PartyApplication.party_id).is_not(None))).scalar_one() == 0


def test_approving_without_the_form_token_changes_nothing(site: Site) -> None:
    with httpx.Client(base_url=site.url, follow_redirects=True, headers={"Accept-Language": "en"}) as client:
        client.get("/apply")
        token = client.cookies["cir_csrf"]
        applied = client.post("/apply", data={
            "csrf_token": token, "kind": "individual", "name": "Zhou Forged", "region": "CN-JS",
            "address": "1 Test Road", "email": "zhou@example.com", "role": "buyer", "description": "A test",
            "consent": "yes"})
        assert applied.status_code == 200  # followed to the confirmation
        reference = re.search(r'id="reference">(app_\w+)<', applied.text).group(1)  # type: ignore[union-attr]
        client.post("/sign-in", data={"csrf_token": token, "api_key": site.key("registrar")})
        for data in ({}, {"csrf_token": "forged"}):
            refused = client.post(f"/registrar/applications/{reference}/approval", data=data)
            assert refused.status_code == 403 and "The form has expired" in refused.text
    with site.db.read() as s:
        stored = s.execute(select(PartyApplication).where(col(PartyApplication.public_id) == reference)).scalar_one()
        assert stored.status == ApplicationStatus.SUBMITTED and stored.party_id is None


def test_the_forms_with_their_errors_fit_a_phone_and_pass_axe(browser: Browser, site: Site) -> None:
    context = browser.new_context(locale="en-GB", viewport=ViewportSize(width=PHONE["width"], height=PHONE["height"]),
                                  bypass_csp=True)  # axe is injected inline
    page = context.new_page()
    found = {}
    for path, form in (("/apply", "/apply"), ("/apply/status", "/apply/status")):
        page.goto(site.url + path)
        send(page, form)  # empty: every error showing
        expect(page.get_by_role("alert")).to_be_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        found[path] = (overflow, axe_violations(page))
    context.close()
    assert found == {"/apply": (0, []), "/apply/status": (0, [])}
