"""Net zero in the browser: a factory registers a facility, files its activity data and sees its
figures by scope; CQC reviews the inventory and signs it in its own browser; the factory opens the
claim, retires for it until covered and is certified; anyone checks the certificate in the browser,
and a tampered bundle fails. Refusals show next to their field and change nothing."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.netzero.netzero_world import HEADER, activity_csv, last_year
from tests.web.conftest import Site, sign_in
from tests.web.netzero import FACTORY, INVENTORY_VERIFIER, certified_claim, factory_credits

OPINION = "Reasonable assurance: fuel cards and grid bills reconcile with the activity file."


def wait_for_proof(site: Site, certificate: str) -> dict[str, object]:
    """The certificate's bundle once the sequencer has put it in a signed checkpoint."""
    for _ in range(100):
        answer = httpx.get(f"{site.url}/api/v1/certificates/{certificate}/proof")
        if answer.status_code == 200:
            bundle: dict[str, object] = answer.json()
            return bundle
        time.sleep(0.1)
    raise AssertionError("the certificate never reached a signed checkpoint")


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_a_factory_is_certified_from_activity_data_through_a_verifier_signing_in_the_browser(
        page: Page, site: Site, tmp_path: Path) -> None:
    year = last_year()
    sign_in(page, site, FACTORY)
    page.get_by_role("link", name="Net zero").click()
    form = page.locator("form[action='/workspace/net-zero/facilities']")
    form.get_by_label("Name").fill("Panyu ready-mix plant")
    form.get_by_label("Province").select_option("CN-GD")
    form.get_by_label("Address").fill("Shiji Town, Panyu District, Guangzhou")
    form.get_by_label("Industry").fill("Ready-mix concrete")
    form.get_by_role("button", name="Register the facility").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Panyu ready-mix plant")

    bad = tmp_path / "bad.csv"
    bad.write_bytes(HEADER.encode() + b"X,mobile_combustion,Diesel,10,t,DIESELL,,,,,,\n")
    page.get_by_label("Activity data (CSV or XLSX)").set_input_files(bad)
    page.get_by_role("button", name="Calculate and file").click()
    expect(page.locator("#data_file-error")).to_contain_text("unknown factor_id 'DIESELL'")
    expect(page.get_by_text("No inventory yet.")).to_be_visible()

    data = tmp_path / "activity.csv"
    data.write_bytes(activity_csv())
    page.get_by_label("Activity data (CSV or XLSX)").set_input_files(data)
    page.get_by_label("From").fill(f"{year}-01-01")
    page.get_by_label("Until").fill(f"{year}-12-31")
    page.get_by_role("button", name="Calculate and file").click()
    expect(page).to_have_url(re.compile(r"/workspace/net-zero/inventories/inv_"))
    inventory = page.url.rsplit("/", 1)[1]
    scopes = page.get_by_role("region", name="Emissions by scope")
    expect(scopes.get_by_role("row", name=re.compile("Scope 1: direct"))).to_contain_text("31.452")
    expect(page.get_by_role("region", name="Every source, its factor and its emissions").first).to_contain_text(
        "10 t × 43.330 GJ/t")
    sign_out(page)

    sign_in(page, site, INVENTORY_VERIFIER)
    page.goto(f"{site.url}/verifier")
    page.get_by_role("link", name="Emission inventories").click()
    page.get_by_role("link", name=inventory).first.click()
    page.get_by_role("button", name="Take this inventory for verification").click()
    page.get_by_role("link", name="Sign and approve").click()
    page.get_by_role("textbox", name="Your opinion").fill(OPINION)
    page.get_by_label("Your private key file").set_input_files(site.demo.verifier_key_files[INVENTORY_VERIFIER])
    page.get_by_role("button", name="Review the statement").click()
    signed = page.get_by_role("region", name="What you are about to sign")
    expect(signed).to_contain_text("Panyu ready-mix plant")
    expect(signed.get_by_role("row", name=re.compile("Scope 1"))).to_contain_text("31,452")
    signed.get_by_role("button", name="Sign and approve").click()
    expect(page).to_have_url(f"{site.url}/verifier/inventories/{inventory}")
    expect(page.locator(".lead .status")).to_have_text("verified")
    sign_out(page)

    detail = httpx.get(f"{site.url}/api/v1/inventories/{inventory}",
                       headers={"Authorization": f"Bearer {site.key(FACTORY)}"}).json()
    residual = detail["verified_residual_kg"]
    account = factory_credits(site, residual, year)
    sign_in(page, site, FACTORY)
    page.goto(f"{site.url}/workspace/net-zero/facilities/{detail['facility']}")
    page.get_by_role("button", name="Open the claim").click()
    expect(page).to_have_url(re.compile(r"/workspace/net-zero/claims/clm_"))
    page.get_by_label("From account").select_option(account)
    page.get_by_label("Quantity, t CO2e").fill(f"{residual / 1000 + 1:.3f}")  # more than the account holds
    page.get_by_role("button", name="Retire for the claim").click()
    expect(page.locator("#quantity-error")).to_contain_text("holds")
    expect(page.locator("#quantity")).to_have_value(f"{residual / 1000 + 1:.3f}")
    page.get_by_label("Quantity, t CO2e").fill(f"{residual / 1000:.3f}")
    page.get_by_role("button", name="Retire for the claim").click()
    expect(page.get_by_text("0.000 t to go")).to_be_visible()
    page.get_by_role("button", name="Issue the certificate").click()
    expect(page).to_have_url(re.compile(r"/certificates/nzc_"))
    certificate = page.url.rsplit("/", 1)[1]
    expect(page.locator(".lead .status")).to_have_text("valid")
    expect(page.get_by_role("region", name="Every offset, line by line").first).to_contain_text("cross-regional")

    wait_for_proof(site, certificate)
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator("#certificate-check .check-result")).to_contain_text(
        "Verified: net-zero certificate CIR-NZ-", timeout=15_000)
    expect(page.locator("#certificate-check .check-steps")).to_contain_text("cover the")


def test_the_demo_certificate_page_pdf_and_a_tampered_bundle(page: Page, site: Site, tmp_path: Path) -> None:
    certificate = site.demo.certificate
    page.goto(f"{site.url}/")
    page.get_by_role("link", name="Certificates").click()
    page.get_by_label("Facility's region").select_option("CN-GD")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=re.compile("CIR-NZ-2025-")).first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Net-zero certificate CIR-NZ-2025-")
    facts = page.locator(".facts").first
    expect(facts).to_contain_text("1,823.890")
    offsets = page.get_by_role("region", name="Every offset, line by line").first
    expect(offsets).to_contain_text("removal")
    expect(offsets).to_contain_text("reduction")
    pdf = httpx.get(f"{site.url}/api/v1/certificates/{certificate}/pdf")
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    bundle = wait_for_proof(site, certificate)
    page.get_by_role("button", name="Verify in this browser").click()
    expect(page.locator("#certificate-check .check-result")).to_contain_text("Verified", timeout=15_000)

    key = httpx.get(f"{site.url}/api/v1/log/key").text.strip()
    tampered = json.loads(json.dumps(bundle))
    entries = tampered["entries"]
    assert isinstance(entries, list)
    entries[0]["entry"] = entries[0]["entry"].replace('"covered_kg":1823890', '"covered_kg":1823891')
    for name, content in (("good.json", bundle), ("tampered.json", tampered)):
        (tmp_path / name).write_text(json.dumps(content))
    page.goto(f"{site.url}/verify")
    page.get_by_label("Proof bundle (a JSON file)").set_input_files(tmp_path / "good.json")
    page.get_by_label("The log's public key").fill(key)
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#offline-check .check-result")).to_contain_text("Verified: net-zero certificate")
    page.get_by_label("Proof bundle (a JSON file)").set_input_files(tmp_path / "tampered.json")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.locator("#offline-check .check-result")).to_contain_text("Not verified")


def test_the_registrar_revokes_a_certificate_with_a_reason_shown_to_everyone(page: Page, site: Site) -> None:
    certificate = certified_claim(site)
    sign_in(page, site, "registrar")
    page.goto(f"{site.url}/certificates/{certificate}")
    page.get_by_role("button", name="Revoke").click()
    expect(page.locator("#reason-error")).to_contain_text("Say why")
    expect(page.locator(".lead .status")).to_have_text("valid")
    page.get_by_label("Reason").fill("The inventory left out the batching plant's boiler.")
    page.get_by_role("button", name="Revoke").click()
    sign_out(page)
    page.goto(f"{site.url}/certificates/{certificate}")
    expect(page.locator(".lead .status")).to_have_text("revoked")
    expect(page.locator(".notice")).to_contain_text("left out the batching plant's boiler")
    record = httpx.get(f"{site.url}/api/v1/certificates/{certificate}").json()
    assert record["status"] == "revoked" and "boiler" in record["status_reason"]
