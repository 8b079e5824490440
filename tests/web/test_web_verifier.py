"""A verifier's work in a browser: the demo's SGS finds a freshly submitted report waiting, takes it,
reviews the chart, downloads the raw data, and sends it back with a note; the owner answers with
new data and resubmits, and the report returns to SGS. A note is required to send back or reject;
a verifier outside the report's scope, or not assigned to it, never sees it."""

from __future__ import annotations

import re
import secrets
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from playwright.sync_api import Browser, Page, expect

from registry.models import PartyKind, Role
from registry.parties import create_party, get_party, issue_api_key
from tests.web.conftest import Site, sign_in
from tests.web.reports import OWNER, VERIFIER, new_pv_project, pv_data, report_in_draft, sha256_hex, submitted_report
from verification.accreditation import accredit_verifier
from verification.reports import get_report, start_verification, submit_report
from verification.statements import public_key_pem


def _api(site: Site, who: str, path: str) -> Any:
    response = httpx.get(f"{site.url}/api/v1{path}", headers={"Authorization": f"Bearer {site.key(who)}"})
    response.raise_for_status()
    return response.json()


def _open_from_queue(page: Page, region_name: str, report: str) -> None:
    """Follow the queue's pages (oldest first: other tests' reports may come before) to the report."""
    region = page.get_by_role("region", name=region_name)
    link = region.get_by_role("link", name=f"Review {report}")
    while not link.count():
        region.get_by_role("link", name="Next page").click()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Review of {report}")


def test_verifier_reviews_sends_back_and_gets_the_report_again(
        page: Page, browser: Browser, browser_context_args: dict[str, Any], site: Site, tmp_path: Path) -> None:
    project, meters = new_pv_project(site)
    report = report_in_draft(site, project, meters)
    with site.db.write() as s:
        submit_report(s, get_party(s, site.demo.parties[OWNER]), get_report(s, report))

    sign_in(page, site, VERIFIER)
    expect(page).to_have_url(f"{site.url}/verifier")
    _open_from_queue(page, "Waiting for a verifier", report)
    expect(page.get_by_role("link", name="Sign and approve")).to_have_count(0)
    page.get_by_role("button", name="Take this report for verification").click()
    expect(page.locator(".lead")).to_contain_text("under verification")
    sign = page.get_by_role("link", name="Sign and approve")
    expect(sign).to_have_attribute("href", f"/verifier/reports/{report}/sign")
    expect(page.get_by_role("img", name="Energy per day, kWh")).to_be_visible()
    expect(page.get_by_role("region", name="Totals per vintage")).to_contain_text("Net, credited to the owner")

    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download the raw data")).click()
    assert download.value.suggested_filename == "test-2026q1.csv"
    stored = _api(site, VERIFIER, f"/reports/{report}")
    assert sha256_hex(download.value.path().read_bytes()) == stored["data_sha256"]

    page.get_by_role("button", name="Reject the report").click()  # without a note
    expect(page.locator("#reject_note-error")).to_contain_text("the note is required")
    page.get_by_role("button", name="Send back for changes").click()
    expect(page.locator("#changes_note-error")).to_contain_text("the note is required")
    assert _api(site, VERIFIER, f"/reports/{report}")["status"] == "under_verification"

    note = "The readings of 2 March look estimated: upload the meters' own load profile."
    page.get_by_label("What must change").fill(note)
    page.get_by_role("button", name="Send back for changes").click()
    expect(page.locator(".lead")).to_contain_text("changes requested")
    expect(page.get_by_role("region", name="Trail and comments")).to_contain_text(note)

    owner = browser.new_context(**browser_context_args).new_page()
    sign_in(owner, site, OWNER)
    owner.goto(f"{site.url}/workspace/reports/{report}")
    expect(owner.get_by_role("status").filter(has_text="The verifier asked for changes")).to_contain_text(note)
    owner.get_by_role("link", name="Replace the data").click()
    expect(owner.get_by_label("Inverter AC rating (kW)")).not_to_have_value("")  # the parameters as they were
    data, _ = pv_data(meters)
    corrected = tmp_path / "q1-corrected.csv"
    corrected.write_bytes(data.replace(b"\n", b"\r\n"))  # another file, the same readings
    owner.get_by_label("Data file").set_input_files(str(corrected))
    owner.get_by_role("button", name="Upload and quantify").click()
    expect(owner.locator(".facts").first).to_contain_text("revision 2")
    owner.get_by_role("button", name="Submit for verification").click()
    expect(owner.locator(".lead")).to_contain_text("submitted")
    owner.context.close()

    page.goto(f"{site.url}/verifier")
    _open_from_queue(page, "Assigned to me", report)
    page.get_by_role("button", name="Take this report for verification").click()
    expect(page.get_by_role("link", name="Sign and approve")).to_be_visible()
    again = _api(site, VERIFIER, f"/reports/{report}")
    assert (again["status"], again["verifier"], again["revision"]) == (
        "under_verification", site.demo.parties[VERIFIER], 2)


def _new_verifier(site: Site, regions: list[str]) -> str:
    """A verification body accredited for PV in `regions` only; its API key."""
    with site.db.write() as s:
        registrar = get_party(s, site.demo.parties["registrar"])
        party = create_party(s, registrar, f"Test verifier {secrets.token_hex(3)}", PartyKind.ORGANISATION,
                             [Role.VERIFIER], "CN-GD")
        _, key = issue_api_key(s, registrar, party, label="web test")
        accredit_verifier(s, registrar, party.public_id, public_key_pem(Ed25519PrivateKey.generate()),
                          ["CIR-PV-DG"], regions, date(2026, 1, 1), date(2027, 12, 31))
    return key


def _sign_in_with(page: Page, site: Site, key: str) -> None:
    page.goto(f"{site.url}/sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_verifiers_out_of_scope_or_not_assigned_do_not_see_the_report(page: Page, site: Site) -> None:
    report = submitted_report(site)  # a PV report in CN-JS
    _sign_in_with(page, site, _new_verifier(site, ["CN-GD"]))
    waiting = page.get_by_role("region", name="Waiting for a verifier")
    expect(waiting).not_to_contain_text(report)
    for path in (f"/verifier/reports/{report}", f"/verifier/reports/{report}/data"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 404, path
    forged = page.request.post(f"{site.url}/verifier/reports/{report}/take",
                               form={"csrf_token": next(c["value"] for c in page.context.cookies()
                                                        if c["name"] == "cir_csrf")})
    assert forged.status == 404
    page.context.clear_cookies()

    # CQC, in scope for everything in Jiangsu, takes it: from then on it is not SGS's to see.
    with site.db.write() as s:
        start_verification(s, get_party(s, site.demo.parties["cqc"]), get_report(s, report))
    sign_in(page, site, VERIFIER)
    response = page.goto(f"{site.url}/verifier/reports/{report}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_taking_needs_the_form_token_and_the_role(page: Page, site: Site) -> None:
    report = submitted_report(site)
    sign_in(page, site, VERIFIER)
    page.goto(f"{site.url}/verifier/reports/{report}")
    forged = page.request.post(f"{site.url}/verifier/reports/{report}/take", form={})
    assert forged.status == 403
    assert _api(site, VERIFIER, f"/reports/{report}")["status"] == "submitted"
    page.context.clear_cookies()
    sign_in(page, site, OWNER)
    response = page.goto(f"{site.url}/verifier")
    assert response is not None and response.status == 403
