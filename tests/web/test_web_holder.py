"""A holder's credits in a browser: balances as the API gives them, retiring for a beneficiary (and
the refusals: more than held, a vintage after the claim period, a period ending before it starts),
transferring, opening an account and reading its history. Credits that move are a test's own."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in
from tests.web.reports import OWNER, account_with_credits


def _api(site: Site, who: str, path: str) -> Any:
    response = httpx.get(f"{site.url}/api/v1{path}", headers={"Authorization": f"Bearer {site.key(who)}"})
    response.raise_for_status()
    return response.json()


def _api_post(site: Site, who: str, path: str, body: dict[str, Any]) -> Any:
    response = httpx.post(f"{site.url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {site.key(who)}"})
    response.raise_for_status()
    return response.json()


def _t(kg: int) -> str:
    return f"{kg / 1000:,.3f}"


@pytest.mark.parametrize("who", ["factory", "pv_aggregator"])
def test_balances_are_the_apis(page: Page, site: Site, who: str) -> None:
    sign_in(page, site, who)
    page.goto(f"{site.url}/workspace")
    account = site.demo.accounts[who]
    card = page.get_by_role("region", name=re.compile(account))
    balances = _api(site, who, f"/accounts/{account}/balances")  # empty when the account holds nothing
    retired = sum(r["quantity_kg"] for r in _api(site, who, f"/retirements?account={account}&limit=500")["items"])
    tiles = card.locator(".tiles li")
    expect(tiles.nth(0)).to_contain_text(_t(balances[0]["active_kg"] if balances else 0))
    expect(tiles.nth(2)).to_contain_text(_t(retired))
    by_project = {row["group"]: row for row in _api(site, who, f"/accounts/{account}/balances?group_by=project")
                  if row["active_kg"] or row["frozen_kg"]}
    rows = card.locator("tbody tr")
    shown: dict[str, int] = {}
    for i in range(rows.count()):
        project = rows.nth(i).get_by_role("link").get_attribute("href").rsplit("/", 1)[-1]
        available = rows.nth(i).locator("td").nth(2).inner_text()
        shown[project] = shown.get(project, 0) + int(available.replace(",", "").replace(".", ""))
    assert shown == {project: row["active_kg"] for project, row in by_project.items()}


def test_retire_for_a_beneficiary_and_the_refusals(page: Page, site: Site) -> None:
    account = account_with_credits(site, 5_000)
    sign_in(page, site, OWNER)
    page.goto(f"{site.url}/workspace")
    page.get_by_role("region", name=re.compile(account)).get_by_role("link", name="Retire credits").click()
    expect(page.get_by_label("From account")).to_have_value(account)

    page.get_by_label("Quantity, t CO2e").fill("6")
    page.get_by_label("Beneficiary", exact=True).fill("Wuzhong Printing Works")
    page.get_by_label("Purpose").fill("Residual scope 2 emissions, 2026")
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("Until").fill("2026-12-31")
    page.get_by_role("button", name="Retire the credits").click()
    expect(page.locator("#quantity-error")).to_contain_text(f"account {account} holds 5000 kg")
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    expect(page.get_by_label("Beneficiary", exact=True)).to_have_value("Wuzhong Printing Works")  # kept

    page.get_by_label("Quantity, t CO2e").fill("1.5")
    page.get_by_label("From", exact=True).fill("2025-01-01")
    page.get_by_label("Until").fill("2025-12-31")
    page.get_by_role("button", name="Retire the credits").click()
    expect(page.locator("#claim_period_end-error")).to_contain_text("cannot back a claim period ending 2025-12-31")

    page.get_by_label("From", exact=True).fill("2026-07-01")
    page.get_by_label("Until").fill("2026-06-30")
    page.get_by_role("button", name="Retire the credits").click()
    expect(page.locator("#claim_period_end-error")).to_contain_text("ends before it starts")

    page.get_by_label("Quantity, t CO2e").fill("1.5001")
    page.get_by_role("button", name="Retire the credits").click()
    expect(page.locator("#quantity-error")).to_contain_text("at most 3 decimals")
    assert _api(site, OWNER, f"/retirements?account={account}")["items"] == []
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 5_000

    page.get_by_label("Quantity, t CO2e").fill("1.5")
    page.get_by_label("From", exact=True).fill("2026-01-01")
    page.get_by_label("Until").fill("2026-12-31")
    page.get_by_label("Public note (optional)").fill("Covers the print shop's electricity for 2026.")
    page.get_by_role("button", name="Retire the credits").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Retirement ret_")
    retirement = page.url.rsplit("/", 1)[-1]
    expect(page.locator("main")).to_contain_text("Wuzhong Printing Works")
    stored = _api(site, OWNER, f"/retirements/{retirement}")
    assert (stored["quantity_kg"], stored["beneficiary_type"], stored["claim_period_end"]) == (
        1_500, "organisation", "2026-12-31")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 3_500


def test_transfer_open_an_account_and_read_its_history(page: Page, site: Site) -> None:
    account = account_with_credits(site, 4_000)
    sign_in(page, site, OWNER)
    page.goto(f"{site.url}/workspace/transfer?account={account}")
    page.get_by_label("To account").fill("acct_nosuchaccount")
    page.get_by_label("Quantity, t CO2e").fill("1")
    page.get_by_role("button", name="Transfer the credits").click()
    expect(page.locator("#to_account-error")).to_contain_text("no account acct_nosuchaccount")

    page.goto(f"{site.url}/workspace")
    page.get_by_role("button", name="Open the account").click()
    expect(page.locator("#account_name-error")).to_be_visible()
    page.get_by_label("Account name").fill("Sales 2026")
    page.get_by_role("button", name="Open the account").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Sales 2026")
    opened = page.get_by_role("heading", level=1).locator(".code").inner_text()
    assert opened in [a["id"] for a in _api(site, OWNER, "/accounts?limit=500")["items"]]

    page.goto(f"{site.url}/workspace/transfer?account={account}")
    page.get_by_label("To account").fill(opened)
    page.get_by_label("Quantity, t CO2e").fill("1.25")
    page.get_by_role("button", name="Transfer the credits").click()
    expect(page.get_by_role("status")).to_contain_text("is recorded")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 2_750
    assert _api(site, OWNER, f"/accounts/{opened}/balances")[0]["active_kg"] == 1_250
    history = page.get_by_role("region", name="History")
    expect(history.get_by_role("row")).to_have_count(1 + 3)  # opened, issued, transferred out
    expect(history.get_by_role("link", name=re.compile("^iss_"))).to_be_visible()
    expect(history).to_contain_text("1.250")
    expect(history).to_contain_text(opened)


def test_an_aggregator_transfers_a_batch_from_a_csv_file(page: Page, site: Site, tmp_path: Path) -> None:
    account = account_with_credits(site, 3_000)
    households = [_api_post(site, OWNER, "/accounts", {"name": f"Household {i}"})["id"] for i in range(3)]
    sign_in(page, site, OWNER)
    page.goto(f"{site.url}/workspace/transfer")
    page.get_by_role("link", name="Transfer a batch from a CSV file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Transfer a batch")

    page.get_by_role("button", name="Transfer the batch").click()  # no file chosen
    expect(page.locator("#batch-error")).to_contain_text("Choose the batch file")
    too_much = tmp_path / "too-much.csv"
    too_much.write_text("from_account,to_account,quantity_kg\n" + "".join(
        f"{account},{h},1200\n" for h in households))  # 3,600 kg of 3,000
    page.get_by_label("Batch file").set_input_files(str(too_much))
    page.get_by_role("button", name="Transfer the batch").click()
    expect(page.locator("#batch-error")).to_contain_text("holds 3000 kg matching this request, not 3600 kg")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 3_000  # nothing moved

    july = tmp_path / "july.csv"
    july.write_text("from_account,to_account,quantity_kg\n" + "".join(
        f"{account},{h},{kg}\n" for h, kg in zip(households, (1_250, 980, 400), strict=True)))
    page.get_by_label("Batch file").set_input_files(str(july))
    page.get_by_label("Issuance (optional)").fill("iss_nosuchissuance")  # distribute an issuance: not this one
    page.get_by_role("button", name="Transfer the batch").click()
    expect(page.locator("#issuance-error")).to_contain_text("no issuance iss_nosuchissuance")
    expect(page.get_by_label("Issuance (optional)")).to_have_value("iss_nosuchissuance")  # kept, to correct
    issuance = _api(site, OWNER, f"/accounts/{account}/blocks")["items"][0]["issuance"]
    page.get_by_label("Issuance (optional)").fill(issuance)
    page.get_by_label("Batch file").set_input_files(str(july))
    page.get_by_role("button", name="Transfer the batch").click()
    expect(page.get_by_role("status")).to_contain_text("Every transfer of the batch is recorded (3)")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 370
    assert [_api(site, OWNER, f"/accounts/{h}/balances")[0]["active_kg"] for h in households] == [1_250, 980, 400]
    history = page.get_by_role("region", name="History")
    for household in households:
        expect(history).to_contain_text(household)


def test_a_platform_retires_a_batch_for_its_users_from_a_csv_file(page: Page, site: Site, tmp_path: Path) -> None:
    account = account_with_credits(site, 2_000, vintage=2025)
    sign_in(page, site, OWNER)
    page.goto(f"{site.url}/workspace/retire?account={account}")
    page.get_by_role("link", name="Retire a batch from a CSV file").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Retire a batch")
    header = "from_account,quantity_kg,beneficiary_name,beneficiary_type,purpose,claim_period_start,claim_period_end\n"

    too_early = tmp_path / "too-early.csv"  # 2025 credits cannot back a 2024 claim: nothing is retired
    too_early.write_text(header + f"{account},300,Li Wei,individual,Green commute,2025-01-01,2025-12-31\n"
                         f"{account},200,Wang Fang,individual,Green commute,2024-01-01,2024-12-31\n")
    page.get_by_label("Batch file").set_input_files(str(too_early))
    page.get_by_role("button", name="Retire the batch").click()
    expect(page.locator("#batch-error")).to_contain_text("retirement 2: credits of vintage 2025 cannot back")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 2_000

    users = tmp_path / "users.csv"
    users.write_text(header + f"{account},300,Li Wei,individual,Green commute 2025,2025-01-01,2025-12-31\n"
                     f"{account},200,Wang Fang,individual,Green commute 2025,2025-01-01,2025-12-31\n")
    page.get_by_label("Batch file").set_input_files(str(users))
    page.get_by_role("button", name="Retire the batch").click()
    expect(page.get_by_role("status")).to_contain_text("Every retirement of the batch is recorded (2)")
    assert _api(site, OWNER, f"/accounts/{account}/balances")[0]["active_kg"] == 1_500
    history = page.get_by_role("region", name="History")
    history.get_by_role("link", name=re.compile("^ret_")).first.click()
    expect(page.locator("main")).to_contain_text("Green commute 2025")
