"""The public registry in a browser, as a visitor with no account uses it: the registry at a glance,
project search and export, the pages of a project, an issuance and a retirement, the verifiers and
the log; in English and in Chinese; offline API docs."""

from __future__ import annotations

import csv
import io
import re

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.web.conftest import PHONE, Site


def test_home_shows_the_registry_at_a_glance(page: Page, site: Site) -> None:
    stats = httpx.get(f"{site.url}/api/v1/stats").json()
    page.goto(site.url)
    expect(page).to_have_title(re.compile("The registry at a glance"))
    issued_t = f"{stats['totals']['issued_kg'] / 1000:,.3f}"
    expect(page.locator(".tiles")).to_contain_text(issued_t)
    expect(page.locator(".tiles")).to_contain_text(f"{stats['totals']['retired_kg'] / 1000:,.3f}")
    methodology = page.get_by_role("region", name="Issued by methodology")
    expect(methodology.get_by_role("row", name=re.compile("Distributed photovoltaic generation"))).to_be_visible()
    region = page.get_by_role("region", name="Issued by region of origin")
    expect(region.get_by_role("row", name=re.compile("Zhejiang"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("Issued and retired by month"))).to_be_visible()
    # The newest retirement leads to its page (other tests' retirements may have pushed the demo's out
    # of the five shown).
    newest = page.get_by_role("region", name="Latest retirements").get_by_role("link").first
    retirement = (newest.get_attribute("href") or "").removeprefix("/retirements/")
    assert retirement.startswith("ret_")
    newest.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(retirement)


def _matches(site: Site, **filters: str) -> int:
    """How many projects the API finds (other tests add projects to the shared demo registry)."""
    found = httpx.get(f"{site.url}/api/v1/projects", params={**filters, "limit": 25}).json()["items"]
    return len(found)


def test_project_search_filters_and_exports_what_it_shows(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/projects")
    rows = page.locator("#results tbody tr")
    expect(rows).to_have_count(_matches(site))
    expect(page.locator("#results")).to_contain_text("Taizhou Bay coastal salt-marsh restoration")
    page.get_by_label("Methodology").select_option("CIR-WET-SINK")
    expect(rows).to_have_count(1)  # htmx replaced the results without a reload
    assert "methodology_id=CIR-WET-SINK" in page.url
    page.get_by_label("Methodology").select_option("CIR-PV-DG")
    expect(rows).to_have_count(_matches(site, methodology_id="CIR-PV-DG"))
    assert "methodology_id=CIR-PV-DG" in page.url
    page.get_by_label("Name or place").fill("semiconductor")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("SIP semiconductor plant rooftop and canopies, 2.6 MWp")

    with page.expect_download() as download:
        page.get_by_role("link", name="Export every match as CSV").click()
    exported = list(csv.DictReader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert [row["name"] for row in exported] == ["SIP semiconductor plant rooftop and canopies, 2.6 MWp"]

    page.get_by_label("Name or place").fill("no such project anywhere")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_text("No project matches.")).to_be_visible()


def test_project_page_shows_owner_issuances_documents_and_trail(page: Page, site: Site) -> None:
    project_id = site.demo.projects["wetland"]
    page.goto(f"{site.url}/projects/{project_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Taizhou Bay coastal salt-marsh restoration")
    facts = page.locator(".facts")
    expect(facts).to_contain_text("Taizhou Bay Wetland Management")
    expect(facts).to_contain_text("CIR-WET-SINK 1.0")
    issuances = page.get_by_role("region", name="Issuances")
    # Vintages 2024 and 2025, each the owner's share and the buffer pool's.
    expect(issuances.get_by_role("row")).to_have_count(1 + 4)
    expect(issuances).to_contain_text("buffer pool")
    expect(page.get_by_role("region", name="Documents").get_by_role("link", name="Validation report")).to_be_visible()
    trail = page.get_by_role("region", name="Public trail")
    expect(trail).to_contain_text("registered")
    expect(trail).to_contain_text("credits issued")

    page.get_by_role("region", name="Issuances").get_by_role("link").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Issuance")
    statement = page.get_by_role("region", name="The signed verification statement")
    expect(statement).to_contain_text("China Quality Certification Centre")
    expect(statement).to_contain_text("Reasonable assurance")
    expect(page.locator("td.serial").first).to_contain_text("CN-ZJ:CIR-WET-SINK:1.0:")


def test_retirements_search_and_page(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/retirements")
    page.get_by_label("Beneficiary").fill("concrete")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Baiyun ready-mix concrete plant").click()
    expect(page.locator(".facts")).to_contain_text("Net-zero claim clm_")
    expect(page.get_by_role("region", name="Retired units").locator("td.serial")).not_to_have_count(0)
    origin = page.get_by_role("region", name="Where the credits come from")
    expect(origin).to_contain_text("Taizhou Bay coastal salt-marsh restoration")


def test_verifiers_and_the_log(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/verifiers")
    expect(page.get_by_role("heading", name=re.compile("China Quality Certification Centre"))).to_be_visible()
    expect(page.get_by_role("article").filter(has_text="SGS-CSTC")).to_contain_text("CIR-PV-DG")
    page.goto(f"{site.url}/log")
    key = httpx.get(f"{site.url}/api/v1/log/key").text.strip()
    expect(page.locator("#log-key")).to_have_text(key)
    note = page.locator("#checkpoint").inner_text()
    assert note.splitlines()[0] == "registry.test/log"
    expect(page.locator(".facts")).to_contain_text(f"{int(note.splitlines()[1]):,}")


def test_chinese_from_the_browser_and_the_switch(browser: Browser, site: Site) -> None:
    page = browser.new_context(locale="zh-CN").new_page()  # the browser asks for Chinese
    page.goto(f"{site.url}/projects")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_have_text("项目")
    expect(page.locator("#results")).to_contain_text("江苏省")
    page.get_by_role("link", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Projects")
    assert page.url.endswith("/projects")
    page.goto(f"{site.url}/")  # the choice is kept (a cookie), whatever the browser asks for
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.context.close()


def test_unknown_ids_and_bad_filters_get_a_page_not_json(page: Page, site: Site) -> None:
    response = page.goto(f"{site.url}/projects/prj_doesnotexist")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    response = page.goto(f"{site.url}/issuances?vintage=twenty")
    assert response is not None and response.status == 422
    expect(page.locator("main")).to_contain_text("vintage must be a whole number")
    response = page.goto(f"{site.url}/projects?colour=green")
    assert response is not None and response.status == 400
    expect(page.locator("main")).to_contain_text("unknown query parameter colour")
    response = page.goto(f"{site.url}/no/such/page")
    assert response is not None and response.status == 404
    expect(page.locator("main")).to_contain_text("There is no page at this address.")
    # Scripts and the API keep their problem details.
    assert httpx.get(f"{site.url}/no/such/page").headers["content-type"] == "application/problem+json"


def test_pages_fit_a_phone(page: Page, site: Site) -> None:
    page.set_viewport_size(PHONE)
    for path in ("/", "/projects", f"/retirements/{site.demo.retirement}", f"/projects/{site.demo.projects['ev']}"):
        page.goto(site.url + path)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"{path} scrolls sideways on a phone by {overflow}px"


def test_api_docs_work_offline(page: Page, site: Site) -> None:
    elsewhere: list[str] = []
    page.route(re.compile(r"^(?!http://127\.0\.0\.1).*"), lambda route: (elsewhere.append(route.request.url),
                                                                         route.abort()))
    page.goto(f"{site.url}/docs")
    expect(page.get_by_role("heading", name=re.compile("Carbon Inclusion Registry"))).to_be_visible()
    # Sections start folded (140 operations would make one very long page): open one.
    page.locator(".opblock-tag", has_text="retirements").first.click()
    expect(page.get_by_text("/api/v1/retirements/{retirement_id}/proof").first).to_be_visible()
    page.goto(f"{site.url}/redoc")
    expect(page.get_by_role("heading", name=re.compile("Carbon Inclusion Registry"))).to_be_visible(timeout=20_000)
    assert elsewhere == []
