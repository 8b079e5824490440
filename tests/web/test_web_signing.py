"""A verifier signs its statement in its own browser: the key file is read and used in the page and
never sent; the registry receives the statement and its signature, and approves the report with the
same service as the JSON API. A wrong key, an empty opinion, a missing CSRF header and another
verifier are refused, and nothing changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, expect

from registry.parties import get_party
from tests.web.conftest import Site, axe_violations, sign_in
from tests.web.reports import VERIFIER, report_under_verification, submitted_report
from verification.reports import get_report, request_changes
from verification.statements import load_private_key, sign_statement

OPINION = "Reasonable assurance: meters calibrated, data complete and consistent with the site visit."


def report_status(site: Site, report: str) -> str:
    answer = httpx.get(f"{site.url}/api/v1/reports/{report}", headers={"Authorization": f"Bearer {site.key(VERIFIER)}"})
    status: str = answer.json()["status"]
    return status


@contextmanager
def signed_in_client(site: Site, who: str) -> Iterator[httpx.Client]:
    """A client with `who`'s session cookie and a CSRF cookie (its value is the token)."""
    with httpx.Client(base_url=site.url) as client:
        client.get("/sign-in")
        answer = client.post("/sign-in", data={"csrf_token": client.cookies["cir_csrf"], "api_key": site.key(who)})
        assert answer.status_code == 303
        yield client


def key_file(site: Site, who: str = VERIFIER) -> Path:
    return Path(site.demo.verifier_key_files[who])


def open_sign_page(page: Page, site: Site, report: str) -> None:
    sign_in(page, site, VERIFIER)
    page.goto(f"{site.url}/verifier/reports/{report}/sign")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Sign and approve {report}")


def review(page: Page, opinion: str, key: Path) -> None:
    page.get_by_role("textbox", name="Your opinion").fill(opinion)
    page.get_by_label("Your private key file").set_input_files(key)
    page.get_by_role("button", name="Review the statement").click()


def test_the_verifier_signs_in_the_browser_and_credits_are_issued(page: Page, site: Site) -> None:
    report = report_under_verification(site)
    requests: list[Request] = []
    page.on("request", lambda request: requests.append(request))
    open_sign_page(page, site, report)
    detail = httpx.get(f"{site.url}/api/v1/reports/{report}",
                       headers={"Authorization": f"Bearer {site.key(VERIFIER)}"}).json()
    review(page, OPINION, key_file(site))

    signed = page.get_by_role("region", name="What you are about to sign")
    expect(signed).to_be_visible()
    expect(signed).to_contain_text(f"{detail['project_name']} ({detail['project']}, CN-JS)")
    expect(signed).to_contain_text(detail["data_sha256"])
    expect(signed).to_contain_text("MEE-NBS-2023-EAST")
    expect(signed).to_contain_text("SGS-CSTC Standards Technical Services (key ")
    expect(signed.get_by_role("row", name=re.compile("^2026"))).to_contain_text(f"{detail['net_reduction_kg']:,}")
    expect(signed.locator("blockquote")).to_have_text(OPINION)
    signed.get_by_role("button", name="Sign and approve").click()

    expect(page).to_have_url(f"{site.url}/verifier/reports/{report}")
    assert report_status(site, report) == "issued"
    issuances = httpx.get(f"{site.url}/api/v1/issuances", params={"project": detail["project"]}).json()["items"]
    assert sum(i["quantity_kg"] for i in issuances if not i["to_buffer_pool"]) == detail["net_reduction_kg"]
    statement = httpx.get(f"{site.url}/api/v1/issuances/{issuances[0]['id']}/statement").json()["statement"]
    assert statement["opinion"] == OPINION and statement["report"] == report

    posts = [r for r in requests if r.method == "POST" and r.url.endswith(f"/verifier/reports/{report}/approval")]
    assert len(posts) == 1
    pem = key_file(site).read_text()
    body = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    for request in requests:
        carried = request.url + (request.post_data or "") + str(request.headers)
        assert pem.strip() not in carried and body not in carried and body[:24] not in carried


def test_a_wrong_key_file_is_refused_and_nothing_is_posted(page: Page, site: Site, tmp_path: Path) -> None:
    report = report_under_verification(site)
    posts: list[Request] = []
    page.on("request", lambda request: posts.append(request) if request.method == "POST" else None)
    open_sign_page(page, site, report)
    posts.clear()  # the sign-in form's

    review(page, OPINION, key_file(site, "cqc"))  # another verifier's key: a real Ed25519 key, not ours
    expect(page.locator("#key_file-error")).to_have_text("This key is not the key of your accreditation.")
    expect(page.get_by_role("alert").first).to_contain_text("This key is not the key of your accreditation.")
    expect(page.get_by_role("region", name="What you are about to sign")).to_be_hidden()

    not_a_key = tmp_path / "notes.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    review(page, OPINION, not_a_key)
    expect(page.locator("#key_file-error")).to_have_text(
        "That file does not hold an Ed25519 private key (PEM, PKCS#8, not encrypted).")
    expect(page.get_by_label("Your private key file")).to_have_attribute("aria-invalid", "true")

    assert posts == []
    assert report_status(site, report) == "under_verification"


def test_an_empty_opinion_is_refused(page: Page, site: Site) -> None:
    report = report_under_verification(site)
    open_sign_page(page, site, report)
    page.get_by_role("button", name="Review the statement").click()
    summary = page.get_by_role("alert").first
    expect(summary).to_contain_text("Write your opinion: a statement without one is not a verification.")
    expect(summary).to_contain_text("Choose your private key file.")
    review(page, "   \n ", key_file(site))
    expect(page.locator("#opinion-error")).to_have_text(
        "Write your opinion: a statement without one is not a verification.")
    expect(page.locator("#key_file-error")).to_be_hidden()
    expect(page.get_by_role("region", name="What you are about to sign")).to_be_hidden()
    assert report_status(site, report) == "under_verification"

    # The registry refuses it too, whatever a script sends.
    with signed_in_client(site, VERIFIER) as client:
        statement = client.get(f"/verifier/reports/{report}/statement-template").json()
        statement["opinion"] = " "
        answer = client.post(f"/verifier/reports/{report}/approval",
                             headers={"X-CSRF-Token": client.cookies["cir_csrf"]},
                             json={"statement": statement, "signature": signature(site, statement)})
    assert answer.status_code == 422
    assert "opinion" in answer.json()["detail"]
    assert report_status(site, report) == "under_verification"


def test_a_refusal_by_the_registry_is_shown_next_to_the_button(page: Page, site: Site) -> None:
    report = report_under_verification(site)
    open_sign_page(page, site, report)
    review(page, OPINION, key_file(site))
    expect(page.get_by_role("heading", name="What you are about to sign")).to_be_visible()
    with site.db.write() as s:  # meanwhile, the verifier sends the report back from another window
        request_changes(s, get_party(s, site.demo.parties[VERIFIER]), get_report(s, report), note="Meter 2 is missing")
    page.get_by_role("button", name="Sign and approve").click()
    expect(page.locator("#sign-error")).to_have_text(re.compile(r"^Not possible now: report .* is changes_requested"))
    expect(page).to_have_url(f"{site.url}/verifier/reports/{report}/sign")
    assert report_status(site, report) == "changes_requested"


def signature(site: Site, statement: dict[str, Any], who: str = VERIFIER) -> str:
    return sign_statement(statement, load_private_key(key_file(site, who).read_bytes()))


def test_an_approval_without_the_csrf_header_is_refused(site: Site) -> None:
    report = report_under_verification(site)
    with signed_in_client(site, VERIFIER) as client:
        statement = client.get(f"/verifier/reports/{report}/statement-template").json()
        statement["opinion"] = OPINION
        body = {"statement": statement, "signature": signature(site, statement)}
        refused = client.post(f"/verifier/reports/{report}/approval", json=body)
        assert refused.status_code == 403
        assert set(refused.json()) == {"title", "detail"}
        assert report_status(site, report) == "under_verification"
        forged = client.post(f"/verifier/reports/{report}/approval", json=body, headers={"X-CSRF-Token": "forged"})
        assert forged.status_code == 403
        assert report_status(site, report) == "under_verification"
        accepted = client.post(f"/verifier/reports/{report}/approval", json=body,
                               headers={"X-CSRF-Token": client.cookies["cir_csrf"]})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["report"]["status"] == "issued" and accepted.json()["issuances"]


def test_another_verifier_can_neither_fetch_the_template_nor_approve(site: Site) -> None:
    report = report_under_verification(site)  # taken by SGS
    with signed_in_client(site, VERIFIER) as owner_of_it:
        statement = owner_of_it.get(f"/verifier/reports/{report}/statement-template").json()
    statement["opinion"] = OPINION
    with signed_in_client(site, "cqc") as other:
        template = other.get(f"/verifier/reports/{report}/statement-template")
        assert template.status_code == 403 and "another verifier" in template.json()["detail"]
        for key_of in (VERIFIER, "cqc"):
            answer = other.post(f"/verifier/reports/{report}/approval",
                                headers={"X-CSRF-Token": other.cookies["cir_csrf"]},
                                json={"statement": statement, "signature": signature(site, statement, key_of)})
            assert answer.status_code == 403, answer.text
        page = other.get(f"/verifier/reports/{report}/sign", headers={"Accept": "text/html"})
        assert page.status_code == 404
    with signed_in_client(site, "pv_aggregator") as owner:  # the report's owner: not a verifier
        assert owner.get(f"/verifier/reports/{report}/statement-template").status_code == 403
    with httpx.Client(base_url=site.url) as public:
        answer = public.get(f"/verifier/reports/{report}/statement-template")
        assert answer.status_code == 401 and set(answer.json()) == {"title", "detail"}
    assert report_status(site, report) == "under_verification"


def test_a_report_not_under_verification_by_me_has_nothing_to_sign(page: Page, site: Site) -> None:
    report = submitted_report(site)  # waiting for a verifier: readable, not yet taken
    sign_in(page, site, VERIFIER)
    page.goto(f"{site.url}/verifier/reports/{report}/sign")
    expect(page.get_by_role("heading", name="Nothing to sign")).to_be_visible()
    expect(page.get_by_role("button", name="Review the statement")).to_have_count(0)
    page.get_by_role("link", name=f"Back to the review of {report}").click()
    expect(page).to_have_url(f"{site.url}/verifier/reports/{report}")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_review_is_accessible(browser: Browser, browser_context_args: dict[str, Any], site: Site,
                                  width: int) -> None:
    context = browser.new_context(**{**browser_context_args, "bypass_csp": True,  # to inject axe
                                     "viewport": {"width": width, "height": 900}})
    page = context.new_page()
    report = report_under_verification(site)
    open_sign_page(page, site, report)
    page.get_by_role("button", name="Review the statement").click()
    expect(page.locator("#sign-errors")).to_be_visible()
    assert axe_violations(page) == []
    review(page, OPINION, key_file(site))
    expect(page.get_by_role("heading", name="What you are about to sign")).to_be_visible()
    assert axe_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
