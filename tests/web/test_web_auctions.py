"""Auctions in the browser: anyone reads the demo's finished auction, its results and its demand
curve; the wetland announces a lot; the factory's bid below the reserve is refused at the price and
holds nothing, a good bid is accepted and shown sealed to the factory alone; the seller sees no bid
form and no bid."""

from __future__ import annotations

import re
from datetime import date

from playwright.sync_api import Page, expect

from tests.web.conftest import Site, market_morning_after, sign_in
from tests.web.test_web_market import cash_of

DEMO_AUCTION = "Taizhou Bay salt-marsh removals, 30 t"


def test_anyone_reads_a_finished_auction_its_results_and_demand_curve(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/auctions")
    row = page.get_by_role("table", name="Finished auctions").get_by_role("row", name=re.compile(DEMO_AUCTION))
    for shown in ("settled", "84.20", "30.000", "2"):
        expect(row).to_contain_text(shown)
    row.get_by_role("link", name=DEMO_AUCTION).click()
    expect(page).to_have_url(re.compile(f"/auctions/{site.demo.market.auction}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(DEMO_AUCTION)
    terms = page.get_by_role("region", name="Terms")
    expect(terms).to_contain_text("WETLAND-REMOVALS")
    expect(terms).to_contain_text("83.00 yuan/t")
    results = page.get_by_role("region", name="Results")
    expect(results).to_contain_text("84.20 yuan/t")
    expect(results).to_contain_text("30.000 t of 30.000 t")
    expect(results).to_contain_text("2,526.00 yuan")
    expect(results.locator("dd").filter(has_text=re.compile(r"^2$"))).to_have_count(1)
    expect(results.get_by_role("img", name=re.compile("Demand curve"))).to_be_visible()
    curve = results.get_by_role("table", name="Demand curve").locator("tbody tr")
    expect(curve).to_have_count(3)
    for i, figures in enumerate((["87.00", "15.000", "15.000"], ["85.50", "10.000", "25.000"],
                                 ["84.20", "10.000", "35.000"])):
        expect(curve.nth(i).locator("td")).to_have_text(figures)
    expect(page.get_by_role("button", name="Place the bid")).to_have_count(0)


def test_the_factory_bids_sealed_in_the_wetlands_auction(page: Page, site: Site) -> None:
    today = market_morning_after(date.fromisoformat(site.demo.market.trading_day)).date()
    sign_in(page, site, "wetland")
    page.get_by_role("link", name="Auctions").click()
    page.get_by_role("link", name="Announce an auction").click()
    page.get_by_label("Title", exact=True).fill("Browser auction of removals, 3 t")
    page.get_by_label("Product", exact=True).select_option("WETLAND-REMOVALS")
    page.get_by_label("From account").select_option(site.demo.accounts["wetland"])
    page.get_by_label("Quantity, t CO2e").fill("3")
    page.get_by_label("Reserve price, yuan per tonne").fill("80")
    page.get_by_label("Bids close on").fill(today.isoformat())
    page.get_by_label("Closing time").fill("16:00")
    page.get_by_label("Uniform price").check()
    page.get_by_role("button", name="Announce the auction").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Browser auction of removals, 3 t")
    auction_url = page.url
    expect(page.get_by_text(f"Bids are sealed until {today.isoformat()} 16:00")).to_be_visible()
    expect(page.get_by_role("button", name="Place the bid")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()

    held_before = cash_of(site, "factory")["held_fen"]
    sign_in(page, site, "factory")
    page.goto(auction_url)
    bid = page.get_by_role("region", name="Place a sealed bid")
    bid.get_by_label("Receive into").select_option(site.demo.accounts["factory"])
    bid.get_by_label("Quantity, t CO2e").fill("2")
    bid.get_by_label("Price, yuan per tonne").fill("79.90")
    bid.get_by_role("button", name="Place the bid").click()
    expect(page.locator("#price-error")).to_contain_text("below the reserve price")
    expect(page.locator("#quantity")).to_have_value("2")
    expect(page.get_by_role("region", name="Your bids")).to_contain_text("You have not bid in this auction.")
    assert cash_of(site, "factory")["held_fen"] == held_before

    page.get_by_label("Price, yuan per tonne").fill("81.50")
    page.get_by_role("button", name="Place the bid").click()
    mine = page.get_by_role("table", name="Your bids")
    expect(mine.get_by_role("row", name=re.compile("81.50"))).to_contain_text("sealed")
    assert cash_of(site, "factory")["held_fen"] > held_before
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, site, "wetland")
    page.goto(auction_url)
    expect(page.get_by_text("This is your auction")).to_be_visible()
    expect(page.get_by_role("region", name="Place a sealed bid")).to_have_count(0)
    expect(page.get_by_role("region", name="Your bids")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("81.50")
