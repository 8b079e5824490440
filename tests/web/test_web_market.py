"""The market in the browser: the factory accepts the aggregator's offer from its inbox and pays;
the aggregator offers at a price outside the band and is told so at the field; the bank confirms a
deposit, pays a withdrawal and releases a pledge; anyone reads the tape."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.web.conftest import Site, sign_in


def cash_of(site: Site, who: str) -> dict[str, int]:
    answer = httpx.get(f"{site.url}/api/v1/cash-accounts/mine", headers={"Authorization": f"Bearer {site.key(who)}"})
    found: dict[str, int] = answer.json()
    return found


def test_the_factory_accepts_an_offer_from_its_inbox_and_pays_at_once(page: Page, site: Site) -> None:
    before = cash_of(site, "factory")["available_fen"]
    sign_in(page, site, "factory")
    page.get_by_role("link", name="Offers").click()
    inbox = page.get_by_role("region", name="Offers made to you")
    row = inbox.get_by_role("row", name=re.compile(site.demo.market.offer))
    expect(row).to_contain_text("SIP Rooftop Solar Aggregator")
    row.get_by_label("Receive into").select_option(site.demo.accounts["factory"])
    row.get_by_role("button", name="Accept and pay").click()
    expect(inbox.get_by_role("row", name=re.compile(site.demo.market.offer))).to_contain_text("accepted")
    assert cash_of(site, "factory")["available_fen"] == before - 50_000 * 6_200 // 1000
    page.get_by_role("link", name="Market").click()
    expect(page.get_by_role("table", name="Trades")).to_contain_text("62.00")


def test_a_price_outside_the_band_is_refused_at_its_field_and_nothing_is_locked(page: Page, site: Site) -> None:
    sign_in(page, site, "pv_aggregator")
    page.goto(f"{site.url}/workspace/offers")
    form = page.locator("form[action='/workspace/offers']")
    form.get_by_label("Buyer", exact=True).select_option(site.demo.parties["factory"])
    form.get_by_label("From account").select_option(site.demo.accounts["pv_aggregator"])
    form.get_by_label("Quantity, t CO2e").fill("10")
    form.get_by_label("Price, yuan per tonne").fill("500")
    form.get_by_role("button", name="Make the offer").click()
    expect(page.locator("#price-error")).to_contain_text("outside the ±30 % band")
    expect(page.locator("#quantity")).to_have_value("10")
    offers = httpx.get(f"{site.url}/api/v1/market/offers", params={"role": "seller", "status": "open"},
                       headers={"Authorization": f"Bearer {site.key('pv_aggregator')}"}).json()["items"]
    assert all(offer["price_fen_per_t"] != 50_000 for offer in offers)


def test_the_bank_confirms_a_deposit_pays_a_withdrawal_and_releases_a_pledge(page: Page, site: Site) -> None:
    aggregator_cash = site.demo.market.cash_accounts["pv_aggregator"]
    before = cash_of(site, "pv_aggregator")
    sign_in(page, site, "pv_aggregator")
    page.get_by_role("link", name="Cash").click()
    page.get_by_label("Amount, yuan").fill("150.50")
    page.get_by_role("button", name="Ask for the withdrawal").click()
    expect(page.get_by_role("table", name="Your withdrawals")).to_contain_text("150.50")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, site, "bank")
    page.get_by_role("link", name="Settlement bank").click()
    deposit = page.locator("form[action='/bank/deposits']")
    deposit.get_by_label("Cash account").select_option(aggregator_cash)
    deposit.get_by_label("Amount, yuan").fill("1000")
    deposit.get_by_label("Bank reference").fill("BOS-WEB-DEP-1")
    deposit.get_by_role("button", name="Confirm the deposit").click()
    deposit = page.locator("form[action='/bank/deposits']")
    deposit.get_by_label("Cash account").select_option(aggregator_cash)
    deposit.get_by_label("Amount, yuan").fill("1000")
    deposit.get_by_label("Bank reference").fill("BOS-WEB-DEP-1")
    deposit.get_by_role("button", name="Confirm the deposit").click()
    expect(page.locator("#bank_reference-error")).to_contain_text("already confirmed")
    waiting = page.get_by_role("region", name="Withdrawals to pay")
    row = waiting.get_by_role("row", name=re.compile("150.50"))
    row.get_by_label("Bank reference of the payment").fill("BOS-WEB-OUT-1")
    row.get_by_role("button", name="Paid").click()
    expect(page.get_by_role("region", name="Withdrawals to pay")).not_to_contain_text("150.50")
    after = cash_of(site, "pv_aggregator")
    assert after["available_fen"] == before["available_fen"] + 100_000 - 15_050 and after["held_fen"] == 0

    page.get_by_role("link", name="Pledges").click()
    pledge = page.get_by_role("row", name=re.compile(site.demo.market.pledge))
    pledge.get_by_role("button", name="Release").click()
    expect(page.get_by_role("row", name=re.compile(site.demo.market.pledge))).to_contain_text("released")
