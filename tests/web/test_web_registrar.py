"""The registrar's pages in a browser: what waits and the figures, parties (register, key, suspend,
reactivate), accreditations, projects waiting for a decision, freezes; and who may not use them.
Every test makes its own parties, projects and issuances on the shared demo registry."""

from __future__ import annotations

import re
import secrets
from datetime import date

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, FilePayload, Page, expect

from methodologies.plugin import AssetKind
from registry import credits
from registry.applications import ApplicationDetails, submit_application
from registry.models import PartyKind, ProjectStatus, Role
from registry.parties import create_party, get_party, issue_api_key
from registry.projects import ProjectDetails
from tests.web.conftest import Site, sign_in
from tests.web.reports import OWNER, new_pv_project
from verification.assets import AssetSpec
from verification.projects import change_project_status, register_project
from verification.statements import public_key_pem


def new_party(site: Site, roles: list[Role], name: str | None = None) -> tuple[str, str, str]:
    """A fresh active party with an API key: (id, name, key)."""
    name = name or f"Test party {secrets.token_hex(3)}"
    with site.db.write() as s:
        registrar = get_party(s, site.demo.parties["registrar"])
        party = create_party(s, registrar, name, PartyKind.ORGANISATION, roles, "CN-JS")
        return party.public_id, name, issue_api_key(s, registrar, party, label="web test")[1]


def draft_project(site: Site, submitted: bool = False) -> tuple[str, str]:
    """A project of the demo's PV aggregator, a draft or submitted and waiting for validation: (id, name)."""
    name = f"Waiting rooftop {secrets.token_hex(3)}"
    with site.db.write() as s:
        owner = get_party(s, site.demo.parties[OWNER])
        project = register_project(s, owner, ProjectDetails(
            name, "CIR-PV-DG", "1.0", "CN-JS", "Suzhou Industrial Park", 31.3, 120.7, 8.0, "kWp",
            date(2026, 1, 1), date(2035, 12, 31)),
            [AssetSpec(AssetKind.METER, f"SIP-WAIT-{secrets.token_hex(4)}")])
        if submitted:
            change_project_status(s, owner, project, ProjectStatus.SUBMITTED)
        return project.public_id, name


def submitted_project(site: Site) -> tuple[str, str]:
    return draft_project(site, submitted=True)


def fresh_issuance(site: Site, quantity_kg: int = 5_000) -> str:
    project, _ = new_pv_project(site)
    with site.db.write() as s:
        registrar = get_party(s, site.demo.parties["registrar"])
        issuance, _ = credits.issue_credits(s, registrar, project, 2026, quantity_kg, site.demo.accounts[OWNER])
        return issuance.public_id


def public_blocks(site: Site, issuance: str) -> list[tuple[int, int, str]]:
    items = httpx.get(f"{site.url}/api/v1/blocks", params={"issuance": issuance}).json()["items"]
    return sorted((b["first_unit"], b["last_unit"], b["status"]) for b in items)


def can_sign_in(browser: Browser, site: Site, key: str) -> str:
    """What a person sees after signing in with `key`: their name, or the refusal."""
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    seen = page.locator(".who, #api_key-error").first.inner_text()
    context.close()
    return seen


def test_only_the_registrar_uses_its_pages(page: Page, site: Site) -> None:
    response = page.goto(f"{site.url}/registrar/parties")
    assert response is not None and page.url.endswith("/sign-in?next=/registrar/parties")
    sign_in(page, site, "factory")
    for path in ("/registrar", "/registrar/parties", "/registrar/applications", "/registrar/freezes"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("Not allowed")
    expect(page.get_by_role("link", name="Registrar")).to_have_count(0)
    with httpx.Client(base_url=site.url) as client:  # a form posted by a non-registrar changes nothing
        client.get("/sign-in")
        client.post("/sign-in", data={"csrf_token": client.cookies["cir_csrf"], "api_key": site.key("factory")})
        target = site.demo.parties["pv_aggregator"]
        refused = client.post(f"/registrar/parties/{target}/status", data={
            "csrf_token": client.cookies["cir_csrf"], "action": "suspend", "reason": "no"})
        assert refused.status_code == 403
    assert httpx.get(f"{site.url}/api/v1/parties/{target}").status_code == 200


def test_the_dashboard_shows_what_waits_and_the_figures(page: Page, site: Site) -> None:
    with site.db.write() as s:
        submit_application(s, ApplicationDetails("Dashboard Household", "individual", "CN-JS", "1 Test Road", None,
                                                 "dash@example.com", "buyer", "A test", True))
    stats = httpx.get(f"{site.url}/api/v1/stats").json()
    sign_in(page, site, "registrar")
    expect(page).to_have_url(re.compile("/registrar$"))
    waiting = page.get_by_role("region", name="Waiting for you")
    applications = waiting.get_by_role("link", name=re.compile("Applications waiting"))
    assert int(applications.locator(".tile-value").inner_text()) >= 1
    figures = page.get_by_role("region", name="The registry in figures")
    expect(figures).to_contain_text(f"{stats['totals']['issued_kg'] / 1000:,.3f}")
    expect(page.get_by_role("img", name=re.compile("Issued and retired by vintage"))).to_be_visible()
    cross = page.get_by_role("region", name="Cross-regional retirements")
    expect(cross).to_contain_text(f"{stats['cross_regional_retirements']} of {stats['retirements']} retirements")
    expect(cross.get_by_role("row", name=re.compile("Zhejiang"))).to_be_visible()  # the wetland's credits
    by_vintage = page.get_by_role("region", name="By vintage", exact=True)
    for row in stats["by_vintage"]:
        expect(by_vintage.get_by_role("row", name=re.compile(f"^{row['key']}"))).to_contain_text(
            f"{row['issued_kg'] / 1000:,.3f}")
    expect(page.get_by_role("region", name="By region of origin").get_by_role("row", name=re.compile("CN-ZJ"))
           ).to_be_visible()
    applications.click()
    expect(page.get_by_role("region", name="Waiting for a decision")).to_contain_text("Dashboard Household")


def test_the_registrar_suspends_and_reactivates_a_party(browser: Browser, page: Page, site: Site) -> None:
    party, name, key = new_party(site, [Role.BUYER])
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/registrar/parties")
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Search").click()
    page.locator("#results").get_by_role("link", name=name).click()
    page.get_by_role("button", name="Suspend the party").click()  # without a reason
    expect(page.locator("#reason-error")).to_contain_text("say why")
    expect(page.locator(".facts")).to_contain_text("active")
    page.get_by_label("Reason").fill("Unpaid registry fees for 2026")
    page.get_by_role("button", name="Suspend the party").click()
    expect(page.locator(".facts")).to_contain_text("suspended")
    expect(page.locator(".facts")).to_contain_text("Unpaid registry fees for 2026")
    assert can_sign_in(browser, site, key) == "Your party is suspended by the registrar."
    me = httpx.get(f"{site.url}/api/v1/parties/me", headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 403 and "Unpaid registry fees" in me.json()["detail"]

    page.get_by_label("Reason").fill("Fees paid")
    page.get_by_role("button", name="Reactivate the party").click()
    expect(page.locator(".facts")).to_contain_text("active")
    assert can_sign_in(browser, site, key) == name
    page.goto(f"{site.url}/registrar/parties?status=suspended&q={party}")
    expect(page.get_by_text("No party matches.")).to_be_visible()


def test_the_registrar_registers_a_party_and_hands_it_a_key_once(browser: Browser, page: Page, site: Site) -> None:
    name = f"Suzhou Offset Buyers {secrets.token_hex(2)}"
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/registrar/parties")
    page.get_by_role("link", name="Register a party").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("buyer").check()
    page.get_by_label("Region").fill("Jiangsu")
    page.get_by_role("button", name="Register the party").click()
    expect(page.locator("#region-error")).to_contain_text("'Jiangsu' is not an ISO 3166-2 subdivision code")
    expect(page.get_by_label("Name")).to_have_value(name)
    expect(page.get_by_label("buyer")).to_be_checked()
    assert httpx.get(f"{site.url}/api/v1/parties", params={"q": name},
                     headers={"Authorization": f"Bearer {site.key('registrar')}"}).json()["items"] == []

    page.get_by_label("Region").fill("CN-JS")
    page.get_by_role("button", name="Register the party").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    expect(page.locator(".tag")).to_have_text(["buyer"])
    page.get_by_label("Label").fill("accounting office PC")
    page.get_by_role("button", name="Create an API key").click()
    expect(page.get_by_role("alert")).to_contain_text("Shown once")
    key = page.locator("#api-key").inner_text()
    assert can_sign_in(browser, site, key) == name
    page.reload()
    expect(page.locator("#api-key")).to_have_count(0)


def test_the_registrar_accredits_a_verifier_and_changes_its_status(page: Page, site: Site) -> None:
    party, name, _ = new_party(site, [Role.VERIFIER], f"Suzhou Verification Co. {secrets.token_hex(2)}")
    pem = public_key_pem(Ed25519PrivateKey.generate())
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/registrar/accreditations")
    page.get_by_role("link", name="Accredit a verifier").click()
    page.get_by_label("Verification body").select_option(party)
    page.get_by_label("Its public key (PEM)").fill(pem)
    page.get_by_label(re.compile(r"\(CIR-PV-DG\)")).check()
    page.get_by_label("Regions").fill("CN-JS, Jiangsu")
    page.get_by_role("button", name="Accredit").click()
    expect(page.locator("#regions-error")).to_contain_text("'Jiangsu' is not an ISO 3166-2 subdivision code")
    expect(page.get_by_label(re.compile(r"\(CIR-PV-DG\)"))).to_be_checked()
    page.get_by_label("Regions").fill("CN-JS, CN-ZJ")
    page.get_by_role("button", name="Accredit").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Accreditation vac_")
    expect(page.locator(".plain-list")).to_contain_text("Zhejiang")

    page.goto(f"{site.url}/verifiers")
    card = page.get_by_role("article").filter(has_text=name)
    expect(card).to_contain_text("CIR-PV-DG")
    expect(card).to_contain_text("Jiangsu")
    expect(card).to_contain_text("Zhejiang")
    expect(card.locator(".status")).to_have_text("active")

    page.go_back()
    expect(page.get_by_role("button")).to_contain_text(["Suspend", "Revoke for good"])
    page.get_by_role("button", name="Suspend").click()  # without a reason
    expect(page.locator("#reason-error")).to_contain_text("say why")
    page.get_by_label("Reason").fill("Audit of its 2026 work")
    page.get_by_role("button", name="Suspend").click()
    expect(page.locator(".lead .status")).to_have_text("suspended")
    page.get_by_label("Reason").fill("Withdrew from the market")
    page.get_by_role("button", name="Revoke for good").click()
    expect(page.locator(".lead .status")).to_have_text("revoked")
    expect(page.get_by_role("button", name=re.compile("Reinstate|Suspend|Revoke"))).to_have_count(0)


def test_the_registrar_validates_and_registers_a_waiting_project(page: Page, site: Site) -> None:
    project, name = submitted_project(site)
    sign_in(page, site, "registrar")
    page.get_by_role("link", name=re.compile("Projects waiting for a decision")).click()
    page.get_by_role("link", name=name).click()
    decide = page.get_by_role("region", name="Move it on")
    expect(decide.get_by_role("button")).to_have_text(["Move to: under validation"])
    decide.get_by_label("Note").fill("Taken for validation by the registry")
    decide.get_by_role("button", name="Move to: under validation").click()
    expect(page.locator(".lead .status")).to_have_text("under validation")
    expect(decide.get_by_role("button")).to_have_text(["Move to: changes requested", "Move to: registered",
                                                       "Move to: rejected"])
    decide.get_by_role("button", name="Move to: registered").click()  # no validation report yet
    expect(page.get_by_role("alert")).to_contain_text("no validation report")

    filing = page.get_by_role("region", name="File your validation report")
    filing.get_by_label("Title").fill("Validation report, registry desk")
    filing.get_by_label("The report's file").set_input_files(
        files=FilePayload(name="validation.md", mimeType="text/markdown", buffer=b"# Validated on site\n"))
    filing.get_by_role("button", name="File the report").click()
    expect(page.get_by_role("region", name="Documents")).to_contain_text("Validation report, registry desk")
    decide.get_by_role("button", name="Move to: registered").click()
    expect(page.locator(".lead .status")).to_have_text("registered")
    expect(decide.get_by_role("button")).to_have_text(["Move to: completed", "Move to: suspended"])
    expect(page.get_by_role("region", name="Trail, with notes")).to_contain_text("Taken for validation by the registry")
    assert httpx.get(f"{site.url}/api/v1/projects/{project}").json()["status"] == "registered"


def test_the_registrar_freezes_and_releases_a_range(page: Page, site: Site) -> None:
    issuance = fresh_issuance(site)
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/registrar/freezes")
    page.get_by_label("Or issuance id").fill(issuance)
    page.get_by_role("button", name="Find the blocks").click()
    blocks = page.get_by_role("region", name="Blocks")
    expect(blocks.locator("tbody tr")).to_have_count(1)
    expect(blocks).to_contain_text("SIP Rooftop Solar Aggregator")
    blocks.get_by_role("link", name=re.compile("Freeze units")).click()
    page.get_by_label("First unit").fill("1001")
    page.get_by_label("Last unit").fill("2000")
    page.get_by_role("button", name="Freeze these units").click()  # without a reason
    expect(page.locator("#reason-error")).to_contain_text("states its reason")
    page.get_by_label("Last unit").fill("9000")
    page.get_by_label("Reason").fill("Court order 2026-118")
    page.get_by_role("button", name="Freeze these units").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert public_blocks(site, issuance) == [(1, 5000, "active")]  # refused: nothing changed
    page.get_by_label("Last unit").fill("2000")
    page.get_by_role("button", name="Freeze these units").click()
    expect(page.get_by_role("status")).to_contain_text("frozen")
    assert public_blocks(site, issuance) == [(1, 1000, "active"), (1001, 2000, "frozen"), (2001, 5000, "active")]
    page.goto(f"{site.url}/issuances/{issuance}")
    expect(page.locator(".status-frozen")).to_have_count(1)

    page.goto(f"{site.url}/registrar/freezes?issuance={issuance}")
    page.get_by_role("link", name=re.compile("Unfreeze units")).click()
    page.get_by_label("Reason").fill("Order lifted")
    page.get_by_role("button", name="Unfreeze these units").click()
    expect(page.get_by_role("status")).to_contain_text("released")
    assert [status for _, _, status in public_blocks(site, issuance)] == ["active"] * 3
    page.goto(f"{site.url}/issuances/{issuance}")
    expect(page.locator(".status-frozen")).to_have_count(0)
