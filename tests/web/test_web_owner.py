"""A project owner's work in a browser: the demo's PV aggregator registers a project through the
guided form, files it for validation (the demo's SGS verifier validates it on its own pages),
uploads a quarter of 15-minute data with the parameters the methodology's form asks for, reads the
chart and the totals (the API's figures), and submits the report. Each refusal is shown next to
the field it is about and changes nothing."""

from __future__ import annotations

import re
import secrets
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import Site, sign_in
from tests.web.reports import OWNER, VERIFIER, new_pv_project, pv_data, report_in_draft


def _api(site: Site, who: str, path: str) -> Any:
    response = httpx.get(f"{site.url}/api/v1{path}", headers={"Authorization": f"Bearer {site.key(who)}"})
    response.raise_for_status()
    return response.json()


def _register(page: Page, site: Site, name: str, meters: list[str]) -> str:
    page.goto(f"{site.url}/workspace/projects")
    page.get_by_role("link", name="Register a new project").click()
    page.get_by_role("link", name="Register a project under CIR-PV-DG").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Register a project")
    page.get_by_label("Project name").fill(name)
    page.get_by_label("Location").fill("Suzhou Industrial Park, Jiangsu")
    page.get_by_label("Province").select_option("CN-JS")
    page.get_by_label("Latitude").fill("31.32")
    page.get_by_label("Longitude").fill("120.72")
    page.get_by_label("Capacity, kWp").fill("60")
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("Until").fill("2035-12-31")
    page.get_by_label("Meters").fill("\n".join(meters))
    page.get_by_role("button", name="Save the project as a draft").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    return page.url.rsplit("/", 1)[-1]


def _validate_as_verifier(browser: Browser, browser_context_args: dict[str, Any], site: Site, project: str,
                          name: str, report_file: Path) -> None:
    context = browser.new_context(**browser_context_args)
    page = context.new_page()
    sign_in(page, site, VERIFIER)
    page.goto(f"{site.url}/verifier/projects")
    while not page.get_by_role("link", name=name).count():  # oldest first: other tests' projects may come first
        page.get_by_role("link", name="Next page").click()
    page.get_by_role("link", name=name).click()
    assert page.url.endswith(project)
    page.get_by_role("button", name="Take for validation").click()
    expect(page.locator(".lead")).to_contain_text("under validation")
    page.get_by_role("button", name="Register the project").click()  # no validation report yet
    expect(page.get_by_role("alert")).to_contain_text("has no validation report")
    page.get_by_label("File", exact=True).set_input_files(str(report_file))
    page.get_by_role("button", name="File the validation report").click()
    expect(page.get_by_role("region", name="Documents")).to_contain_text("Validation report")
    page.get_by_label("Note (optional)").fill("Meters seen on site.")
    page.get_by_role("button", name="Register the project").click()
    expect(page.locator(".lead")).to_contain_text("registered")
    context.close()


def _fill_parameters(page: Page, params: dict[str, Any], inverter: bool = True) -> None:
    page.get_by_label("DC capacity (kWp)").fill(str(params["capacity_kwp"]))
    page.get_by_label("Inverter AC rating (kW)").fill(str(params["inverter_ac_kw"]) if inverter else "")
    page.get_by_label("Latitude (°)").fill(str(params["latitude"]))
    page.get_by_label("Longitude (°)").fill(str(params["longitude"]))
    page.get_by_label("Meter accuracy class").select_option(params["meter_accuracy_class"])
    page.get_by_label("Calibration due date").fill(params["calibration_due_date"])
    page.get_by_text("More parameters (optional)").click()
    page.get_by_label("Reading interval").select_option("15")
    page.get_by_label("Ratings per meter").fill("\n".join(
        f"{meter}, {rating['capacity_kwp']}, {rating['inverter_ac_kw']}"
        for meter, rating in params["meter_ratings"].items()))


def test_owner_registers_a_project_reports_a_quarter_and_submits(
        page: Page, browser: Browser, browser_context_args: dict[str, Any], site: Site, tmp_path: Path) -> None:
    tag = secrets.token_hex(3).upper()
    meters = [(f"SIP-WEB-{tag}-1", 30.0), (f"SIP-WEB-{tag}-2", 30.0)]
    name = f"Owner journey rooftops {tag}"
    sign_in(page, site, OWNER)
    expect(page).to_have_url(f"{site.url}/workspace/projects")
    project = _register(page, site, name, [meter for meter, _ in meters])
    expect(page.locator(".lead")).to_contain_text("draft")
    registered = _api(site, OWNER, f"/projects/{project}")
    assert (registered["status"], registered["capacity"], registered["capacity_unit"]) == ("draft", 60.0, "kWp")
    assert [a["identifier"] for a in _api(site, OWNER, f"/projects/{project}/assets")] == [m for m, _ in meters]

    documents = page.get_by_role("region", name="Documents")
    page.get_by_role("button", name="File the document").click()
    expect(page.locator("#document-error")).to_contain_text("Choose the document's file")
    design = tmp_path / "design.pdf"
    design.write_bytes(b"%PDF-1.4 project design document")
    page.get_by_label("Title").fill("Project design document")
    page.get_by_label("Kind").select_option("design")
    page.get_by_label("File", exact=True).set_input_files(str(design))
    page.get_by_role("button", name="File the document").click()
    expect(documents.get_by_role("link", name="Project design document")).to_be_visible()
    filed = _api(site, OWNER, f"/projects/{project}/documents")
    assert [(d["kind"], d["filename"], d["bytes"]) for d in filed] == [("design", "design.pdf", design.stat().st_size)]

    page.get_by_role("button", name="Submit for validation").click()
    expect(page.locator(".lead")).to_contain_text("submitted")
    expect(documents.get_by_role("button", name="File the document")).to_have_count(0)  # drafts only
    validation_report = tmp_path / "validation-report.md"
    validation_report.write_text("# Validation report\n\nValidated on site.\n")
    _validate_as_verifier(browser, browser_context_args, site, project, name, validation_report)

    page.reload()
    expect(page.locator(".lead")).to_contain_text("registered")
    expect(page.get_by_role("region", name="Trail")).to_contain_text("Meters seen on site.")
    page.get_by_role("link", name="New monitoring report").click()
    data, params = pv_data(meters)
    good = tmp_path / "q1-2026.csv"
    good.write_bytes(data)
    wrong_type = tmp_path / "q1-2026.txt"
    wrong_type.write_bytes(data)
    stranger_data, _ = pv_data([*meters, (f"SIP-STRANGER-{tag}", 30.0)])
    stranger = tmp_path / "q1-with-a-stranger.csv"
    stranger.write_bytes(stranger_data)

    page.get_by_label("First day").fill("2026-01-01")
    page.get_by_label("Last day").fill("2026-03-31")
    page.get_by_label("Account for the credits").select_option(site.demo.accounts[OWNER])
    _fill_parameters(page, params)
    page.get_by_label("Data file").set_input_files(str(wrong_type))
    page.get_by_role("button", name="Upload and quantify").click()
    expect(page.locator("#data_file-error")).to_contain_text("upload CSV, XLSX or Parquet")

    page.get_by_label("Data file").set_input_files(str(stranger))
    page.get_by_role("button", name="Upload and quantify").click()
    expect(page.locator("#data_file-error")).to_contain_text(f"not active assets of project {project}")
    expect(page.locator("#data_file-error")).to_contain_text(f"SIP-STRANGER-{tag}")
    expect(page.get_by_label("Inverter AC rating (kW)")).to_have_value(str(params["inverter_ac_kw"]))  # kept

    page.get_by_label("Data file").set_input_files(str(good))
    page.get_by_label("Last day").fill("2026-12-31")
    page.get_by_role("button", name="Upload and quantify").click()
    expect(page.locator("#period_end-error")).to_contain_text("has not ended")
    expect(page.get_by_text("q1-2026.csv is uploaded and kept")).to_be_visible()

    page.get_by_label("Last day").fill("2026-03-31")
    page.get_by_label("Inverter AC rating (kW)").fill("")
    page.get_by_role("button", name="Upload and quantify").click()
    expect(page.locator("#param-inverter_ac_kw-error")).to_contain_text("inverter_ac_kw")
    expect(page.get_by_role("alert")).to_contain_text("Field required")
    assert _api(site, OWNER, f"/reports?project={project}")["items"] == []  # no refusal made a report

    page.get_by_label("Inverter AC rating (kW)").fill(str(params["inverter_ac_kw"]))
    page.get_by_role("button", name="Upload and quantify").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Report rpt_"))
    report = page.url.rsplit("/", 1)[-1]
    stored = _api(site, OWNER, f"/reports/{report}")
    assert stored["status"] == "draft" and stored["data_filename"] == "q1-2026.csv"
    assert stored["quantification"]["vintages"][0]["vintage_year"] == 2026

    expect(page.get_by_role("img", name="Energy per day, kWh")).to_be_visible()
    chart = page.get_by_role("region", name="The data over the period")
    chart.get_by_text("Show as a table").click()
    expect(chart.locator("tbody tr")).to_have_count(90)  # every day of the quarter
    totals = page.get_by_role("region", name="Totals per vintage")
    vintage = stored["quantification"]["vintages"][0]
    expect(totals.get_by_role("row", name=re.compile("Net, credited to the owner"))).to_contain_text(
        f"{vintage['net_reduction_kg'] / 1000:,.3f}")
    expect(totals.get_by_role("row", name=re.compile("Computed"))).to_contain_text(
        f"{(vintage['net_reduction_kg'] + vintage['deductions']['buffer_kg']) / 1000:,.3f}")
    expect(totals.get_by_role("row", name=re.compile("Credited energy"))).to_contain_text(
        f"{vintage['credited_energy_wh'] / 1000:,.3f}")
    expect(page.get_by_role("region", name="Factors and their sources")).to_contain_text(
        stored["quantification"]["factors"][0]["source"])
    expect(page.get_by_role("region", name="Parameters stated")).to_contain_text(meters[0][0])

    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator(".lead")).to_contain_text("submitted")
    assert _api(site, OWNER, f"/reports/{report}")["status"] == "submitted"
    expect(page.get_by_role("button", name="Submit for verification")).to_have_count(0)


def test_registration_refusals_stay_next_to_their_field(page: Page, site: Site) -> None:
    sign_in(page, site, OWNER)
    page.goto(f"{site.url}/workspace/projects/new/CIR-PV-DG/1.0")
    before = _api(site, OWNER, f"/projects?owner={site.demo.parties[OWNER]}&limit=200")["items"]
    page.get_by_role("button", name="Save the project as a draft").click()
    expect(page.locator("#name-error")).to_contain_text("Give the project a name")
    expect(page.locator("#assets-error")).to_contain_text("List the project's assets")
    expect(page.locator("#crediting_period_start-error")).to_be_visible()

    page.get_by_label("Project name").fill("A roof the registry already knows")
    page.get_by_label("Location").fill("Suzhou")
    page.get_by_label("Province").select_option("CN-JS")
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_label("Until").fill("2045-12-31")
    page.get_by_label("Meters").fill("SIP-HH-01")
    page.get_by_role("button", name="Save the project as a draft").click()
    expect(page.locator("#crediting_period_end-error")).to_contain_text("at most 10 years")

    page.get_by_label("Until").fill("2035-12-31")
    page.get_by_role("button", name="Save the project as a draft").click()
    expect(page.locator("#assets-error")).to_contain_text("SIP-HH-01 is already in active project")
    expect(page.get_by_label("Project name")).to_have_value("A roof the registry already knows")
    assert _api(site, OWNER, f"/projects?owner={site.demo.parties[OWNER]}&limit=200")["items"] == before


def test_owner_pages_refuse_others_and_forged_forms(page: Page, site: Site) -> None:
    project, meters = new_pv_project(site)
    report = report_in_draft(site, project, meters)
    sign_in(page, site, "ev_operator")  # another owner
    for path in (f"/workspace/projects/{project}", f"/workspace/reports/{report}",
                 f"/workspace/reports/{report}/data-file"):
        response = page.goto(site.url + path)
        assert response is not None and response.status == 404, path
    page.context.clear_cookies()

    sign_in(page, site, "factory")  # no project owner role
    response = page.goto(f"{site.url}/workspace/projects")
    assert response is not None and response.status == 403
    expect(page.locator("main")).to_contain_text("does not have the role")
    page.context.clear_cookies()

    sign_in(page, site, OWNER)
    forged = page.request.post(f"{site.url}/workspace/reports/{report}/submit", form={})  # no CSRF token
    assert forged.status == 403
    assert _api(site, OWNER, f"/reports/{report}")["status"] == "draft"
    page.goto(f"{site.url}/workspace/reports/{report}")
    page.get_by_role("button", name="Submit for verification").click()
    expect(page.locator(".lead")).to_contain_text("submitted")


def test_owner_adds_assets_to_a_draft_and_refusals_change_nothing(page: Page, site: Site) -> None:
    tag = secrets.token_hex(3).upper()
    sign_in(page, site, OWNER)
    project = _register(page, site, f"Growing rooftops {tag}", [f"SIP-GROW-{tag}-1"])

    def identifiers() -> list[str]:
        return [a["identifier"] for a in _api(site, OWNER, f"/projects/{project}/assets")]

    adding = page.get_by_role("region", name="Registered assets")
    adding.get_by_label("Meters").fill(f"SIP-GROW-{tag}-2\nSIP-GROW-{tag}-3")
    adding.get_by_role("button", name="Add these assets").click()
    expect(adding).to_contain_text(f"SIP-GROW-{tag}-3")
    assert identifiers() == [f"SIP-GROW-{tag}-1", f"SIP-GROW-{tag}-2", f"SIP-GROW-{tag}-3"]

    _, taken = new_pv_project(site)  # a registered project's meter, written with other case and spaces
    typed = f"SIP-GROW-{tag}-4\n  {taken[0][0].lower()} "
    adding.get_by_label("Meters").fill(typed)
    adding.get_by_role("button", name="Add these assets").click()
    expect(page.locator("#assets-error")).to_contain_text(taken[0][0])
    expect(adding.get_by_label("Meters")).to_have_value(typed)  # kept as typed, to correct
    adding.get_by_label("Meters").fill("")
    adding.get_by_role("button", name="Add these assets").click()
    expect(page.locator("#assets-error")).to_contain_text("List the project's assets, one per line.")
    assert identifiers() == [f"SIP-GROW-{tag}-1", f"SIP-GROW-{tag}-2", f"SIP-GROW-{tag}-3"]  # nothing added

    page.get_by_role("button", name="Submit for validation").click()
    expect(page.locator(".lead")).to_contain_text("submitted")
    expect(adding.get_by_role("button", name="Add these assets")).to_have_count(0)  # drafts only
